#pragma once

// Fencing sweeps of the cluster actor: every node is told which of its replicas
// the store still assigns to it, and removes the others (replicas of deleted
// services, replicas placed elsewhere while it was cut off). Part of the
// cluster actor.

#include "actors/cluster/cluster_state.hpp"

#include <chrono>

namespace tutti::actors::cluster_impl {

/// Replicas moved away from a node that was cut off only briefly, or started
/// on it while a stop was lost, are removed by a sweep at least this often.
constexpr auto sweep_interval = std::chrono::seconds{10};

/// A sweep reads every stored assignment: in a large cluster the periodic one
/// comes only after one second per this many assignments (100 s at a million),
/// so that it costs a few percent of the store's time, not most of it. A
/// node's sweep when it joins comes at once, whatever the size.
constexpr size_t sweep_assignments_per_s = 10000;

/// Nodes that join within this time are swept together: one read of the
/// assignments for all of them (5,000 nodes joining a restarted control plane
/// would otherwise read a million assignments 5,000 times).
constexpr auto join_sweep_window = std::chrono::milliseconds{500};

/// Sweeps every node, or those of `only` when given.
void sweep_orphans(self_ptr self, std::set<std::string> only = {});

/// When the next periodic sweep is due.
caf::timespan next_sweep(self_ptr self);

/// Sweeps every node and schedules the next periodic sweep.
void sweep_all(self_ptr self);

/// The periodic sweep (`node` empty), or the sweep of a node after its join:
/// due after join_sweep_window, together with those of the nodes that join
/// with it.
void sweep(self_ptr self, const std::string& node);

/// Sweeps the nodes that joined in the window now ending.
void sweep_joined(self_ptr self);

} // namespace tutti::actors::cluster_impl
