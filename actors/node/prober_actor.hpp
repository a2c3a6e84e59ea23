#pragma once

#include "actors/interfaces.hpp"

#include <map>
#include <memory>

namespace tutti::actors {

/// Spawns the prober of a node: `workers` detached actors behind a round-robin
/// front, so that a probe waiting for its timeout holds up neither the actor
/// threads nor the other replicas' probes (up to `workers` at once).
prober_actor spawn_prober(caf::actor_system& sys,
                          std::map<p::driver_kind, std::shared_ptr<rd::driver>> drivers,
                          size_t workers = 4);

} // namespace tutti::actors
