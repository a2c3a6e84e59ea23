#pragma once

// The logging binary of containerd tasks: containerd's shim runs
// `tuttid containerd-log FILE` for each task, with the task's stdout and
// stderr as fds 3 and 4 and a readiness pipe as fd 5, and this copies both
// streams into one log file in the order they arrive. (containerd 1.6's own
// file:// logging closes the shared file when stdout ends first and drops what
// stderr still holds.) Internal to runtime-drivers; tools/tuttid calls it.

#include <string>

namespace tutti::runtime_drivers::containerd {

/// The subcommand containerd's shim runs.
inline constexpr const char* log_copier_command = "containerd-log";

/// Copies fds 3 and 4 to `path` (appending; its directory made when missing)
/// until both end, or until SIGTERM (the shim ending the task) and what is
/// readable then is copied. When `path` cannot be opened the output is read
/// and discarded, so the task does not die of SIGPIPE. Returns 0.
int run_log_copier(const std::string& path);

/// The stdio URI of a task whose output `binary` (tuttid) copies to `log_path`.
std::string log_copier_uri(const std::string& binary, const std::string& log_path);

} // namespace tutti::runtime_drivers::containerd
