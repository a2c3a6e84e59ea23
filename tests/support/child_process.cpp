#include "tests/support/child_process.hpp"
#include "tests/support/wait.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <thread>
#include <utility>

extern char** environ;

namespace tutti::tests::support {

namespace {

using clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

int remaining_ms(clock::time_point deadline) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - clock::now());
  return left.count() < 0 ? 0 : static_cast<int>(left.count());
}

int decode_status(int status) {
  if (WIFEXITED(status))
    return WEXITSTATUS(status);
  if (WIFSIGNALED(status))
    return 128 + WTERMSIG(status);
  return -1;
}

/// Our environment with `env` laid over it, as posix_spawn wants it.
std::vector<std::string> merged_environment(const env_map& env) {
  std::vector<std::string> out;
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    std::string entry{*e};
    auto key = entry.substr(0, entry.find('='));
    if (env.count(key) == 0)
      out.push_back(std::move(entry));
  }
  for (const auto& [key, value] : env)
    out.push_back(key + "=" + value);
  return out;
}

std::vector<char*> c_strings(std::vector<std::string>& strings) {
  std::vector<char*> out;
  for (auto& s : strings)
    out.push_back(s.data());
  out.push_back(nullptr);
  return out;
}

/// posix_spawn with the child leading a new process group and default signal
/// handling; `actions` wires its standard descriptors.
pid_t spawn(const std::vector<std::string>& argv, const env_map& env,
            posix_spawn_file_actions_t& actions) {
  if (argv.empty())
    throw std::runtime_error("spawn: empty argv");
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  posix_spawnattr_setflags(&attr,
                           POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  posix_spawnattr_setpgroup(&attr, 0);
  sigset_t none;
  sigemptyset(&none);
  posix_spawnattr_setsigmask(&attr, &none);
  sigset_t defaults;
  sigemptyset(&defaults);
  for (int sig : {SIGPIPE, SIGINT, SIGTERM, SIGCHLD, SIGHUP, SIGQUIT, SIGUSR1})
    sigaddset(&defaults, sig);
  posix_spawnattr_setsigdefault(&attr, &defaults);
  auto args = argv;
  auto envs = merged_environment(env);
  auto c_args = c_strings(args);
  auto c_envs = c_strings(envs);
  pid_t pid = -1;
  int rc = ::posix_spawnp(&pid, c_args[0], &actions, &attr, c_args.data(), c_envs.data());
  posix_spawnattr_destroy(&attr);
  if (rc != 0)
    throw std::runtime_error("cannot start " + argv[0] + ": " + std::strerror(rc));
  return pid;
}

void make_pipe(int fds[2]) {
  if (::pipe2(fds, O_CLOEXEC) != 0)
    throw std::runtime_error(std::string{"pipe2: "} + std::strerror(errno));
}

void close_fd(int& fd) {
  if (fd >= 0)
    ::close(fd);
  fd = -1;
}

/// Reads what is there; false at EOF or on an error.
bool drain(int fd, std::string& into) {
  char buf[8192];
  for (;;) {
    auto n = ::read(fd, buf, sizeof(buf));
    if (n > 0) {
      into.append(buf, static_cast<size_t>(n));
      continue;
    }
    if (n < 0 && errno == EINTR)
      continue;
    return n < 0 && errno == EAGAIN;
  }
}

void add_output(posix_spawn_file_actions_t& actions, int target, const std::string& file) {
  if (file.empty())
    posix_spawn_file_actions_addopen(&actions, target, "/dev/null", O_WRONLY, 0);
  else
    posix_spawn_file_actions_addopen(&actions, target, file.c_str(), O_WRONLY | O_CREAT | O_APPEND,
                                     0644);
}

} // namespace

std::string command_result::describe() const {
  return "exit " + std::to_string(exit_code) + (timed_out ? " (timed out)" : "") + "; stdout: [" +
         out + "]; stderr: [" + err + "]";
}

command_result run_command(const std::vector<std::string>& argv, const env_map& env,
                           std::chrono::milliseconds timeout, const std::string& input) {
  int out_pipe[2], err_pipe[2], in_pipe[2] = {-1, -1};
  make_pipe(out_pipe);
  make_pipe(err_pipe);
  if (!input.empty())
    make_pipe(in_pipe);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  if (input.empty())
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  else
    posix_spawn_file_actions_adddup2(&actions, in_pipe[0], 0);
  posix_spawn_file_actions_adddup2(&actions, out_pipe[1], 1);
  posix_spawn_file_actions_adddup2(&actions, err_pipe[1], 2);
  pid_t pid = -1;
  try {
    pid = spawn(argv, env, actions);
  } catch (...) {
    posix_spawn_file_actions_destroy(&actions);
    for (int fd : {out_pipe[0], out_pipe[1], err_pipe[0], err_pipe[1], in_pipe[0], in_pipe[1]})
      if (fd >= 0)
        ::close(fd);
    throw;
  }
  posix_spawn_file_actions_destroy(&actions);
  close_fd(out_pipe[1]);
  close_fd(err_pipe[1]);
  close_fd(in_pipe[0]);
  for (int fd : {out_pipe[0], err_pipe[0], in_pipe[1]})
    if (fd >= 0)
      ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);

  command_result result;
  auto deadline = clock::now() + timeout;
  size_t written = 0;
  std::optional<int> status;
  std::optional<clock::time_point> exited_at;
  while (out_pipe[0] >= 0 || err_pipe[0] >= 0) {
    if (!status) {
      int st = 0;
      if (::waitpid(pid, &st, WNOHANG) == pid) {
        status = st;
        exited_at = clock::now();
      }
    }
    // A grandchild may hold the pipes open after the command ended; give it a
    // moment to finish writing, no more.
    if (exited_at && clock::now() - *exited_at > 500ms)
      break;
    if (clock::now() >= deadline) {
      result.timed_out = true;
      ::kill(-pid, SIGKILL);
      break;
    }
    pollfd fds[3] = {{out_pipe[0], POLLIN, 0}, {err_pipe[0], POLLIN, 0}, {in_pipe[1], POLLOUT, 0}};
    ::poll(fds, 3, std::min(50, remaining_ms(deadline)));
    if (fds[0].revents != 0 && !drain(out_pipe[0], result.out))
      close_fd(out_pipe[0]);
    if (fds[1].revents != 0 && !drain(err_pipe[0], result.err))
      close_fd(err_pipe[0]);
    if (in_pipe[1] >= 0 && fds[2].revents != 0) {
      auto n = ::write(in_pipe[1], input.data() + written, input.size() - written);
      if (n > 0)
        written += static_cast<size_t>(n);
      if ((n < 0 && errno != EAGAIN && errno != EINTR) || written == input.size())
        close_fd(in_pipe[1]);
    }
  }
  close_fd(out_pipe[0]);
  close_fd(err_pipe[0]);
  close_fd(in_pipe[1]);
  if (!status) {
    int st = 0;
    if (result.timed_out) {
      while (::waitpid(pid, &st, 0) < 0 && errno == EINTR) {
      }
    } else {
      // Pipes closed: the command is ending; still bound the wait.
      while (::waitpid(pid, &st, WNOHANG) == 0) {
        if (clock::now() >= deadline) {
          result.timed_out = true;
          ::kill(-pid, SIGKILL);
          while (::waitpid(pid, &st, 0) < 0 && errno == EINTR) {
          }
          break;
        }
        std::this_thread::sleep_for(5ms); // -- allowed: polling interval of a deadline wait
      }
    }
    status = st;
  }
  result.exit_code = decode_status(*status);
  return result;
}

child_process child_process::start(const std::vector<std::string>& argv, const options& opts) {
  int out_pipe[2] = {-1, -1};
  if (opts.pipe_stdout)
    make_pipe(out_pipe);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  if (opts.pipe_stdout)
    posix_spawn_file_actions_adddup2(&actions, out_pipe[1], 1);
  else
    add_output(actions, 1, opts.stdout_file);
  add_output(actions, 2, opts.stderr_file);
  child_process child;
  try {
    child.pid_ = spawn(argv, opts.env, actions);
  } catch (...) {
    posix_spawn_file_actions_destroy(&actions);
    close_fd(out_pipe[0]);
    close_fd(out_pipe[1]);
    throw;
  }
  posix_spawn_file_actions_destroy(&actions);
  close_fd(out_pipe[1]);
  child.stdout_fd_ = out_pipe[0];
  if (child.stdout_fd_ >= 0)
    ::fcntl(child.stdout_fd_, F_SETFL, ::fcntl(child.stdout_fd_, F_GETFL) | O_NONBLOCK);
  return child;
}

child_process::child_process(child_process&& other) noexcept
  : pid_(std::exchange(other.pid_, -1)), stdout_fd_(std::exchange(other.stdout_fd_, -1)),
    buffer_(std::move(other.buffer_)), exit_code_(other.exit_code_) {}

child_process& child_process::operator=(child_process&& other) noexcept {
  if (this != &other) {
    reset();
    pid_ = std::exchange(other.pid_, -1);
    stdout_fd_ = std::exchange(other.stdout_fd_, -1);
    buffer_ = std::move(other.buffer_);
    exit_code_ = other.exit_code_;
  }
  return *this;
}

child_process::~child_process() {
  reset();
}

void child_process::reset() {
  kill_group();
  close_fd(stdout_fd_);
  buffer_.clear();
}

bool child_process::running() {
  if (pid_ < 0 || exit_code_)
    return false;
  int st = 0;
  if (::waitpid(pid_, &st, WNOHANG) == pid_) {
    exit_code_ = decode_status(st);
    return false;
  }
  return true;
}

bool child_process::signal(int sig) {
  return running() && ::kill(pid_, sig) == 0;
}

std::optional<int> child_process::wait_for_exit(std::chrono::milliseconds timeout) {
  if (!wait_until([&] { return !running(); }, timeout))
    return std::nullopt;
  return exit_code_;
}

void child_process::kill_group() {
  if (pid_ < 0 || exit_code_)
    return;
  // pid_ leads its process group (POSIX_SPAWN_SETPGROUP): -pid_ is our child's
  // group and nothing else.
  ::kill(-pid_, SIGKILL);
  int st = 0;
  while (::waitpid(pid_, &st, 0) < 0 && errno == EINTR) {
  }
  exit_code_ = decode_status(st);
}

std::optional<std::string> child_process::read_line(std::chrono::milliseconds timeout) {
  auto deadline = clock::now() + timeout;
  for (;;) {
    if (auto nl = buffer_.find('\n'); nl != std::string::npos) {
      auto line = buffer_.substr(0, nl);
      buffer_.erase(0, nl + 1);
      return line;
    }
    if (stdout_fd_ < 0)
      return std::nullopt;
    pollfd p{stdout_fd_, POLLIN, 0};
    if (::poll(&p, 1, remaining_ms(deadline)) != 1)
      return std::nullopt;
    if (!drain(stdout_fd_, buffer_))
      close_fd(stdout_fd_);
  }
}

} // namespace tutti::tests::support
