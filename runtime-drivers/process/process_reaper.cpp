#include "runtime-drivers/process/process_reaper.hpp"

#include "protocol/errors.hpp"

#include <poll.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>
#include <system_error>
#include <vector>

namespace tutti::runtime_drivers {

namespace {

using protocol::error_code;
using protocol::make_error;

bool is_readable(int fd) {
  pollfd p{fd, POLLIN, 0};
  return ::poll(&p, 1, 0) == 1;
}

int32_t exit_code_of(const siginfo_t& info) {
  if (info.si_code == CLD_EXITED)
    return info.si_status;
  return 128 + info.si_status; // CLD_KILLED or CLD_DUMPED
}

/// Reaps the exited process of `pidfd` if it is our child and returns its exit
/// code; -1 for processes that are not our children (adopted ones).
int32_t reap(pid_t pid, const unique_fd& pidfd) {
  siginfo_t info{};
  auto id = static_cast<id_t>(pidfd.get());
  if (::waitid(P_PIDFD, id, &info, WEXITED | WNOHANG | WNOWAIT) != 0 || info.si_pid != pid)
    return -1;
  // Our child, now a zombie: until it is reaped neither its pid nor its process
  // group id can be reused, so this kill reaches only what is left of the
  // container (background children of a shell, say).
  if (::kill(-pid, SIGKILL) != 0 && errno != ESRCH)
    report_background_error("cannot kill the rest of process group " + std::to_string(pid) + ": " +
                            std::strerror(errno));
  info = siginfo_t{};
  if (::waitid(P_PIDFD, id, &info, WEXITED | WNOHANG) != 0 || info.si_pid != pid)
    return -1;
  return exit_code_of(info);
}

} // namespace

void report_background_error(const std::string& what) {
  std::fprintf(stderr, "tutti process driver: %s\n", what.c_str());
}

caf::expected<unique_fd> open_pidfd(pid_t pid) {
  auto fd = ::syscall(SYS_pidfd_open, pid, 0);
  if (fd < 0)
    return make_error(error_code::driver_failure,
                      "cannot watch process " + std::to_string(pid) + ": " + std::strerror(errno));
  return unique_fd{static_cast<int>(fd)};
}

bool wait_exited(const unique_fd& pidfd, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    pollfd p{pidfd.get(), POLLIN, 0};
    int n = ::poll(&p, 1, static_cast<int>(std::max<int64_t>(left.count(), 0)));
    if (n > 0)
      return true;
    if (n == 0 || errno != EINTR)
      return false;
  }
}

caf::expected<std::unique_ptr<process_reaper>> process_reaper::make(exit_handler on_exit) {
  unique_fd wakeup{::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)};
  if (!wakeup)
    return make_error(error_code::driver_failure,
                      std::string{"cannot create the reaper's eventfd: "} + std::strerror(errno));
  return std::unique_ptr<process_reaper>{new process_reaper(std::move(on_exit), std::move(wakeup))};
}

process_reaper::process_reaper(exit_handler on_exit, unique_fd wakeup)
  : on_exit_(std::move(on_exit)), wakeup_(std::move(wakeup)) {
  thread_ = std::thread{[this] { run(); }};
}

process_reaper::~process_reaper() {
  {
    std::lock_guard<std::mutex> guard{mutex_};
    stopping_ = true;
  }
  wake();
  thread_.join();
}

void process_reaper::watch(pid_t pid, unique_fd pidfd) {
  {
    std::lock_guard<std::mutex> guard{mutex_};
    watched_[pid] = watched{std::move(pidfd), std::nullopt};
  }
  wake();
}

void process_reaper::kill_after(pid_t pid, clock::time_point deadline) {
  {
    std::lock_guard<std::mutex> guard{mutex_};
    auto i = watched_.find(pid);
    if (i == watched_.end())
      return;
    auto& current = i->second.kill_deadline;
    if (!current || deadline < *current)
      current = deadline;
  }
  wake();
}

void process_reaper::post(std::function<void()> task) {
  {
    std::lock_guard<std::mutex> guard{mutex_};
    posted_.push_back(std::move(task));
  }
  wake();
}

void process_reaper::wake() {
  uint64_t one = 1;
  // Only EAGAIN can fail here (counter saturated), and then a wakeup is pending.
  [[maybe_unused]] auto n = ::write(wakeup_.get(), &one, sizeof(one));
}

std::chrono::milliseconds process_reaper::poll_timeout() {
  std::optional<clock::time_point> next;
  for (const auto& [pid, w] : watched_)
    if (w.kill_deadline && (!next || *w.kill_deadline < *next))
      next = w.kill_deadline;
  if (!next)
    return std::chrono::milliseconds{-1};
  auto left = std::chrono::ceil<std::chrono::milliseconds>(*next - clock::now());
  return std::max(left, std::chrono::milliseconds{0});
}

void process_reaper::run() {
  for (;;) {
    std::vector<pollfd> fds;
    std::vector<pid_t> pids;
    std::chrono::milliseconds timeout;
    {
      std::lock_guard<std::mutex> guard{mutex_};
      if (stopping_)
        return;
      fds.push_back(pollfd{wakeup_.get(), POLLIN, 0});
      for (const auto& [pid, w] : watched_) {
        fds.push_back(pollfd{w.pidfd.get(), POLLIN, 0});
        pids.push_back(pid);
      }
      timeout = poll_timeout();
    }
    if (::poll(fds.data(), fds.size(), static_cast<int>(timeout.count())) < 0) {
      if (errno == EINTR)
        continue;
      throw std::system_error{errno, std::generic_category(), "reaper poll"};
    }
    if (fds[0].revents != 0) {
      uint64_t count = 0;
      [[maybe_unused]] auto n = ::read(wakeup_.get(), &count, sizeof(count));
    }
    for (size_t i = 1; i < fds.size(); ++i)
      if (fds[i].revents != 0)
        handle_exit(pids[i - 1]);
    fire_deadlines();
    run_posted();
  }
}

void process_reaper::handle_exit(pid_t pid) {
  unique_fd pidfd;
  {
    std::lock_guard<std::mutex> guard{mutex_};
    auto i = watched_.find(pid);
    // Re-checked under the lock: watch() may have replaced the entry since poll.
    if (i == watched_.end() || !is_readable(i->second.pidfd.get()))
      return;
    pidfd = std::move(i->second.pidfd);
    watched_.erase(i);
  }
  on_exit_(pid, reap(pid, pidfd));
}

void process_reaper::fire_deadlines() {
  std::lock_guard<std::mutex> guard{mutex_};
  auto now = clock::now();
  for (auto& [pid, w] : watched_) {
    if (!w.kill_deadline || *w.kill_deadline > now)
      continue;
    w.kill_deadline.reset();
    // An exited leader is handled in the next round; its group is not ours to
    // signal any more.
    if (is_readable(w.pidfd.get()))
      continue;
    if (::kill(-pid, SIGKILL) != 0 && errno != ESRCH)
      report_background_error("cannot kill process group " + std::to_string(pid) +
                              " after its stop grace: " + std::strerror(errno));
  }
}

void process_reaper::run_posted() {
  std::deque<std::function<void()>> tasks;
  {
    std::lock_guard<std::mutex> guard{mutex_};
    tasks.swap(posted_);
  }
  for (auto& task : tasks)
    task();
}

} // namespace tutti::runtime_drivers
