#pragma once

#include "actors/interfaces.hpp"

#include <optional>

namespace tutti::actors {

/// Spawns the placement actor: the control plane's view of every node's capacity
/// and allocations. It chooses a node for a replica (constraints, max_per_node,
/// free resources, spread or binpack) and keeps the choice until release.
placement_actor spawn_placement(caf::actor_system& sys);

/// The scoring, free of actors so it can be tested alone.
struct node_view {
  p::node_status status;
  std::map<std::string, p::resource_spec> allocations; // replica -> reserved
  std::map<std::string, int32_t> per_service;          // service -> replicas here
};

/// The best node for `req` among `nodes`, or an unschedulable error that says,
/// node by node, why none fits.
caf::expected<std::string> choose_node(const std::map<std::string, node_view>& nodes,
                                       const p::placement_request& req);

} // namespace tutti::actors
