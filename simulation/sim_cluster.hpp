#pragma once

// A control plane and N simulated nodes in one process: the real store,
// placement, cluster, service, node and replica actors, with a sim driver per
// node (all of them sharing one callback thread). What `tutti-bench sim` and the
// tests of a many-node cluster drive. `tuttid dev` (dev_daemon) is unaffected.

#include "actors/interfaces.hpp"

#include <caf/expected.hpp>
#include <caf/fwd.hpp>
#include <caf/timespan.hpp>

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace tutti::metrics {
class catalogue;
}

namespace tutti::simulation {

namespace p = tutti::protocol;

/// CAF's heartbeats between a simulated control plane and the processes of its
/// simulated nodes (sim_node_host): both sides use these, tuttid's defaults.
struct sim_network {
  caf::timespan heartbeat = std::chrono::milliseconds{250};
  caf::timespan loss_timeout = std::chrono::seconds{2}; // a peer silent this long is gone
};

struct sim_cluster_options {
  std::string data_dir;                  // the LMDB store lives in DIR/store (created)
  /// Non-empty: the store is etcd at these client URLs (http://HOST:PORT), under
  /// a key prefix of its own, instead of LMDB.
  std::vector<std::string> etcd_endpoints;
  uint64_t map_size = uint64_t{8} << 30; // LMDB map: assignments and events of 1M replicas
  int32_t nodes = 10;
  p::resource_spec node_capacity{64, int64_t{256} << 30};
  /// Labels of node i (e.g. its zone); null: none.
  std::function<std::map<std::string, std::string>(int32_t)> labels;
  std::string node_prefix = "sim-";
  /// false: CAF's work-stealing scheduler; true: sharing (tuttid's choice).
  bool sharing_scheduler = false;
  /// Non-empty: also publish a gateway on 127.0.0.1 (a free port, gateway_port)
  /// where nodes of other processes join with this token, as they join
  /// `tuttid control`.
  std::string join_token;
  sim_network network;
};

/// Owns everything it starts; the destructor stops the actors, then the drivers.
/// The blocking calls (apply, services, ...) must not run on a CAF thread.
class sim_cluster {
public:
  static caf::expected<std::unique_ptr<sim_cluster>> start(sim_cluster_options opts);
  ~sim_cluster();

  /// Blocks until every node has registered with placement, or `timeout` passed.
  bool wait_registered(caf::timespan timeout);

  /// Blocks until placement knows `count` nodes (local ones and those that
  /// joined through the gateway), or `timeout` passed.
  bool wait_registered(size_t count, caf::timespan timeout);

  caf::expected<p::apply_result> apply(const std::string& yaml);
  caf::expected<int64_t> scale(const std::string& service, int32_t replicas);
  caf::expected<std::vector<p::service_status>> services();
  caf::expected<std::vector<p::replica_status>> replicas(const std::string& service);
  caf::expected<p::service_detail> describe(const std::string& service);
  caf::expected<std::vector<p::node_status>> nodes();

  /// Ends node i at once (exit_reason::kill), as a host that died: nothing of it
  /// answers again. Its sim containers go with it.
  void kill_node(int32_t i);

  /// Starts one more node (name PREFIX + index), e.g. capacity that appears.
  void add_node(p::resource_spec capacity, std::map<std::string, std::string> labels = {});

  /// Where nodes of other processes join (127.0.0.1); 0 without a join token.
  uint16_t gateway_port() const;

  std::string node_name(int32_t i) const;
  int32_t node_count() const;
  caf::actor_system& system();
  metrics::catalogue& metrics();
  actors::placement_actor placement() const;
  actors::store_actor store() const;

private:
  struct impl;
  explicit sim_cluster(std::unique_ptr<impl> x);
  std::unique_ptr<impl> impl_;
};

} // namespace tutti::simulation
