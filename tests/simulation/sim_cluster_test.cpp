// A control plane and a few simulated nodes in one process (sim_cluster): pending
// replicas say why and are placed once capacity appears; replicas of a lost node
// are placed again on the others.

#include "simulation/sim_cluster.hpp"

#include "protocol/errors.hpp"
#include "tests/support/temp_dir.hpp"
#include "tests/support/wait.hpp"

#include <caf/all.hpp>

#include <gtest/gtest.h>

#include <algorithm>

namespace {

using namespace tutti::actors;
using namespace tutti::simulation;
namespace p = tutti::protocol;
using tutti::tests::support::temp_dir;
using tutti::tests::support::wait_until;
using namespace std::chrono_literals;

constexpr int64_t gi = int64_t{1} << 30;

class SimCluster : public ::testing::Test {
protected:
  void start(int32_t nodes, p::resource_spec capacity,
             std::function<std::map<std::string, std::string>(int32_t)> labels = {}) {
    sim_cluster_options opts;
    opts.data_dir = dir_.str();
    opts.map_size = uint64_t{64} << 20;
    opts.nodes = nodes;
    opts.node_capacity = capacity;
    opts.labels = std::move(labels);
    auto c = sim_cluster::start(opts);
    ASSERT_TRUE(c) << p::message_of(c.error());
    cluster_ = std::move(*c);
    ASSERT_TRUE(cluster_->wait_registered(std::chrono::duration_cast<caf::timespan>(10s)));
  }

  void apply(const std::string& yaml) {
    auto r = cluster_->apply(yaml);
    ASSERT_TRUE(r) << p::message_of(r.error());
    ASSERT_TRUE(r->errors.empty()) << p::to_string(r->errors.front());
  }

  std::vector<p::replica_status> replicas(const std::string& service) {
    auto rs = cluster_->replicas(service);
    return rs ? *rs : std::vector<p::replica_status>{};
  }

  size_t running(const std::string& service) {
    auto rs = replicas(service);
    return std::count_if(rs.begin(), rs.end(),
                         [](auto& r) { return r.state == p::replica_state::running; });
  }

  temp_dir dir_{"tutti-sim-cluster-"};
  std::unique_ptr<sim_cluster> cluster_;
};

std::string spec(const std::string& name, int replicas, const std::string& extra) {
  return "kind: Service\nname: " + name + "\nreplicas: " + std::to_string(replicas) +
         "\ndriver: sim\n" + extra;
}

TEST_F(SimCluster, APendingReplicaSaysWhyAndIsPlacedWhenANodeJoins) {
  start(3, {4, 1 * gi}, [](int32_t i) {
    return std::map<std::string, std::string>{{"zone", i < 2 ? "a" : "b"}};
  });
  apply(spec("db", 1, "resources: {memory: 2Gi}\nplacement: {constraints: [\"zone == b\"]}\n"));
  std::string why;
  ASSERT_TRUE(wait_until(
      [&] {
        auto rs = replicas("db");
        why = rs.empty() ? "" : rs.front().message;
        return !why.empty();
      },
      10s));
  EXPECT_EQ(why, "0/3 nodes: 2 constraint zone == b, 1 insufficient memory");
  auto detail = cluster_->describe("db");
  ASSERT_TRUE(detail);
  EXPECT_TRUE(std::any_of(detail->events.begin(), detail->events.end(), [&](auto& e) {
    return e.kind == "replica_unschedulable" && e.message == why;
  })) << "the reason is an event too";

  cluster_->add_node({4, 4 * gi}, {{"zone", "b"}});
  ASSERT_TRUE(wait_until([&] { return running("db") == 1; }, 10s))
      << replicas("db").front().message << " state " << p::to_string(replicas("db").front().state);
  EXPECT_EQ(replicas("db").front().node, cluster_->node_name(3));
}

TEST_F(SimCluster, ScalingAServiceDownPlacesTheReplicasThatWaited) {
  start(1, {1, 4 * gi});
  apply(spec("web", 2, "resources: {cpu: 0.5}\n"));
  ASSERT_TRUE(wait_until([&] { return running("web") == 2; }, 10s));
  apply(spec("batch", 1, "resources: {cpu: 0.5}\n"));
  ASSERT_TRUE(wait_until(
      [&] {
        auto rs = replicas("batch");
        return !rs.empty() && rs.front().message == "0/1 nodes: 1 insufficient cpu";
      },
      10s));
  ASSERT_TRUE(cluster_->scale("web", 1));
  ASSERT_TRUE(wait_until([&] { return running("batch") == 1; }, 10s));
  EXPECT_EQ(running("web"), 1u);
}

TEST_F(SimCluster, ReplicasOfALostNodeArePlacedAgainOnTheOthers) {
  start(3, {4, 4 * gi});
  apply(spec("web", 6, "placement: {max_per_node: 3}\n"));
  ASSERT_TRUE(wait_until([&] { return running("web") == 6; }, 10s));
  auto lost = cluster_->node_name(0);
  cluster_->kill_node(0);
  ASSERT_TRUE(wait_until(
      [&] {
        auto rs = replicas("web");
        return running("web") == 6 &&
               std::none_of(rs.begin(), rs.end(), [&](auto& r) { return r.node == lost; });
      },
      10s));
  auto nodes = cluster_->nodes();
  ASSERT_TRUE(nodes);
  for (auto& n : *nodes) {
    if (n.name == lost)
      EXPECT_EQ(n.state, p::node_state::lost);
    else
      EXPECT_EQ(n.replicas, 3) << n.name << ": max_per_node holds after the move";
  }
}

TEST_F(SimCluster, AntiAffinityKeepsTwoServicesApart) {
  start(4, {4, 4 * gi});
  apply(spec("db", 2, "placement: {max_per_node: 1}\n"));
  ASSERT_TRUE(wait_until([&] { return running("db") == 2; }, 10s));
  apply(spec("cache", 3, "placement: {anti_affinity: [db]}\n"));
  ASSERT_TRUE(wait_until([&] { return running("cache") == 3; }, 10s));
  std::set<std::string> db_nodes;
  for (auto& r : replicas("db"))
    db_nodes.insert(r.node);
  for (auto& r : replicas("cache"))
    EXPECT_EQ(db_nodes.count(r.node), 0u) << r.id << " shares " << r.node << " with db";
}

TEST_F(SimCluster, ADrainingNodesReplicasMoveWithinTheUpdateLimits) {
  start(3, {4, 4 * gi});
  apply(spec("web", 6, "update: {parallelism: 1, max_surge: 1, max_unavailable: 0}\n"));
  ASSERT_TRUE(wait_until([&] { return running("web") == 6; }, 10s));
  auto on = [&](const std::vector<p::replica_status>& rs, const std::string& node) {
    return std::count_if(rs.begin(), rs.end(), [&](auto& r) { return r.node == node; });
  };
  auto node0 = cluster_->node_name(0);
  ASSERT_EQ(on(replicas("web"), node0), 2);
  caf::scoped_actor self{cluster_->system()};
  bool set = false;
  self->request(cluster_->placement(), caf::infinite, p::cordon_atom::value, node0,
                p::node_state::draining)
      .receive([&](p::node_status& st) { set = st.state == p::node_state::draining; },
               [](caf::error&) {});
  ASSERT_TRUE(set);
  size_t least_ready = 6;
  size_t most = 6;
  ASSERT_TRUE(wait_until(
      [&] {
        auto rs = replicas("web");
        auto ready = std::count_if(rs.begin(), rs.end(), [](auto& r) {
          return r.state == p::replica_state::running && r.ready;
        });
        least_ready = std::min(least_ready, static_cast<size_t>(ready));
        most = std::max(most, rs.size());
        return on(rs, node0) == 0 && ready == 6 && rs.size() == 6;
      },
      20s))
      << on(replicas("web"), node0) << " left on " << node0;
  EXPECT_EQ(least_ready, 6u) << "max_unavailable 0";
  EXPECT_LE(most, 7u) << "max_surge 1";
}

} // namespace
