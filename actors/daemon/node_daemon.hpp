#pragma once

// `tuttid node`: a node agent that joins a control plane over CAF's network
// layer (cluster.join) and runs the replicas placed on it. When the control plane
// is lost it keeps its replicas running, joins again with back-off, and the new
// node actor adopts them.

#include "config/daemon_config.hpp"
#include "runtime-drivers/driver.hpp"

#include <caf/error.hpp>
#include <caf/expected.hpp>

#include <memory>

namespace tutti::actors {

class node_daemon {
public:
  /// Serves metrics, makes the drivers and starts joining (in the background).
  /// Errors say what to fix.
  static caf::expected<std::unique_ptr<node_daemon>> start(const config::daemon_config& cfg);

  ~node_daemon(); // same as shutdown()

  uint16_t metrics_port() const;

  /// Blocks until joining failed for good (a refused token: returns why) or
  /// shutdown().
  caf::error wait();

  /// Leaves the cluster and ends the node actor; replicas keep running unless the
  /// config says stop_replicas_on_exit.
  void shutdown();

private:
  struct impl;
  explicit node_daemon(std::unique_ptr<impl> x);
  std::unique_ptr<impl> impl_;
};

} // namespace tutti::actors
