#pragma once

#include "actors/interfaces.hpp"

#include <chrono>

namespace tutti::metrics {
class recorder;
}

namespace tutti::actors {

/// How a node's routing mesh listens and waits (daemon config `mesh:`).
struct mesh_options {
  std::string host = "127.0.0.1"; // published ports listen on this address
  caf::timespan connect_timeout =
      std::chrono::duration_cast<caf::timespan>(std::chrono::seconds{1});
  caf::timespan idle_timeout = std::chrono::duration_cast<caf::timespan>(std::chrono::minutes{5});
};

struct router_context {
  std::string node;
  mesh_options mesh;
  discovery_actor discovery;            // where the endpoint sets come from
  store_actor store;                    // receives an event when a published port cannot be bound
  metrics::recorder* metrics = nullptr; // never null: spawn_router refuses a context without one
};

/// Spawns the routing mesh of one node. It registers with discovery, follows
/// every service's endpoint set and keeps a mesh_proxy (a KJ thread of its own)
/// listening on each published port, forwarding connections to the ready
/// replicas of the service. Ending the actor closes its ports and connections.
/// Throws std::invalid_argument when `ctx.metrics` is null.
router_actor spawn_router(caf::actor_system& sys, router_context ctx);

} // namespace tutti::actors
