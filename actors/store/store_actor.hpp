#pragma once

#include "actors/interfaces.hpp"

#include <memory>

namespace tutti::persistence {
class store;
}
namespace tutti::metrics {
class recorder;
}

namespace tutti::actors {

/// Spawns the store actor (detached: LMDB commits fsync). It shares ownership of
/// the open store, so a restarted store actor continues on the same environment.
store_actor spawn_store(caf::actor_system& sys, std::shared_ptr<persistence::store> db,
                        metrics::recorder& metrics);

} // namespace tutti::actors
