#pragma once

// Starting a daemon a test or benchmark owns (dockerd, containerd, a registry):
// a child in a process group of its own that gets SIGTERM when its parent dies
// (a ctest timeout SIGKILLs the test binary), its output appended to a log, and
// a wait until it answers.

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <string>
#include <vector>

namespace tutti::harness {

/// Forks and execs `args` (args[0] a path); returns its pid, or 0 with `why`.
/// Its stderr, and its stdout unless `keep_stdout` (then ours), go to the log.
/// The SIGTERM comes when the thread that called this ends: call it from a
/// thread that lives as long as the daemon should (the main thread).
pid_t spawn_private_daemon(const std::vector<std::string>& args, const std::string& log_path,
                           std::string& why, bool keep_stdout = false);

/// The path of `name` in the usual program directories, or "".
std::string find_program(const std::string& name);

/// The last `bytes` of a daemon's log file ("" when unreadable).
std::string tail_of(const std::string& path, size_t bytes = 2000);

/// Detaches whatever a daemon killed hard left mounted under `dir` (overlay
/// rootfs mounts), deepest first, so the directory can be deleted.
void unmount_below(const std::string& dir);

enum class daemon_start { answered, exited, timed_out };

/// Polls `answers` until it holds, the daemon `pid` exits (it is reaped then)
/// or `timeout` passes.
daemon_start wait_for_daemon(pid_t pid, const std::function<bool()>& answers,
                             std::chrono::milliseconds timeout);

} // namespace tutti::harness
