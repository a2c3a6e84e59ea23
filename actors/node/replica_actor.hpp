#pragma once

#include "actors/interfaces.hpp"
#include "actors/node/replica_objects.hpp"
#include "actors/node/replica_volumes.hpp"
#include "actors/node/replica_template.hpp"

#include <memory>

namespace tutti::metrics {
class recorder;
}

namespace tutti::actors {

/// The actors and settings a replica actor keeps for its whole life.
struct replica_links {
  node_actor parent; // receives every status change, unless `service` does
  driver_actor driver;
  store_actor store; // receives events, unless `service` does
  /// The service actor that asked for this replica: its reports and events go
  /// there directly (the service passes events on in bursts). Null until the
  /// node knows it (adopted at the node's start): then the node passes reports on.
  service_actor service;
  metrics::recorder* metrics = nullptr; // never null: spawn_replica refuses links without one
  /// The node knows no container of this name exists (none was listed at its
  /// start and it never ran this replica): create it without looking first.
  bool fresh = false;
  /// Report `starting` to the node before a new container is run: worth two
  /// messages only when the driver blocks (docker: a start takes ~0.2 s, a pull
  /// longer). A process or simulated container runs within the request.
  bool report_starting = true;
  prober_actor prober; // null when the spec has no probe
  /// The driver itself when it takes calls inline (driver::inline_calls): a new
  /// container is run with one call instead of a request to the driver actor
  /// and its answer. Null otherwise; every other call goes through `driver`.
  std::shared_ptr<rd::driver> inline_driver;
  /// Where the node keeps volumes; shared by the node's replicas.
  std::shared_ptr<const volume_places> volumes = std::make_shared<const volume_places>();
  /// Where the node writes configs' and secrets' files; shared like volumes.
  std::shared_ptr<const object_places> objects = std::make_shared<const object_places>();
};

/// What a replica actor needs from the node that spawns it: its links, and
/// where it runs (which it keeps once, in its status).
struct replica_context {
  replica_links links;
  std::string node;
  std::vector<p::port_binding> ports; // host ports chosen by the node
  std::string address = "127.0.0.1";  // the node's: where the host ports listen
};

/// Spawns the actor that owns the one container of replica `req.service`/`req.slot`.
/// It first looks for a container of that name (after a crash of this actor or of
/// tuttid) and adopts it when it runs the requested revision, so it never starts
/// a second copy. Ending this actor (any reason) leaves the container alone; only
/// a stop request removes it.
/// `req` is shared with the node's record of the replica and never changed:
/// an update replaces it. Throws std::invalid_argument when `ctx.links.metrics` is null.
replica_actor spawn_replica(caf::actor_system& sys, replica_context ctx,
                            std::shared_ptr<const p::replica_request> req);

/// Next restart delay after `current`: doubled, at most `max`.
caf::timespan next_backoff(caf::timespan current, const p::backoff_spec& spec);

} // namespace tutti::actors
