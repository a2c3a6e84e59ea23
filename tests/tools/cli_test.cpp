// The `tutti` binary as a user runs it: argument parsing, exit codes, and Ctrl-C
// during events --follow (which needs a single-threaded process of its own, so it
// cannot run inside the test process). The fake tuttid runs in the test process.

#include "fake_tuttid.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <chrono>
#include <csignal>
#include <fcntl.h>
#include <functional>
#include <optional>
#include <poll.h>
#include <spawn.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

extern char** environ;

namespace {

using namespace std::chrono_literals;
using clock_type = std::chrono::steady_clock;
using tutti::testing::fake_state;
using tutti::testing::fake_tuttid;

/// A running `tutti` with its stdout and stderr captured. The destructor kills it
/// if a failed test left it running.
class tutti_process {
public:
  explicit tutti_process(std::vector<std::string> args, std::vector<std::string> env = {}) {
    int out[2];
    int err[2];
    if (::pipe2(out, O_CLOEXEC) != 0 || ::pipe2(err, O_CLOEXEC) != 0)
      throw std::runtime_error("pipe2 failed");
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&actions, out[1], 1);
    posix_spawn_file_actions_adddup2(&actions, err[1], 2);
    args.insert(args.begin(), TUTTI_BINARY);
    std::vector<char*> argv;
    for (auto& a : args)
      argv.push_back(a.data());
    argv.push_back(nullptr);
    for (char** e = environ; *e != nullptr; ++e)
      env.emplace_back(*e); // later entries lose: getenv takes the first
    std::vector<char*> envp;
    for (auto& e : env)
      envp.push_back(e.data());
    envp.push_back(nullptr);
    int rc = ::posix_spawn(&pid_, TUTTI_BINARY, &actions, nullptr, argv.data(), envp.data());
    posix_spawn_file_actions_destroy(&actions);
    ::close(out[1]);
    ::close(err[1]);
    out_fd_ = out[0];
    err_fd_ = err[0];
    if (rc != 0)
      throw std::runtime_error("posix_spawn " TUTTI_BINARY " failed");
    // glibc 2.36's <sys/pidfd.h> lacks extern "C", so call the kernel directly.
    pidfd_ = static_cast<int>(::syscall(SYS_pidfd_open, pid_, 0));
    if (pidfd_ < 0)
      throw std::runtime_error("pidfd_open failed");
  }

  ~tutti_process() {
    if (!exit_code_) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
    for (int fd : {out_fd_, err_fd_, pidfd_})
      ::close(fd);
  }

  /// Reads output until `ready(stdout)` holds; false at the deadline or exit.
  bool wait_for_output(const std::function<bool(const std::string&)>& ready,
                       std::chrono::milliseconds limit = 20s) {
    auto deadline = clock_type::now() + limit;
    while (!ready(out_)) {
      if (exit_code_ || !pump(deadline))
        return ready(out_);
    }
    return true;
  }

  /// The exit code (128 + signal when killed), or nullopt at the deadline.
  std::optional<int> wait_exit(std::chrono::milliseconds limit = 20s) {
    auto deadline = clock_type::now() + limit;
    while (!exit_code_ && pump(deadline)) {
    }
    return exit_code_;
  }

  void signal(int sig) { ::kill(pid_, sig); }
  const std::string& out() const { return out_; }
  const std::string& err() const { return err_; }

private:
  // One poll round: reads what is there, notices the exit. False at the deadline.
  bool pump(clock_type::time_point deadline) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - clock_type::now());
    if (left <= 0ms)
      return false;
    pollfd fds[] = {{out_fd_, POLLIN, 0}, {err_fd_, POLLIN, 0}, {pidfd_, POLLIN, 0}};
    if (::poll(fds, 3, static_cast<int>(left.count())) <= 0)
      return clock_type::now() < deadline;
    read_from(fds[0], out_fd_, out_);
    read_from(fds[1], err_fd_, err_);
    if ((fds[2].revents & POLLIN) != 0) {
      drain(out_fd_, out_); // the pipes may still hold the last lines
      drain(err_fd_, err_);
      int status = 0;
      ::waitpid(pid_, &status, 0);
      exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    }
    return true;
  }

  static void read_from(const pollfd& p, int fd, std::string& into) {
    if ((p.revents & (POLLIN | POLLHUP)) == 0)
      return;
    char buf[4096];
    auto n = ::read(fd, buf, sizeof buf);
    if (n > 0)
      into.append(buf, static_cast<size_t>(n));
  }

  static void drain(int fd, std::string& into) {
    ::fcntl(fd, F_SETFL, O_NONBLOCK);
    char buf[4096];
    for (ssize_t n; (n = ::read(fd, buf, sizeof buf)) > 0;)
      into.append(buf, static_cast<size_t>(n));
  }

  pid_t pid_ = -1;
  int out_fd_ = -1;
  int err_fd_ = -1;
  int pidfd_ = -1;
  std::string out_;
  std::string err_;
  std::optional<int> exit_code_;
};

tutti::protocol::event make_event(uint64_t seq) {
  return {seq,   1'700'000'000'000, "replica_started",
          "web", "web-0",           "started pid " + std::to_string(seq)};
}

class CliTest : public ::testing::Test {
protected:
  CliTest() {
    state_->services = {{"web", 3, 2, 2, tutti::protocol::driver_kind::process, 1, 1000}};
    state_->events = {make_event(1), make_event(2)};
    state_->follow_events = {make_event(3), make_event(4)};
    state_->follow_hangs = true;
    server_ = std::make_unique<fake_tuttid>(state_);
  }

  /// The fake's only node, set under its mutex: its server thread reads it.
  void one_node(const std::string& name, int32_t replicas = 0) {
    std::lock_guard lock{state_->mutex};
    state_->nodes = {tutti::protocol::node_status{}};
    state_->nodes[0].name = name;
    state_->nodes[0].replicas = replicas;
  }

  std::shared_ptr<fake_state> state_ = std::make_shared<fake_state>();
  std::unique_ptr<fake_tuttid> server_;
};

bool has_pid_4(const std::string& out) {
  return out.find("started pid 4") != std::string::npos;
}

TEST_F(CliTest, CtrlCEndsEventsFollowWithExitZero) {
  tutti_process p{{"events", "--follow", "--api", server_->api()}};
  ASSERT_TRUE(p.wait_for_output(has_pid_4)) << p.out() << p.err();
  p.signal(SIGINT);
  EXPECT_EQ(p.wait_exit(), 0) << p.err();
  EXPECT_NE(p.out().find("started pid 1"), std::string::npos) << p.out();
}

TEST_F(CliTest, EventsFollowExitsOneWhenTuttidGoesAway) {
  tutti_process p{{"events", "-f", "-o", "json"}, {"TUTTI_API=" + server_->api()}};
  ASSERT_TRUE(p.wait_for_output(has_pid_4)) << p.out() << p.err();
  server_->stop();
  EXPECT_EQ(p.wait_exit(), 1);
  EXPECT_NE(p.err().find("error: connection to tuttid lost"), std::string::npos) << p.err();
  EXPECT_EQ(nlohmann::json::parse(p.out().substr(0, p.out().find('\n')))["seq"], 1);
}

TEST_F(CliTest, ExitCodes) {
  auto closed = "127.0.0.1:" + std::to_string(tutti::testing::closed_port());
  struct expectation {
    std::vector<std::string> args;
    int code;
    std::string in_stderr;
  };
  std::vector<expectation> cases = {
      {{}, 2, "A subcommand is required"},
      {{"--help"}, 0, ""},
      {{"frobnicate"}, 2, ""},
      {{"scale", "web"}, 2, "expected NAME=REPLICAS, got 'web'"},
      {{"get", "services", "-o", "xml"}, 2, "xml not in {table,json,yaml}"},
      {{"--api", "nowhere", "get", "services"}, 2, "expected HOST:PORT"},
      {{"apply", "-f", "/does/not/exist.yaml"}, 2, "File does not exist"},
      {{"get", "services", "--api", closed},
       3,
       "cannot reach tuttid at " + closed + ": connection refused; is `tuttid dev` running?"},
      {{"describe", "service", "nope", "--api", server_->api()},
       1,
       "error: service 'nope' not found (not_found)"},
      {{"get", "svc", "--api", server_->api()}, 0, ""},
  };
  for (const auto& c : cases) {
    tutti_process p{c.args};
    EXPECT_EQ(p.wait_exit(), c.code) << testing::PrintToString(c.args) << p.err();
    EXPECT_NE(p.err().find(c.in_stderr), std::string::npos)
        << testing::PrintToString(c.args) << p.err();
  }
}

TEST_F(CliTest, NodeCommandsCheckTheirArguments) {
  struct expectation {
    std::vector<std::string> args;
    int code;
    std::string in_output; // stdout for --help, else stderr
  };
  std::vector<expectation> cases = {
      {{"node"}, 2, "A subcommand is required"},
      {{"node", "drain"}, 2, "NAME is required"},
      {{"node", "cordon", "a", "b"}, 2, "not expected: b"},
      {{"node", "drain", "n1", "--timeout", "0"}, 2, ""},
      {{"node", "frobnicate", "n1"}, 2, ""},
      {{"node", "--help"}, 0, "uncordon"},
      {{"node", "drain", "--help"}, 0, "--no-wait"},
      {{"--help"}, 0, "node"},
  };
  for (const auto& c : cases) {
    tutti_process p{c.args};
    EXPECT_EQ(p.wait_exit(), c.code) << testing::PrintToString(c.args) << p.err();
    const auto& where = c.code == 0 ? p.out() : p.err();
    EXPECT_NE(where.find(c.in_output), std::string::npos)
        << testing::PrintToString(c.args) << p.out() << p.err();
  }
  std::lock_guard lock{state_->mutex};
  EXPECT_TRUE(state_->node_states.empty()) << "nothing is sent when the arguments are wrong";
}

TEST_F(CliTest, CordonAndUncordonSetTheNodesState) {
  one_node("n1");
  for (auto [cmd, state] : std::vector<std::pair<std::string, std::string>>{
           {"cordon", "cordoned"}, {"uncordon", "ready"}}) {
    tutti_process p{{"node", cmd, "n1", "--api", server_->api()}};
    ASSERT_EQ(p.wait_exit(), 0) << p.err();
    EXPECT_NE(p.out().find("node/n1 " + cmd + "ed"), std::string::npos) << p.out();
    std::lock_guard lock{state_->mutex};
    EXPECT_EQ(state_->node_states.back(), std::make_pair(std::string{"n1"}, state));
  }
}

TEST_F(CliTest, AnUnknownNodeIsNamedWithTheKnownOnes) {
  one_node("n1");
  tutti_process p{{"node", "drain", "n9", "--api", server_->api()}};
  EXPECT_EQ(p.wait_exit(), 1);
  EXPECT_NE(p.err().find("node n9 not found; known nodes: n1"), std::string::npos) << p.err();
}

TEST_F(CliTest, DrainWaitsUntilTheNodeIsEmptyShowingTheReplicasLeft) {
  one_node("n1", 3);
  tutti_process p{{"node", "drain", "n1", "--api", server_->api()}};
  ASSERT_EQ(p.wait_exit(), 0) << p.err();
  for (auto line : {"node/n1 cordoned and draining (3 replicas on it)", "node/n1: 2 replicas left",
                    "node/n1: 1 replica left", "node/n1: 0 replicas left", "node/n1 drained"})
    EXPECT_NE(p.out().find(line), std::string::npos) << line << "\n" << p.out();
  std::lock_guard lock{state_->mutex};
  EXPECT_EQ(state_->node_states.back(), std::make_pair(std::string{"n1"}, std::string{"draining"}));
}

TEST_F(CliTest, DrainExitsOneOnTimeoutAndReturnsAtOnceWithNoWait) {
  one_node("stuck", 2);
  tutti_process p{{"node", "drain", "stuck", "--timeout", "0.5", "--api", server_->api()}};
  EXPECT_EQ(p.wait_exit(), 1);
  EXPECT_NE(p.err().find("timed out after 0.5 s: 2 replicas left on node stuck"), std::string::npos)
      << p.err();
  tutti_process q{{"node", "drain", "stuck", "--no-wait", "--api", server_->api()}};
  EXPECT_EQ(q.wait_exit(), 0) << q.err();
  EXPECT_EQ(q.out().find("left"), std::string::npos) << q.out();
}

TEST_F(CliTest, GlobalOptionsWorkBeforeAndAfterTheCommand) {
  for (auto args : std::vector<std::vector<std::string>>{
           {"--api", server_->api(), "get", "-o", "json", "services"},
           {"get", "services", "-o", "json", "--api", server_->api(), "--timeout", "5"}}) {
    tutti_process p{args};
    ASSERT_EQ(p.wait_exit(), 0) << p.err();
    EXPECT_EQ(nlohmann::json::parse(p.out())[0]["name"], "web") << p.out();
  }
}

} // namespace

namespace {

/// What `tutti __complete WORDS...` answers, one candidate per line.
std::string candidates(std::vector<std::string> words) {
  words.insert(words.begin(), "__complete");
  tutti_process p{words};
  EXPECT_EQ(p.wait_exit(), 0) << p.err();
  return p.out();
}

} // namespace

TEST(Completion, CompletesCommandsOptionsAndSkipsOptionValues) {
  EXPECT_NE(candidates({""}).find("apply\n"), std::string::npos);
  EXPECT_EQ(candidates({"vol"}), "volume\n");
  EXPECT_EQ(candidates({"volume", ""}), "ls\nrm\n");
  EXPECT_EQ(candidates({"--api", "127.0.0.1:1", "node", "dr"}), "drain\n");
  EXPECT_EQ(candidates({"apply", "--dr"}), "--dry-run\n");
  // The global options complete after the command too.
  EXPECT_NE(candidates({"get", "services", "--ap"}).find("--api\n"), std::string::npos);
  EXPECT_EQ(candidates({"frobnicate", ""}), "") << "an unknown word reaches no command";
}

TEST(Completion, TheBashScriptCompletesThroughTutti) {
  tutti_process script{{"completion", "bash"}};
  ASSERT_EQ(script.wait_exit(), 0) << script.err();
  char path[] = "/tmp/tutti-completion-XXXXXX";
  int fd = ::mkstemp(path);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::write(fd, script.out().data(), script.out().size()),
            static_cast<ssize_t>(script.out().size()));
  ::close(fd);
  std::string bin = TUTTI_BINARY;
  auto command = "PATH=" + bin.substr(0, bin.rfind('/')) + ":$PATH bash -c 'source " + path +
                 "; COMP_WORDS=(tutti volume \"\"); COMP_CWORD=2; _tutti; printf \"%s,\" "
                 "\"${COMPREPLY[@]}\"'";
  std::string out;
  if (auto* pipe = ::popen(command.c_str(), "r")) {
    char buf[256];
    while (auto n = std::fread(buf, 1, sizeof buf, pipe))
      out.append(buf, n);
    ::pclose(pipe);
  }
  ::unlink(path);
  EXPECT_EQ(out, "ls,rm,");
  for (const char* shell : {"zsh", "fish"}) {
    tutti_process other{{"completion", shell}};
    EXPECT_EQ(other.wait_exit(), 0);
    EXPECT_NE(other.out().find("tutti __complete"), std::string::npos) << shell;
  }
  tutti_process unknown{{"completion", "tcsh"}};
  EXPECT_EQ(unknown.wait_exit(), 2);
}
