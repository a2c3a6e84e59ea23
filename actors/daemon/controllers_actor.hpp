#pragma once

// `tutti get controllers`: the control processes of the cluster and the health
// of the store's etcd. On an etcd store every control process registers itself
// under PREFIX "controllers/" with its lease (leader_election.hpp), so the
// list is who is alive now; the election key names the leader. On LMDB the
// cluster has one control process: this one.

#include "actors/interfaces.hpp"
#include "config/daemon_config.hpp"
#include "persistence/etcd_client.hpp"

#include <caf/actor_system.hpp>

#include <memory>
#include <string>

namespace tutti::actors {

struct controllers_context {
  config::daemon_config cfg; // the store, and this process's addresses
  std::shared_ptr<persistence::etcd::client> etcd; // null for LMDB
  int64_t leading_since_ms = 0;                    // when this process took the lead
  bool leading = true;                             // false on a standby
};

/// How a control process names itself in the election and the registry:
/// its API and cluster addresses and host.
std::string controller_id(const config::daemon_config& cfg);

/// The registry entry of a control process (JSON), read back by the actor.
std::string controller_record(const config::daemon_config& cfg, int64_t since_ms);

/// Detached: each report waits on etcd (one status request per endpoint).
controllers_actor spawn_controllers(caf::actor_system& sys, controllers_context ctx);

} // namespace tutti::actors
