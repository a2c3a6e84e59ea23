#include "actors/supervision/supervision.hpp"
#include "actors/supervision/supervisor_actor.hpp"
#include "metrics/recorder.hpp"
#include "protocol/errors.hpp"
#include "protocol/messages.hpp"
#include "protocol/status.hpp"
#include "tests/support/wait.hpp"

#include <caf/all.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <map>
#include <mutex>

namespace {

using namespace tutti::actors;
namespace p = tutti::protocol;
using namespace std::chrono_literals;
using tutti::tests::support::wait_until;

using boom_atom = caf::atom_constant<caf::atom("boom")>;
using count_atom = caf::atom_constant<caf::atom("count")>;

/// What a child "persists": a restarted child rebuilds its counter from here,
/// as real actors rebuild from the store.
struct backing_store {
  std::mutex mtx;
  std::map<std::string, int> counters;
  std::atomic<int> starts{0};
};

caf::behavior counter(caf::event_based_actor* self, std::string name, backing_store* db) {
  ++db->starts;
  return {
      [=](count_atom) {
        std::lock_guard<std::mutex> guard{db->mtx};
        return ++db->counters[name];
      },
      [=](boom_atom) -> int { throw std::runtime_error("boom"); },
  };
}

start_function counter_child(caf::actor_system& sys, std::string name, backing_store* db) {
  return [&sys, name, db] { return sys.spawn(counter, name, db); };
}

caf::actor child_of(caf::scoped_actor& self, const caf::actor& sup, const std::string& name) {
  caf::actor out;
  self->request(sup, 5s, p::child_atom::value, name)
      .receive([&](caf::actor& x) { out = x; }, [](caf::error&) {});
  return out;
}

/// Polls until the supervisor reports a child handle different from `old`.
caf::actor wait_for_new_child(caf::scoped_actor& self, const caf::actor& sup,
                              const std::string& name, const caf::actor& old) {
  auto deadline = std::chrono::steady_clock::now() + 5s;
  while (std::chrono::steady_clock::now() < deadline) {
    auto now = child_of(self, sup, name);
    if (now && now != old)
      return now;
  }
  return {};
}

int count(caf::scoped_actor& self, const caf::actor& a) {
  int out = -1;
  self->request(a, 5s, count_atom::value).receive([&](int x) { out = x; }, [](caf::error&) {});
  return out;
}

class Supervision : public ::testing::Test {
protected:
  tutti::metrics::null_recorder metrics; // outlives the actor system
  caf::actor_system_config cfg;
  caf::actor_system sys{cfg};
  backing_store db;
};

TEST_F(Supervision, RestartsAChildThatThrowsAndItRebuildsItsState) {
  auto sup = spawn_supervisor(sys, "test", restart_strategy::one_for_one, {3, 10s}, metrics,
                              {{"a", counter_child(sys, "a", &db)}});
  caf::scoped_actor self{sys};
  auto first = child_of(self, sup, "a");
  ASSERT_TRUE(first);
  EXPECT_EQ(count(self, first), 1);
  EXPECT_EQ(count(self, first), 2);
  self->send(first, boom_atom::value);
  auto second = wait_for_new_child(self, sup, "a", first);
  ASSERT_TRUE(second) << "the child was not restarted";
  EXPECT_EQ(count(self, second), 3) << "the new child continues from the stored state";
  EXPECT_EQ(db.starts.load(), 2);
  self->send(sup, p::shutdown_atom::value);
}

TEST_F(Supervision, EscalatesWhenAChildExceedsItsRestartLimit) {
  auto sup = spawn_supervisor(sys, "test", restart_strategy::one_for_one, {2, 10s}, metrics,
                              {{"a", counter_child(sys, "a", &db)}});
  caf::scoped_actor self{sys};
  self->monitor(sup);
  caf::actor current = child_of(self, sup, "a");
  for (int i = 0; i < 2; ++i) {
    self->send(current, boom_atom::value);
    current = wait_for_new_child(self, sup, "a", current);
    ASSERT_TRUE(current);
  }
  self->send(current, boom_atom::value); // third failure within the window
  caf::error reason;
  self->receive([&](caf::down_msg& msg) { reason = msg.reason; },
                caf::after(5s) >> [] { FAIL() << "supervisor did not escalate"; });
  EXPECT_FALSE(is_clean_exit(reason));
  EXPECT_NE(caf::to_string(reason).find("restart limit"), std::string::npos)
      << caf::to_string(reason);
}

TEST_F(Supervision, RestForOneRestartsYoungerSiblingsOnly) {
  auto sup = spawn_supervisor(sys, "test", restart_strategy::rest_for_one, {5, 10s}, metrics,
                              {{"a", counter_child(sys, "a", &db)},
                               {"b", counter_child(sys, "b", &db)},
                               {"c", counter_child(sys, "c", &db)}});
  caf::scoped_actor self{sys};
  auto a = child_of(self, sup, "a");
  auto b = child_of(self, sup, "b");
  auto c = child_of(self, sup, "c");
  self->send_exit(b, caf::exit_reason::kill);
  auto b2 = wait_for_new_child(self, sup, "b", b);
  auto c2 = wait_for_new_child(self, sup, "c", c);
  ASSERT_TRUE(b2);
  ASSERT_TRUE(c2) << "c depends on b and must be restarted with it";
  EXPECT_EQ(child_of(self, sup, "a"), a) << "a is older than b and stays";
  self->send(sup, p::shutdown_atom::value);
}

TEST_F(Supervision, AChildLeavingFromTheMiddleLeavesTheOthersFoundAndInOrder) {
  auto sup = spawn_supervisor(sys, "test", restart_strategy::rest_for_one, {5, 10s}, metrics,
                              {{"a", counter_child(sys, "a", &db)},
                               {"b", counter_child(sys, "b", &db)},
                               {"c", counter_child(sys, "c", &db)},
                               {"d", counter_child(sys, "d", &db)}});
  caf::scoped_actor self{sys};
  auto a = child_of(self, sup, "a");
  auto b = child_of(self, sup, "b");
  auto c = child_of(self, sup, "c");
  auto d = child_of(self, sup, "d");
  // b leaves cleanly: it is forgotten, not restarted.
  self->send_exit(b, caf::exit_reason::user_shutdown);
  EXPECT_TRUE(wait_until([&] { return !child_of(self, sup, "b"); }, 5s));
  // c fails: with rest_for_one, d (younger) restarts with it; a stays.
  self->send_exit(c, caf::exit_reason::kill);
  auto c2 = wait_for_new_child(self, sup, "c", c);
  auto d2 = wait_for_new_child(self, sup, "d", d);
  ASSERT_TRUE(c2);
  ASSERT_TRUE(d2);
  EXPECT_EQ(child_of(self, sup, "a"), a);
  EXPECT_EQ(count(self, d2), 1) << "the restarted d answers";
  self->send(sup, p::shutdown_atom::value);
}

TEST_F(Supervision, ChildThatEndsNormallyIsNotRestarted) {
  auto sup = spawn_supervisor(sys, "test", restart_strategy::one_for_one, {5, 10s}, metrics,
                              {{"a", counter_child(sys, "a", &db)}});
  caf::scoped_actor self{sys};
  auto a = child_of(self, sup, "a");
  self->monitor(a);
  self->send_exit(a, caf::exit_reason::user_shutdown);
  self->receive([](caf::down_msg&) {}, caf::after(5s) >> [] { FAIL() << "child did not end"; });
  // The supervisor sees the same down message a moment after us: wait for it to
  // forget the child, then make sure it did not start another one.
  auto deadline = std::chrono::steady_clock::now() + 5s;
  while (child_of(self, sup, "a") && std::chrono::steady_clock::now() < deadline)
    continue;
  EXPECT_FALSE(child_of(self, sup, "a"));
  EXPECT_EQ(db.starts.load(), 1);
  self->send(sup, p::shutdown_atom::value);
}

TEST_F(Supervision, ShutdownStopsChildren) {
  auto sup = spawn_supervisor(sys, "test", restart_strategy::one_for_one, {5, 10s}, metrics,
                              {{"a", counter_child(sys, "a", &db)}});
  caf::scoped_actor self{sys};
  auto a = child_of(self, sup, "a");
  self->monitor(a);
  self->send(sup, p::shutdown_atom::value);
  bool ended = false;
  self->receive([&](caf::down_msg&) { ended = true; }, caf::after(5s) >> [] {});
  EXPECT_TRUE(ended);
}

TEST_F(Supervision, AKilledSupervisorEndsItsChildrenAlsoOneRestartedBefore) {
  auto sup =
      spawn_supervisor(sys, "test", restart_strategy::one_for_one, {5, 10s}, metrics,
                       {{"a", counter_child(sys, "a", &db)}, {"b", counter_child(sys, "b", &db)}});
  caf::scoped_actor self{sys};
  auto first = child_of(self, sup, "a");
  self->monitor(first);
  caf::anon_send_exit(first, caf::exit_reason::kill); // restarted with a new handle
  self->receive([](caf::down_msg&) {}, caf::after(5s) >> [] { ADD_FAILURE() << "a not killed"; });
  auto a = wait_for_new_child(self, sup, "a", first);
  ASSERT_TRUE(a);
  auto b = child_of(self, sup, "b");
  self->monitor(a);
  self->monitor(b);
  // kill cannot be trapped: no shutdown handler runs, only what the supervisor
  // attached to its own end.
  caf::anon_send_exit(sup, caf::exit_reason::kill);
  int ended = 0;
  for (int i = 0; i < 2; ++i)
    self->receive([&](caf::down_msg&) { ++ended; }, caf::after(5s) >> [] {});
  EXPECT_EQ(ended, 2);
}

} // namespace

namespace {

std::vector<p::actor_info> tree_of(caf::scoped_actor& self, const caf::actor& sup) {
  std::vector<p::actor_info> out;
  self->request(sup, 5s, p::tree_atom::value)
      .receive([&](std::vector<p::actor_info>& xs) { out = std::move(xs); },
               [](caf::error& err) { ADD_FAILURE() << caf::to_string(err); });
  return out;
}

const p::actor_info* find_path(const std::vector<p::actor_info>& xs, const std::string& path) {
  for (auto& x : xs)
    if (x.path == path)
      return &x;
  return nullptr;
}

TEST_F(Supervision, TreeListsNestedChildrenByPathAndKillFollowsThePath) {
  auto inner = [this]() -> caf::actor {
    return spawn_supervisor(sys, "inner", restart_strategy::one_for_one, {5, 10s}, metrics,
                            {{"leaf/x", counter_child(sys, "x", &db)}});
  };
  auto sup = spawn_supervisor(sys, "outer", restart_strategy::one_for_one, {5, 10s}, metrics,
                              {{"a", counter_child(sys, "a", &db)}, {"group", inner, true}});
  caf::scoped_actor self{sys};
  auto tree = tree_of(self, sup);
  ASSERT_EQ(tree.size(), 3u);
  ASSERT_TRUE(find_path(tree, "/a"));
  ASSERT_TRUE(find_path(tree, "/group"));
  auto* leaf = find_path(tree, "/group/leaf/x");
  ASSERT_TRUE(leaf);
  EXPECT_EQ(leaf->kind, "leaf");
  EXPECT_EQ(leaf->state, p::actor_state::running);
  auto old_id = leaf->id;

  std::string killed;
  self->request(sup, 5s, p::kill_atom::value, std::string{"/group/leaf/x"},
                std::string{"chaos test"})
      .receive([&](std::string& x) { killed = x; }, [](caf::error&) {});
  EXPECT_EQ(killed, "/leaf/x") << "the innermost supervisor answers with its own path";
  auto deadline = std::chrono::steady_clock::now() + 5s;
  const p::actor_info* now = nullptr;
  while (std::chrono::steady_clock::now() < deadline) {
    tree = tree_of(self, sup);
    now = find_path(tree, "/group/leaf/x");
    if (now && now->id != old_id && now->restarts == 1)
      break;
  }
  ASSERT_TRUE(now);
  EXPECT_NE(now->id, old_id);
  EXPECT_EQ(now->restarts, 1);
  EXPECT_EQ(now->last_exit, "chaos test");
  EXPECT_EQ(find_path(tree, "/a")->restarts, 0) << "siblings are left alone";

  caf::error err;
  self->request(sup, 5s, p::kill_atom::value, std::string{"/group/nope"}, std::string{"kill"})
      .receive([](std::string&) {}, [&](caf::error& e) { err = e; });
  EXPECT_EQ(p::code_of(err), p::error_code::not_found);
  self->send(sup, p::shutdown_atom::value);
}

} // namespace
