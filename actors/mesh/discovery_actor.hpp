#pragma once

#include "actors/interfaces.hpp"

namespace tutti::actors {

/// Spawns service discovery: it keeps the endpoint set each service actor
/// publishes (in memory; services publish again after a restart), pushes every
/// change to the registered routers and to watchers, and answers drain requests
/// by asking every router. Routers and watchers are monitored and forgotten when
/// they end.
discovery_actor spawn_discovery(caf::actor_system& sys);

} // namespace tutti::actors
