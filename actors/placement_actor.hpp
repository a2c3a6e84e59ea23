#pragma once

#include "actors/interfaces.hpp"
#include "actors/placement_view.hpp"

#include <vector>

namespace tutti::metrics {
class catalogue;
}

namespace tutti::actors {

/// Spawns the placement actor: the control plane's view of every node's capacity
/// and allocations. For each replica it filters the nodes (state, driver,
/// constraints, anti-affinity, max_per_node, free cpu, memory and host ports),
/// scores the ones that fit (spread or binpack), and offers the best one a
/// reservation; only when the node confirms does the service get its answer. A
/// refusal makes it pick again without that node. Services whose replicas fit
/// nowhere are told (`capacity`) when nodes join or resources are released.
/// `metrics` may be null.
placement_actor spawn_placement(caf::actor_system& sys, metrics::catalogue* metrics = nullptr);

/// The best node for `req` in `view`, never one of `refused`, or an
/// unschedulable error that sums up why each node does not fit, e.g.
/// "0/5 nodes: 3 insufficient memory, 2 constraint zone == a".
///
/// Clusters beyond 100 nodes are sampled the way Kubernetes' scheduler does:
/// from a start that depends on the replica, nodes are checked until max(100,
/// 5%) of them fit, and the best of those wins; so a decision costs about the
/// same at 5,000 nodes as at 500. The preferred node is kept when it fits.
caf::expected<placement_view::node_id>
choose_node(const placement_view& view, const p::placement_request& req,
            const std::vector<placement_view::node_id>& refused = {});

} // namespace tutti::actors
