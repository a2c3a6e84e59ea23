// The whole single-host tree in one process, with the sim driver: actors that are
// killed or throw come back and adopt what runs, never starting duplicates.

#include "actors/daemon/dev_daemon.hpp"
#include "actors/interfaces.hpp"
#include "protocol/errors.hpp"
#include "runtime-drivers/sim/sim_driver.hpp"
#include "tests/support/wait.hpp"

#include <caf/all.hpp>

#include <gtest/gtest.h>

#include <filesystem>
#include <functional>
#include <set>

namespace {

using namespace tutti::actors;
namespace p = tutti::protocol;
namespace rd = tutti::runtime_drivers;
using namespace std::chrono_literals;

const char* sim_spec = R"(
kind: Service
name: web
replicas: 3
driver: sim
restart: {policy: always, backoff: {initial: 50ms, max: 1s}}
)";

using tutti::tests::support::wait_until;

class DevDaemon : public ::testing::Test {
protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("tutti-daemon-test-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    tutti::config::daemon_config cfg;
    cfg.data_dir = dir_.string();
    cfg.api = {"127.0.0.1", 0};
    cfg.metrics = {"127.0.0.1", 0};
    cfg.node.name = "test-node";
    cfg.stop_replicas_on_exit = true;
    auto d = dev_daemon::start(cfg);
    ASSERT_TRUE(d) << p::message_of(d.error());
    daemon_ = std::move(*d);
    self_ = std::make_unique<caf::scoped_actor>(daemon_->system());
  }

  void TearDown() override {
    self_.reset();
    daemon_.reset();
    std::filesystem::remove_all(dir_);
  }

  caf::actor child(const caf::actor& parent, const std::string& name) {
    caf::actor out;
    (*self_)
        ->request(parent, 5s, p::child_atom::value, name)
        .receive([&](caf::actor& x) { out = x; }, [](caf::error&) {});
    return out;
  }

  cluster_actor cluster() {
    return caf::actor_cast<cluster_actor>(child(daemon_->root(), "cluster"));
  }

  p::apply_result apply(const std::string& text) {
    p::apply_result out;
    (*self_)
        ->request(cluster(), 10s, p::apply_atom::value, std::string{"test.yaml"}, text, false, std::string{})
        .receive([&](p::apply_result& r) { out = std::move(r); },
                 [](caf::error& err) { ADD_FAILURE() << p::message_of(err); });
    return out;
  }

  std::vector<p::replica_status> replicas() {
    std::vector<p::replica_status> out;
    auto c = cluster();
    if (!c)
      return out;
    (*self_)
        ->request(c, 5s, p::get_atom::value, std::string{"web"})
        .receive([&](std::vector<p::replica_status>& xs) { out = std::move(xs); },
                 [](caf::error&) {});
    return out;
  }

  /// runtime ids of the running replicas, when all 3 run.
  std::set<std::string> running_ids() {
    std::set<std::string> ids;
    for (auto& r : replicas())
      if (r.state == p::replica_state::running)
        ids.insert(r.runtime_id);
    return ids.size() == 3 ? ids : std::set<std::string>{};
  }

  size_t sim_containers() {
    auto owned = daemon_->driver(p::driver_kind::sim)->list_owned("test-node");
    return owned ? owned->size() : 0;
  }

  std::filesystem::path dir_;
  std::unique_ptr<dev_daemon> daemon_;
  std::unique_ptr<caf::scoped_actor> self_;
};

TEST_F(DevDaemon, AppliesAndRunsThreeReplicas) {
  auto result = apply(sim_spec);
  ASSERT_TRUE(result.errors.empty());
  ASSERT_EQ(result.changes.size(), 1u);
  EXPECT_EQ(result.changes[0].kind, p::change_kind::created);
  EXPECT_EQ(result.changes[0].revision, 1);
  EXPECT_TRUE(wait_until([&] { return !running_ids().empty(); }));
  EXPECT_EQ(sim_containers(), 3u);
}

TEST_F(DevDaemon, RefusedSpecChangesNothing) {
  apply(sim_spec);
  auto bad = apply(std::string{sim_spec} + "bogus: 1\n");
  ASSERT_FALSE(bad.errors.empty());
  EXPECT_EQ(bad.errors[0].field, "bogus");
  ASSERT_TRUE(wait_until([&] { return !running_ids().empty(); }));
  auto again = apply(sim_spec);
  ASSERT_EQ(again.changes.size(), 1u);
  EXPECT_EQ(again.changes[0].kind, p::change_kind::unchanged);
  EXPECT_EQ(again.changes[0].revision, 1);
}

TEST_F(DevDaemon, KilledNodeActorIsRestartedAndAdoptsItsReplicas) {
  apply(sim_spec);
  std::set<std::string> before;
  ASSERT_TRUE(wait_until([&] { return !(before = running_ids()).empty(); }));
  auto node = child(daemon_->root(), "node");
  ASSERT_TRUE(node);
  (*self_)->send_exit(node, caf::exit_reason::kill);
  ASSERT_TRUE(wait_until([&] {
    auto now = child(daemon_->root(), "node");
    return now && now != node;
  }));
  std::set<std::string> after;
  ASSERT_TRUE(wait_until([&] { return !(after = running_ids()).empty(); }));
  EXPECT_EQ(before, after) << "the same containers must be adopted, not started again";
  EXPECT_EQ(sim_containers(), 3u);
}

TEST_F(DevDaemon, KilledServiceActorIsRestartedWithoutTouchingReplicas) {
  apply(sim_spec);
  std::set<std::string> before;
  ASSERT_TRUE(wait_until([&] { return !(before = running_ids()).empty(); }));
  auto svc = child(caf::actor_cast<caf::actor>(cluster()), "service/web");
  ASSERT_TRUE(svc);
  (*self_)->send_exit(svc, caf::exit_reason::kill);
  ASSERT_TRUE(wait_until([&] {
    auto now = child(caf::actor_cast<caf::actor>(cluster()), "service/web");
    return now && now != svc;
  }));
  std::set<std::string> after;
  ASSERT_TRUE(wait_until([&] { return !(after = running_ids()).empty(); }));
  EXPECT_EQ(before, after);
  EXPECT_EQ(sim_containers(), 3u);
}

TEST_F(DevDaemon, KilledReplicaActorAdoptsItsContainer) {
  apply(sim_spec);
  std::set<std::string> before;
  ASSERT_TRUE(wait_until([&] { return !(before = running_ids()).empty(); }));
  auto node = child(daemon_->root(), "node");
  auto replica = child(node, "replica/web-0");
  ASSERT_TRUE(replica);
  (*self_)->send_exit(replica, caf::exit_reason::kill);
  ASSERT_TRUE(wait_until([&] {
    auto now = child(node, "replica/web-0");
    return now && now != replica;
  }));
  std::set<std::string> after;
  ASSERT_TRUE(wait_until([&] { return !(after = running_ids()).empty(); }));
  EXPECT_EQ(before, after);
  EXPECT_EQ(sim_containers(), 3u);
}

TEST_F(DevDaemon, CrashedContainerIsReplacedAndCounted) {
  apply(sim_spec);
  ASSERT_TRUE(wait_until([&] { return !running_ids().empty(); }));
  auto sim = std::dynamic_pointer_cast<rd::sim_driver>(daemon_->driver(p::driver_kind::sim));
  ASSERT_TRUE(sim);
  ASSERT_FALSE(sim->crash("web-1", 3));
  ASSERT_TRUE(wait_until([&] {
    for (auto& r : replicas())
      if (r.id == "web-1")
        return r.state == p::replica_state::running && r.restarts == 1 && r.exit_code == 3;
    return false;
  }));
  EXPECT_EQ(sim_containers(), 3u);
}

TEST_F(DevDaemon, UnhealthyDriverIsReportedAvoidedAndRecovers) {
  auto sim = std::dynamic_pointer_cast<rd::sim_driver>(daemon_->driver(p::driver_kind::sim));
  ASSERT_TRUE(sim);
  sim->set_unhealthy("the sim engine is down");
  auto sim_errors = [&] {
    std::map<p::driver_kind, std::string> out;
    (*self_)
        ->request(cluster(), 5s, p::nodes_atom::value)
        .receive(
            [&](std::vector<p::node_status>& xs) {
              if (!xs.empty())
                out = xs[0].driver_errors;
            },
            [](caf::error&) {});
    return out;
  };
  ASSERT_TRUE(wait_until([&] { return sim_errors().count(p::driver_kind::sim) == 1; }));
  EXPECT_EQ(sim_errors()[p::driver_kind::sim], "the sim engine is down");

  apply(sim_spec);
  // Placement keeps replicas off the sick driver and says why.
  ASSERT_TRUE(wait_until([&] {
    auto rs = replicas();
    return rs.size() == 3 &&
           rs[0].message.find("sim driver unhealthy: the sim engine is down") != std::string::npos;
  })) << (replicas().empty() ? "no replicas" : replicas()[0].message);
  EXPECT_EQ(sim_containers(), 0u);

  sim->set_unhealthy("");
  ASSERT_TRUE(wait_until([&] { return sim_errors().count(p::driver_kind::sim) == 0; }));
  ASSERT_TRUE(wait_until([&] { return !running_ids().empty(); }, 20s));
  std::vector<std::string> kinds;
  (*self_)
      ->request(cluster(), 5s, p::events_atom::value, uint64_t{0}, uint32_t{1000}, std::string{})
      .receive(
          [&](std::vector<p::event>& es) {
            for (auto& e : es)
              if (e.message.find("sim driver") != std::string::npos)
                kinds.push_back(e.kind);
            // Once per slot, not once per retry.
          },
          [](caf::error& err) { ADD_FAILURE() << p::message_of(err); });
  EXPECT_EQ(kinds, (std::vector<std::string>{"driver_unhealthy", "replica_unschedulable",
                                             "replica_unschedulable", "replica_unschedulable",
                                             "driver_recovered"}));
}

TEST_F(DevDaemon, ScaleDownStopsTheNewestSlots) {
  apply(sim_spec);
  ASSERT_TRUE(wait_until([&] { return !running_ids().empty(); }));
  int64_t rev = 0;
  (*self_)
      ->request(cluster(), 5s, p::scale_atom::value, std::string{"web"}, int32_t{1})
      .receive([&](int64_t r) { rev = r; }, [](caf::error& e) { FAIL() << p::message_of(e); });
  EXPECT_EQ(rev, 2);
  ASSERT_TRUE(wait_until([&] {
    auto rs = replicas();
    return rs.size() == 1 && rs[0].id == "web-0" && sim_containers() == 1;
  }));
}

TEST_F(DevDaemon, ScaleRefusesOutOfRangeCounts) {
  apply(sim_spec);
  caf::error err;
  (*self_)
      ->request(cluster(), 5s, p::scale_atom::value, std::string{"web"}, int32_t{-1})
      .receive([](int64_t) {}, [&](caf::error& e) { err = e; });
  EXPECT_EQ(p::code_of(err), p::error_code::invalid_argument);
}

} // namespace

TEST(MakeDrivers, OffersOnlyTheDriversTheConfigEnables) {
  tutti::config::daemon_config cfg;
  cfg.data_dir = std::filesystem::temp_directory_path() / "tutti-make-drivers-test";
  cfg.node.name = "n1";
  auto all = make_drivers(cfg);
  ASSERT_TRUE(all) << p::message_of(all.error());
  EXPECT_EQ(all->size(), 4u); // sim, process, docker, containerd
  cfg.process.enabled = false;
  cfg.docker.enabled = false;
  cfg.containerd.enabled = false;
  auto sim_only = make_drivers(cfg);
  ASSERT_TRUE(sim_only) << p::message_of(sim_only.error());
  ASSERT_EQ(sim_only->size(), 1u);
  EXPECT_EQ(sim_only->begin()->first, p::driver_kind::sim);
  std::filesystem::remove_all(cfg.data_dir);
}
