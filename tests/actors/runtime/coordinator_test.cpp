#include "actors/runtime/coordinator.hpp"
#include "actors/runtime/system_config.hpp"
#include "tests/support/wait.hpp"

#include <caf/all.hpp>

#include <gtest/gtest.h>

#include <sys/resource.h>

#include <atomic>
#include <chrono>
#include <thread>

namespace {

using namespace tutti::actors;
using tutti::tests::support::wait_until;
using namespace std::chrono_literals;

using hop_atom = caf::atom_constant<caf::atom("hop")>;

double process_cpu_seconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  auto secs = [](timeval t) { return static_cast<double>(t.tv_sec) + t.tv_usec / 1e6; };
  return secs(u.ru_utime) + secs(u.ru_stime);
}

/// Passes a token around a ring of actors `hops` times, then answers.
caf::behavior ring_member(caf::event_based_actor* self, caf::actor* next) {
  return {
      [=](hop_atom, int left, caf::actor origin) {
        if (left == 0)
          self->send(origin, hop_atom::value, 0, origin);
        else
          self->send(*next, hop_atom::value, left - 1, origin);
      },
  };
}

TEST(SpinSharing, IsTheSchedulerOfASharingSystem) {
  system_config cfg;
  caf::actor_system sys{cfg};
  EXPECT_NE(dynamic_cast<coordinator*>(&sys.scheduler()), nullptr);
}

TEST(SpinSharing, CarriesEveryMessageOfARingOfActors) {
  system_config cfg;
  caf::actor_system sys{cfg};
  constexpr int members = 64;
  constexpr int hops = 20000;
  std::vector<caf::actor> ring(members);
  for (int i = 0; i < members; ++i)
    ring[i] = sys.spawn(ring_member, &ring[(i + 1) % members]);
  caf::scoped_actor self{sys};
  // Several tokens at once keep both workers busy and the queue contended.
  for (int t = 0; t < 8; ++t)
    self->send(ring[t * 8], hop_atom::value, hops, caf::actor{self});
  int done = 0;
  self->receive_for(done, 8)([](hop_atom, int left, const caf::actor&) { EXPECT_EQ(left, 0); },
                             caf::after(30s) >> [&] { FAIL() << "tokens lost: " << 8 - done; });
  EXPECT_EQ(done, 8);
  for (auto& a : ring)
    caf::anon_send_exit(a, caf::exit_reason::user_shutdown);
}

TEST(SpinSharing, AnIdleWorkerSleeps) {
  system_config cfg;
  caf::actor_system sys{cfg};
  // Wake the workers once, then leave them idle: they spin about 40 µs and
  // sleep. Spinning on would cost a whole core per worker over the window.
  auto echo = sys.spawn([]() -> caf::behavior { return {[](int x) { return x; }}; });
  caf::scoped_actor self{sys};
  self->request(echo, 5s, 1)
      .receive([](int) {}, [](caf::error& e) { FAIL() << caf::to_string(e); });
  auto before = process_cpu_seconds();
  std::this_thread::sleep_for(300ms); // -- allowed: the idle window measured
  auto used = process_cpu_seconds() - before;
  EXPECT_LT(used, 0.15) << "workers kept the CPU while idle";
  caf::anon_send_exit(echo, caf::exit_reason::user_shutdown);
}

lean_clock& clock_of(caf::actor_system& sys) {
  return static_cast<coordinator&>(sys.scheduler()).clock();
}

/// A system of the tutti configuration, and its clock's counters at the start.
class LeanClock : public ::testing::Test {
protected:
  system_config cfg;
  caf::actor_system sys{cfg};
  lean_clock& clock = clock_of(sys);
  size_t before = clock.scheduled();
};

TEST_F(LeanClock, RunsTimeoutsAndDelayedMessages) {
  caf::scoped_actor self{sys};
  // Holds every request's promise: the request is never answered.
  auto silent = sys.spawn([](caf::event_based_actor* self) -> caf::behavior {
    auto held = std::make_shared<std::vector<caf::response_promise>>();
    return {[self, held](int) { held->push_back(self->make_response_promise()); }};
  });
  // A request nobody answers times out through the clock.
  bool timed_out = false;
  self->request(silent, 50ms, 1)
      .receive([](caf::unit_t) {},
               [&](caf::error& err) { timed_out = err == caf::sec::request_timeout; });
  EXPECT_TRUE(timed_out);
  // A delayed message arrives.
  self->delayed_send(self, 20ms, 42);
  int got = 0;
  self->receive([&](int x) { got = x; }, caf::after(5s) >> [] {});
  EXPECT_EQ(got, 42);
  caf::anon_send_exit(silent, caf::exit_reason::user_shutdown);
}

TEST_F(LeanClock, ForgetsAnActorThatSetATimeoutWhenItEnds) {
  // An actor whose behaviour has a receive timeout has it scheduled; when it
  // ends, the clock drops it (CAF cancels its timeouts).
  auto waiting = sys.spawn([](caf::event_based_actor* self) -> caf::behavior {
    return {[](int) {}, caf::after(std::chrono::seconds{3600}) >> [self] { self->quit(); }};
  });
  caf::scoped_actor self{sys};
  self->send(waiting, 1);
  EXPECT_TRUE(wait_until([&] { return clock.scheduled() == before + 1; }, 5s));
  self->monitor(waiting);
  caf::anon_send_exit(waiting, caf::exit_reason::user_shutdown);
  self->receive([](caf::down_msg&) {}, caf::after(5s) >> [] { FAIL() << "no down message"; });
  EXPECT_TRUE(wait_until([&] { return clock.scheduled() == before; }, 5s));
}

TEST_F(LeanClock, ALaterTimeoutDoesNotWakeItsThread) {
  caf::scoped_actor self{sys};
  // The thread sleeps until the first of these; the 99 after it do not wake it.
  for (int i = 0; i < 100; ++i)
    self->delayed_send(self, 3600s + i * 1ms, i);
  ASSERT_TRUE(wait_until([&] { return clock.idle(); }, 5s));
  auto woken = clock.wakeups();
  for (int i = 0; i < 100; ++i)
    self->delayed_send(self, 3700s + i * 1ms, i);
  EXPECT_EQ(clock.wakeups(), woken) << "timers due after the next one woke the clock's thread";
  // One due before all of them does, and arrives in time.
  auto start = std::chrono::steady_clock::now();
  self->delayed_send(self, 20ms, -1);
  EXPECT_EQ(clock.wakeups(), woken + 1);
  int got = 0;
  self->receive([&](int x) { got = x; }, caf::after(5s) >> [] {});
  EXPECT_EQ(got, -1);
  EXPECT_GE(std::chrono::steady_clock::now() - start, 20ms) << "fired early";
  EXPECT_EQ(clock.scheduled(), before + 200);
}

TEST_F(LeanClock, FiresTimeoutsDueTogetherInOneWakeUp) {
  caf::scoped_actor self{sys};
  constexpr int n = 50;
  auto rounds = clock.rounds();
  for (int i = 0; i < n; ++i)
    self->delayed_send(self, 30ms, i); // all due within microseconds
  int got = 0;
  self->receive_for(got, n)([](int) {}, caf::after(5s) >> [] {});
  EXPECT_EQ(got, n);
  // One, or two should the thread wake between the first due and the rest.
  EXPECT_LE(clock.rounds() - rounds, 2u);
  EXPECT_EQ(clock.scheduled(), before);
}

TEST_F(LeanClock, ActorsWithoutTimeoutsLeaveItAlone) {
  caf::scoped_actor self{sys};
  auto woken = clock.wakeups();
  for (int i = 0; i < 100; ++i) {
    auto a = sys.spawn([]() -> caf::behavior { return {[](int x) { return x; }}; });
    self->request(a, caf::infinite, i).receive([](int) {}, [](caf::error&) {});
    self->monitor(a);
    caf::anon_send_exit(a, caf::exit_reason::user_shutdown);
    self->receive([](caf::down_msg&) {});
  }
  EXPECT_EQ(clock.scheduled(), before);
  EXPECT_EQ(clock.wakeups(), woken) << "100 ends, none with a timeout";
}

} // namespace
