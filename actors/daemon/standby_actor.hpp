#pragma once

// The API of a control process that stands by (ha_control.hpp). It answers
// what etcd holds durably (revision history, the event log) from its copy of
// etcd's state kept current by a watch, and `version`/`tutti get controllers`; every other call, writes and
// the reads of live state (replicas, nodes, rollouts, logs), is refused with
// not_leader naming the leader's API address, so a client moves on to it.
// While etcd cannot be reached the refusals say so: a leader cut from etcd
// has stood down and tells why.

#include "actors/interfaces.hpp"
#include "config/daemon_config.hpp"
#include "persistence/etcd_client.hpp"

#include <caf/actor_system.hpp>

#include <memory>
#include <mutex>
#include <string>

namespace tutti::actors {

/// Who leads as a standby last saw it, and why it could not see (etcd did not
/// answer). Written by the campaign, read by the API: thread-safe.
class standby_status {
public:
  /// `leader`: the election key's value (controller_id), empty when none;
  /// `problem`: why etcd cannot be used (it does not answer), empty when it can.
  void set(std::string leader, std::string problem);

  /// For `tutti version`: standby, the leader's API address, the problem.
  protocol::role_report report() const;

  /// The refusal of a call only the leader serves.
  caf::error not_leader() const;

private:
  mutable std::mutex mtx_;
  std::string leader_;
  std::string problem_;
};

struct standby_context {
  config::daemon_config cfg;
  std::shared_ptr<persistence::etcd::client> etcd;
  std::shared_ptr<const standby_status> status;
  /// The standby's copy of etcd's state, which its reads use (etcd_mirror.hpp).
  std::shared_ptr<persistence::etcd::reader> cache;
};

/// Detached: its reads wait on etcd.
cluster_actor spawn_standby(caf::actor_system& sys, standby_context ctx);

} // namespace tutti::actors
