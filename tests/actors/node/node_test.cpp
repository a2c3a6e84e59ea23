// The node actor with the sim driver: where its replicas' reports go. They go
// straight to the service actor that asked for the replica, to a new one after
// it asks (a restarted service actor), and through the node when no service
// asked (a request without a sender).

#include "actors/node/node_actor.hpp"
#include "actors/runtime/system_config.hpp"
#include "metrics/recorder.hpp"
#include "protocol/errors.hpp"
#include "runtime-drivers/sim/sim_driver.hpp"
#include "tests/support/wait.hpp"

#include <caf/all.hpp>

#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <stdexcept>

namespace {

using namespace tutti::actors;
namespace p = tutti::protocol;
using namespace std::chrono_literals;

class Node : public ::testing::Test {
protected:
  void SetUp() override {
    sys_ = std::make_unique<caf::actor_system>(cfg_);
    node_context ctx;
    ctx.config.name = "n1";
    ctx.config.capacity = {4, int64_t{1} << 30};
    ctx.drivers[p::driver_kind::sim] = driver_;
    ctx.metrics = &metrics_;
    node_ = spawn_node(*sys_, std::move(ctx));
  }

  void TearDown() override {
    caf::anon_send_exit(node_, caf::exit_reason::user_shutdown);
    sys_.reset();
  }

  static p::replica_request request(int64_t revision = 1, int32_t slot = 0) {
    p::service_spec spec;
    spec.name = "web";
    spec.image = "sim";
    spec.driver = p::driver_kind::sim;
    p::replica_request req;
    req.service = "web";
    req.slot = slot;
    req.revision = revision;
    req.spec = p::shared_spec{spec};
    return req;
  }

  /// Asks the node to run web-SLOT as `who` (a stand-in for a service actor).
  void run(caf::scoped_actor& who, int64_t revision = 1, int32_t slot = 0) {
    bool answered = false;
    who->request(node_, 5s, p::run_atom::value, request(revision, slot))
        .receive([&](bool taken) { answered = taken; },
                 [](caf::error& err) { ADD_FAILURE() << p::message_of(err); });
    ASSERT_TRUE(answered);
  }

  /// The next report `who` receives within 5 s, or nothing.
  static std::optional<p::replica_status> report_to(caf::scoped_actor& who) {
    std::optional<p::replica_status> out;
    who->receive([&](p::replica_status& st) { out = std::move(st); },
                 [&](p::replica_status& st, p::event& e) { // a start, with its event
                   EXPECT_EQ(e.replica, st.id);
                   out = std::move(st);
                 },
                 [&](p::append_atom, p::event&) { out = report_to(who); }, // an event: skip it
                 caf::after(5s) >> [] {});
    return out;
  }

  bool container_runs(const std::string& name) {
    auto info = driver_->inspect(name);
    return info && info->state == tutti::runtime_drivers::container_state::running;
  }

  tutti::metrics::null_recorder metrics_; // outlives the actor system
  system_config cfg_{false};
  std::shared_ptr<tutti::runtime_drivers::sim_driver> driver_ =
      std::make_shared<tutti::runtime_drivers::sim_driver>();
  std::unique_ptr<caf::actor_system> sys_;
  node_actor node_;
};

TEST_F(Node, RefusesAContextWithoutARecorder) {
  node_context ctx;
  ctx.config.name = "n2";
  EXPECT_THROW(spawn_node(*sys_, std::move(ctx)), std::invalid_argument);
}

TEST_F(Node, AReplicaReportsToTheServiceThatAskedAndThenToTheOneAskingNow) {
  caf::scoped_actor first{*sys_};
  run(first);
  auto running = report_to(first);
  ASSERT_TRUE(running);
  EXPECT_EQ(running->state, p::replica_state::running);
  EXPECT_EQ(running->node, "n1");

  // Another actor of the service (the first one restarted) asks again: the
  // replica's next report goes to it.
  caf::scoped_actor second{*sys_};
  run(second);
  auto next = report_to(second);
  ASSERT_TRUE(next);
  EXPECT_EQ(next->id, "web-0");
  EXPECT_EQ(next->state, p::replica_state::running);
}

TEST_F(Node, AReplicaNoServiceAskedForReportsThroughTheNode) {
  // A request without a sender: the node knows no service actor for "web" yet,
  // so web-0 reports to the node, which passes its reports on once it knows one.
  caf::anon_send(node_, p::run_atom::value, request(1, 0));
  ASSERT_TRUE(tutti::tests::support::wait_until([&] { return container_runs("web-0"); }, 5s));
  caf::scoped_actor service{*sys_};
  run(service, 1, 1); // web-1: now the node knows who hears "web"
  auto first = report_to(service);
  ASSERT_TRUE(first);
  EXPECT_EQ(first->id, "web-1");

  // web-0's container exits: its replica reports that, through the node.
  ASSERT_FALSE(driver_->crash("web-0", 1));
  std::optional<p::replica_status> heard;
  for (int i = 0; i < 5 && !heard; ++i)
    if (auto x = report_to(service); x && x->id == "web-0")
      heard = x;
  ASSERT_TRUE(heard) << "web-0's report did not reach the service through the node";
}

} // namespace
