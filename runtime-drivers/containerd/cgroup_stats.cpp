#include "runtime-drivers/containerd/cgroup_stats.hpp"

#include "protocol/errors.hpp"

#include <fstream>
#include <optional>
#include <sstream>
#include <vector>

namespace tutti::runtime_drivers::containerd {

namespace {

using protocol::error_code;
using protocol::make_error;

struct cgroup_mount {
  std::string path;
  std::string type;    // "cgroup" (v1) or "cgroup2"
  std::string options; // super options: the v1 controllers
};

/// mountinfo: "ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTS [OPTIONAL...] - TYPE SOURCE SUPER_OPTS"
std::vector<cgroup_mount> cgroup_mounts(const std::string& mountinfo) {
  std::vector<cgroup_mount> out;
  std::istringstream lines{mountinfo};
  std::string line;
  while (std::getline(lines, line)) {
    auto dash = line.find(" - ");
    if (dash == std::string::npos)
      continue;
    std::istringstream head{line.substr(0, dash)};
    std::istringstream tail{line.substr(dash + 3)};
    std::string id, parent, dev, root, point, type, source, options;
    head >> id >> parent >> dev >> root >> point;
    tail >> type >> source >> options;
    if (type == "cgroup" || type == "cgroup2")
      out.push_back({point, type, options});
  }
  return out;
}

bool has_option(const std::string& options, const std::string& wanted) {
  std::istringstream in{options};
  std::string item;
  while (std::getline(in, item, ','))
    if (item == wanted)
      return true;
  return false;
}

std::optional<std::string> read_file(const std::string& path) {
  std::ifstream in{path};
  if (!in)
    return std::nullopt;
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

std::optional<int64_t> read_number(const std::string& path) {
  auto text = read_file(path);
  if (!text)
    return std::nullopt;
  try {
    return std::stoll(*text);
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

caf::error gone(const std::string& cgroups_path) {
  return make_error(error_code::not_found, "no cgroup " + cgroups_path);
}

caf::expected<cgroup_sample> read_v1(const std::vector<cgroup_mount>& mounts,
                                     const std::string& cgroups_path) {
  cgroup_sample out;
  bool found = false;
  for (const auto& m : mounts) {
    if (m.type != "cgroup")
      continue;
    if (has_option(m.options, "cpuacct"))
      if (auto ns = read_number(m.path + cgroups_path + "/cpuacct.usage")) {
        out.cpu_seconds = static_cast<double>(*ns) / 1e9;
        found = true;
      }
    if (has_option(m.options, "memory"))
      if (auto bytes = read_number(m.path + cgroups_path + "/memory.usage_in_bytes")) {
        out.memory_bytes = *bytes;
        found = true;
      }
  }
  if (!found)
    return gone(cgroups_path);
  return out;
}

caf::expected<cgroup_sample> read_v2(const std::string& root, const std::string& cgroups_path) {
  auto dir = root + cgroups_path;
  auto stat = read_file(dir + "/cpu.stat");
  if (!stat)
    return gone(cgroups_path);
  cgroup_sample out;
  std::istringstream lines{*stat};
  std::string key;
  int64_t value = 0;
  while (lines >> key >> value)
    if (key == "usage_usec")
      out.cpu_seconds = static_cast<double>(value) / 1e6;
  out.memory_bytes = read_number(dir + "/memory.current").value_or(0);
  return out;
}

} // namespace

caf::expected<cgroup_sample> read_cgroup(const std::string& cgroups_path,
                                         const std::string& mountinfo) {
  auto mounts = cgroup_mounts(mountinfo);
  // v1 when a v1 hierarchy has the controllers (a hybrid host's cgroup2 mount
  // holds none); else the unified hierarchy, at /sys/fs/cgroup when mounted there.
  bool v1 = false;
  const cgroup_mount* unified = nullptr;
  for (const auto& m : mounts) {
    v1 = v1 || (m.type == "cgroup" &&
                (has_option(m.options, "memory") || has_option(m.options, "cpuacct")));
    if (m.type == "cgroup2" && (unified == nullptr || m.path == "/sys/fs/cgroup"))
      unified = &m;
  }
  if (!v1 && unified != nullptr)
    return read_v2(unified->path, cgroups_path);
  return read_v1(mounts, cgroups_path);
}

std::string read_mountinfo() {
  return read_file("/proc/self/mountinfo").value_or(std::string{});
}

} // namespace tutti::runtime_drivers::containerd
