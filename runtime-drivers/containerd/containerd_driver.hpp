#pragma once

// Runs each container as a containerd container and task, through
// containerd's own gRPC API on its unix socket, in a containerd namespace of
// tutti's. containerd keeps all state: tasks outlive tuttid (their shims run
// on) and a new driver finds them by their labels.

#include "runtime-drivers/driver.hpp"

#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>

namespace tutti::runtime_drivers {

class task_thread;

namespace containerd {
class containerd_client;
class exit_stream;
class image_store;
class image_users;
struct task_exit;
} // namespace containerd

struct containerd_options {
  /// containerd's gRPC socket.
  std::string socket = "/run/containerd/containerd.sock";
  /// The containerd namespace of everything tutti makes (the
  /// containerd-namespace metadata of every call).
  std::string name_space = "tutti";
  /// The node whose containers this driver runs: part of every container id
  /// ("tutti-REPLICA_NODE") and the label that list_owned filters on.
  std::string node;
  /// Where tasks' logs (logs/ID.log) and exec outputs go, e.g. DATA/containerd.
  std::string state_dir;
  /// tuttid's path: containerd's shims run `TUTTID containerd-log FILE` to
  /// copy each task's stdout and stderr into its log (log_copier.hpp). Empty:
  /// containerd writes the file itself, which may lose what stderr writes as a
  /// task ends.
  std::string log_binary;
  std::string snapshotter = "overlayfs";
  std::string runtime = "io.containerd.runc.v2";
  /// Every container's cgroup is CGROUP_PARENT/ID.
  std::string cgroup_parent = "/tutti";
  /// Bound of one API call (an image import or unpack has its own).
  std::chrono::milliseconds call_timeout{std::chrono::seconds{30}};
  /// After an image could not be found or imported, creates that need it fail
  /// at once with the same reason for this long.
  std::chrono::milliseconds image_retry_after{std::chrono::seconds{10}};
  /// Calls the node may make at once (concurrency()).
  size_t concurrency = 8;
};

/// Thread: every method may be called from several threads at once (gRPC
/// calls are independent; concurrency() tells the node how many). Exit
/// callbacks run on the driver's exit-stream thread; the kills that end a
/// stop's grace on its task thread.
///
/// Semantics a caller may rely on beyond driver.hpp:
/// - blocking() is true: calls wait for containerd (a task start ~0.1 s, an
///   image import or unpack longer).
/// - Containers: id "tutti-NAME_NODE" (or "tutti-NAME"), the image's snapshot
///   as parent of a snapshot of the same key, runtime io.containerd.runc.v2, an
///   OCI spec built by tutti (oci_spec.hpp: host networking, cgroup limits),
///   the spec's labels. stdout and stderr go to STATE/logs/ID.log.
///   runtime_id is the container id; a restart starts a new task in the same
///   container and snapshot. A watched task that ended is deleted soon after
///   its exit callback (its exit code then reads -1 in inspect).
/// - create() finds the image in containerd, else imports spec.image_archive
///   (a path on this host), else fails with driver_failure saying how to give
///   the image; unpacks it once.
/// - Exits come from containerd's event stream (/tasks/exit). When the stream
///   breaks it reconnects with back-off and, once subscribed again, looks up
///   every watched task, so an exit during the outage is reported then. Exit
///   codes: containerd's (128+N after signal N); -1 when the task vanished.
/// - stop() sends SIGTERM (or the image's StopSignal) and returns; SIGKILL to
///   every process of the task follows after `grace` if the same task runs.
/// - remove() deletes the task, container, snapshot and log file.
/// - A containerd that does not answer makes calls fail with driver_failure
///   ("cannot reach containerd at SOCKET ...; is containerd running?").
/// - The destructor stops the stream and threads; tasks keep running.
class containerd_driver final : public driver {
public:
  /// Never fails because containerd is down (it may come later);
  /// invalid_argument for an empty socket path or state directory.
  static caf::expected<std::unique_ptr<containerd_driver>> make(containerd_options options);

  ~containerd_driver() override;

  protocol::driver_kind kind() const override;
  bool blocking() const override;
  size_t concurrency() const override;
  caf::expected<container_info> create(const container_spec& spec) override;
  caf::expected<container_info>
  run(container_spec spec,
      const std::function<exit_callback(const container_info&)>& watcher) override;
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

  /// containerd's Version call within a second.
  caf::error health() override;

  caf::expected<std::vector<std::string>>
  import_images(const std::string& archive_path) override;

  /// The exit stream is subscribed: containerd answers and exits are seen.
  bool events_connected() const;

  /// containerd's id of the container of replica `name`.
  std::string container_id(const std::string& name) const;

  const containerd_options& options() const { return options_; }

private:
  struct watch_entry {
    std::string id;
    uint32_t pid = 0;
    exit_callback on_exit;
  };
  struct task_state;
  struct rootfs;
  struct container_record;

  explicit containerd_driver(containerd_options options);

  caf::expected<container_record> container_of(const std::string& name, const std::string& id);
  caf::expected<container_info> describe(const std::string& name, const std::string& id);
  caf::expected<task_state> task_of(const std::string& id);
  caf::error check_image(const std::string& image);
  caf::error kill(const std::string& id, const std::string& exec_id, int signal, bool all);
  caf::error delete_task(const std::string& id);
  std::shared_ptr<std::mutex> task_lock(const std::string& id);
  void reap(const std::string& id, uint32_t pid);
  caf::error prepare_snapshot(const std::string& id, const std::string& parent, rootfs& mounts);
  caf::expected<container_info> make_container(const container_spec& spec, rootfs& mounts);
  caf::expected<container_info> start_task(container_info current, const rootfs& mounts);
  void kill_if_same_task(const std::string& id, uint32_t pid);
  void on_exit(const containerd::task_exit& e);
  void on_connected();
  void on_lost(const std::string& why, bool was_connected);
  void resync();
  void report(const std::string& what);
  std::string log_path(const std::string& id) const;

  containerd_options options_;
  std::unique_ptr<containerd::containerd_client> client_;
  std::unique_ptr<containerd::image_store> images_;
  std::unique_ptr<containerd::image_users> users_;
  std::mutex mutex_;                           // guards the members below
  std::map<std::string, watch_entry> watches_; // by replica name
  /// Per container id: a task's deletion, by a restart or after its exit, one at a time.
  std::map<std::string, std::shared_ptr<std::mutex>> task_locks_;
  std::map<std::pair<std::string, uint32_t>,
           std::pair<int32_t, std::chrono::steady_clock::time_point>>
      recent_exits_; // (id, pid) -> exit status, when seen
  std::map<std::string, std::pair<std::chrono::steady_clock::time_point, std::string>>
      failed_images_; // image -> when, why
  bool reported_down_ = false;
  // Last: their threads call the members above, so they go first.
  std::unique_ptr<task_thread> tasks_;
  std::unique_ptr<containerd::exit_stream> events_;
};

} // namespace tutti::runtime_drivers
