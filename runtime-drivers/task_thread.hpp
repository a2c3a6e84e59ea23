#pragma once

// One thread that runs posted tasks in time order: the sim driver's stand-in for
// a real runtime's event thread, and the containerd driver's exit callbacks and
// timed kills. Internal to runtime-drivers.

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <thread>
#include <utility>

namespace tutti::runtime_drivers {

class task_thread {
public:
  using clock = std::chrono::steady_clock;

  task_thread();

  /// Joins the thread; tasks not yet due are dropped. Must not run on the thread.
  ~task_thread();

  /// Runs `task` soon, after the tasks already due.
  void post(std::function<void()> task);

  /// Runs `task` at `when` (tasks due at the same time run in posting order).
  void post_at(clock::time_point when, std::function<void()> task);

  task_thread(const task_thread&) = delete;
  task_thread& operator=(const task_thread&) = delete;

private:
  void run();

  std::mutex mutex_;
  std::condition_variable wakeup_;
  bool stopping_ = false;
  uint64_t next_seq_ = 0;
  std::map<std::pair<clock::time_point, uint64_t>, std::function<void()>> tasks_;
  std::thread thread_;
};

} // namespace tutti::runtime_drivers
