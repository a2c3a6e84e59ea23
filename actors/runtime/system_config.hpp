#pragma once

// The CAF configuration every tutti process uses: tutti's message types and
// error category, the scheduler chosen, and, for processes of a multi-host
// cluster, CAF's network layer with heartbeats (every process of a cluster must
// use the same ones).

#include <caf/actor_system_config.hpp>
#include <caf/timespan.hpp>

#include <string>

namespace tutti::actors {

class system_config : public caf::actor_system_config {
public:
  /// `sharing`: the sharing scheduler (lower latency per hop, what tuttid uses);
  /// otherwise CAF's work stealing (more throughput under a flood of messages),
  /// with one worker per core: CAF's default of at least 4 workers spins idle
  /// stealers against the working threads on a 2-core machine.
  explicit system_config(bool sharing = true);

  /// Loads the middleman; a peer silent for `loss_timeout` is taken as gone
  /// (its actors send down messages), checked every `heartbeat`.
  void enable_network(caf::timespan heartbeat, caf::timespan loss_timeout);

  /// Loads CAF's openssl module over the network (after enable_network): peers
  /// then connect with caf::openssl::publish / remote_actor, present
  /// `certificate` (with `key`, unencrypted) and must present one that chains
  /// to `ca`. Give it checked, pinned files (check_tls_files): CAF reads them
  /// for each connection and throws from its I/O thread when it cannot.
  void enable_tls(const std::string& certificate, const std::string& key, const std::string& ca);
};

} // namespace tutti::actors
