#pragma once

// One thread that notices process exits without polling: it waits in poll() on a
// pidfd per watched process (pidfds work for adopted processes that are not our
// children) and an eventfd that wakes it for new work. It also runs kill
// deadlines and tasks posted to it. Internal to runtime-drivers.

#include "runtime-drivers/unique_fd.hpp"

#include <caf/error.hpp>
#include <caf/expected.hpp>

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

namespace tutti::runtime_drivers {

/// For failures on the reaper thread, which has nobody to return an error to:
/// one line on the daemon's stderr for a person to act on.
void report_background_error(const std::string& what);

/// Opens a pidfd for `pid`: driver_failure when the process is gone or the
/// kernel refuses.
caf::expected<unique_fd> open_pidfd(pid_t pid);

/// Waits until the process of `pidfd` has exited (a zombie counts), at most
/// `timeout`. True when it has.
bool wait_exited(const unique_fd& pidfd, std::chrono::milliseconds timeout);

class process_reaper {
public:
  using clock = std::chrono::steady_clock;

  /// Runs on the reaper thread once per watched process: the exit code (0-255),
  /// 128+N when killed by signal N, or -1 when the process is not our child.
  using exit_handler = std::function<void(pid_t pid, int32_t exit_code)>;

  static caf::expected<std::unique_ptr<process_reaper>> make(exit_handler on_exit);

  /// Stops and joins the thread. Leaves the watched processes alone: they keep
  /// running so the next daemon can adopt them. Must not run on the reaper thread.
  ~process_reaper();

  /// Watches `pid` through `pidfd` until it exits; then reaps it if it is our
  /// child and calls the exit handler. When our child's exit is reaped, what is
  /// left of its process group is killed, so a container ends as a whole.
  void watch(pid_t pid, unique_fd pidfd);

  /// Sends SIGKILL to the process group `pid` at `deadline` unless the watched
  /// process exited before. Ignored for processes not watched.
  void kill_after(pid_t pid, clock::time_point deadline);

  /// Runs `task` on the reaper thread soon.
  void post(std::function<void()> task);

  process_reaper(const process_reaper&) = delete;
  process_reaper& operator=(const process_reaper&) = delete;

private:
  struct watched {
    unique_fd pidfd;
    std::optional<clock::time_point> kill_deadline;
  };

  process_reaper(exit_handler on_exit, unique_fd wakeup);

  void run();
  void wake();
  std::chrono::milliseconds poll_timeout();
  void handle_exit(pid_t pid);
  void fire_deadlines();
  void run_posted();

  exit_handler on_exit_;
  unique_fd wakeup_; // eventfd
  std::mutex mutex_;
  bool stopping_ = false;
  std::map<pid_t, watched> watched_;
  std::deque<std::function<void()>> posted_;
  std::thread thread_;
};

} // namespace tutti::runtime_drivers
