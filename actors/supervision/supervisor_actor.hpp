#pragma once

#include "actors/supervision/supervision.hpp"

#include <string>
#include <vector>

namespace tutti::metrics {
class recorder;
}

namespace tutti::actors {

struct child_spec {
  std::string name;
  start_function start;
  bool supervises = false; // the child answers tree_atom and kill_atom itself
};

/// Spawns a supervisor that does nothing but supervise `children`, started in
/// order. It ends (and so tells whoever monitors it) when a child exceeds its
/// restart limit, or on `shutdown_atom`, after stopping its children newest first.
caf::actor spawn_supervisor(caf::actor_system& sys, std::string name, restart_strategy strategy,
                            restart_limit limit, metrics::recorder& metrics,
                            std::vector<child_spec> children);

} // namespace tutti::actors
