#pragma once

#include "actors/interfaces.hpp"
#include "actors/mesh/router_actor.hpp"
#include "actors/node/replica_objects.hpp"
#include "actors/node/replica_volumes.hpp"
#include "actors/supervision/supervision.hpp"

#include <map>
#include <memory>

namespace tutti::metrics {
class recorder;
}

namespace tutti::actors {

struct node_config {
  std::string name;
  std::string address = "127.0.0.1"; // where replica ports are checked free
  std::map<std::string, std::string> labels;
  p::resource_spec capacity; // 0: what the host has
  uint16_t port_first = 20000;
  uint16_t port_last = 29999;
  restart_limit limit;
  caf::timespan health_interval = std::chrono::seconds{2}; // how often drivers are probed
  std::string upload_dir; // where image archives being imported are written; empty: no imports
  volume_places volumes;  // where volumes are kept; empty root: none
  object_places objects;  // where configs' and secrets' files are written; empty root: none
};

struct node_context {
  node_config config;
  std::map<p::driver_kind, std::shared_ptr<rd::driver>> drivers;
  store_actor store;
  placement_actor placement;
  metrics::recorder* metrics = nullptr; // never null: spawn_node refuses a context without one
  discovery_actor discovery;            // null: this node runs no routing mesh
  mesh_options mesh;
};

/// Spawns a node agent: it supervises one driver actor per driver, one replica
/// actor per replica placed here and the router (routing mesh) of the node,
/// registers with placement, and routes replica status to the service that asked
/// for the replica.
/// Throws std::invalid_argument when `ctx.metrics` is null.
node_actor spawn_node(caf::actor_system& sys, node_context ctx);

/// Stops and removes every replica of `node` the drivers run, waiting up to a few
/// seconds; for a daemon that exits with stop_replicas_on_exit, after its actors
/// are gone (so nothing restarts them).
void stop_node_replicas(const std::map<p::driver_kind, std::shared_ptr<rd::driver>>& drivers,
                        const std::string& node,
                        const object_places& objects);

/// The size of the disk that holds `folder` (or the nearest folder above it
/// that exists), for a disk capacity left at 0; 0 when it cannot be read.
int64_t disk_size(const std::string& folder);

/// The host's CPUs and memory, for a capacity left at 0.
p::resource_spec host_resources();

} // namespace tutti::actors
