#include "runtime-drivers/process/process_spawn.hpp"

#include "protocol/errors.hpp"
#include "runtime-drivers/unique_fd.hpp"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <variant>

namespace tutti::runtime_drivers {

namespace {

using protocol::error_code;
using protocol::make_error;

constexpr const char* default_path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

bool is_executable_file(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode) && ::access(path.c_str(), X_OK) == 0;
}

/// The file to execute, or ENOENT. Like execvp, but with the container's PATH.
std::variant<std::string, int> resolve_executable(const std::string& program,
                                                  const std::string& path) {
  if (program.find('/') != std::string::npos)
    return program;
  size_t begin = 0;
  for (;;) {
    auto end = path.find(':', begin);
    auto dir = path.substr(begin, end == std::string::npos ? end : end - begin);
    auto candidate = (dir.empty() ? std::string{"."} : dir) + "/" + program;
    if (is_executable_file(candidate))
      return candidate;
    if (end == std::string::npos)
      return ENOENT;
    begin = end + 1;
  }
}

std::vector<char*> c_strings(std::vector<std::string>& strings) {
  std::vector<char*> result;
  result.reserve(strings.size() + 1);
  for (auto& x : strings)
    result.push_back(x.data());
  result.push_back(nullptr);
  return result;
}

std::string joined(const std::vector<std::string>& command) {
  std::string result;
  for (const auto& arg : command)
    result += (result.empty() ? "" : " ") + arg;
  return result;
}

/// posix_spawn attributes and file actions with their destroy calls.
struct spawn_setup {
  posix_spawnattr_t attr;
  posix_spawn_file_actions_t actions;
  spawn_setup() {
    posix_spawnattr_init(&attr);
    posix_spawn_file_actions_init(&actions);
  }
  ~spawn_setup() {
    posix_spawn_file_actions_destroy(&actions);
    posix_spawnattr_destroy(&attr);
  }
  spawn_setup(const spawn_setup&) = delete;
  spawn_setup& operator=(const spawn_setup&) = delete;
};

/// 0 or the errno of the first failing posix_spawn*_set/add call.
int configure(spawn_setup& setup, int log_fd) {
  // The daemon may ignore or block signals (SIGPIPE, or a CAF thread's mask);
  // a container must start with the defaults like under a shell.
  sigset_t none;
  sigset_t all;
  sigemptyset(&none);
  sigfillset(&all);
  short flags = POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF;
  int rc = 0;
  if ((rc = posix_spawnattr_setflags(&setup.attr, flags)) != 0 ||
      (rc = posix_spawnattr_setpgroup(&setup.attr, 0)) != 0 ||
      (rc = posix_spawnattr_setsigmask(&setup.attr, &none)) != 0 ||
      (rc = posix_spawnattr_setsigdefault(&setup.attr, &all)) != 0)
    return rc;
  auto* actions = &setup.actions;
  if ((rc = posix_spawn_file_actions_addopen(actions, 0, "/dev/null", O_RDONLY, 0)) != 0 ||
      (rc = posix_spawn_file_actions_adddup2(actions, log_fd, 1)) != 0 ||
      (rc = posix_spawn_file_actions_adddup2(actions, log_fd, 2)) != 0
      // Descriptors the daemon's libraries opened without O_CLOEXEC (sockets,
      // LMDB) must not leak into containers.
      || (rc = posix_spawn_file_actions_addclosefrom_np(actions, 3)) != 0)
    return rc;
  return 0;
}

} // namespace

std::map<std::string, std::string> process_environment(std::map<std::string, std::string> env) {
  if (env.count("PATH") == 0) {
    const char* daemon_path = std::getenv("PATH");
    env["PATH"] = daemon_path != nullptr && *daemon_path != '\0' ? daemon_path : default_path;
  }
  return env;
}

caf::expected<pid_t> spawn_process(const std::string& name, const std::vector<std::string>& command,
                                   const std::map<std::string, std::string>& env,
                                   const std::string& log_path) {
  auto fail = [&](int err) {
    return make_error(error_code::driver_failure,
                      "cannot start " + name + ": " + joined(command) + ": " + std::strerror(err));
  };
  if (command.empty())
    return make_error(error_code::invalid_argument,
                      "cannot start " + name + ": the command is empty");
  auto full_env = process_environment(env);
  auto program = resolve_executable(command.front(), full_env["PATH"]);
  if (auto* err = std::get_if<int>(&program))
    return fail(*err);
  unique_fd log{::open(log_path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644)};
  if (!log)
    return make_error(error_code::driver_failure, "cannot start " + name +
                                                      ": cannot open log file " + log_path + ": " +
                                                      std::strerror(errno));
  spawn_setup setup;
  if (int err = configure(setup, log.get()); err != 0)
    return fail(err);
  auto args = command;
  std::vector<std::string> env_strings;
  for (const auto& [key, value] : full_env)
    env_strings.push_back(key + "=" + value);
  auto argv = c_strings(args);
  auto envp = c_strings(env_strings);
  pid_t pid = 0;
  // glibc's posix_spawn uses CLONE_VFORK, so an exec failure (ENOENT, EACCES,
  // ENOEXEC) comes back here as the return value instead of a child exiting 127.
  int err = posix_spawn(&pid, std::get<std::string>(program).c_str(), &setup.actions, &setup.attr,
                        argv.data(), envp.data());
  if (err != 0)
    return fail(err);
  return pid;
}

} // namespace tutti::runtime_drivers
