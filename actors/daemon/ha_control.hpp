#pragma once

// `tuttid control` as one of several on an etcd store: it campaigns for
// leadership (leader_election.hpp); while it leads it runs the control plane
// (dev_daemon in control mode) with its store writes fenced by its leadership;
// when leadership is lost it ends the control plane and stands by again.
// While it stands by it serves the API as a standby (standby_plane.hpp) and
// its metrics (tutti_leader 0), and accepts no node.

#include "config/daemon_config.hpp"

#include <caf/error.hpp>

#include <atomic>

namespace tutti::actors {

class ha_control {
public:
  /// Runs until `stop` is set (none; leadership is handed over at once) or
  /// the control plane fails or cannot start (its error).
  static caf::error run(const config::daemon_config& cfg, const std::atomic<bool>& stop);
};

} // namespace tutti::actors
