#pragma once

// Runs each container as a plain process group on this host. State lives in one
// JSON file per container under the state directory and logs under STATE/logs,
// so processes outlive the daemon and a new driver on the same directory adopts
// them.

#include "runtime-drivers/driver.hpp"

#include <sys/types.h>

#include <map>
#include <memory>
#include <mutex>
#include <string>

namespace tutti::runtime_drivers {

class process_reaper;
struct process_record;

/// Thread: the driver's methods may be called from any one thread at a time; its
/// own reaper thread runs exit callbacks (and, for containers that had already
/// exited when watched, callbacks posted by watch()). A callback may call back
/// into the driver.
///
/// Semantics a caller may rely on beyond driver.hpp:
/// - Every call returns within milliseconds (blocking() is false); only
///   remove(force) waits for a SIGKILL to take effect, at most one second.
/// - A container is its process group: stop() signals the whole group, and when
///   the main process exits whatever is left of its group is killed.
/// - Exit codes: the process's code, 128+N after signal N, -1 for a process
///   adopted from a previous daemon (it is not our child, so its status is
///   unknowable) or one that exited while no daemon watched it.
/// - A container counts as running until the reaper has recorded its exit, and
///   that happens just before its exit callback runs.
/// - remove() cancels the watch: a removed container gets no exit callback.
/// - The destructor stops the reaper thread and leaves processes running.
class process_driver final : public driver {
public:
  /// Creates `state_dir` and `state_dir`/logs when missing and adopts the
  /// processes recorded there that still run (pid and start time match).
  /// Fails with driver_failure when the directory or a metadata file in it
  /// cannot be used.
  static caf::expected<std::unique_ptr<process_driver>> make(const std::string& state_dir);

  ~process_driver() override;

  protocol::driver_kind kind() const override;
  bool blocking() const override;
  caf::expected<container_info> create(const container_spec& spec) override;
  caf::expected<container_info> start(const std::string& name) override;
  caf::error stop(const std::string& name, caf::timespan grace) override;
  caf::error remove(const std::string& name, bool force) override;
  caf::expected<container_info> inspect(const std::string& name) override;
  caf::error watch(const std::string& name, exit_callback on_exit) override;
  caf::expected<std::string> logs(const std::string& name, size_t max_bytes) override;
  caf::expected<container_stats> stats(const std::string& name) override;
  caf::expected<std::vector<container_info>> list_owned(const std::string& node) override;
  caf::expected<exec_result> exec(const std::string& name, const std::vector<std::string>& command,
                                  caf::timespan timeout) override;

  const std::string& state_dir() const { return state_dir_; }
  std::string log_path(const std::string& name) const;

private:
  /// A process this driver watches, by pid.
  struct live_process {
    std::string name;
    exit_callback on_exit; // empty until watch()
  };

  explicit process_driver(std::string state_dir);

  std::string record_path(const std::string& name) const;
  caf::expected<process_record> load(const std::string& name) const;
  caf::expected<std::vector<process_record>> load_all() const;
  bool is_tracked(const process_record& record) const;
  bool is_running(const process_record& record) const;
  caf::error adopt_all();
  /// SIGKILLs processes this driver started but has no live record of.
  void kill_unrecorded(const std::vector<process_record>& records);
  caf::error track(const process_record& record);
  caf::error kill_and_wait(const process_record& record);
  void on_exit(pid_t pid, int32_t exit_code);

  std::string state_dir_;
  std::mutex mutex_; // guards live_ and the files under state_dir_
  std::map<pid_t, live_process> live_;
  std::unique_ptr<process_reaper> reaper_;
};

} // namespace tutti::runtime_drivers
