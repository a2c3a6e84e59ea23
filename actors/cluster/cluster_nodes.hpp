#pragma once

// The scheduling states of nodes (cordon, drain, uncordon), as the cluster
// actor sets and follows them. Placement applies them; the store keeps them, so
// a restarted control plane applies them again. Part of the cluster actor.

#include "actors/cluster/cluster_state.hpp"

#include <functional>

namespace tutti::actors::cluster_impl {

/// Sets the state of node `name` (in placement, then durably in the store) and
/// answers with the node.
caf::result<p::node_status> set_node_state(self_ptr self, const std::string& name,
                                           p::node_state state);

/// Follows a draining node until it runs nothing; then it is cordoned (drained).
void check_drained(self_ptr self, const std::string& name);

/// The node agent of node `name` (for an image import), from placement; a node
/// not connected now is not_found, saying how to list the nodes.
caf::result<node_actor> node_agent(self_ptr self, const std::string& name);

/// The persistent volumes of every connected node (a node that does not
/// answer within the ask timeout is left out), by node, replica and volume.
caf::result<std::vector<p::volume_info>> volumes(self_ptr self);

/// Removes persistent volume `volume` of slot `replica` on `node`.
caf::result<bool> remove_volume(self_ptr self, const std::string& node, const std::string& replica,
                                const std::string& volume);

/// Every node, from placement.
caf::result<std::vector<p::node_status>> nodes(self_ptr self);

/// Node states stored by earlier cordons and drains; placement applies them
/// before any service asks it anything (services start after this).
void load_nodes(self_ptr self, std::function<void()> then);

} // namespace tutti::actors::cluster_impl
