#pragma once

#include "actors/interfaces.hpp"

#include <chrono>
#include <string>

namespace tutti::actors {

/// How long after a join the gateway has the cluster sweep the node.
constexpr auto join_sweep_delay = std::chrono::seconds{2};

/// Spawns the gateway. `root` is the control plane's root supervisor: the
/// gateway asks it for the current store, placement, discovery and cluster on
/// every join, so a restarted child is what the next node gets. A wrong token,
/// or a node's tuttid version too far from this one's (protocol/versions.hpp),
/// is refused with invalid_argument and logged. After a join the cluster sweeps the
/// node: replicas it runs that were moved elsewhere while it was lost are removed.
gateway_actor spawn_gateway(caf::actor_system& sys, caf::actor root, std::string join_token);

} // namespace tutti::actors
