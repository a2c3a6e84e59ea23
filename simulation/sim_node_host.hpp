#pragma once

// Simulated nodes in a process of their own that join a control plane over CAF's
// network, each on its own like `tuttid node` (one join per node): real node
// actors with a sim driver each, holding the control plane's remote store and
// placement. What each child process of `tutti-bench sim --processes K` runs
// against the gateway of a sim_cluster.

#include "actors/interfaces.hpp"
#include "simulation/sim_cluster.hpp"

#include <caf/expected.hpp>
#include <caf/fwd.hpp>

#include <map>
#include <memory>
#include <string>

namespace tutti::simulation {

namespace p = tutti::protocol;

struct sim_node_host_options {
  std::string host = "127.0.0.1";
  uint16_t port = 0; // the control plane's gateway
  std::string join_token;
  sim_network network; // must be the control plane's
  bool sharing_scheduler = false;
  std::string node_prefix = "sim-"; // node i is PREFIX + i, as in sim_cluster
  p::resource_spec node_capacity{64, int64_t{256} << 30};
};

/// Owns its actor system and nodes. The calls block and must not run on a CAF
/// thread; add_node and kill_node from one thread at a time.
class sim_node_host {
public:
  /// Connects to the gateway (blocks until connected or refused).
  static caf::expected<std::unique_ptr<sim_node_host>> connect(sim_node_host_options opts);
  ~sim_node_host();

  /// Joins as node `index` and spawns it with a sim driver of its own; it then
  /// registers with placement by itself. Fails when the gateway refuses or does
  /// not answer within 10 s.
  caf::error add_node(int32_t index, std::map<std::string, std::string> labels);

  /// Ends node `index` at once, with its containers, as a host that died
  /// (sim_cluster::kill_node); the control plane hears of it from CAF, over the
  /// connection. An index not added here: nothing.
  void kill_node(int32_t index);

  /// Blocks until the connection to the control plane is gone (its process
  /// ended, or its heartbeats stopped for the loss timeout); why.
  caf::error wait_disconnected();

private:
  struct impl;
  explicit sim_node_host(std::unique_ptr<impl> x);
  std::unique_ptr<impl> impl_;
};

} // namespace tutti::simulation
