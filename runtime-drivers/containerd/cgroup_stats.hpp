#pragma once

// A container's CPU time and memory from its cgroup (v1 or v2), found by the
// cgroupsPath tutti gave its runtime spec. Internal to runtime-drivers.

#include <caf/expected.hpp>

#include <string>

namespace tutti::runtime_drivers::containerd {

struct cgroup_sample {
  double cpu_seconds = 0;
  int64_t memory_bytes = 0;
};

/// Reads cpuacct.usage and memory.usage_in_bytes (v1) or cpu.stat's usage_usec
/// and memory.current (v2) under `cgroups_path` ("/tutti/ID"), with the
/// controllers' mount points taken from `mountinfo` (the text of
/// /proc/self/mountinfo). not_found when the cgroup is gone.
caf::expected<cgroup_sample> read_cgroup(const std::string& cgroups_path,
                                         const std::string& mountinfo);

/// The text of /proc/self/mountinfo.
std::string read_mountinfo();

} // namespace tutti::runtime_drivers::containerd
