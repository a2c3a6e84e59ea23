#pragma once

// posix_spawn of one container process. Internal to runtime-drivers.

#include <caf/expected.hpp>

#include <sys/types.h>

#include <map>
#include <string>
#include <vector>

namespace tutti::runtime_drivers {

/// The environment a container process gets: exactly `env`, plus PATH (the
/// daemon's, or a standard one) when `env` has none.
std::map<std::string, std::string> process_environment(std::map<std::string, std::string> env);

/// Starts `command` in a process group of its own (pgid == pid) with stdin from
/// /dev/null and stdout and stderr appended to `log_path`, default signal
/// dispositions, an empty signal mask and no inherited descriptors. `command[0]`
/// without a '/' is looked up in the PATH of `env` (not the daemon's).
/// Safe to call from a multithreaded process. Fails with driver_failure
/// "cannot start NAME: COMMAND: reason".
caf::expected<pid_t> spawn_process(const std::string& name, const std::vector<std::string>& command,
                                   const std::map<std::string, std::string>& env,
                                   const std::string& log_path);

} // namespace tutti::runtime_drivers
