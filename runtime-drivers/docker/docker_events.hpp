#pragma once

// The Docker engine's GET /events stream, kept open on a thread of its own that
// also runs the driver's posted and timed tasks (exit callbacks, kills after a
// stop's grace). Internal to runtime-drivers.

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace tutti::runtime_drivers::docker {

/// The framing of the events stream: one JSON object per line, in chunks that
/// may cut a line anywhere. Pure, so the framing is tested (and fuzzed) without
/// an engine.
class line_splitter {
public:
  /// An event is a few hundred bytes: a longer line is no event.
  static constexpr size_t default_max_line = size_t{1} << 20;

  explicit line_splitter(size_t max_line = default_max_line) : max_line_(max_line) {}

  /// Appends the complete lines of `data` (without '\n'; empty lines are
  /// skipped) to `lines`; the unfinished end waits for the next chunk. Returns
  /// false once a line grows past the limit: its bytes are not kept (an engine
  /// that never sends a newline cannot grow tutti's memory) and the stream
  /// can no longer be trusted.
  bool feed(const char* data, size_t size, std::vector<std::string>& lines);

private:
  size_t max_line_;
  std::string partial_; // the bytes of a line not yet complete
  bool overlong_ = false;
};

/// Thread: every handler and task runs on the stream's thread, one at a time,
/// never inline from post(). Handlers may block briefly (an engine call).
///
/// Reconnection: when the stream cannot connect or breaks, on_lost runs and the
/// thread tries again after a back-off (doubling from `min_backoff` up to
/// `max_backoff`, reset once connected). Each request asks for the events since
/// the newest one seen (or since shortly before the first attempt), so the
/// engine replays what it still buffers; on_connected then lets the owner look
/// up whatever the engine no longer knows as events (after its own restart).
class event_stream {
public:
  using clock = std::chrono::steady_clock;

  struct handlers {
    /// One line of the stream; returns the event's time in nanoseconds since
    /// the epoch (0 when unknown), which the next reconnect asks to resume from.
    std::function<int64_t(const std::string& line)> on_line;
    /// The engine accepted the request (HTTP 200): events flow from now on.
    std::function<void()> on_connected;
    /// The stream broke (`was_connected`) or could not be opened.
    std::function<void(const std::string& why, bool was_connected)> on_lost;
  };

  /// `target` is the path and query after the API version prefix, e.g.
  /// "/events?filters=..."; the thread starts with start().
  event_stream(std::string socket_path, std::string target, handlers h,
               std::chrono::milliseconds min_backoff = std::chrono::milliseconds{100},
               std::chrono::milliseconds max_backoff = std::chrono::milliseconds{2000});

  /// Stops and joins the thread; tasks not yet run are dropped. Must not run on
  /// the stream's thread.
  ~event_stream();

  event_stream(const event_stream&) = delete;
  event_stream& operator=(const event_stream&) = delete;

  void start();

  /// Runs `task` on the stream's thread soon.
  void post(std::function<void()> task);

  /// Runs `task` on the stream's thread at `when`.
  void post_at(clock::time_point when, std::function<void()> task);

  /// The stream is open (the engine answered 200 and has not closed it).
  bool connected() const;

  /// How many times the stream has been (re)connected.
  uint64_t connects() const;

private:
  struct transfer;

  void run();
  bool run_due_tasks();
  void wake();

  std::string socket_path_;
  std::string target_;
  handlers handlers_;
  std::chrono::milliseconds min_backoff_;
  std::chrono::milliseconds max_backoff_;

  mutable std::mutex mutex_; // guards everything below
  bool stopping_ = false;
  bool connected_ = false;
  uint64_t connects_ = 0;
  uint64_t next_seq_ = 0;
  std::map<std::pair<clock::time_point, uint64_t>, std::function<void()>> tasks_;
  void* multi_ = nullptr; // CURLM*, made before the thread starts
  std::thread thread_;
};

} // namespace tutti::runtime_drivers::docker
