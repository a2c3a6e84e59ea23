#pragma once

// containerd's event stream, filtered to the task exits of one namespace, kept
// open on a thread of its own. containerd replays nothing to a new subscriber,
// so after each (re)connect the owner looks up what it watches: on_connected
// runs once the subscription is known to be in place (an event tutti
// publishes to itself came back through it). Internal to runtime-drivers.

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

namespace grpc {
class ClientContext;
}

namespace tutti::runtime_drivers::containerd {

class containerd_client;

/// A task's process ended (TaskExit): the init process when id == container_id.
struct task_exit {
  std::string container_id;
  std::string id;
  uint32_t pid = 0;
  uint32_t exit_status = 0;
};

/// Thread: handlers run on the stream's thread, one at a time; they may make
/// containerd calls.
class exit_stream {
public:
  struct handlers {
    std::function<void(const task_exit&)> on_exit;
    std::function<void()> on_connected;
    std::function<void(const std::string& why, bool was_connected)> on_lost;
  };

  exit_stream(const containerd_client& client, handlers h,
              std::chrono::milliseconds min_backoff = std::chrono::milliseconds{100},
              std::chrono::milliseconds max_backoff = std::chrono::milliseconds{2000});

  /// Cancels the stream and joins the thread. Must not run on the thread.
  ~exit_stream();

  exit_stream(const exit_stream&) = delete;
  exit_stream& operator=(const exit_stream&) = delete;

  void start();

  /// The subscription is in place (confirmed) and has not broken since.
  bool connected() const;

private:
  void run();
  bool subscribe_once(const std::string& nonce);
  bool publish_marker(const std::string& nonce);
  bool sleep_backoff(std::chrono::milliseconds delay);

  const containerd_client& client_;
  handlers handlers_;
  std::chrono::milliseconds min_backoff_;
  std::chrono::milliseconds max_backoff_;
  mutable std::mutex mutex_; // guards the members below
  std::condition_variable wakeup_;
  bool stopping_ = false;
  bool connected_ = false;
  grpc::ClientContext* current_ = nullptr; // the open subscription's, to cancel it
  std::thread thread_;
};

} // namespace tutti::runtime_drivers::containerd
