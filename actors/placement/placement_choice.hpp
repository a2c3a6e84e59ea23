#pragma once

// One placement decision: filters, then scores, the nodes of a placement_view
// for one replica. A pure function of the view, so the placement actor, its
// tests and placement_bench call the same code.

#include "actors/placement/placement_view.hpp"
#include "protocol/messages.hpp"

#include <caf/expected.hpp>

#include <vector>

namespace tutti::actors {

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
