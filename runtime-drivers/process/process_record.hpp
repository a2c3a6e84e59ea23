#pragma once

// The process driver's memory: one JSON file per container, STATE/<name>.json.
// It is the only state that survives a daemon restart, so a new driver can adopt
// the processes of the previous one. Internal to runtime-drivers.
//
// File format (one object):
//   {"name": "web-0", "command": ["/bin/httpd", "-f"], "env": {"K": "V"},
//    "labels": {"tutti.node": "n1"}, "resources": {"cpu": 0.5, "memory": 0},
//    "state": "created" | "running" | "exited",
//    "pid": 1234, "start_ticks": 5678, "started_at_ms": 1700000000000,
//    "exit_code": -1}

#include "runtime-drivers/driver.hpp"

#include <caf/error.hpp>
#include <caf/expected.hpp>

#include <cstdint>
#include <string>

namespace tutti::runtime_drivers {

struct process_record {
  container_spec spec;
  container_state state = container_state::created;
  int64_t pid = 0;          // of the last start; also the process group id
  uint64_t start_ticks = 0; // field 22 of /proc/PID/stat at start
  int64_t started_at_ms = 0;
  int32_t exit_code = -1; // valid when exited; -1 when unknown
};

/// Reads STATE/<name>.json: not_found when absent, driver_failure when unreadable.
caf::expected<process_record> read_record(const std::string& path);

/// Writes the record atomically (temp file + rename), so a daemon killed while
/// writing leaves the old or the new version, never half of one.
caf::error write_record(const std::string& path, const process_record& record);

} // namespace tutti::runtime_drivers
