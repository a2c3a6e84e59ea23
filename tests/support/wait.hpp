#pragma once

// Waiting on a condition with a deadline: the only way tests that drive real
// processes wait (never a fixed sleep and a hope).

#include <chrono>
#include <thread>

namespace tutti::tests::support {

using namespace std::chrono_literals;

/// How often wait_until() asks again.
inline constexpr auto poll_interval = 20ms;

/// How long wait_until() waits when the caller names no deadline.
inline constexpr std::chrono::milliseconds default_timeout = 10s;

/// Calls `predicate` every ~20 ms until it returns true (-> true) or `timeout`
/// has passed (-> false, after one last try at the deadline). Every test and
/// test helper that waits on a condition waits through this function.
template <class Predicate>
bool wait_until(Predicate&& predicate, std::chrono::milliseconds timeout = default_timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    if (predicate())
      return true;
    if (std::chrono::steady_clock::now() >= deadline)
      return false;
    std::this_thread::sleep_for(poll_interval); // -- allowed: polling interval of a deadline wait
  }
}

/// Milliseconds since `start`, for the figures the tests print.
inline long long elapsed_ms(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() -
                                                               start)
      .count();
}

} // namespace tutti::tests::support
