#pragma once

// The CAF configuration every tutti process uses: our message types and error
// category announced, the scheduler chosen.

#include <caf/actor_system_config.hpp>

namespace tutti::actors {

class system_config : public caf::actor_system_config {
public:
  /// `sharing`: the sharing scheduler (lower latency per hop, what tuttid uses);
  /// otherwise CAF's work stealing (more throughput under a flood of messages),
  /// with one worker per core: CAF's default of at least 4 workers spins idle
  /// stealers against the working threads on a 2-core machine.
  explicit system_config(bool sharing = true);
};

} // namespace tutti::actors
