#pragma once

#include "actors/interfaces.hpp"

namespace tutti::metrics {
class recorder;
}

namespace tutti::actors {

struct service_context {
  store_actor store;
  placement_actor placement;
  metrics::recorder* metrics = nullptr; // never null: spawn_service refuses a context without one
  caf::timespan resync = std::chrono::duration_cast<caf::timespan>(std::chrono::seconds{1});
  discovery_actor discovery;                        // null: endpoints are not published
  std::map<std::string, std::string> discovery_env; // <SERVICE>_ADDR for new replicas
  cluster_actor cluster; // asked to roll a failed rollout back; null: rollback pauses
};

/// Spawns the actor of one service. It reconciles continuously: missing replicas
/// are placed and started, extra ones stopped (the newest first). A revision that
/// changes what replicas run (their template) is rolled out: new replicas start in
/// new slots while old ones stop, within update.parallelism, max_surge and
/// max_unavailable, counting only ready replicas as available. A new replica
/// that crashes or fails its probes during the rollout (or within
/// update.monitor after it) fails the rollout: rolled back through the cluster,
/// paused, or ignored per update.failure_action. A revision that changes nothing
/// they run (a scale, the routing) touches no replica.
///
/// On start it reads the stored assignments (node and template of every slot) and
/// the revision history, so after a restart replicas are asked for on the nodes
/// that run them, where they are adopted, and a rollout goes on where it was.
///
/// It publishes its endpoint set (the running replicas' host ports) to discovery
/// on every change. A replica it stops leaves the set first; when the service has
/// published ports the stop waits until no router holds a connection to it any
/// more (at most stop_grace), so open connections finish before the SIGTERM.
///
/// Throws std::invalid_argument when `ctx.metrics` is null.
service_actor spawn_service(caf::actor_system& sys, service_context ctx, p::service_spec spec,
                            int64_t revision);

} // namespace tutti::actors
