// The docker driver against a real engine (the host's, or a private dockerd the
// environment starts): containers as specified, exits from the events stream,
// stop with grace, restart in place, logs, stats, adoption by a new driver, a
// missing image, an engine that is not there or goes away and comes back.

#include "runtime-drivers/docker/docker_driver.hpp"

#include "tests/runtime-drivers/test_support.hpp"
#include "tests/support/docker_environment.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <algorithm>

namespace tutti::runtime_drivers {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;
using protocol::code_of;
using protocol::error_code;
using test::eventually;
using test::exit_recorder;
using test::message;
namespace s = tutti::tests::support;

[[maybe_unused]] auto* const docker_env =
    ::testing::AddGlobalTestEnvironment(new s::docker_environment);

/// Ends at once on SIGTERM (PID 1 ignores signals it does not handle); says
/// "ready" once the trap is set.
const std::string polite_loop = "trap 'exit 0' TERM; echo ready; while true; do sleep 0.05; done";

caf::timespan span(std::chrono::milliseconds x) {
  return std::chrono::duration_cast<caf::timespan>(x);
}

class docker_driver_test : public ::testing::Test {
protected:
  void SetUp() override {
    TUTTI_REQUIRE_DOCKER(engine_);
    node_ = engine_->node_name("drv");
    driver_ = make_driver(node_);
    ASSERT_TRUE(eventually([&] { return driver_->engine_connected(); }));
    EXPECT_FALSE(driver_->health());
  }

  void TearDown() override {
    driver_.reset();
    if (engine_ != nullptr)
      engine_->remove_run_containers();
  }

  std::unique_ptr<docker_driver> make_driver(const std::string& node,
                                             std::string socket = {}) const {
    docker_options options;
    options.socket = socket.empty() ? engine_->socket() : socket;
    options.node = node;
    auto d = docker_driver::make(options);
    EXPECT_TRUE(d) << message(d.error());
    return d ? std::move(*d) : nullptr;
  }

  container_spec spec(const std::string& name, std::vector<std::string> command) const {
    auto x = test::make_spec(name, std::move(command), node_);
    x.image = s::docker_engine::image;
    x.labels[label::replica] = name;
    return x;
  }

  /// Creates and starts; fails the test when either fails.
  container_info run(const container_spec& x) {
    auto created = driver_->create(x);
    EXPECT_TRUE(created) << message(created.error());
    auto started = driver_->start(x.name);
    EXPECT_TRUE(started) << message(started.error());
    return started ? *started : container_info{};
  }

  std::string logs_of(const std::string& name) const {
    auto x = driver_->logs(name, 100000);
    return x ? *x : "(no logs: " + message(x.error()) + ")";
  }

  s::docker_engine* engine_ = nullptr;
  std::string node_;
  std::unique_ptr<docker_driver> driver_;
};

TEST_F(docker_driver_test, exec_runs_a_command_inside_the_container) {
  auto x = spec("probe-0", {"/bin/sleep", "300"});
  x.env = {{"GREETING", "hi"}};
  run(x);
  auto r = driver_->exec("probe-0", {"/bin/sh", "-c", "echo $GREETING; echo oops >&2; exit 2"},
                         span(5s));
  ASSERT_TRUE(r) << message(r.error());
  EXPECT_EQ(r->exit_code, 2);
  // Two streams: their order is the engine's.
  EXPECT_NE(r->output.find("hi\n"), std::string::npos) << r->output;
  EXPECT_NE(r->output.find("oops\n"), std::string::npos) << r->output;
  auto slow = driver_->exec("probe-0", {"/bin/sleep", "5"}, span(300ms));
  ASSERT_FALSE(slow);
  EXPECT_EQ(code_of(slow.error()), error_code::timeout) << message(slow.error());
  EXPECT_EQ(code_of(driver_->exec("absent-0", {"/bin/true"}, span(5s)).error()),
            error_code::not_found);
}

TEST_F(docker_driver_test, runs_a_container_as_specified) {
  auto x = spec("web-0", {"/bin/sleep", "300"});
  x.env = {{"PORT", "21234"}, {"GREETING", "hello world"}};
  x.resources.cpu = 0.5;
  x.resources.memory = 32 << 20;
  x.labels[label::revision] = "3";
  auto created = driver_->create(x);
  ASSERT_TRUE(created) << message(created.error());
  EXPECT_EQ(created->state, container_state::created);
  EXPECT_EQ(created->runtime_id.size(), 64u);

  auto started = driver_->start("web-0");
  ASSERT_TRUE(started) << message(started.error());
  EXPECT_EQ(started->state, container_state::running);
  EXPECT_EQ(started->runtime_id, created->runtime_id);
  EXPECT_GT(started->pid, 0);
  EXPECT_GT(started->started_at_ms, 0);
  EXPECT_EQ(started->name, "web-0");

  auto engine_view = engine_->inspect(started->runtime_id);
  ASSERT_TRUE(engine_view);
  auto& c = *engine_view;
  EXPECT_EQ(c["Name"], "/tutti-web-0_" + node_);
  EXPECT_EQ(c["Config"]["Image"], s::docker_engine::image);
  EXPECT_EQ(c["Config"]["Cmd"], json({"/bin/sleep", "300"}));
  auto env = c["Config"]["Env"];
  EXPECT_NE(std::find(env.begin(), env.end(), "PORT=21234"), env.end()) << env;
  EXPECT_NE(std::find(env.begin(), env.end(), "GREETING=hello world"), env.end()) << env;
  EXPECT_EQ(c["Config"]["Labels"]["tutti.node"], node_);
  EXPECT_EQ(c["Config"]["Labels"]["tutti.replica"], "web-0");
  EXPECT_EQ(c["Config"]["Labels"]["tutti.revision"], "3");
  EXPECT_EQ(c["HostConfig"]["NanoCpus"], 500000000);
  EXPECT_EQ(c["HostConfig"]["Memory"], 32 << 20);
  EXPECT_EQ(c["HostConfig"]["NetworkMode"], "host");
  EXPECT_EQ(c["HostConfig"]["RestartPolicy"]["Name"], "no");
  EXPECT_EQ(c["State"]["Pid"], started->pid);

  auto seen = driver_->inspect("web-0");
  ASSERT_TRUE(seen) << message(seen.error());
  EXPECT_EQ(seen->state, container_state::running);
  EXPECT_EQ(seen->labels.at(label::revision), "3");
  EXPECT_EQ(seen->env.at("PORT"), "21234");

  auto again = driver_->create(x);
  ASSERT_FALSE(again);
  EXPECT_EQ(code_of(again.error()), error_code::already_exists) << message(again.error());
  auto stats = driver_->stats("web-0");
  ASSERT_TRUE(stats) << message(stats.error());
  EXPECT_GT(stats->memory_bytes, 0);
}

TEST_F(docker_driver_test, reports_exits_from_the_events_stream) {
  exit_recorder exits;
  auto info = run(spec("kill-0", {"/bin/sleep", "300"}));
  ASSERT_FALSE(driver_->watch("kill-0", exits.callback()));
  auto killed_at = std::chrono::steady_clock::now();
  ASSERT_TRUE(engine_->kill(info.runtime_id));
  auto event = exits.wait_for("kill-0");
  ASSERT_TRUE(event) << "no exit callback after docker kill";
  EXPECT_EQ(event->exit_code, 137);
  EXPECT_NE(event->thread, std::this_thread::get_id());
  std::printf("docker kill -> exit callback: %lld ms\n",
              static_cast<long long>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                         std::chrono::steady_clock::now() - killed_at)
                                         .count()));

  // Its own exit code, whether the watch comes before or after the exit.
  run(spec("code-0", {"/bin/sh", "-c", "sleep 0.2; exit 3"}));
  ASSERT_FALSE(driver_->watch("code-0", exits.callback()));
  EXPECT_EQ(exits.wait_code("code-0"), 3);
  EXPECT_EQ(exits.count("kill-0"), 1u) << "one callback per exit";
}

TEST_F(docker_driver_test, watch_of_an_exited_container_calls_back_later) {
  exit_recorder exits;
  run(spec("done-0", {"/bin/sh", "-c", "exit 7"}));
  ASSERT_TRUE(eventually([&] {
    auto x = driver_->inspect("done-0");
    return x && x->state == container_state::exited;
  }));
  ASSERT_FALSE(driver_->watch("done-0", exits.callback()));
  auto event = exits.wait_for("done-0");
  ASSERT_TRUE(event);
  EXPECT_EQ(event->exit_code, 7);
  EXPECT_NE(event->thread, std::this_thread::get_id()) << "never inline";
  auto created = driver_->create(spec("new-0", {"/bin/true"}));
  ASSERT_TRUE(created);
  auto refused = driver_->watch("new-0", exits.callback());
  EXPECT_EQ(code_of(refused), error_code::invalid_argument) << "not started yet";
}

TEST_F(docker_driver_test, restarts_in_place_keeping_id_and_logs) {
  exit_recorder exits;
  auto first = run(spec("again-0", {"/bin/sh", "-c", "echo run; echo oops >&2; exec sleep 300"}));
  // The engine copies stdout and stderr apart, so their interleaving is not
  // fixed: count lines.
  auto count = [](const std::string& text, const std::string& line) {
    size_t n = 0;
    for (auto at = text.find(line); at != std::string::npos; at = text.find(line, at + 1))
      ++n;
    return n;
  };
  std::string all;
  auto logged = [&](size_t runs) {
    return eventually([&] {
      all = logs_of("again-0");
      return count(all, "run\n") == runs && count(all, "oops\n") == runs && all.size() == 9 * runs;
    });
  };
  ASSERT_TRUE(logged(1)) << all; // before the kill, or a loaded machine may kill it first
  ASSERT_FALSE(driver_->watch("again-0", exits.callback()));
  ASSERT_TRUE(engine_->kill(first.runtime_id));
  ASSERT_EQ(exits.wait_code("again-0"), 137);

  auto second = driver_->start("again-0");
  ASSERT_TRUE(second) << message(second.error());
  EXPECT_EQ(second->runtime_id, first.runtime_id);
  EXPECT_NE(second->pid, first.pid);
  EXPECT_GT(second->started_at_ms, first.started_at_ms);
  ASSERT_FALSE(driver_->watch("again-0", exits.callback()));
  // Both runs' output: a restart in place keeps the logs.
  ASSERT_TRUE(logged(2)) << all;
  auto tail = driver_->logs("again-0", 5);
  ASSERT_TRUE(tail);
  EXPECT_EQ(*tail, all.substr(all.size() - 5));
  ASSERT_TRUE(engine_->kill(second->runtime_id));
  EXPECT_EQ(exits.wait_code("again-0", 2), 137);
}

TEST_F(docker_driver_test, stop_signals_then_kills_after_the_grace) {
  exit_recorder exits;
  // PID 1 ignores SIGTERM unless it handles it: sleep does not.
  run(spec("stubborn-0", {"/bin/sleep", "300"}));
  run(spec("polite-0", {"/bin/sh", "-c", polite_loop}));
  ASSERT_TRUE(eventually([&] { return logs_of("polite-0") == "ready\n"; })) << "trap set";
  ASSERT_FALSE(driver_->watch("stubborn-0", exits.callback()));
  ASSERT_FALSE(driver_->watch("polite-0", exits.callback()));

  auto stopped_at = std::chrono::steady_clock::now();
  ASSERT_FALSE(driver_->stop("stubborn-0", span(400ms)));
  ASSERT_FALSE(driver_->stop("polite-0", span(10s)));
  EXPECT_EQ(exits.wait_code("polite-0"), 0) << "SIGTERM handled";
  EXPECT_EQ(exits.wait_code("stubborn-0"), 137) << "SIGKILL after the grace";
  EXPECT_GE(std::chrono::steady_clock::now() - stopped_at, 400ms);
  EXPECT_FALSE(driver_->stop("stubborn-0", span(1s))) << "stopping a stopped container succeeds";
  EXPECT_EQ(code_of(driver_->stop("absent-0", span(1s))), error_code::not_found);
}

TEST_F(docker_driver_test, remove_cancels_the_watch) {
  exit_recorder exits;
  run(spec("gone-0", {"/bin/sleep", "300"}));
  ASSERT_FALSE(driver_->watch("gone-0", exits.callback()));
  EXPECT_EQ(code_of(driver_->remove("gone-0", false)), error_code::invalid_argument)
      << "running: only with force";
  ASSERT_FALSE(driver_->remove("gone-0", true));
  EXPECT_EQ(code_of(driver_->inspect("gone-0").error()), error_code::not_found);
  EXPECT_EQ(code_of(driver_->remove("gone-0", true)), error_code::not_found);
  EXPECT_TRUE(engine_->containers(node_).empty());

  // Events arrive in order: once a later exit is reported, the removed
  // container's would have been.
  auto later = run(spec("later-0", {"/bin/sleep", "300"}));
  ASSERT_FALSE(driver_->watch("later-0", exits.callback()));
  ASSERT_TRUE(engine_->kill(later.runtime_id));
  ASSERT_TRUE(exits.wait_for("later-0"));
  EXPECT_EQ(exits.count("gone-0"), 0u);
}

TEST_F(docker_driver_test, lists_the_containers_of_its_node_and_a_new_driver_adopts_them) {
  auto a = run(spec("list-0", {"/bin/sleep", "300"}));
  auto created = driver_->create(spec("list-1", {"/bin/sleep", "300"}));
  ASSERT_TRUE(created);
  auto other_node = engine_->node_name("other");
  auto other = make_driver(other_node);
  auto foreign = spec("list-2", {"/bin/sleep", "300"});
  foreign.labels[label::node] = other_node;
  ASSERT_TRUE(other->create(foreign));

  auto listed = driver_->list_owned(node_);
  ASSERT_TRUE(listed) << message(listed.error());
  ASSERT_EQ(listed->size(), 2u);
  EXPECT_EQ((*listed)[0].name, "list-0");
  EXPECT_EQ((*listed)[0].state, container_state::running);
  EXPECT_EQ((*listed)[0].runtime_id, a.runtime_id);
  EXPECT_EQ((*listed)[0].labels.at(label::node), node_);
  EXPECT_EQ((*listed)[1].name, "list-1");
  EXPECT_EQ((*listed)[1].state, container_state::created);

  // A new driver (a restarted tuttid) finds the same container and watches it.
  driver_.reset();
  driver_ = make_driver(node_);
  auto adopted = driver_->inspect("list-0");
  ASSERT_TRUE(adopted);
  EXPECT_EQ(adopted->runtime_id, a.runtime_id);
  EXPECT_EQ(adopted->pid, a.pid);
  exit_recorder exits;
  ASSERT_FALSE(driver_->watch("list-0", exits.callback()));
  ASSERT_TRUE(engine_->kill(a.runtime_id));
  EXPECT_EQ(exits.wait_code("list-0"), 137);
}

TEST_F(docker_driver_test, missing_image_fails_create_naming_the_image) {
  auto x = spec("nope-0", {"/bin/true"});
  x.image = "local/tutti-missing:1";
  auto created = driver_->create(x);
  ASSERT_FALSE(created);
  EXPECT_EQ(code_of(created.error()), error_code::driver_failure);
  auto text = message(created.error());
  EXPECT_NE(text.find("cannot create nope-0: image local/tutti-missing:1 is not present locally "
                      "and pulling it failed: "),
            std::string::npos)
      << text;
  // Tried once: the next create fails at once with the same reason.
  auto started = std::chrono::steady_clock::now();
  auto again = driver_->create(x);
  ASSERT_FALSE(again);
  EXPECT_EQ(message(again.error()), text);
  EXPECT_LT(std::chrono::steady_clock::now() - started, 1s);
  EXPECT_TRUE(engine_->containers(node_).empty());

  auto no_image = spec("empty-0", {"/bin/true"});
  no_image.image.clear();
  EXPECT_EQ(code_of(driver_->create(no_image).error()), error_code::invalid_argument);
}

TEST_F(docker_driver_test, an_engine_that_is_not_there_fails_calls_clearly) {
  test::temp_dir dir;
  auto socket = dir.path() + "/docker.sock";
  auto d = make_driver(node_, socket);
  ASSERT_TRUE(d);
  EXPECT_FALSE(d->engine_connected());
  auto expected = "cannot reach the Docker engine at " + socket +
                  ": No such file or directory; is dockerd running?";
  EXPECT_EQ(protocol::message_of(d->health()), expected);
  auto created = d->create(spec("x-0", {"/bin/true"}));
  ASSERT_FALSE(created);
  EXPECT_EQ(code_of(created.error()), error_code::driver_failure);
  EXPECT_EQ(protocol::message_of(created.error()), expected);
  EXPECT_EQ(protocol::message_of(d->start("x-0").error()), expected);
  EXPECT_EQ(protocol::message_of(d->inspect("x-0").error()), expected);
  EXPECT_EQ(protocol::message_of(d->list_owned(node_).error()), expected);
  EXPECT_EQ(protocol::message_of(d->logs("x-0", 10).error()), expected);
  EXPECT_EQ(protocol::message_of(d->stop("x-0", span(1s))), expected);
}

TEST_F(docker_driver_test, recovers_when_the_engine_comes_back) {
  if (!engine_->is_private())
    GTEST_SKIP() << "stopping the engine needs a private dockerd (the host's answers)";
  exit_recorder exits;
  // Handles SIGTERM: the engine stops its containers when it stops, and waits
  // 10 s for those that ignore it.
  run(spec("survivor-0", {"/bin/sh", "-c", polite_loop}));
  ASSERT_TRUE(eventually([&] { return logs_of("survivor-0") == "ready\n"; })) << "trap set";
  ASSERT_FALSE(driver_->watch("survivor-0", exits.callback()));
  ASSERT_TRUE(engine_->stop_engine());
  // The engine stops its containers as it goes: the exit is reported, from the
  // stream or, when that closed first, from the look-up after reconnecting.
  ASSERT_TRUE(eventually([&] { return !driver_->engine_connected(); }));
  EXPECT_TRUE(driver_->health());
  auto down = driver_->inspect("survivor-0");
  ASSERT_FALSE(down);
  EXPECT_NE(protocol::message_of(down.error()).find("cannot reach the Docker engine"),
            std::string::npos)
      << protocol::message_of(down.error());

  std::string why;
  ASSERT_TRUE(engine_->start_engine(why)) << why;
  ASSERT_TRUE(eventually([&] { return driver_->engine_connected(); }));
  EXPECT_FALSE(driver_->health());
  EXPECT_TRUE(exits.wait_for("survivor-0"));
  auto restarted = driver_->start("survivor-0");
  ASSERT_TRUE(restarted) << message(restarted.error());
  EXPECT_EQ(restarted->state, container_state::running);
  ASSERT_FALSE(driver_->watch("survivor-0", exits.callback()));
  ASSERT_TRUE(engine_->kill(restarted->runtime_id));
  EXPECT_EQ(exits.wait_code("survivor-0", 2), 137);
  EXPECT_EQ(exits.count("survivor-0"), 2u);
}

} // namespace
} // namespace tutti::runtime_drivers
