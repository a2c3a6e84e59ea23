#include "runtime-drivers/sim/sim_driver.hpp"

#include "tests/runtime-drivers/test_support.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <set>
#include <thread>

namespace tutti::runtime_drivers {
namespace {

using namespace test;
using protocol::code_of;
using protocol::error_code;

std::vector<std::string> command() {
  return {"/bin/app", "--port", "8080"};
}

/// Waits until every callback posted so far on `driver`'s thread has run: the
/// callback of a watch on an exited container is queued behind them.
bool flush(sim_driver& driver) {
  static int counter = 0;
  auto name = "flush-" + std::to_string(counter++);
  exit_recorder flushed;
  if (!driver.create(make_spec(name, command())) || !driver.start(name) || driver.crash(name, 0) ||
      driver.watch(name, flushed.callback()))
    return false;
  return flushed.wait_code(name).has_value() && !driver.remove(name, false);
}

TEST(sim_driver, runs_the_whole_lifecycle) {
  exit_recorder exits;
  sim_driver driver;
  EXPECT_EQ(driver.kind(), protocol::driver_kind::sim);
  EXPECT_FALSE(driver.blocking());
  auto created = driver.create(make_spec("web-0", command()));
  ASSERT_TRUE(created) << message(created.error());
  EXPECT_EQ(created->state, container_state::created);
  EXPECT_EQ(code_of(driver.create(make_spec("web-0", command())).error()),
            error_code::already_exists);
  EXPECT_EQ(code_of(driver.watch("web-0", exits.callback())), error_code::invalid_argument);

  auto started = driver.start("web-0");
  ASSERT_TRUE(started) << message(started.error());
  EXPECT_EQ(started->state, container_state::running);
  EXPECT_GT(started->pid, 0);
  EXPECT_EQ(started->runtime_id, std::to_string(started->pid));
  EXPECT_EQ(driver.start("web-0")->pid, started->pid) << "idempotent";
  EXPECT_NE(driver.logs("web-0", 1000)->find("started web-0"), std::string::npos);

  ASSERT_FALSE(driver.watch("web-0", exits.callback()));
  EXPECT_EQ(code_of(driver.remove("web-0", false)), error_code::invalid_argument);
  ASSERT_FALSE(driver.stop("web-0", 1s));
  auto exit = exits.wait_for("web-0");
  ASSERT_TRUE(exit);
  EXPECT_EQ(exit->exit_code, 143);
  EXPECT_NE(exit->thread, std::this_thread::get_id());
  auto inspected = driver.inspect("web-0");
  ASSERT_TRUE(inspected) << message(inspected.error());
  EXPECT_EQ(inspected->state, container_state::exited);
  EXPECT_EQ(inspected->exit_code, 143);
  EXPECT_EQ(inspected->pid, 0);

  auto restarted = driver.start("web-0");
  ASSERT_TRUE(restarted) << message(restarted.error());
  EXPECT_GT(restarted->pid, started->pid);
  ASSERT_FALSE(driver.remove("web-0", true));
  EXPECT_EQ(code_of(driver.inspect("web-0").error()), error_code::not_found);
  EXPECT_EQ(code_of(driver.create(make_spec("Bad Name", command())).error()),
            error_code::invalid_argument);
}

TEST(sim_driver, start_delay_blocks_start) {
  sim_options options;
  options.start_delay = std::chrono::duration_cast<caf::timespan>(50ms);
  sim_driver driver{options};
  EXPECT_TRUE(driver.blocking());
  ASSERT_TRUE(driver.create(make_spec("slow", command())));
  auto before = std::chrono::steady_clock::now();
  auto started = driver.start("slow");
  ASSERT_TRUE(started) << message(started.error());
  EXPECT_GE(std::chrono::steady_clock::now() - before, 50ms);
  EXPECT_EQ(started->state, container_state::running);
}

// Replicas call a driver that takes inline calls from every scheduler thread at
// once: no container may be lost or share a pid. A slowed start goes through
// the driver actor again.
TEST(sim_driver, inline_calls_from_many_threads_at_once) {
  sim_options slow;
  slow.start_delay = std::chrono::duration_cast<caf::timespan>(1ms);
  EXPECT_FALSE(sim_driver{slow}.inline_calls());
  sim_driver driver;
  ASSERT_TRUE(driver.inline_calls());
  constexpr int threads = 4;
  constexpr int each = 300;
  std::vector<std::thread> workers;
  std::atomic<int> failed{0};
  for (int t = 0; t < threads; ++t)
    workers.emplace_back([&, t] {
      for (int i = 0; i < each; ++i) {
        auto name = "c" + std::to_string(t) + "-" + std::to_string(i);
        auto ran = driver.run(make_spec(name, command()),
                              [](const container_info&) { return exit_callback{}; });
        if (!ran || ran->state != container_state::running)
          ++failed;
      }
    });
  for (auto& w : workers)
    w.join();
  EXPECT_EQ(failed.load(), 0);
  std::set<int64_t> pids;
  for (int t = 0; t < threads; ++t)
    for (int i = 0; i < each; ++i) {
      auto info = driver.inspect("c" + std::to_string(t) + "-" + std::to_string(i));
      ASSERT_TRUE(info);
      pids.insert(info->pid);
    }
  EXPECT_EQ(pids.size(), size_t{threads * each});
}

std::vector<bool> start_outcomes(uint64_t seed, double failure_rate) {
  sim_options options;
  options.failure_rate = failure_rate;
  options.seed = seed;
  sim_driver driver{options};
  std::vector<bool> result;
  for (int i = 0; i < 200; ++i) {
    auto name = "c-" + std::to_string(i);
    EXPECT_TRUE(driver.create(make_spec(name, command())));
    auto started = driver.start(name);
    if (!started) {
      EXPECT_EQ(code_of(started.error()), error_code::driver_failure);
      EXPECT_EQ(driver.inspect(name)->state, container_state::created);
    }
    result.push_back(static_cast<bool>(started));
  }
  return result;
}

TEST(sim_driver, failure_rate_is_deterministic_for_a_seed) {
  auto first = start_outcomes(42, 0.5);
  EXPECT_EQ(first, start_outcomes(42, 0.5));
  EXPECT_NE(first, start_outcomes(43, 0.5));
  auto successes = std::count(first.begin(), first.end(), true);
  EXPECT_GT(successes, 50);
  EXPECT_LT(successes, 150);
  auto never = start_outcomes(1, 0.0);
  EXPECT_EQ(std::count(never.begin(), never.end(), false), 0);
  auto always = start_outcomes(1, 1.0);
  EXPECT_EQ(std::count(always.begin(), always.end(), true), 0);
}

TEST(sim_driver, crash_hook_fires_the_callback_once) {
  exit_recorder exits;
  sim_driver driver;
  ASSERT_TRUE(driver.create(make_spec("web-0", command())));
  ASSERT_TRUE(driver.start("web-0"));
  ASSERT_FALSE(driver.watch("web-0", exits.callback()));
  ASSERT_FALSE(driver.crash("web-0", 7));
  EXPECT_EQ(exits.wait_code("web-0"), 7);
  EXPECT_EQ(code_of(driver.crash("web-0", 7)), error_code::invalid_argument);
  EXPECT_EQ(code_of(driver.crash("nope", 7)), error_code::not_found);
  ASSERT_TRUE(flush(driver));
  EXPECT_EQ(exits.count("web-0"), 1u);
  EXPECT_NE(driver.logs("web-0", 1000)->find("exited with code 7"), std::string::npos);
}

TEST(sim_driver, drop_all_loses_every_container_without_an_exit) {
  exit_recorder exits;
  sim_driver driver;
  for (const auto* name : {"web-0", "web-1"}) {
    ASSERT_TRUE(driver.create(make_spec(name, command())));
    ASSERT_TRUE(driver.start(name));
    ASSERT_FALSE(driver.watch(name, exits.callback()));
  }
  ASSERT_TRUE(driver.create(make_spec("web-2", command()))); // created, never started
  EXPECT_EQ(driver.drop_all(), 3u);
  EXPECT_EQ(code_of(driver.inspect("web-0").error()), error_code::not_found);
  EXPECT_TRUE(driver.names_owned("")->empty());
  ASSERT_TRUE(flush(driver));
  EXPECT_EQ(exits.count("web-0") + exits.count("web-1"), 0u) << "a dead host reports no exit";
  EXPECT_EQ(driver.drop_all(), 0u);
}

TEST(sim_driver, watch_after_exit_fires_asynchronously) {
  exit_recorder exits;
  sim_driver driver;
  ASSERT_TRUE(driver.create(make_spec("web-0", command())));
  ASSERT_TRUE(driver.start("web-0"));
  ASSERT_FALSE(driver.crash("web-0", 3));
  ASSERT_FALSE(driver.watch("web-0", exits.callback()));
  auto exit = exits.wait_for("web-0");
  ASSERT_TRUE(exit);
  EXPECT_EQ(exit->exit_code, 3);
  EXPECT_NE(exit->thread, std::this_thread::get_id());
}

TEST(sim_driver, remove_cancels_the_watch) {
  exit_recorder exits;
  sim_driver driver;
  ASSERT_TRUE(driver.create(make_spec("web-0", command())));
  ASSERT_TRUE(driver.start("web-0"));
  ASSERT_FALSE(driver.watch("web-0", exits.callback()));
  ASSERT_FALSE(driver.remove("web-0", true));
  ASSERT_TRUE(flush(driver));
  EXPECT_EQ(exits.count("web-0"), 0u);
}

TEST(sim_driver, crash_rate_ends_containers_on_their_own) {
  exit_recorder exits;
  sim_options options;
  options.crash_rate = 1.0;
  options.crash_within = std::chrono::duration_cast<caf::timespan>(20ms);
  sim_driver driver{options};
  ASSERT_TRUE(driver.create(make_spec("fragile", command())));
  ASSERT_TRUE(driver.start("fragile"));
  ASSERT_FALSE(driver.watch("fragile", exits.callback()));
  EXPECT_EQ(exits.wait_code("fragile"), 1);
  EXPECT_EQ(driver.inspect("fragile")->state, container_state::exited);
}

TEST(sim_driver, list_owned_selects_by_node_label) {
  sim_driver driver;
  ASSERT_TRUE(driver.create(make_spec("a-0", command(), "node-a")));
  ASSERT_TRUE(driver.start("a-0"));
  ASSERT_TRUE(driver.create(make_spec("a-1", command(), "node-a")));
  ASSERT_TRUE(driver.create(make_spec("b-0", command(), "node-b")));
  auto owned = driver.list_owned("node-a");
  ASSERT_TRUE(owned) << message(owned.error());
  ASSERT_EQ(owned->size(), 2u);
  EXPECT_EQ((*owned)[0].name, "a-0");
  EXPECT_EQ((*owned)[0].state, container_state::running);
  EXPECT_EQ((*owned)[1].name, "a-1");
  EXPECT_EQ((*owned)[1].state, container_state::created);
}

TEST(sim_driver, run_creates_starts_and_watches_in_one_call) {
  exit_recorder exits;
  sim_driver driver;
  auto spec = make_spec("web-0", command());
  spec.env["GREETING"] = "hello";
  spec.env["EMPTY"] = "";
  spec.labels["odd"] = std::string("a\0b=c,\n", 7); // kept byte for byte
  std::string watched_id;
  auto ran = driver.run(spec, [&](const container_info& info) {
    watched_id = info.runtime_id;
    return exits.callback();
  });
  ASSERT_TRUE(ran) << message(ran.error());
  EXPECT_EQ(ran->state, container_state::running);
  EXPECT_EQ(watched_id, ran->runtime_id) << "the watcher sees the running incarnation";
  EXPECT_EQ(ran->labels, spec.labels);
  EXPECT_EQ(ran->env, spec.env);
  EXPECT_EQ(driver.inspect("web-0")->labels, spec.labels);
  auto again = driver.run(spec, [&](const container_info&) { return exits.callback(); });
  ASSERT_FALSE(again);
  EXPECT_EQ(code_of(again.error()), error_code::already_exists);
  ASSERT_FALSE(driver.crash("web-0", 7));
  EXPECT_EQ(exits.wait_code("web-0"), 7);
}

TEST(sim_driver, run_of_a_blocking_start_goes_through_create_and_start) {
  exit_recorder exits;
  sim_options options;
  options.start_delay = std::chrono::duration_cast<caf::timespan>(5ms);
  sim_driver driver{options};
  auto ran = driver.run(make_spec("slow-0", command()),
                        [&](const container_info&) { return exits.callback(); });
  ASSERT_TRUE(ran) << message(ran.error());
  EXPECT_EQ(ran->state, container_state::running);
  ASSERT_FALSE(driver.stop("slow-0", 1s));
  EXPECT_EQ(exits.wait_code("slow-0"), 143);
}

TEST(sim_driver, a_failed_start_in_run_leaves_the_container_created) {
  sim_options options;
  options.failure_rate = 1;
  sim_driver driver{options};
  bool asked = false;
  auto ran = driver.run(make_spec("doomed-0", command()), [&](const container_info&) {
    asked = true;
    return exit_callback{};
  });
  ASSERT_FALSE(ran);
  EXPECT_EQ(code_of(ran.error()), error_code::driver_failure);
  EXPECT_FALSE(asked) << "nothing runs, so nothing is watched";
  EXPECT_EQ(driver.inspect("doomed-0")->state, container_state::created);
}

TEST(sim_driver, names_owned_are_the_names_list_owned_selects) {
  sim_driver driver;
  ASSERT_TRUE(driver.create(make_spec("a-0", command(), "node-a")));
  ASSERT_TRUE(driver.create(make_spec("b-0", command(), "node-b")));
  ASSERT_TRUE(driver.create(make_spec("a-1", command(), "node-a")));
  auto names = driver.names_owned("node-a");
  ASSERT_TRUE(names) << message(names.error());
  EXPECT_EQ(*names, (std::vector<std::string>{"a-0", "a-1"}));
  // What a driver without its own answer gives: the names of list_owned.
  auto listed = driver.driver::names_owned("node-a");
  ASSERT_TRUE(listed) << message(listed.error());
  EXPECT_EQ(*listed, *names);
  EXPECT_TRUE(driver.names_owned("node-c")->empty());
}

TEST(sim_driver, stats_report_the_reservation) {
  sim_driver driver;
  auto spec = make_spec("web-0", command());
  spec.resources.cpu = 0.5;
  spec.resources.memory = 64 << 20;
  ASSERT_TRUE(driver.create(spec));
  EXPECT_EQ(driver.stats("web-0")->memory_bytes, 0);
  ASSERT_TRUE(driver.start("web-0"));
  auto stats = driver.stats("web-0");
  ASSERT_TRUE(stats) << message(stats.error());
  EXPECT_EQ(stats->memory_bytes, 64 << 20);
  EXPECT_GE(stats->cpu_seconds, 0.0);
}

TEST(sim_driver, holds_thousands_of_containers) {
  sim_driver driver;
  for (int i = 0; i < 10000; ++i) {
    auto name = "r-" + std::to_string(i);
    ASSERT_TRUE(driver.create(make_spec(name, command(), "node-" + std::to_string(i % 100))));
    ASSERT_TRUE(driver.start(name));
  }
  auto owned = driver.list_owned("node-7");
  ASSERT_TRUE(owned) << message(owned.error());
  EXPECT_EQ(owned->size(), 100u);
}

} // namespace
} // namespace tutti::runtime_drivers
