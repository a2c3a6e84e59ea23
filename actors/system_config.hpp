#pragma once

// The CAF configuration every tuttid process uses: tutti's message types and
// error category, and, for processes of a multi-host cluster, CAF's network
// layer with heartbeats (every process of a cluster must use the same ones).

#include <caf/actor_system_config.hpp>
#include <caf/timespan.hpp>

namespace tutti::actors {

class system_config : public caf::actor_system_config {
public:
  system_config();

  /// Loads the middleman; a peer silent for `loss_timeout` is taken as gone
  /// (its actors send down messages), checked every `heartbeat`.
  void enable_network(caf::timespan heartbeat, caf::timespan loss_timeout);
};

} // namespace tutti::actors
