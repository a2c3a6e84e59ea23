#pragma once

#include "access/secret_box.hpp"
#include "actors/interfaces.hpp"
#include "actors/supervision/supervision.hpp"
#include "protocol/limits.hpp"

#include <functional>
#include <optional>

namespace tutti::metrics {
class recorder;
}

namespace tutti::actors {

struct cluster_context {
  store_actor store;
  placement_actor placement;
  metrics::recorder* metrics = nullptr; // never null: spawn_cluster refuses a context without one
  restart_limit limit;
  /// Called with the cluster's handle after each (re)start, so the RPC edge
  /// always talks to the live instance.
  std::function<void(cluster_actor)> announce;
  discovery_actor discovery;           // endpoint sets; null: no routing mesh
  std::string mesh_host = "127.0.0.1"; // the address in <SERVICE>_ADDR
  protocol::api_limits limits;         // documents per apply, services in the cluster
  /// Seals secrets in the store; none: Secret objects are refused.
  std::optional<access::secret_box> secrets;
};

/// Spawns the control plane's front actor. It loads every stored spec, supervises
/// one service actor per service (one-for-one), sweeps containers no service
/// wants, and answers the client API: apply (validated whole, committed durably
/// before the answer), scale, delete, get, describe, events, logs, endpoints.
/// A published port already published by another service is refused at apply,
/// naming both services. Every service gets `<SERVICE>_ADDR` (and
/// `<SERVICE>_ADDR_<PORT>`) of every service with a published port, for the
/// replicas it starts from then on.
///
/// Throws std::invalid_argument when `ctx.metrics` is null.
cluster_actor spawn_cluster(caf::actor_system& sys, cluster_context ctx);

} // namespace tutti::actors
