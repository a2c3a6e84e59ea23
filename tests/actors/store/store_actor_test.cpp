// The store actor against a real LMDB store: when it folds the log of assignment
// changes, and that reads are the same before and after; events sent one by one
// and in bursts.

#include "actors/store/store_actor.hpp"
#include "actors/runtime/system_config.hpp"
#include "metrics/catalogue.hpp"
#include "persistence/lmdb_store.hpp"
#include "protocol/errors.hpp"
#include "tests/support/temp_dir.hpp"
#include "tests/support/wait.hpp"

#include <caf/all.hpp>

#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <mutex>
#include <sstream>

namespace {

using namespace tutti::actors;
namespace p = tutti::protocol;
using namespace std::chrono_literals;
using tutti::tests::support::wait_until;

class StoreActor : public ::testing::Test {
protected:
  void TearDown() override { stop(); }

  /// Ends the store and its actor system, which closes the LMDB store.
  void stop() {
    if (store_)
      caf::anon_send_exit(store_, caf::exit_reason::user_shutdown);
    // The store runs on a thread of its own, which ends only once no handle to
    // it is left.
    store_ = nullptr;
    self_.reset();
    sys_.reset();
  }

  std::unique_ptr<tutti::persistence::lmdb_store> open_db() {
    auto db = tutti::persistence::lmdb_store::open(dir_.str() + "/store");
    EXPECT_TRUE(db) << p::message_of(db.error());
    return db ? std::move(*db) : nullptr;
  }

  void start(std::unique_ptr<tutti::persistence::lmdb_store> db) {
    sys_ = std::make_unique<caf::actor_system>(cfg_);
    self_ = std::make_unique<caf::scoped_actor>(*sys_);
    store_ = spawn_store(*sys_, std::shared_ptr<tutti::persistence::lmdb_store>(std::move(db)),
                         metrics_);
  }

  int64_t assign(std::vector<p::assignment> xs) {
    int64_t epoch = 0;
    (*self_)
        ->request(store_, 10s, p::assign_atom::value, std::move(xs))
        .receive([&](int64_t x) { epoch = x; },
                 [](caf::error& err) { ADD_FAILURE() << p::message_of(err); });
    return epoch;
  }

  std::vector<p::assignment> assignments(const std::string& service) {
    std::vector<p::assignment> out;
    (*self_)
        ->request(store_, 10s, p::get_atom::value, p::assign_atom::value, service)
        .receive([&](std::vector<p::assignment>& xs) { out = std::move(xs); },
                 [](caf::error& err) { ADD_FAILURE() << p::message_of(err); });
    return out;
  }

  /// tutti_store_logged_assignments as a scrape shows it.
  double logged() {
    std::istringstream text{metrics_.serialize()};
    std::string line;
    const std::string name = "tutti_store_logged_assignments ";
    while (std::getline(text, line))
      if (line.rfind(name, 0) == 0)
        return std::stod(line.substr(name.size()));
    ADD_FAILURE() << "no " << name << "in the scrape";
    return -1;
  }

  tutti::tests::support::temp_dir dir_{"tutti-store-actor-"};
  system_config cfg_{false};
  tutti::metrics::catalogue metrics_;
  std::unique_ptr<caf::actor_system> sys_;
  std::unique_ptr<caf::scoped_actor> self_;
  store_actor store_;
};

TEST_F(StoreActor, MovesAreFoldedOnceTheStoreIsIdleAndReadTheSameAfter) {
  start(open_db());
  auto first = assign({{"web-0", "web", "n1", "h", 0}, {"web-1", "web", "n1", "h", 0}});
  EXPECT_EQ(logged(), 0); // new replicas go straight into the tree
  auto moved = assign({{"web-1", "web", "n2", "h", 0}});
  auto committed = std::chrono::steady_clock::now();
  ASSERT_GT(moved, first);
  EXPECT_EQ(logged(), 1);
  const std::vector<p::assignment> want{{"web-0", "web", "n1", "h", first},
                                        {"web-1", "web", "n2", "h", moved}};
  EXPECT_EQ(assignments("web"), want);

  ASSERT_TRUE(wait_until([&] { return logged() == 0; }, 10s)) << logged();
  // Not before the store had been idle for a second.
  EXPECT_GE(std::chrono::steady_clock::now() - committed, 900ms);
  EXPECT_EQ(assignments("web"), want);
  stop();
  auto db = open_db();
  ASSERT_TRUE(db);
  EXPECT_EQ(db->logged_assignments(), 0u);
}

TEST_F(StoreActor, ALogLeftByAnEarlierRunIsFoldedAfterTheStart) {
  {
    auto db = open_db();
    ASSERT_TRUE(db);
    ASSERT_FALSE(db->put_assignment({"web-0", "web", "n1", "h", 1}));
    ASSERT_FALSE(db->put_assignment({"web-0", "web", "n2", "h", 2}));
    ASSERT_EQ(db->logged_assignments(), 1u);
  }
  start(open_db());
  const std::vector<p::assignment> want{{"web-0", "web", "n2", "h", 2}};
  EXPECT_EQ(assignments("web"), want); // the store has started: the gauge is set
  ASSERT_TRUE(wait_until([&] { return logged() == 0; }, 10s)) << logged();
  EXPECT_EQ(assignments("web"), want);
  stop();
  auto db = open_db();
  ASSERT_TRUE(db);
  EXPECT_EQ(db->logged_assignments(), 0u);
}

TEST_F(StoreActor, EventsOfABurstAreStoredInOrderAfterThoseSentBefore) {
  start(open_db());
  auto event = [](std::string kind, std::string replica) {
    p::event e;
    e.kind = std::move(kind);
    e.service = "web";
    e.replica = std::move(replica);
    e.message = "m";
    return e;
  };
  (*self_)->send(store_, p::append_atom::value, event("first", "web-0"));
  (*self_)->send(store_, p::append_atom::value,
                 std::vector<p::event>{event("burst", "web-1"), event("burst", "web-2")});
  std::vector<p::event> got;
  (*self_)
      ->request(store_, 10s, p::events_atom::value, uint64_t{0}, uint32_t{10}, std::string{"web"})
      .receive([&](std::vector<p::event>& xs) { got = std::move(xs); },
               [](caf::error& err) { ADD_FAILURE() << p::message_of(err); });
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(got[0].kind, "first");
  EXPECT_EQ(got[1].replica, "web-1");
  EXPECT_EQ(got[2].replica, "web-2");
  EXPECT_LT(got[0].seq, got[1].seq);
  EXPECT_LT(got[1].seq, got[2].seq);
  EXPECT_GT(got[2].time_ms, 0); // stamped by the store
}

/// Collects what a follower is sent.
struct collected {
  std::mutex mutex;
  std::vector<p::event> events;
  size_t size() {
    std::lock_guard<std::mutex> guard{mutex};
    return events.size();
  }
};

TEST_F(StoreActor, AFollowersBacklogSentAPageAtATimeLosesNoEventAppendedMeanwhileNorSendsOneTwice) {
  start(open_db());
  std::vector<p::event> burst(1000);
  for (auto& e : burst) {
    e.kind = "k";
    e.service = "web";
    e.message = "m";
  }
  for (int i = 0; i < 5; ++i)
    (*self_)->send(store_, p::append_atom::value, burst);
  auto got = std::make_shared<collected>();
  auto sink = sys_->spawn([got]() -> event_sink_actor::behavior_type {
    return {[got](const std::vector<p::event>& xs) {
      std::lock_guard<std::mutex> guard{got->mutex};
      got->events.insert(got->events.end(), xs.begin(), xs.end());
    }};
  });
  auto following = (*self_)->request(store_, 10s, p::follow_atom::value, uint64_t{0},
                                     std::string{}, sink);
  auto reading = (*self_)->request(store_, 10s, p::events_atom::value, uint64_t{0}, uint32_t{1},
                                   std::string{"web"});
  (*self_)->send(store_, p::append_atom::value, std::vector<p::event>(burst.begin(), burst.begin() + 3));
  // Both are answered; events appended while the backlog goes out reach the
  // follower once, in their place.
  reading.receive([](std::vector<p::event>&) {},
                  [](caf::error& err) { ADD_FAILURE() << p::message_of(err); });
  following.receive([](bool) {}, [](caf::error& err) { ADD_FAILURE() << p::message_of(err); });
  ASSERT_TRUE(wait_until([&] { return got->size() >= 5003; }, 10s)) << got->size();
  std::lock_guard<std::mutex> guard{got->mutex};
  ASSERT_EQ(got->events.size(), 5003u);
  for (size_t i = 0; i < got->events.size(); ++i)
    ASSERT_EQ(got->events[i].seq, i + 1) << "in order, none lost or twice"; // a repeat shifts them
  caf::anon_send_exit(sink, caf::exit_reason::user_shutdown);
}

} // namespace
