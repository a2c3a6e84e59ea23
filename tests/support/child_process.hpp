#pragma once

// Child processes of a test: one-shot commands with captured output and a
// timeout (run_command), and long-running ones (child_process) whose stdout can
// be read line by line with a deadline. Each child leads a process group of its
// own, so a timeout or a failed test kills it and whatever it forked that stayed
// in its group; nothing else is ever signalled.

#include <sys/types.h>

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace tutti::tests::support {

/// Variables set (or replaced) in the child's environment, on top of ours.
using env_map = std::map<std::string, std::string>;

struct command_result {
  int exit_code = -1;     // the exit status, or 128 + signal number when killed
  bool timed_out = false; // the deadline passed and the command was killed
  std::string out;        // stdout
  std::string err;        // stderr

  /// "exit 1; stdout: ...; stderr: ..." for assertion messages.
  std::string describe() const;
};

/// Runs argv[0] (a path) with `argv`, stdin from `input` (empty: /dev/null).
/// Kills the command's process group when `timeout` passes.
command_result run_command(const std::vector<std::string>& argv, const env_map& env = {},
                           std::chrono::milliseconds timeout = std::chrono::seconds{30},
                           const std::string& input = {});

/// A running child. Movable, not copyable. The destructor SIGKILLs the child's
/// process group and reaps the child unless it was already reaped.
class child_process {
public:
  struct options {
    env_map env;
    bool pipe_stdout = false; // read it with read_line()
    std::string stdout_file;  // else: append stdout to this file ("" = /dev/null)
    std::string stderr_file;  // append stderr to this file ("" = /dev/null)
  };

  /// Starts the child; throws std::runtime_error when posix_spawn fails.
  static child_process start(const std::vector<std::string>& argv, const options& opts);

  child_process() = default;
  child_process(child_process&& other) noexcept;
  child_process& operator=(child_process&& other) noexcept;
  child_process(const child_process&) = delete;
  child_process& operator=(const child_process&) = delete;
  ~child_process();

  pid_t pid() const { return pid_; }

  /// Not yet reaped (a zombie counts as ended: it is reaped here).
  bool running();

  /// Sends `sig` to the child alone; false when it was already reaped.
  bool signal(int sig);

  /// Waits until the child ends; its exit code (128 + signal when killed), or
  /// nullopt when `timeout` passes first.
  std::optional<int> wait_for_exit(std::chrono::milliseconds timeout);

  /// SIGKILLs the whole process group and reaps the child (no-op when reaped).
  void kill_group();

  /// The next line of stdout (without '\n'); nullopt at EOF or when `timeout`
  /// passes. Needs options::pipe_stdout.
  std::optional<std::string> read_line(std::chrono::milliseconds timeout);

  /// Exit code after it was reaped.
  std::optional<int> exit_code() const { return exit_code_; }

private:
  void reset();

  pid_t pid_ = -1;
  int stdout_fd_ = -1;
  std::string buffer_;
  std::optional<int> exit_code_;
};

} // namespace tutti::tests::support
