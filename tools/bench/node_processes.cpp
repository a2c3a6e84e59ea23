#include "tools/bench/node_processes.hpp"

#include "tools/bench/bench_support.hpp"

#include "protocol/errors.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <thread>

extern char** environ;

namespace tutti::bench {

namespace {

namespace p = tutti::protocol;
using clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

caf::error failed(const std::string& what) {
  return p::make_error(p::error_code::unavailable, what);
}

/// Spawns `args` with its stdin and stdout on new pipes; our ends are close-on-
/// exec, so no other child holds them (a child sees EOF when we close ours).
caf::error spawn_piped(const std::vector<std::string>& args, pid_t& pid, int& in, int& out) {
  int to_child[2];
  int from_child[2];
  if (::pipe2(to_child, O_CLOEXEC) != 0)
    return failed(std::string{"pipe: "} + std::strerror(errno));
  if (::pipe2(from_child, O_CLOEXEC) != 0) {
    ::close(to_child[0]);
    ::close(to_child[1]);
    return failed(std::string{"pipe: "} + std::strerror(errno));
  }
  std::vector<std::string> copy = args;
  std::vector<char*> argv;
  for (auto& a : copy)
    argv.push_back(a.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, to_child[0], 0);
  posix_spawn_file_actions_adddup2(&actions, from_child[1], 1);
  int rc = ::posix_spawn(&pid, argv[0], &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  ::close(to_child[0]);
  ::close(from_child[1]);
  if (rc != 0) {
    ::close(to_child[1]);
    ::close(from_child[0]);
    return failed("cannot start " + args[0] + ": " + std::strerror(rc));
  }
  in = to_child[1];
  out = from_child[0];
  return caf::none;
}

} // namespace

caf::expected<std::unique_ptr<node_processes>>
node_processes::start(const node_processes_options& opts, time_point deadline) {
  // A child that died must not take us with it when we write to its stdin.
  ::signal(SIGPIPE, SIG_IGN);
  std::error_code ec;
  auto self = std::filesystem::read_symlink("/proc/self/exe", ec).string();
  if (ec)
    return failed("cannot find its own binary: " + ec.message());
  std::unique_ptr<node_processes> out{new node_processes};
  for (int32_t i = 0; i < opts.processes; ++i) {
    child c;
    c.first = static_cast<int32_t>(int64_t{i} * opts.nodes / opts.processes);
    c.count = static_cast<int32_t>(int64_t{i + 1} * opts.nodes / opts.processes) - c.first;
    std::vector<std::string> args{self,           "sim-nodes",
                                  "--join",       opts.gateway,
                                  "--join-token", opts.join_token,
                                  "--first",      std::to_string(c.first),
                                  "--count",      std::to_string(c.count),
                                  "--zones",      std::to_string(opts.zones)};
    if (opts.sharing)
      args.emplace_back("--sharing");
    if (auto err = spawn_piped(args, c.pid, c.in, c.out))
      return err; // out's destructor ends the children started so far
    out->children_.push_back(std::move(c));
  }
  if (auto err = out->expect_all("ready", deadline))
    return err;
  return out;
}

node_processes::~node_processes() {
  stop();
}

caf::error node_processes::send(child& c, const std::string& line) {
  auto text = line + "\n";
  if (::write(c.in, text.data(), text.size()) != static_cast<ssize_t>(text.size()))
    return failed("cannot write to child " + std::to_string(c.pid) + ": " + std::strerror(errno));
  return caf::none;
}

caf::error node_processes::expect_all(const std::string& line, time_point deadline) {
  std::vector<bool> seen(children_.size(), false);
  for (;;) {
    std::vector<pollfd> fds;
    std::vector<size_t> which;
    for (size_t i = 0; i < children_.size(); ++i)
      if (!seen[i]) {
        fds.push_back({children_[i].out, POLLIN, 0});
        which.push_back(i);
      }
    if (fds.empty())
      return caf::none;
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - clock::now());
    if (left <= 0ms)
      return failed(std::to_string(fds.size()) + " of the node processes did not say '" + line +
                    "' in time");
    if (::poll(fds.data(), fds.size(), static_cast<int>(std::min<int64_t>(left.count(), 1000))) < 0)
      continue; // EINTR
    for (size_t k = 0; k < fds.size(); ++k) {
      if (fds[k].revents == 0)
        continue;
      auto& c = children_[which[k]];
      char buf[4096];
      auto n = ::read(c.out, buf, sizeof(buf));
      if (n <= 0)
        return failed("node process " + std::to_string(c.pid) + " ended before saying '" + line +
                      "' (see its errors above)");
      c.buffered.append(buf, static_cast<size_t>(n));
      for (size_t nl; (nl = c.buffered.find('\n')) != std::string::npos;) {
        auto got = c.buffered.substr(0, nl);
        c.buffered.erase(0, nl + 1);
        if (got == line)
          seen[which[k]] = true;
      }
    }
  }
}

caf::error node_processes::spawn_nodes(time_point deadline) {
  for (auto& c : children_)
    if (auto err = send(c, "spawn"))
      return err;
  return expect_all("spawned", deadline);
}

caf::error node_processes::kill_node(int32_t index) {
  for (auto& c : children_)
    if (index >= c.first && index < c.first + c.count)
      return send(c, "kill " + std::to_string(index));
  return failed("no node process runs node " + std::to_string(index));
}

double node_processes::status_bytes(const std::string& key) const {
  double sum = 0;
  for (auto& c : children_)
    sum += proc_status_bytes(c.pid, key);
  return sum;
}

double node_processes::cpu_seconds() const {
  double sum = 0;
  for (auto& c : children_)
    sum += proc_cpu_seconds(c.pid);
  return sum;
}

std::string node_processes::exited() {
  for (auto& c : children_) {
    if (c.pid <= 0)
      continue;
    int status = 0;
    if (::waitpid(c.pid, &status, WNOHANG) == c.pid) {
      auto pid = c.pid;
      c.pid = -1;
      return "node process " + std::to_string(pid) +
             (WIFEXITED(status) ? " exited with " + std::to_string(WEXITSTATUS(status))
                                : " was killed by signal " + std::to_string(WTERMSIG(status)));
    }
  }
  return {};
}

void node_processes::stop() {
  for (auto& c : children_) {
    if (c.in >= 0)
      ::close(c.in);
    c.in = -1;
  }
  // They exit at once on EOF; what has not after a second is killed.
  auto deadline = clock::now() + 1s;
  for (auto& c : children_) {
    while (c.pid > 0) {
      auto reaped = ::waitpid(c.pid, nullptr, WNOHANG);
      if (reaped == c.pid || reaped < 0) {
        c.pid = -1;
      } else if (clock::now() >= deadline) {
        ::kill(c.pid, SIGKILL);
        ::waitpid(c.pid, nullptr, 0);
        c.pid = -1;
      } else {
        std::this_thread::sleep_for(10ms);
      }
    }
    if (c.out >= 0)
      ::close(c.out);
    c.out = -1;
  }
}

} // namespace tutti::bench
