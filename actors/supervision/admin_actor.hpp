#pragma once

// The chaos admin of a control plane: `tutti tree` and `tutti chaos kill PATH`.
// It sees the local supervision tree through the root supervisor and, on a
// control plane with remote nodes, each node's tree under /nodes/NAME through
// placement. Killing is refused unless tuttid runs with --enable-chaos.

#include "actors/interfaces.hpp"

#include <caf/actor.hpp>
#include <caf/actor_system.hpp>

#include <string>

namespace tutti::actors {

struct admin_context {
  caf::actor root;        // the root supervisor
  bool chaos = false;     // --enable-chaos: kill requests are carried out
  bool remote_nodes = false; // list and reach nodes under /nodes/NAME
};

/// Answers tree_atom with the whole tree (root "/" first, sorted by path) and
/// kill_atom with the path it ended.
supervising_actor spawn_admin(caf::actor_system& sys, admin_context ctx);

} // namespace tutti::actors
