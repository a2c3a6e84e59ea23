#pragma once

#include "actors/interfaces.hpp"
#include "actors/placement/placement_choice.hpp"
#include "actors/placement/placement_view.hpp"

namespace tutti::metrics {
class recorder;
}

namespace tutti::actors {

/// Spawns the placement actor: the control plane's view of every node's capacity
/// and allocations. For each replica it filters the nodes (state, driver,
/// constraints, anti-affinity, max_per_node, free cpu, memory and host ports),
/// scores the ones that fit (spread or binpack), and offers the best one a
/// reservation; only when the node confirms does the service get its answer. A
/// refusal makes it pick again without that node. Services whose replicas fit
/// nowhere are told (`capacity`) when nodes join or resources are released.
///
/// A node whose agent says it restarts keeps its replicas placed for
/// `restart_grace` (cluster.restart_grace); then it is lost.
placement_actor spawn_placement(caf::actor_system& sys, metrics::recorder& metrics,
                                caf::timespan restart_grace = std::chrono::seconds{30});

} // namespace tutti::actors
