#include "protocol/messages.hpp"

#include <chrono>

namespace tutti::protocol {

int64_t fencing_epoch() {
  // The wall clock, not the steady one: epochs must keep growing across restarts
  // of the control plane, which the stored assignments outlive.
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

} // namespace tutti::protocol
