#pragma once

// Runs each container as a real Docker container through the Docker Engine API
// (v1.41) on the engine's unix socket. The engine keeps all state: containers
// outlive the daemon and a new driver finds them by name and labels.

#include "runtime-drivers/driver.hpp"

#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>

namespace tutti::runtime_drivers {

namespace docker {
class docker_client;
class event_stream;
struct event;
struct inspected;
} // namespace docker

struct docker_options {
  /// The engine's unix socket.
  std::string socket = "/var/run/docker.sock";
  /// The node whose containers this driver runs: part of every container's
  /// Docker name ("tutti-REPLICA_NODE"), so nodes sharing an engine never clash,
  /// and the label filter of the events stream. Empty: names are "tutti-REPLICA".
  std::string node;
  /// HostConfig.NetworkMode of every container.
  std::string network_mode = "host";
  /// Bound of one API call (a pull has its own).
  std::chrono::milliseconds call_timeout{std::chrono::seconds{30}};
  std::chrono::milliseconds pull_timeout{std::chrono::minutes{5}};
  /// After a failed pull of an image, creates that need it fail at once with
  /// the same reason for this long instead of pulling again.
  std::chrono::milliseconds pull_retry_after{std::chrono::seconds{10}};
  /// Calls the node may make at once (concurrency()): the engine starts
  /// containers in parallel about twice as fast as one by one.
  size_t concurrency = 8;
};

/// Thread: every method may be called from several threads at once (each call
/// uses its own connection; concurrency() tells the node how many). Exit
/// callbacks, and the kills that end a stop's grace, run on the driver's events
/// thread.
///
/// Semantics a caller may rely on beyond driver.hpp:
/// - blocking() is true: calls wait for the engine (start ~0.2 s, a pull longer).
/// - Containers: Docker name docker::container_name(name, node); image, Cmd
///   (the image's own when the command is empty), Env, Labels, NanoCpus
///   (cpu x 1e9), Memory, NetworkMode (host by default), RestartPolicy "no".
///   runtime_id is the container id; a restart in place keeps it.
/// - create() pulls an image that is not present locally once, then fails with
///   driver_failure naming the image and the engine's reason.
/// - Exits come from the engine's /events stream (die events), not polling.
///   When the stream breaks it reconnects with back-off and, once connected,
///   inspects every watched container, so an exit during the outage is
///   reported then. Each watch fires at most once. Exit codes: the engine's
///   (128+N after signal N); -1 when the container vanished unseen.
/// - stop() sends the container's stop signal (SIGTERM by default) and returns;
///   SIGKILL follows after `grace` if the same run still runs.
/// - remove() cancels the watch (with force: even when the removal fails).
/// - An engine that does not answer makes calls fail with driver_failure
///   ("cannot reach the Docker engine at SOCKET: ...; is dockerd running?");
///   they succeed again once it is back.
/// - The destructor stops the events thread; containers keep running.
class docker_driver final : public driver {
public:
  /// Never fails because the engine is down (it may come later); invalid_argument
  /// for an empty socket path.
  static caf::expected<std::unique_ptr<docker_driver>> make(docker_options options);

  ~docker_driver() override;

  protocol::driver_kind kind() const override;
  bool blocking() const override;
  size_t concurrency() const override;
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

  /// GET /_ping within a second: the engine answers requests now.
  caf::error health() override;

  /// `docker load` of the archive (POST /images/load). The loaded images'
  /// earlier failed pulls are forgotten: creates that need them go ahead.
  caf::expected<std::vector<std::string>>
  import_images(const std::string& archive_path) override;

  /// The events stream is open: the engine answers and exits are seen.
  bool engine_connected() const;

  /// Docker's name of the container of replica `name`.
  std::string docker_name(const std::string& name) const;

  const docker_options& options() const { return options_; }

private:
  struct watch_entry {
    std::string id;
    int64_t started_at_ms = 0;
    exit_callback on_exit;
  };

  struct recent_exit {
    int64_t time_ms = 0;
    int32_t exit_code = -1;
  };

  explicit docker_driver(docker_options options);

  caf::expected<docker::inspected> inspect_ref(const std::string& ref, const std::string& name);
  caf::error pull(const std::string& image);
  caf::error send_kill(const std::string& ref, const std::string& name, const std::string& signal);
  void kill_if_same_run(const std::string& id, const std::string& name, int64_t started_at_ms);
  int64_t on_line(const std::string& line);
  void on_die(const docker::event& e);
  void on_connected();
  void on_lost(const std::string& why, bool was_connected);
  void resync();
  void report(const std::string& what);

  docker_options options_;
  std::unique_ptr<docker::docker_client> client_;
  std::mutex mutex_;                                // guards the members below
  std::map<std::string, watch_entry> watches_;      // by replica name
  std::map<std::string, recent_exit> recent_exits_; // by container id, the last minute
  std::map<std::string, std::pair<std::chrono::steady_clock::time_point, std::string>>
      failed_pulls_; // image -> when, why
  bool reported_down_ = false;
  // Last: its thread calls the members above, so it goes first.
  std::unique_ptr<docker::event_stream> events_;
};

} // namespace tutti::runtime_drivers
