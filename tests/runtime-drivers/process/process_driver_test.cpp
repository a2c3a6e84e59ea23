#include "runtime-drivers/process/process_driver.hpp"

#include "tests/runtime-drivers/test_support.hpp"
#include "tests/support/wait.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <array>
#include <fstream>
#include <iterator>
#include <sstream>

namespace tutti::runtime_drivers {
namespace {

using namespace test;
using protocol::code_of;
using protocol::error_code;

std::vector<std::string> sleeper() {
  return {busybox, "sleep", "100"};
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> result;
  std::istringstream in{text};
  for (std::string line; std::getline(in, line);)
    result.push_back(line);
  return result;
}

class process_driver_test : public ::testing::Test {
protected:
  void SetUp() override { driver_ = make(); }

  std::unique_ptr<process_driver> make() {
    auto result = process_driver::make(dir_.path() + "/process");
    EXPECT_TRUE(result) << message(result.error());
    return result ? std::move(*result) : nullptr;
  }

  /// create + start; every started process group is killed when the test ends.
  caf::expected<container_info> run(process_driver& d, const std::string& name,
                                    std::vector<std::string> command,
                                    const std::string& node = "node-a") {
    auto created = d.create(make_spec(name, std::move(command), node));
    if (!created)
      return created;
    auto started = d.start(name);
    if (started)
      guard_.add(started->pid);
    return started;
  }

  caf::expected<container_info> run(const std::string& name, std::vector<std::string> command) {
    return run(*driver_, name, std::move(command));
  }

  std::string logs(const std::string& name) {
    auto text = driver_->logs(name, 1 << 20);
    EXPECT_TRUE(text) << message(text.error());
    return text ? *text : std::string{};
  }

  // Declaration order is destruction order reversed: the driver (and its reaper
  // thread) goes first, then the recorder it calls, then the processes, then
  // the directory.
  temp_dir dir_;
  process_guard guard_;
  exit_recorder exits_;
  std::unique_ptr<process_driver> driver_;
};

TEST_F(process_driver_test, create_records_a_container_once) {
  auto info = driver_->create(make_spec("web-0", sleeper()));
  ASSERT_TRUE(info) << message(info.error());
  EXPECT_EQ(info->state, container_state::created);
  EXPECT_EQ(info->pid, 0);
  EXPECT_TRUE(std::filesystem::exists(driver_->state_dir() + "/web-0.json"));
  auto again = driver_->create(make_spec("web-0", sleeper()));
  ASSERT_FALSE(again);
  EXPECT_EQ(code_of(again.error()), error_code::already_exists);
  auto inspected = driver_->inspect("web-0");
  ASSERT_TRUE(inspected) << message(inspected.error());
  EXPECT_EQ(inspected->state, container_state::created);
  EXPECT_EQ(inspected->labels.at(label::node), "node-a");
}

TEST_F(process_driver_test, refuses_unsafe_names_and_unknown_containers) {
  for (std::string name : {"", "Web", "../x", ".hidden", "a/b", "_web"}) {
    auto info = driver_->create(make_spec(name, sleeper()));
    ASSERT_FALSE(info) << name;
    EXPECT_EQ(code_of(info.error()), error_code::invalid_argument) << name;
  }
  EXPECT_EQ(code_of(driver_->inspect("../process").error()), error_code::invalid_argument);
  EXPECT_EQ(code_of(driver_->inspect("nope").error()), error_code::not_found);
  EXPECT_EQ(code_of(driver_->start("nope").error()), error_code::not_found);
  EXPECT_EQ(code_of(driver_->stop("nope", 1s)), error_code::not_found);
  EXPECT_EQ(code_of(driver_->remove("nope", true)), error_code::not_found);
  auto empty = driver_->create(make_spec("empty", {}));
  ASSERT_FALSE(empty);
  EXPECT_EQ(code_of(empty.error()), error_code::invalid_argument);
}

TEST_F(process_driver_test, start_runs_the_command_in_its_own_process_group) {
  auto info = run("web-0", sleeper());
  ASSERT_TRUE(info) << message(info.error());
  EXPECT_EQ(info->state, container_state::running);
  ASSERT_GT(info->pid, 0);
  EXPECT_EQ(info->runtime_id, std::to_string(info->pid));
  EXPECT_GT(info->started_at_ms, 0);
  EXPECT_EQ(::getpgid(static_cast<pid_t>(info->pid)), info->pid);
  auto inspected = driver_->inspect("web-0");
  ASSERT_TRUE(inspected) << message(inspected.error());
  EXPECT_EQ(inspected->state, container_state::running);
  EXPECT_EQ(inspected->pid, info->pid);
  auto again = driver_->start("web-0");
  ASSERT_TRUE(again) << message(again.error());
  EXPECT_EQ(again->pid, info->pid) << "start of a running container is idempotent";
}

TEST_F(process_driver_test, environment_is_exactly_the_spec_plus_path_and_the_state_marker) {
  auto spec = make_spec("env", {busybox, "env"});
  spec.env = {{"GREETING", "hello"}};
  ASSERT_TRUE(driver_->create(spec));
  auto info = driver_->start("env");
  ASSERT_TRUE(info) << message(info.error());
  guard_.add(info->pid);
  ASSERT_FALSE(driver_->watch("env", exits_.callback()));
  ASSERT_EQ(exits_.wait_code("env"), 0);
  auto vars = lines_of(logs("env"));
  std::sort(vars.begin(), vars.end());
  ASSERT_EQ(vars.size(), 3u) << logs("env");
  EXPECT_EQ(vars[0], "GREETING=hello");
  EXPECT_EQ(vars[1].rfind("PATH=", 0), 0u);
  EXPECT_EQ(vars[2], "TUTTI_PROCESS_STATE=" + driver_->state_dir());
  EXPECT_EQ(driver_->inspect("env")->env, spec.env);
}

TEST_F(process_driver_test, command_is_looked_up_in_the_container_path) {
  auto spec = make_spec("path", {"busybox", "env"});
  spec.env = {{"PATH", "/nonexistent:/bin"}};
  ASSERT_TRUE(driver_->create(spec));
  auto info = driver_->start("path");
  ASSERT_TRUE(info) << message(info.error());
  guard_.add(info->pid);
  ASSERT_FALSE(driver_->watch("path", exits_.callback()));
  ASSERT_EQ(exits_.wait_code("path"), 0);
  EXPECT_EQ(logs("path"),
            "PATH=/nonexistent:/bin\nTUTTI_PROCESS_STATE=" + driver_->state_dir() + "\n");
}

TEST_F(process_driver_test, exit_code_is_reported_once_on_the_driver_thread) {
  auto info = run("short", shell("echo hi; exit 3"));
  ASSERT_TRUE(info) << message(info.error());
  ASSERT_FALSE(driver_->watch("short", exits_.callback()));
  auto exit = exits_.wait_for("short");
  ASSERT_TRUE(exit);
  EXPECT_EQ(exit->exit_code, 3);
  EXPECT_NE(exit->thread, std::this_thread::get_id());
  auto inspected = driver_->inspect("short");
  ASSERT_TRUE(inspected) << message(inspected.error());
  EXPECT_EQ(inspected->state, container_state::exited);
  EXPECT_EQ(inspected->exit_code, 3);
  EXPECT_EQ(inspected->pid, 0);
  driver_.reset(); // joins the reaper thread: every callback has run
  EXPECT_EQ(exits_.count("short"), 1u);
}

TEST_F(process_driver_test, watch_after_exit_reports_the_recorded_code) {
  auto info = run("early", shell("exit 5"));
  ASSERT_TRUE(info) << message(info.error());
  // The reaper records the exit without any watcher; inspect shows it.
  ASSERT_TRUE(eventually([&] {
    auto x = driver_->inspect("early");
    return x && x->state == container_state::exited;
  }));
  EXPECT_EQ(driver_->inspect("early")->exit_code, 5);
  ASSERT_FALSE(driver_->watch("early", exits_.callback()));
  auto exit = exits_.wait_for("early");
  ASSERT_TRUE(exit);
  EXPECT_EQ(exit->exit_code, 5);
  EXPECT_NE(exit->thread, std::this_thread::get_id()) << "never inline";
}

TEST_F(process_driver_test, watch_needs_a_started_container) {
  ASSERT_TRUE(driver_->create(make_spec("idle", sleeper())));
  EXPECT_EQ(code_of(driver_->watch("idle", exits_.callback())), error_code::invalid_argument);
}

TEST_F(process_driver_test, kill_by_signal_reports_128_plus_signal) {
  auto info = run("victim", sleeper());
  ASSERT_TRUE(info) << message(info.error());
  ASSERT_FALSE(driver_->watch("victim", exits_.callback()));
  ASSERT_EQ(::kill(static_cast<pid_t>(info->pid), SIGKILL), 0);
  EXPECT_EQ(exits_.wait_code("victim"), 137);
}

TEST_F(process_driver_test, logs_capture_stdout_and_stderr_in_order) {
  auto info = run("talker", shell("echo out; echo err >&2"));
  ASSERT_TRUE(info) << message(info.error());
  ASSERT_FALSE(driver_->watch("talker", exits_.callback()));
  ASSERT_EQ(exits_.wait_code("talker"), 0);
  EXPECT_EQ(logs("talker"), "out\nerr\n");
  auto tail = driver_->logs("talker", 4);
  ASSERT_TRUE(tail) << message(tail.error());
  EXPECT_EQ(*tail, "err\n");
  EXPECT_TRUE(std::filesystem::exists(driver_->log_path("talker")));
}

TEST_F(process_driver_test, stop_terminates_politely) {
  auto info = run("polite", sleeper());
  ASSERT_TRUE(info) << message(info.error());
  ASSERT_FALSE(driver_->watch("polite", exits_.callback()));
  ASSERT_FALSE(driver_->stop("polite", 10s));
  EXPECT_EQ(exits_.wait_code("polite"), 143);
}

TEST_F(process_driver_test, stop_kills_after_the_grace_when_sigterm_is_ignored) {
  auto info = run("stubborn", shell("trap '' TERM; echo ready; sleep 100"));
  ASSERT_TRUE(info) << message(info.error());
  // The trap must be in place before the signal, or SIGTERM alone ends it.
  ASSERT_TRUE(eventually([&] { return logs("stubborn") == "ready\n"; }));
  ASSERT_FALSE(driver_->watch("stubborn", exits_.callback()));
  auto grace = 300ms;
  auto before = std::chrono::steady_clock::now();
  ASSERT_FALSE(driver_->stop("stubborn", grace));
  EXPECT_LT(std::chrono::steady_clock::now() - before, grace) << "stop must not wait";
  ASSERT_EQ(exits_.wait_code("stubborn"), 137);
  EXPECT_GE(std::chrono::steady_clock::now() - before, grace);
}

TEST_F(process_driver_test, stop_of_a_container_that_is_not_running_succeeds) {
  ASSERT_TRUE(driver_->create(make_spec("idle", sleeper())));
  EXPECT_FALSE(driver_->stop("idle", 1s));
}

TEST_F(process_driver_test, exit_of_the_main_process_kills_the_rest_of_its_group) {
  auto info = run("parent", shell("sleep 100 & echo $!; exit 0"));
  ASSERT_TRUE(info) << message(info.error());
  ASSERT_FALSE(driver_->watch("parent", exits_.callback()));
  ASSERT_EQ(exits_.wait_code("parent"), 0);
  auto lines = lines_of(logs("parent"));
  ASSERT_EQ(lines.size(), 1u);
  auto background = std::stoll(lines[0]);
  EXPECT_TRUE(eventually([&] { return process_gone(background); }));
}

TEST_F(process_driver_test, restart_after_exit_appends_to_the_same_log) {
  auto first = run("again", shell("echo run"));
  ASSERT_TRUE(first) << message(first.error());
  ASSERT_FALSE(driver_->watch("again", exits_.callback()));
  ASSERT_EQ(exits_.wait_code("again", 1), 0);
  auto second = driver_->start("again");
  ASSERT_TRUE(second) << message(second.error());
  guard_.add(second->pid);
  EXPECT_EQ(second->state, container_state::running);
  EXPECT_NE(second->pid, first->pid);
  ASSERT_FALSE(driver_->watch("again", exits_.callback()));
  ASSERT_EQ(exits_.wait_code("again", 2), 0);
  EXPECT_EQ(logs("again"), "run\nrun\n");
}

TEST_F(process_driver_test, start_fails_cleanly_for_a_missing_binary) {
  ASSERT_TRUE(driver_->create(make_spec("missing", {"/nonexistent/tutti-missing", "x"})));
  auto info = driver_->start("missing");
  ASSERT_FALSE(info);
  EXPECT_EQ(code_of(info.error()), error_code::driver_failure);
  EXPECT_EQ(protocol::message_of(info.error()),
            "cannot start missing: /nonexistent/tutti-missing x: No such file or directory");
  EXPECT_EQ(driver_->inspect("missing")->state, container_state::created);

  ASSERT_TRUE(driver_->create(make_spec("unknown", {"tutti-no-such-program"})));
  auto looked_up = driver_->start("unknown");
  ASSERT_FALSE(looked_up);
  EXPECT_EQ(code_of(looked_up.error()), error_code::driver_failure);
}

TEST_F(process_driver_test, remove_needs_force_while_running_and_deletes_everything) {
  auto info = run("doomed", shell("echo bye; exec sleep 100"));
  ASSERT_TRUE(info) << message(info.error());
  ASSERT_TRUE(eventually([&] { return logs("doomed") == "bye\n"; }));
  ASSERT_FALSE(driver_->watch("doomed", exits_.callback()));
  EXPECT_EQ(code_of(driver_->remove("doomed", false)), error_code::invalid_argument);
  ASSERT_FALSE(driver_->remove("doomed", true));
  EXPECT_TRUE(process_gone(info->pid)) << "remove(force) waits for the kill";
  EXPECT_EQ(code_of(driver_->inspect("doomed").error()), error_code::not_found);
  EXPECT_FALSE(std::filesystem::exists(driver_->log_path("doomed")));
  EXPECT_FALSE(std::filesystem::exists(driver_->state_dir() + "/doomed.json"));
  driver_.reset(); // joins the reaper thread
  EXPECT_EQ(exits_.count("doomed"), 0u) << "remove cancels the watch";
}

TEST_F(process_driver_test, remove_of_an_exited_container_needs_no_force) {
  auto info = run("done", shell("exit 0"));
  ASSERT_TRUE(info) << message(info.error());
  ASSERT_FALSE(driver_->watch("done", exits_.callback()));
  ASSERT_EQ(exits_.wait_code("done"), 0);
  ASSERT_FALSE(driver_->remove("done", false));
  EXPECT_EQ(code_of(driver_->remove("done", false)), error_code::not_found);
  // The name is free again.
  EXPECT_TRUE(driver_->create(make_spec("done", sleeper())));
}

TEST_F(process_driver_test, stats_read_cpu_and_memory_from_proc) {
  auto info = run("busy", sleeper());
  ASSERT_TRUE(info) << message(info.error());
  auto stats = driver_->stats("busy");
  ASSERT_TRUE(stats) << message(stats.error());
  EXPECT_GT(stats->memory_bytes, 0);
  EXPECT_GE(stats->cpu_seconds, 0.0);
  ASSERT_TRUE(driver_->create(make_spec("idle", sleeper())));
  auto idle = driver_->stats("idle");
  ASSERT_TRUE(idle) << message(idle.error());
  EXPECT_EQ(idle->memory_bytes, 0);
}

TEST_F(process_driver_test, list_owned_selects_by_node_label) {
  ASSERT_TRUE(run(*driver_, "a-0", sleeper(), "node-a"));
  ASSERT_TRUE(driver_->create(make_spec("a-1", sleeper(), "node-a")));
  ASSERT_TRUE(run(*driver_, "b-0", sleeper(), "node-b"));
  auto owned = driver_->list_owned("node-a");
  ASSERT_TRUE(owned) << message(owned.error());
  ASSERT_EQ(owned->size(), 2u);
  std::sort(owned->begin(), owned->end(),
            [](const auto& x, const auto& y) { return x.name < y.name; });
  EXPECT_EQ((*owned)[0].name, "a-0");
  EXPECT_EQ((*owned)[0].state, container_state::running);
  EXPECT_EQ((*owned)[1].name, "a-1");
  EXPECT_EQ((*owned)[1].state, container_state::created);
  EXPECT_TRUE(driver_->list_owned("node-c")->empty());
}

TEST_F(process_driver_test, serves_http_until_stopped) {
  // A free port: bind port 0, read it back, release it for httpd.
  int probe = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(probe, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  ASSERT_EQ(::bind(probe, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  ASSERT_EQ(::getsockname(probe, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  ::close(probe);
  auto port = std::to_string(ntohs(addr.sin_port));
  auto www = dir_.path() + "/www";
  std::filesystem::create_directories(www);
  std::ofstream{www + "/index.html"} << "hello\n";
  auto info = run("httpd", {busybox, "httpd", "-f", "-p", "127.0.0.1:" + port, "-h", www});
  ASSERT_TRUE(info) << message(info.error());
  ASSERT_FALSE(driver_->watch("httpd", exits_.callback()));
  auto listening = eventually([&] {
    int s = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    bool ok = ::connect(s, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
    ::close(s);
    return ok;
  });
  ASSERT_TRUE(listening) << logs("httpd");
  ASSERT_FALSE(driver_->stop("httpd", 5s));
  EXPECT_EQ(exits_.wait_code("httpd"), 143);
}

TEST_F(process_driver_test, a_new_driver_kills_a_process_whose_record_was_never_written) {
  // What a daemon killed between spawning a replica and recording it leaves: a
  // process with the driver's marker and no record.
  auto marker = "TUTTI_PROCESS_STATE=" + driver_->state_dir();
  driver_.reset(); // no reaper thread while forking
  pid_t orphan = ::fork();
  ASSERT_GE(orphan, 0);
  if (orphan == 0) {
    ::setpgid(0, 0);
    std::string program = busybox, verb = "sleep", seconds = "300";
    char* argv[] = {program.data(), verb.data(), seconds.data(), nullptr};
    char* envp[] = {marker.data(), nullptr};
    ::execve(program.c_str(), argv, envp);
    ::_exit(127);
  }
  guard_.add(orphan);
  // The marker must be in place before the new driver looks.
  ASSERT_TRUE(tests::support::wait_until([&] {
    std::ifstream in{"/proc/" + std::to_string(orphan) + "/environ"};
    std::string env{std::istreambuf_iterator<char>{in}, {}};
    return env.find(marker) != std::string::npos;
  }, std::chrono::seconds{5}));
  driver_ = make();
  int status = 0;
  ASSERT_TRUE(tests::support::wait_until(
      [&] { return ::waitpid(orphan, &status, WNOHANG) == orphan; }, std::chrono::seconds{5}))
      << "the unrecorded process still runs";
  EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
}

TEST_F(process_driver_test, a_new_driver_adopts_processes_of_a_killed_daemon) {
  // The first driver lives in a child process that dies by SIGKILL, like a
  // crashed daemon, so its containers are not our children.
  int pipe_fds[2];
  ASSERT_EQ(::pipe2(pipe_fds, O_CLOEXEC), 0);
  auto state_dir = driver_->state_dir();
  driver_.reset(); // no reaper thread while forking
  pid_t daemon = ::fork();
  ASSERT_GE(daemon, 0);
  if (daemon == 0) {
    ::close(pipe_fds[0]);
    std::array<int64_t, 3> pids{};
    if (auto d = process_driver::make(state_dir)) {
      for (size_t i = 0; i < pids.size(); ++i) {
        auto name = "adopt-" + std::to_string(i);
        if ((*d)->create(make_spec(name, sleeper())))
          if (auto info = (*d)->start(name))
            pids[i] = info->pid;
      }
    }
    [[maybe_unused]] auto n = ::write(pipe_fds[1], pids.data(), sizeof(pids));
    ::raise(SIGKILL);
  }
  ::close(pipe_fds[1]);
  std::array<int64_t, 3> pids{};
  auto n = ::read(pipe_fds[0], pids.data(), sizeof(pids));
  ::close(pipe_fds[0]);
  for (auto pid : pids)
    guard_.add(pid);
  int status = 0;
  ASSERT_EQ(::waitpid(daemon, &status, 0), daemon);
  ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
  ASSERT_EQ(n, static_cast<ssize_t>(sizeof(pids)));
  for (auto pid : pids)
    ASSERT_GT(pid, 0) << "the first daemon failed to start its containers";

  driver_ = make();
  ASSERT_TRUE(driver_);
  auto owned = driver_->list_owned("node-a");
  ASSERT_TRUE(owned) << message(owned.error());
  ASSERT_EQ(owned->size(), 3u);
  for (const auto& info : *owned) {
    auto i = static_cast<size_t>(info.name.back() - '0');
    EXPECT_EQ(info.state, container_state::running) << info.name;
    EXPECT_EQ(info.pid, pids.at(i)) << info.name;
  }
  // Exit noticed through the pidfd; the code is unknowable for a non-child.
  ASSERT_FALSE(driver_->watch("adopt-0", exits_.callback()));
  ASSERT_EQ(::kill(static_cast<pid_t>(pids[0]), SIGKILL), 0);
  EXPECT_EQ(exits_.wait_code("adopt-0"), -1);
  auto exited = driver_->inspect("adopt-0");
  ASSERT_TRUE(exited) << message(exited.error());
  EXPECT_EQ(exited->state, container_state::exited);
  EXPECT_EQ(exited->exit_code, -1);
  // Stop and remove work on adopted processes.
  ASSERT_FALSE(driver_->watch("adopt-1", exits_.callback()));
  ASSERT_FALSE(driver_->stop("adopt-1", 5s));
  EXPECT_EQ(exits_.wait_code("adopt-1"), -1);
  ASSERT_FALSE(driver_->remove("adopt-2", true));
  EXPECT_TRUE(process_gone(pids[2]));
  EXPECT_EQ(code_of(driver_->inspect("adopt-2").error()), error_code::not_found);
}

TEST_F(process_driver_test, a_new_driver_in_the_same_process_keeps_exit_codes) {
  auto info = run("kept", sleeper());
  ASSERT_TRUE(info) << message(info.error());
  driver_.reset(); // the process survives the driver
  EXPECT_FALSE(process_gone(info->pid));
  driver_ = make();
  ASSERT_TRUE(driver_);
  auto adopted = driver_->inspect("kept");
  ASSERT_TRUE(adopted) << message(adopted.error());
  EXPECT_EQ(adopted->state, container_state::running);
  EXPECT_EQ(adopted->pid, info->pid);
  ASSERT_FALSE(driver_->watch("kept", exits_.callback()));
  ASSERT_EQ(::kill(static_cast<pid_t>(info->pid), SIGKILL), 0);
  // Still our child, so the new driver can reap it and knows the code.
  EXPECT_EQ(exits_.wait_code("kept"), 137);
}

TEST_F(process_driver_test, a_reused_pid_is_not_mistaken_for_the_container) {
  ASSERT_TRUE(driver_->create(make_spec("ghost", sleeper())));
  // Forge a record claiming that this test process is the container, with a
  // start time that is not ours: what a reused pid looks like.
  auto path = driver_->state_dir() + "/ghost.json";
  nlohmann::json record;
  std::ifstream{path} >> record;
  record["state"] = "running";
  record["pid"] = ::getpid();
  record["start_ticks"] = 1;
  std::ofstream{path} << record.dump();

  auto inspected = driver_->inspect("ghost");
  ASSERT_TRUE(inspected) << message(inspected.error());
  EXPECT_EQ(inspected->state, container_state::exited);
  EXPECT_EQ(inspected->pid, 0);
  EXPECT_EQ(inspected->exit_code, -1);
  EXPECT_FALSE(driver_->stop("ghost", 0s)) << "and it must not signal us";
  ASSERT_FALSE(driver_->watch("ghost", exits_.callback()));
  EXPECT_EQ(exits_.wait_code("ghost"), -1);

  driver_ = make(); // adoption sees the same
  ASSERT_TRUE(driver_);
  auto owned = driver_->list_owned("node-a");
  ASSERT_TRUE(owned) << message(owned.error());
  ASSERT_EQ(owned->size(), 1u);
  EXPECT_EQ((*owned)[0].state, container_state::exited);
  EXPECT_FALSE(driver_->remove("ghost", false));
}

TEST_F(process_driver_test, make_fails_for_an_unusable_state_dir) {
  auto file = dir_.path() + "/file";
  std::ofstream{file} << "x";
  auto result = process_driver::make(file + "/process");
  ASSERT_FALSE(result);
  EXPECT_EQ(code_of(result.error()), error_code::driver_failure);
}

TEST_F(process_driver_test, make_reports_a_corrupt_metadata_file) {
  std::ofstream{driver_->state_dir() + "/broken.json"} << "{not json";
  auto result = process_driver::make(driver_->state_dir());
  ASSERT_FALSE(result);
  EXPECT_EQ(code_of(result.error()), error_code::driver_failure);
  EXPECT_NE(protocol::message_of(result.error()).find("broken.json"), std::string::npos);
}

} // namespace
} // namespace tutti::runtime_drivers
