// One service actor against a real store, placement and simulated node, with a
// discovery stand-in that records what the service publishes and drains.

#include "actors/node/node_actor.hpp"
#include "actors/placement/placement_actor.hpp"
#include "actors/service/service_actor.hpp"
#include "actors/store/store_actor.hpp"
#include "actors/runtime/system_config.hpp"
#include "metrics/recorder.hpp"
#include "persistence/lmdb_store.hpp"
#include "protocol/errors.hpp"
#include "runtime-drivers/sim/sim_driver.hpp"
#include "tests/support/temp_dir.hpp"
#include "tests/support/wait.hpp"

#include <caf/all.hpp>

#include <gtest/gtest.h>

#include <mutex>

namespace {

using namespace tutti::actors;
namespace p = tutti::protocol;
using namespace std::chrono_literals;
using tutti::tests::support::wait_until;

/// What discovery saw, in order: "publish N" (N endpoints) and "drain ID".
struct seen {
  std::mutex mutex;
  std::vector<std::string> log;

  void add(std::string x) {
    std::lock_guard guard{mutex};
    log.push_back(std::move(x));
  }
  std::vector<std::string> copy() {
    std::lock_guard guard{mutex};
    return log;
  }
};

discovery_actor::behavior_type recorder(discovery_actor::pointer self, std::shared_ptr<seen> out) {
  return {
      [out](p::service_endpoints& x) {
        out->add("publish " + std::to_string(x.endpoints.size()));
      },
      [](p::get_atom, const std::string&) { return std::vector<p::service_endpoints>{}; },
      [](p::watch_atom, const std::string&, endpoints_sink_actor) { return true; },
      [](p::register_atom, router_actor) { return true; },
      [out](p::drain_atom, const std::string& replica, caf::timespan) {
        out->add("drain " + replica);
        return true;
      },
      [](p::mesh_load&) {},
      [](p::load_atom, const std::string& service) { return p::service_load{service, 0, 0}; },
  };
}

class Service : public ::testing::Test {
protected:
  void SetUp() override {
    tutti::persistence::store_options so;
    so.map_size = uint64_t{64} << 20;
    auto db = tutti::persistence::lmdb_store::open(dir_.str() + "/store", so);
    ASSERT_TRUE(db) << p::message_of(db.error());
    sys_ = std::make_unique<caf::actor_system>(cfg_);
    self_ = std::make_unique<caf::scoped_actor>(*sys_);
    store_ = spawn_store(*sys_, std::shared_ptr<tutti::persistence::lmdb_store>(std::move(*db)),
                         metrics_);
    placement_ = spawn_placement(*sys_, metrics_);
    node_context ctx;
    ctx.config.name = "n1";
    ctx.config.capacity = {64, int64_t{64} << 30};
    ctx.drivers[p::driver_kind::sim] = std::make_shared<tutti::runtime_drivers::sim_driver>();
    ctx.store = store_;
    ctx.placement = placement_;
    ctx.metrics = &metrics_;
    node_ = spawn_node(*sys_, std::move(ctx));
    discovery_ = sys_->spawn(recorder, seen_);
    ASSERT_TRUE(wait_until([&] { return nodes() == 1; }, 10s));
  }

  void TearDown() override {
    for (auto& x : std::vector<caf::actor>{
             caf::actor_cast<caf::actor>(service_), caf::actor_cast<caf::actor>(node_),
             caf::actor_cast<caf::actor>(placement_), caf::actor_cast<caf::actor>(discovery_),
             caf::actor_cast<caf::actor>(store_)})
      if (x)
        caf::anon_send_exit(x, caf::exit_reason::user_shutdown);
    // The store runs on a thread of its own, which ends only once no handle to
    // it is left.
    service_ = nullptr;
    node_ = nullptr;
    placement_ = nullptr;
    discovery_ = nullptr;
    store_ = nullptr;
    self_.reset();
    sys_.reset();
  }

  size_t nodes() {
    size_t n = 0;
    (*self_)
        ->request(placement_, 5s, p::nodes_atom::value)
        .receive([&](std::vector<p::node_status>& xs) { n = xs.size(); }, [](caf::error&) {});
    return n;
  }

  static p::service_spec published(int32_t replicas) {
    p::service_spec x;
    x.name = "web";
    x.replicas = replicas;
    x.driver = p::driver_kind::sim;
    x.resources = {0.01, 1 << 20};
    x.ports = {{"http", 8080}};
    return x;
  }

  /// The last publication's endpoint count, or -1 before the first.
  int last_published() {
    auto log = seen_->copy();
    for (auto i = log.rbegin(); i != log.rend(); ++i)
      if (i->rfind("publish ", 0) == 0)
        return std::stoi(i->substr(8));
    return -1;
  }

  tutti::tests::support::temp_dir dir_{"tutti-service-"};
  tutti::metrics::null_recorder metrics_; // outlives the actor system
  system_config cfg_{false};
  std::unique_ptr<caf::actor_system> sys_;
  std::unique_ptr<caf::scoped_actor> self_;
  store_actor store_;
  placement_actor placement_;
  node_actor node_;
  discovery_actor discovery_;
  service_actor service_;
  std::shared_ptr<seen> seen_ = std::make_shared<seen>();
};

/// What the fake router saw from entry `from` on, for failure messages.
std::string joined(const std::vector<std::string>& log, size_t from) {
  std::string out;
  for (size_t i = from; i < log.size(); ++i)
    out += (out.empty() ? "" : ", ") + log[i];
  return out;
}

TEST_F(Service, AScaleDownLeavesTheEndpointSetOnceBeforeItsDrains) {
  service_context ctx;
  ctx.store = store_;
  ctx.placement = placement_;
  ctx.discovery = discovery_;
  ctx.metrics = &metrics_;
  service_ = spawn_service(*sys_, ctx, published(40), 1);
  ASSERT_TRUE(wait_until([&] { return last_published() == 40; }, 20s)) << last_published();
  auto before = seen_->copy().size();

  (*self_)->send(service_, p::update_atom::value, published(0), int64_t{2});
  ASSERT_TRUE(wait_until(
      [&] {
        auto log = seen_->copy();
        return std::count_if(log.begin() + before, log.end(),
                             [](auto& x) { return x.rfind("drain ", 0) == 0; }) == 40;
      },
      20s))
      << joined(seen_->copy(), before);
  auto log = seen_->copy();
  std::vector<std::string> after(log.begin() + before, log.end());
  ASSERT_FALSE(after.empty());
  SCOPED_TRACE("seen after the scale-down: " + joined(log, before));
  // One publication without all 40, then their drains: the routers stop sending
  // new connections to them before they are told to finish the ones they hold.
  EXPECT_EQ(after.front(), "publish 0");
  auto first_drain = std::find_if(after.begin(), after.end(),
                                  [](auto& x) { return x.rfind("drain ", 0) == 0; });
  EXPECT_EQ(std::count_if(after.begin(), first_drain,
                          [](auto& x) { return x.rfind("publish ", 0) == 0; }),
            1);
}

} // namespace
