#include "runtime-drivers/task_thread.hpp"

namespace tutti::runtime_drivers {

task_thread::task_thread() {
  thread_ = std::thread{[this] { run(); }};
}

task_thread::~task_thread() {
  {
    std::lock_guard<std::mutex> guard{mutex_};
    stopping_ = true;
  }
  wakeup_.notify_one();
  thread_.join();
}

void task_thread::post(std::function<void()> task) {
  post_at(clock::now(), std::move(task));
}

void task_thread::post_at(clock::time_point when, std::function<void()> task) {
  {
    std::lock_guard<std::mutex> guard{mutex_};
    tasks_.emplace(std::make_pair(when, next_seq_++), std::move(task));
  }
  wakeup_.notify_one();
}

void task_thread::run() {
  std::unique_lock<std::mutex> guard{mutex_};
  for (;;) {
    if (stopping_)
      return;
    if (tasks_.empty()) {
      wakeup_.wait(guard);
      continue;
    }
    auto first = tasks_.begin();
    if (first->first.first > clock::now()) {
      wakeup_.wait_until(guard, first->first.first);
      continue;
    }
    auto task = std::move(first->second);
    tasks_.erase(first);
    guard.unlock();
    task();
    guard.lock();
  }
}

} // namespace tutti::runtime_drivers
