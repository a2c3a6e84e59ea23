#pragma once

// Helpers of the runtime-drivers tests: a temporary directory, a guard that
// kills every process group a test started, and a recorder of exit callbacks
// that waits with a deadline.

#include "protocol/errors.hpp"
#include "runtime-drivers/driver.hpp"
#include "tests/support/wait.hpp"

#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace tutti::runtime_drivers::test {

using namespace std::chrono_literals;

/// Long enough for a loaded CI machine, short enough to fail a hung test.
inline constexpr auto deadline = 5s;

/// A fresh directory under /tmp, removed with everything in it.
class temp_dir {
public:
  temp_dir() {
    std::string pattern = "/tmp/tutti-drivers-XXXXXX";
    if (::mkdtemp(pattern.data()) == nullptr)
      throw std::runtime_error("mkdtemp failed");
    path_ = pattern;
  }
  ~temp_dir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  temp_dir(const temp_dir&) = delete;
  temp_dir& operator=(const temp_dir&) = delete;
  const std::string& path() const { return path_; }

private:
  std::string path_;
};

/// SIGKILLs every recorded process group when the test ends, pass or fail, and
/// reaps those that are our children.
class process_guard {
public:
  void add(int64_t pgid) {
    // Never 0, 1 or our own group: kill(-0) and kill(-1) would hit us or everyone.
    if (pgid > 1 && pgid != ::getpid() && pgid != ::getpgrp())
      pgids_.push_back(static_cast<pid_t>(pgid));
  }
  ~process_guard() {
    for (auto pgid : pgids_) {
      ::kill(-pgid, SIGKILL);
      ::waitpid(pgid, nullptr, 0); // ECHILD unless it is ours and unreaped
    }
  }

private:
  std::vector<pid_t> pgids_;
};

/// Records exit callbacks; tests wait for them with a deadline.
class exit_recorder {
public:
  struct event {
    std::string name;
    int32_t exit_code;
    std::thread::id thread;
  };

  exit_callback callback() {
    return [this](const std::string& name, int32_t exit_code) {
      // Notified under the lock: a waiter may destroy the recorder as soon as it
      // sees the event, so the callback must be done with it by then.
      std::lock_guard<std::mutex> guard{mutex_};
      events_.push_back(event{name, exit_code, std::this_thread::get_id()});
      changed_.notify_all();
    };
  }

  /// The `nth` (1-based) exit of `name`, or nullopt when it does not come in time.
  std::optional<event> wait_for(const std::string& name, size_t nth = 1) {
    std::unique_lock<std::mutex> guard{mutex_};
    std::optional<event> found;
    changed_.wait_for(guard, deadline, [&] {
      found = nth_of(name, nth);
      return found.has_value();
    });
    return found;
  }

  std::optional<int32_t> wait_code(const std::string& name, size_t nth = 1) {
    auto x = wait_for(name, nth);
    return x ? std::optional<int32_t>{x->exit_code} : std::nullopt;
  }

  size_t count(const std::string& name) {
    std::lock_guard<std::mutex> guard{mutex_};
    size_t n = 0;
    for (const auto& x : events_)
      n += x.name == name ? 1 : 0;
    return n;
  }

private:
  std::optional<event> nth_of(const std::string& name, size_t nth) const {
    for (const auto& x : events_)
      if (x.name == name && --nth == 0)
        return x;
    return std::nullopt;
  }

  std::mutex mutex_;
  std::condition_variable changed_;
  std::vector<event> events_;
};

/// Polls `condition` until it holds or the deadline passes: for states no
/// callback announces (a log line appearing, a port listening).
template <class Predicate> bool eventually(Predicate condition) {
  return tutti::tests::support::wait_until(condition, deadline);
}

/// True when `pid` no longer runs: absent from /proc, or a zombie.
inline bool process_gone(int64_t pid) {
  std::ifstream in{"/proc/" + std::to_string(pid) + "/stat"};
  std::string text;
  if (!in || !std::getline(in, text))
    return true;
  auto close = text.rfind(')');
  return close != std::string::npos && close + 2 < text.size() && text[close + 2] == 'Z';
}

inline std::string message(const caf::error& err) {
  return protocol::to_string(protocol::code_of(err)) + ": " + protocol::message_of(err);
}

inline const std::string busybox = "/bin/busybox";

/// `script` run by busybox's shell.
inline std::vector<std::string> shell(const std::string& script) {
  return {busybox, "sh", "-c", script};
}

inline container_spec make_spec(const std::string& name, std::vector<std::string> command,
                                const std::string& node = "node-a") {
  container_spec spec;
  spec.name = name;
  spec.command = std::move(command);
  spec.labels[label::node] = node;
  spec.labels[label::service] = "svc";
  return spec;
}

} // namespace tutti::runtime_drivers::test
