// The containerd driver against a private containerd (the environment starts
// it): images imported from an archive and unpacked, containers as specified,
// exits from the event stream (a task killed, its shim killed), stop with
// grace, restart in place, logs, stats, exec, adoption by a new driver, a
// missing image, a containerd that is not there or goes away and comes back.

#include "runtime-drivers/containerd/containerd_driver.hpp"

#include "tests/runtime-drivers/test_support.hpp"
#include "tests/support/containerd_environment.hpp"
#include "tests/support/registry_environment.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <signal.h>

#include <algorithm>
#include <filesystem>
#include <fstream>

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

[[maybe_unused]] auto* const containerd_env =
    ::testing::AddGlobalTestEnvironment(new s::containerd_environment);
[[maybe_unused]] auto* const registry_env =
    ::testing::AddGlobalTestEnvironment(new s::registry_environment);

/// Ends at once on SIGTERM (PID 1 ignores signals it does not handle); says
/// "ready" once the trap is set.
const std::string polite_loop = "trap 'exit 0' TERM; echo ready; while true; do sleep 0.05; done";

caf::timespan span(std::chrono::milliseconds x) {
  return std::chrono::duration_cast<caf::timespan>(x);
}

std::string read_file(const std::string& path) {
  std::ifstream in{path};
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  return text;
}

class containerd_driver_test : public ::testing::Test {
protected:
  void SetUp() override {
    TUTTI_REQUIRE_CONTAINERD(containerd_);
    node_ = containerd_->node_name("drv");
    driver_ = make_driver(node_);
    ASSERT_TRUE(driver_);
    ASSERT_TRUE(eventually([&] { return driver_->events_connected(); }));
    EXPECT_FALSE(driver_->health());
  }

  void TearDown() override {
    driver_.reset();
    if (containerd_ != nullptr)
      containerd_->remove_everything();
  }

  std::unique_ptr<containerd_driver> make_driver(const std::string& node,
                                                 std::string socket = {}) const {
    containerd_options options;
    options.socket = socket.empty() ? containerd_->socket() : socket;
    options.name_space = containerd_->name_space();
    options.node = node;
    options.state_dir = containerd_->state_dir(node);
    options.log_binary = LOG_COPIER_BIN;
    auto d = containerd_driver::make(options);
    EXPECT_TRUE(d) << message(d.error());
    return d ? std::move(*d) : nullptr;
  }

  container_spec spec(const std::string& name, std::vector<std::string> command) const {
    auto x = test::make_spec(name, std::move(command), node_);
    x.image = s::containerd_instance::image;
    x.image_archive = containerd_->archive();
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

  /// `ctr tasks kill --signal SIG ID`: true when containerd did it.
  bool kill_task(const container_info& info, const std::string& signal = "SIGKILL") const {
    return containerd_->ctr({"tasks", "kill", "--signal", signal, info.runtime_id}).exit_code == 0;
  }

  s::containerd_instance* containerd_ = nullptr;
  std::string node_;
  std::unique_ptr<containerd_driver> driver_;
};

TEST_F(containerd_driver_test, runs_a_container_as_specified) {
  auto x = spec("web-0", {"/bin/sleep", "300"});
  x.env = {{"PORT", "21234"}, {"GREETING", "hello world"}};
  x.resources.cpu = 0.5;
  x.resources.memory = 32 << 20;
  x.labels[label::revision] = "3";
  auto created = driver_->create(x);
  ASSERT_TRUE(created) << message(created.error());
  EXPECT_EQ(created->state, container_state::created);
  EXPECT_EQ(created->runtime_id, "tutti-web-0_" + node_);
  EXPECT_EQ(driver_->inspect("web-0")->state, container_state::created);

  auto started = driver_->start("web-0");
  ASSERT_TRUE(started) << message(started.error());
  EXPECT_EQ(started->state, container_state::running);
  EXPECT_EQ(started->runtime_id, created->runtime_id);
  EXPECT_GT(started->pid, 0);
  EXPECT_GT(started->started_at_ms, 0);
  EXPECT_EQ(started->name, "web-0");

  auto info = containerd_->ctr({"containers", "info", started->runtime_id});
  ASSERT_EQ(info.exit_code, 0) << info.out;
  auto c = json::parse(info.out);
  EXPECT_EQ(c["Image"], s::containerd_instance::image);
  EXPECT_EQ(c["Runtime"]["Name"], "io.containerd.runc.v2");
  EXPECT_EQ(c["Labels"]["tutti.node"], node_);
  EXPECT_EQ(c["Labels"]["tutti.replica"], "web-0");
  EXPECT_EQ(c["Labels"]["tutti.revision"], "3");
  auto& process = c["Spec"]["process"];
  EXPECT_EQ(process["args"], json({"/bin/sleep", "300"}));
  auto env = process["env"];
  EXPECT_NE(std::find(env.begin(), env.end(), "PORT=21234"), env.end()) << env;
  EXPECT_NE(std::find(env.begin(), env.end(), "GREETING=hello world"), env.end()) << env;
  auto& ns = c["Spec"]["linux"]["namespaces"];
  EXPECT_TRUE(std::none_of(ns.begin(), ns.end(), [](auto& n) { return n["type"] == "network"; }))
      << "host networking";
  EXPECT_EQ(c["Spec"]["linux"]["resources"]["cpu"]["quota"], 50000);
  EXPECT_EQ(c["Spec"]["linux"]["resources"]["memory"]["limit"], 32 << 20);
  // The limits reached the kernel: the task's cgroup has them.
  auto cgroup = read_file("/proc/" + std::to_string(started->pid) + "/cgroup");
  EXPECT_NE(cgroup.find("/tutti/" + started->runtime_id), std::string::npos) << cgroup;

  auto seen = driver_->inspect("web-0");
  ASSERT_TRUE(seen) << message(seen.error());
  EXPECT_EQ(seen->state, container_state::running);
  EXPECT_EQ(seen->pid, started->pid);
  EXPECT_EQ(seen->labels.at(label::revision), "3");
  EXPECT_EQ(seen->env.at("PORT"), "21234");

  auto again = driver_->create(x);
  ASSERT_FALSE(again);
  EXPECT_EQ(code_of(again.error()), error_code::already_exists) << message(again.error());
  auto stats = driver_->stats("web-0");
  ASSERT_TRUE(stats) << message(stats.error());
  EXPECT_GT(stats->memory_bytes, 0);
}

TEST_F(containerd_driver_test, exec_runs_a_command_inside_the_task) {
  auto x = spec("probe-0", {"/bin/sleep", "300"});
  x.env = {{"GREETING", "hi"}};
  run(x);
  auto r = driver_->exec("probe-0", {"/bin/sh", "-c", "echo $GREETING; echo oops >&2; exit 2"},
                         span(5s));
  ASSERT_TRUE(r) << message(r.error());
  EXPECT_EQ(r->exit_code, 2);
  EXPECT_NE(r->output.find("hi\n"), std::string::npos) << r->output;
  EXPECT_NE(r->output.find("oops\n"), std::string::npos) << r->output;
  auto slow = driver_->exec("probe-0", {"/bin/sleep", "5"}, span(300ms));
  ASSERT_FALSE(slow);
  EXPECT_EQ(code_of(slow.error()), error_code::timeout) << message(slow.error());
  EXPECT_EQ(code_of(driver_->exec("absent-0", {"/bin/true"}, span(5s)).error()),
            error_code::not_found);
  auto after = driver_->exec("probe-0", {"/bin/true"}, span(5s));
  ASSERT_TRUE(after) << message(after.error());
  EXPECT_EQ(after->exit_code, 0) << "the task runs on after a command timed out";
}

TEST_F(containerd_driver_test, reports_exits_from_the_event_stream) {
  exit_recorder exits;
  auto info = run(spec("kill-0", {"/bin/sleep", "300"}));
  ASSERT_FALSE(driver_->watch("kill-0", exits.callback()));
  auto killed_at = std::chrono::steady_clock::now();
  ASSERT_TRUE(kill_task(info));
  auto event = exits.wait_for("kill-0");
  ASSERT_TRUE(event) << "no exit callback after ctr tasks kill";
  EXPECT_EQ(event->exit_code, 137);
  EXPECT_NE(event->thread, std::this_thread::get_id());
  std::printf("ctr tasks kill -> exit callback: %lld ms\n",
              static_cast<long long>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                         std::chrono::steady_clock::now() - killed_at)
                                         .count()));

  run(spec("code-0", {"/bin/sh", "-c", "sleep 0.2; exit 3"}));
  ASSERT_FALSE(driver_->watch("code-0", exits.callback()));
  EXPECT_EQ(exits.wait_code("code-0"), 3);
  EXPECT_EQ(exits.count("kill-0"), 1u) << "one callback per exit";
}

TEST_F(containerd_driver_test, notices_a_killed_shim) {
  exit_recorder exits;
  auto info = run(spec("shim-0", {"/bin/sleep", "300"}));
  ASSERT_FALSE(driver_->watch("shim-0", exits.callback()));
  // The shim is the task's parent.
  auto stat = read_file("/proc/" + std::to_string(info.pid) + "/stat");
  auto after_name = stat.substr(stat.rfind(')') + 2);
  int shim = 0;
  ASSERT_EQ(std::sscanf(after_name.c_str(), "%*c %d", &shim), 1) << stat;
  ASSERT_GT(shim, 1);
  ASSERT_EQ(::kill(shim, SIGKILL), 0);
  auto event = exits.wait_for("shim-0");
  ASSERT_TRUE(event) << "no exit callback after the shim was killed";
  auto again = driver_->start("shim-0");
  ASSERT_TRUE(again) << message(again.error());
  EXPECT_EQ(again->state, container_state::running);
}

TEST_F(containerd_driver_test, watch_of_an_exited_container_calls_back_later) {
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

TEST_F(containerd_driver_test, restarts_in_place_keeping_id_and_logs) {
  exit_recorder exits;
  auto first = run(spec("again-0", {"/bin/sh", "-c", "echo run; echo oops >&2; exec sleep 300"}));
  // The shim copies stdout and stderr apart, so their interleaving is not
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
  ASSERT_TRUE(logged(1)) << all;
  ASSERT_FALSE(driver_->watch("again-0", exits.callback()));
  ASSERT_TRUE(kill_task(first));
  ASSERT_EQ(exits.wait_code("again-0"), 137);

  auto second = driver_->start("again-0");
  ASSERT_TRUE(second) << message(second.error());
  EXPECT_EQ(second->runtime_id, first.runtime_id);
  EXPECT_NE(second->pid, first.pid);
  EXPECT_GE(second->started_at_ms, first.started_at_ms);
  ASSERT_FALSE(driver_->watch("again-0", exits.callback()));
  // Both runs' output: a restart in place keeps the log file.
  ASSERT_TRUE(logged(2)) << all;
  auto tail = driver_->logs("again-0", 5);
  ASSERT_TRUE(tail);
  EXPECT_EQ(*tail, all.substr(all.size() - 5));
  ASSERT_TRUE(kill_task(*second));
  EXPECT_EQ(exits.wait_code("again-0", 2), 137);
}

TEST_F(containerd_driver_test, stop_signals_then_kills_after_the_grace) {
  exit_recorder exits;
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

TEST_F(containerd_driver_test, remove_deletes_task_container_snapshot_and_log) {
  exit_recorder exits;
  auto info = run(spec("gone-0", {"/bin/sleep", "300"}));
  ASSERT_FALSE(driver_->watch("gone-0", exits.callback()));
  EXPECT_EQ(code_of(driver_->remove("gone-0", false)), error_code::invalid_argument)
      << "running: only with force";
  ASSERT_FALSE(driver_->remove("gone-0", true));
  EXPECT_EQ(code_of(driver_->inspect("gone-0").error()), error_code::not_found);
  EXPECT_EQ(code_of(driver_->remove("gone-0", true)), error_code::not_found);
  EXPECT_EQ(containerd_->ctr({"containers", "ls", "-q"}).out, "");
  auto snapshots = containerd_->ctr({"snapshots", "ls"}).out;
  EXPECT_EQ(snapshots.find(info.runtime_id), std::string::npos) << snapshots;
  EXPECT_FALSE(
      std::filesystem::exists(containerd_->state_dir(node_) + "/logs/" + info.runtime_id + ".log"));
  EXPECT_NE(::kill(static_cast<pid_t>(info.pid), 0), 0) << "the process is gone";

  auto later = run(spec("later-0", {"/bin/sleep", "300"}));
  ASSERT_FALSE(driver_->watch("later-0", exits.callback()));
  ASSERT_TRUE(kill_task(later));
  ASSERT_TRUE(exits.wait_for("later-0"));
  EXPECT_EQ(exits.count("gone-0"), 0u);
}

TEST_F(containerd_driver_test, lists_the_containers_of_its_node_and_a_new_driver_adopts_them) {
  auto a = run(spec("list-0", {"/bin/sleep", "300"}));
  auto created = driver_->create(spec("list-1", {"/bin/sleep", "300"}));
  ASSERT_TRUE(created);
  auto other_node = containerd_->node_name("other");
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

  // A new driver (a restarted tuttid) finds the same task and watches it.
  driver_.reset();
  driver_ = make_driver(node_);
  ASSERT_TRUE(eventually([&] { return driver_->events_connected(); }));
  auto adopted = driver_->inspect("list-0");
  ASSERT_TRUE(adopted);
  EXPECT_EQ(adopted->runtime_id, a.runtime_id);
  EXPECT_EQ(adopted->pid, a.pid);
  exit_recorder exits;
  ASSERT_FALSE(driver_->watch("list-0", exits.callback()));
  ASSERT_TRUE(kill_task(a));
  EXPECT_EQ(exits.wait_code("list-0"), 137);
}

TEST_F(containerd_driver_test, a_missing_image_fails_create_saying_how_to_give_it) {
  // No archive: pulled, from a registry that is not there (a closed port).
  auto x = spec("nope-0", {"/bin/true"});
  x.image = "127.0.0.1:1/tutti/missing:1";
  x.image_archive.clear();
  auto created = driver_->create(x);
  ASSERT_FALSE(created);
  EXPECT_EQ(code_of(created.error()), error_code::driver_failure);
  auto text = message(created.error());
  EXPECT_NE(text.find("cannot create nope-0: image 127.0.0.1:1/tutti/missing:1 is not in "
                      "containerd (namespace " +
                      containerd_->name_space() +
                      ") and pulling it failed: cannot reach registry 127.0.0.1:1"),
            std::string::npos)
      << text;
  // Tried once: the next create fails at once with the same reason.
  auto again = driver_->create(x);
  ASSERT_FALSE(again);
  EXPECT_EQ(message(again.error()), text);

  auto wrong = spec("wrong-0", {"/bin/true"});
  wrong.image = "tutti/other:1";
  auto refused = driver_->create(wrong);
  ASSERT_FALSE(refused);
  EXPECT_NE(message(refused.error()).find("does not hold image docker.io/tutti/other:1"),
            std::string::npos)
      << message(refused.error());
  auto absent = spec("absent-0", {"/bin/true"});
  absent.image = "tutti/third:1";
  absent.image_archive = "/nonexistent/busybox.tar";
  auto no_file = driver_->create(absent);
  ASSERT_FALSE(no_file);
  EXPECT_NE(message(no_file.error()).find("/nonexistent/busybox.tar"), std::string::npos)
      << message(no_file.error());
  EXPECT_EQ(containerd_->ctr({"containers", "ls", "-q"}).out, "");
}

TEST_F(containerd_driver_test, pulls_an_image_from_a_registry_without_an_archive) {
  s::private_registry* registry = nullptr;
  TUTTI_REQUIRE_REGISTRY(registry);
  auto pushed = registry->push_archive(containerd_->archive(), "tutti/pulled", "1");
  ASSERT_EQ(pushed, "") << registry->log();
  auto x = spec("pulled-0", {"/bin/sh", "-c", "echo pulled; exec sleep 300"});
  x.image = registry->host() + "/tutti/pulled:1";
  x.image_archive.clear();
  auto info = run(x);
  EXPECT_EQ(info.state, container_state::running);
  ASSERT_TRUE(eventually([&] { return logs_of("pulled-0") == "pulled\n"; })) << logs_of("pulled-0");
  auto images = containerd_->ctr({"images", "ls", "-q"}).out;
  EXPECT_NE(images.find(registry->host() + "/tutti/pulled:1"), std::string::npos) << images;
  // A tag the registry does not have: the reason names it.
  auto missing = spec("absent-0", {"/bin/true"});
  missing.image = registry->host() + "/tutti/pulled:2";
  missing.image_archive.clear();
  auto created = driver_->create(missing);
  ASSERT_FALSE(created);
  EXPECT_NE(message(created.error()).find("pulling it failed"), std::string::npos)
      << message(created.error());
}

TEST_F(containerd_driver_test, a_containerd_that_is_not_there_fails_calls_clearly) {
  test::temp_dir dir;
  auto socket = dir.path() + "/c.sock";
  auto d = make_driver(node_, socket);
  ASSERT_TRUE(d);
  EXPECT_FALSE(d->events_connected());
  auto health = d->health();
  ASSERT_TRUE(health);
  EXPECT_NE(message(health).find("cannot reach containerd at " + socket), std::string::npos)
      << message(health);
  EXPECT_NE(message(health).find("is containerd running?"), std::string::npos);
  auto created = d->create(spec("x-0", {"/bin/true"}));
  ASSERT_FALSE(created);
  EXPECT_EQ(code_of(created.error()), error_code::driver_failure);
  EXPECT_NE(message(created.error()).find("cannot reach containerd at " + socket),
            std::string::npos)
      << message(created.error());
  for (auto err : {d->start("x-0").error(), d->inspect("x-0").error(), d->list_owned(node_).error(),
                   d->logs("x-0", 10).error(), d->stop("x-0", span(1s))})
    EXPECT_NE(message(err).find("cannot reach containerd at " + socket), std::string::npos)
        << message(err);
}

TEST_F(containerd_driver_test, recovers_when_containerd_comes_back) {
  exit_recorder exits;
  auto info = run(spec("survivor-0", {"/bin/sleep", "300"}));
  ASSERT_FALSE(driver_->watch("survivor-0", exits.callback()));
  auto gone = run(spec("ended-0", {"/bin/sleep", "300"}));
  ASSERT_FALSE(driver_->watch("ended-0", exits.callback()));
  ASSERT_TRUE(containerd_->stop_containerd());
  ASSERT_TRUE(eventually([&] { return !driver_->events_connected(); }));
  EXPECT_TRUE(driver_->health());
  // Tasks outlive containerd; one ends while it is away.
  EXPECT_EQ(::kill(static_cast<pid_t>(info.pid), 0), 0);
  ASSERT_EQ(::kill(static_cast<pid_t>(gone.pid), SIGKILL), 0);

  std::string why;
  ASSERT_TRUE(containerd_->start_containerd(why)) << why;
  ASSERT_TRUE(eventually([&] { return driver_->events_connected(); }));
  EXPECT_FALSE(driver_->health());
  EXPECT_EQ(exits.wait_code("ended-0"), 137)
      << "the exit during the outage, found on resubscribing";
  EXPECT_EQ(exits.count("survivor-0"), 0u);
  auto still = driver_->inspect("survivor-0");
  ASSERT_TRUE(still) << message(still.error());
  EXPECT_EQ(still->pid, info.pid);
  ASSERT_TRUE(kill_task(info));
  EXPECT_EQ(exits.wait_code("survivor-0"), 137);
}

} // namespace
} // namespace tutti::runtime_drivers
