#pragma once

#include "actors/interfaces.hpp"

namespace tutti::metrics {
class catalogue;
}

namespace tutti::actors {

struct service_context {
  store_actor store;
  placement_actor placement;
  metrics::catalogue* metrics = nullptr;
  caf::timespan resync = std::chrono::duration_cast<caf::timespan>(std::chrono::seconds{1});
  discovery_actor discovery;                        // null: endpoints are not published
  std::map<std::string, std::string> discovery_env; // <SERVICE>_ADDR for new replicas
};

/// Spawns the actor of one service. It reconciles continuously: missing slots are
/// placed and started, slots beyond `replicas` are stopped (the newest first),
/// replicas of an older revision are replaced. On start it reads the stored
/// assignments, so after a restart replicas are asked for on the nodes that run
/// them, where they are adopted.
///
/// It publishes its endpoint set (the running replicas' host ports) to discovery
/// on every change. A replica it stops leaves the set first; when the service has
/// published ports the stop waits until no router holds a connection to it any
/// more (at most stop_grace), so open connections finish before the SIGTERM.
service_actor spawn_service(caf::actor_system& sys, service_context ctx, p::service_spec spec,
                            int64_t revision);

} // namespace tutti::actors
