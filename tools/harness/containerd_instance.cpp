#include "tools/harness/containerd_instance.hpp"

#include "tools/harness/oci_archive.hpp"
#include "tools/harness/private_daemon.hpp"

#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

namespace tutti::harness {

namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

constexpr auto start_timeout = 30s;
constexpr auto stop_timeout = 20s;
constexpr const char* dir_prefix = "tcd-";
const std::vector<std::string> busybox_applets{"sh",  "sleep", "httpd", "echo", "true", "false",
                                               "cat", "env",   "ls",    "kill", "wget", "id"};

std::string read_file(const std::string& path) {
  std::ifstream in{path};
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

/// The shims a containerd of `dir` started (their command line names its
/// socket): they outlive containerd, so a cleanup ends them by pid.
std::vector<pid_t> shims_of(const std::string& dir) {
  std::vector<pid_t> out;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator{"/proc", ec}) {
    auto name = entry.path().filename().string();
    if (name.find_first_not_of("0123456789") != std::string::npos)
      continue;
    auto cmdline = read_file(entry.path().string() + "/cmdline");
    std::replace(cmdline.begin(), cmdline.end(), '\0', ' ');
    if (cmdline.find("containerd-shim") != std::string::npos &&
        cmdline.find(dir + "/c.sock") != std::string::npos)
      out.push_back(std::atoi(name.c_str()));
  }
  return out;
}

void end_shims(const std::string& dir) {
  for (auto pid : shims_of(dir))
    ::kill(pid, SIGKILL);
}

/// Directories of earlier runs that were killed before their cleanup: removed
/// with their shims once their containerd is gone and they are 2 min old (not
/// another binary's that is still starting).
void remove_stale_instances() {
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator{"/tmp", ec}) {
    auto name = entry.path().filename().string();
    if (name.rfind(dir_prefix, 0) != 0 || name.size() != 10 || !entry.is_directory(ec))
      continue;
    auto age = fs::file_time_type::clock::now() - fs::last_write_time(entry.path(), ec);
    if (ec || age < std::chrono::minutes{2})
      continue;
    auto pid = std::atoi(read_file(entry.path().string() + "/pid").c_str());
    if (pid > 0 && ::kill(pid, 0) == 0)
      continue;
    end_shims(entry.path().string());
    unmount_below(entry.path().string());
    fs::remove_all(entry.path(), ec);
  }
}

struct command_output {
  int exit_code = -1; // 128 + N when killed by signal N
  std::string out;    // stdout and stderr
};

/// Runs argv[0] with `argv`, its output captured; killed when `timeout` passes.
command_output run_command(const std::vector<std::string>& argv,
                           std::chrono::milliseconds timeout) {
  command_output result;
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0)
    return result;
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, fds[1], 1);
  posix_spawn_file_actions_adddup2(&actions, fds[1], 2);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  std::vector<char*> args;
  for (const auto& a : argv)
    args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = 0;
  int rc = ::posix_spawn(&pid, args[0], &actions, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  ::close(fds[1]);
  if (rc != 0) {
    ::close(fds[0]);
    return result;
  }
  auto deadline = std::chrono::steady_clock::now() + timeout;
  char buffer[4096];
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      ::kill(pid, SIGKILL);
      break;
    }
    pollfd p{fds[0], POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left.count())) <= 0)
      continue;
    auto n = ::read(fds[0], buffer, sizeof buffer);
    if (n <= 0)
      break;
    result.out.append(buffer, static_cast<size_t>(n));
  }
  ::close(fds[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return result;
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in{text};
  std::string line;
  while (std::getline(in, line))
    if (!line.empty())
      out.push_back(line);
  return out;
}

} // namespace

std::unique_ptr<containerd_instance> containerd_instance::start(std::string& why,
                                                                bool& unavailable) {
  unavailable = false;
  if (::geteuid() != 0) {
    why = "a private containerd needs root";
    unavailable = true;
    return nullptr;
  }
  std::unique_ptr<containerd_instance> self{new containerd_instance()};
  self->containerd_ = find_program("containerd");
  self->ctr_ = find_program("ctr");
  if (self->containerd_.empty() || self->ctr_.empty() || find_program("runc").empty()) {
    why = "containerd, ctr or runc is not installed (tools/install-deps.sh installs containerd "
          "and runc)";
    unavailable = true;
    return nullptr;
  }
  if (find_program("busybox").empty()) {
    why = "busybox is not installed (tools/install-deps.sh installs busybox-static)";
    unavailable = true;
    return nullptr;
  }
  remove_stale_instances();
  // Short: the socket path must fit sockaddr_un's 108 bytes.
  char pattern[] = "/tmp/tcd-XXXXXX";
  if (::mkdtemp(pattern) == nullptr) {
    why = std::string{"cannot create a temp dir: "} + std::strerror(errno);
    return nullptr;
  }
  self->dir_ = pattern;
  self->socket_ = self->dir_ + "/c.sock";
  self->namespace_ = "tutti-t" + std::to_string(::getpid());
  self->archive_ = self->dir_ + "/busybox.tar";
  auto written =
      write_busybox_oci_archive(self->archive_, image, busybox_applets, find_program("busybox"));
  if (!written.empty()) {
    why = "cannot write the busybox archive: " + written;
    return nullptr;
  }
  std::ofstream{self->dir_ + "/config.toml"}
      << "version = 2\n"
         "# Not needed by tutti, and the slowest plugin to start.\n"
         "disabled_plugins = [\"io.containerd.grpc.v1.cri\"]\n";
  if (!self->spawn(why))
    return nullptr; // the destructor cleans up
  return self;
}

containerd_instance::~containerd_instance() {
  if (dir_.empty())
    return;
  if (attached_) {
    remove_everything();
    std::error_code ec;
    fs::remove_all(dir_, ec);
    return;
  }
  if (pid_ != 0) {
    remove_everything();
    stop_containerd();
  }
  end_shims(dir_);
  unmount_below(dir_);
  std::error_code ec;
  fs::remove_all(dir_, ec);
}

std::unique_ptr<containerd_instance> containerd_instance::attach(const std::string& socket,
                                                                 std::string& why) {
  std::unique_ptr<containerd_instance> self{new containerd_instance()};
  self->ctr_ = find_program("ctr");
  if (self->ctr_.empty()) {
    why = "ctr is not installed (tools/install-deps.sh installs containerd)";
    return nullptr;
  }
  char pattern[] = "/tmp/tca-XXXXXX";
  if (::mkdtemp(pattern) == nullptr) {
    why = std::string{"cannot create a temp dir: "} + std::strerror(errno);
    return nullptr;
  }
  self->dir_ = pattern;
  self->attached_ = true;
  self->socket_ = socket;
  self->namespace_ = "tutti-t" + std::to_string(::getpid());
  self->archive_ = self->dir_ + "/busybox.tar";
  if (!self->answers()) {
    why = "no containerd answers at " + socket;
    return nullptr;
  }
  auto written =
      write_busybox_oci_archive(self->archive_, image, busybox_applets, find_program("busybox"));
  if (!written.empty()) {
    why = "cannot write the busybox archive: " + written;
    return nullptr;
  }
  return self;
}

std::string containerd_instance::state_dir(const std::string& hint) const {
  auto dir = dir_ + "/drivers/" + hint;
  std::error_code ec;
  fs::create_directories(dir, ec);
  return dir;
}

std::string containerd_instance::node_name(const std::string& hint) {
  return "n" + std::to_string(++next_node_) + "-" + hint;
}

containerd_instance::ctr_result
containerd_instance::ctr(const std::vector<std::string>& args) const {
  std::vector<std::string> argv{ctr_, "--address", socket_, "--namespace", namespace_};
  argv.insert(argv.end(), args.begin(), args.end());
  auto r = run_command(argv, 30s);
  return {r.exit_code, r.out};
}

bool containerd_instance::answers() const {
  std::vector<std::string> argv{ctr_, "--address", socket_, "--connect-timeout", "1s", "version"};
  return run_command(argv, 5s).exit_code == 0;
}

void containerd_instance::remove_everything() const {
  for (const auto& id : lines_of(ctr({"tasks", "ls", "-q"}).out))
    ctr({"tasks", "kill", "--all", "--signal", "SIGKILL", id});
  for (const auto& id : lines_of(ctr({"tasks", "ls", "-q"}).out)) {
    auto deadline = std::chrono::steady_clock::now() + 10s;
    while (ctr({"tasks", "rm", id}).exit_code != 0 && std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(50ms); // -- allowed: polling interval of a deadline wait
    ctr({"tasks", "rm", "--force", id});
  }
  for (const auto& id : lines_of(ctr({"containers", "ls", "-q"}).out))
    ctr({"containers", "rm", id});
  for (const auto& line : lines_of(ctr({"snapshots", "ls"}).out)) {
    auto key = line.substr(0, line.find(' '));
    if (key != "KEY")
      ctr({"snapshots", "rm", key});
  }
  for (const auto& name : lines_of(ctr({"images", "ls", "-q"}).out))
    ctr({"images", "rm", name});
}

bool containerd_instance::spawn(std::string& why) {
  std::vector<std::string> args{containerd_,           "--root",      dir_ + "/root", "--state",
                                dir_ + "/state",       "--address",   socket_,        "--config",
                                dir_ + "/config.toml", "--log-level", "warn"};
  auto log = dir_ + "/containerd.log";
  pid_ = spawn_private_daemon(args, log, why);
  if (pid_ == 0)
    return false;
  std::ofstream{dir_ + "/pid"} << pid_;
  switch (wait_for_daemon(
      pid_, [this] { return answers(); }, start_timeout)) {
    case daemon_start::answered:
      return true;
    case daemon_start::exited:
      pid_ = 0;
      why = "containerd exited at once; its log:\n" + tail_of(log);
      return false;
    case daemon_start::timed_out:
      break;
  }
  why = "containerd did not answer on " + socket_ + " within 30 s; its log:\n" + tail_of(log);
  stop_containerd();
  return false;
}

bool containerd_instance::stop_containerd() {
  if (pid_ == 0)
    return true;
  ::kill(pid_, SIGTERM);
  auto deadline = std::chrono::steady_clock::now() + stop_timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = 0;
      return true;
    }
    std::this_thread::sleep_for(20ms); // -- allowed: polling interval of a deadline wait
  }
  ::kill(pid_, SIGKILL);
  ::waitpid(pid_, nullptr, 0);
  pid_ = 0;
  return false;
}

bool containerd_instance::start_containerd(std::string& why) {
  if (pid_ != 0)
    return true;
  return spawn(why);
}

} // namespace tutti::harness
