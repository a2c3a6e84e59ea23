#pragma once

// Waiting on a condition with a deadline: the only way tests that drive real
// processes wait (never a fixed sleep and a hope).

#include <chrono>
#include <thread>

namespace tutti::tests::support {

using namespace std::chrono_literals;

/// How often wait_until() asks again.
inline constexpr auto poll_interval = 20ms;

/// Calls `predicate` every ~20 ms until it returns true (-> true) or `timeout`
/// has passed (-> false, after one last try at the deadline).
template <class Predicate, class Rep, class Period>
bool wait_until(Predicate&& predicate, std::chrono::duration<Rep, Period> timeout) {
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
