#pragma once

// The driver interface: how a node runs one container (or process) per replica.
// It knows nothing of actors. Implementations are `final` classes chosen by
// make_driver() in factory.hpp.
//
// Threading: every method may be called from one thread at a time (the node's
// driver actor, a detached thread because create/start may block), or from up
// to concurrency() threads at once when the driver says so. Exit callbacks run
// on a thread owned by the driver and must not block; they typically post a
// message to an actor.

#include "protocol/errors.hpp"
#include "protocol/spec.hpp"

#include <caf/expected.hpp>
#include <caf/timespan.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace tutti::runtime_drivers {

/// Labels every driver puts on what it runs, so a restarted node can adopt it.
namespace label {
inline constexpr const char* service = "tutti.service";
inline constexpr const char* replica = "tutti.replica";
inline constexpr const char* node = "tutti.node";
inline constexpr const char* revision = "tutti.revision";
inline constexpr const char* ports = "tutti.ports"; // "http=20001,admin=20002"
/// One container of a replica's several: its name in the spec, and its place
/// in their order ("0", "1", ...); an init container's order is "init".
inline constexpr const char* container = "tutti.container";
inline constexpr const char* order = "tutti.order";
} // namespace label

/// A folder of the node that a container sees at `target` (a bind mount).
struct volume_mount {
  std::string source; // absolute path on the node; exists
  std::string target; // absolute path in the container
  bool read_only = false;
  friend bool operator==(const volume_mount&, const volume_mount&) = default;
};

/// Everything needed to create the container of one replica. The replica id is
/// the container's name: at most one container per name exists at a time.
struct container_spec {
  std::string name;                 // replica id, e.g. "web-0"; [a-z0-9][a-z0-9-]*
  std::string image;                // docker / containerd only
  std::string image_archive;        // containerd only: an archive on the node holding `image`
  std::vector<std::string> command; // ${VAR} already substituted
  std::map<std::string, std::string> env;
  protocol::resource_spec resources;
  std::map<std::string, std::string> labels;
  std::vector<volume_mount> mounts; // docker / containerd only (a process gets env)
  /// A replica of several containers (pod_driver.hpp): each part one container
  /// named `<name>_<part>`, started in this order; the fields above then only
  /// name the whole. Empty: one container.
  std::vector<container_spec> parts;
  /// The time a part's siblings get to stop when it exits (a replica of several).
  caf::timespan stop_grace = std::chrono::seconds{10};
};

enum class container_state : uint8_t { created, running, exited };

struct container_info {
  std::string name;
  std::string runtime_id; // container id; for processes the pid as text
  int64_t pid = 0;        // 0 when not running
  container_state state = container_state::created;
  int32_t exit_code = 0; // valid when exited; -1 when unknown
  int64_t started_at_ms = 0;
  std::map<std::string, std::string> labels;
  std::map<std::string, std::string> env;
};

/// What a command run in a container's context did.
struct exec_result {
  int32_t exit_code = -1;
  std::string output; // stdout and stderr, at most a few KiB
};

struct container_stats {
  double cpu_seconds = 0;   // user + system since start
  int64_t memory_bytes = 0; // resident set
};

/// Called once when a watched container exits, with its exit code (-1 when the
/// driver cannot know it, e.g. an adopted process that is not our child, or 128+N
/// when killed by signal N).
using exit_callback = std::function<void(const std::string& name, int32_t exit_code)>;

class driver {
public:
  virtual ~driver() = default;

  virtual protocol::driver_kind kind() const = 0;

  /// True when calls may block for more than a few milliseconds; the node then
  /// runs this driver on a detached thread.
  virtual bool blocking() const = 0;

  /// True when every call returns at once and any number of threads may make
  /// calls at the same time (the driver locks what it shares). Actors then call
  /// it inline where a message to the driver actor would cost more than the
  /// call: a replica runs its container with `run` directly. False unless the
  /// driver is built for it.
  virtual bool inline_calls() const { return false; }

  /// How many calls may run at once, each on its own thread (for different
  /// containers; calls for one container stay one at a time). 1 unless the
  /// driver is built for more: a blocking driver's calls then overlap.
  virtual size_t concurrency() const { return 1; }

  /// Creates (does not start) the container. Fails with already_exists when a
  /// container of that name exists.
  virtual caf::expected<container_info> create(const container_spec& spec) = 0;

  /// Starts a created or exited container (a restart keeps the name, labels and
  /// logs); returns its state once it runs.
  virtual caf::expected<container_info> start(const std::string& name) = 0;

  /// Creates, starts and watches a new container in one call: what a replica
  /// does for its first incarnation. `watcher` gives the exit callback once the
  /// container runs, from what start returned (its runtime id names the
  /// incarnation). Fails like create, start or watch; the container then stays
  /// as far as it got. A driver may do it all in one step.
  virtual caf::expected<container_info>
  run(container_spec spec, const std::function<exit_callback(const container_info&)>& watcher) {
    if (auto created = create(spec); !created)
      return std::move(created.error());
    auto started = start(spec.name);
    if (!started)
      return started;
    if (auto err = watch(spec.name, watcher(*started)))
      return protocol::make_error(protocol::code_of(err),
                                  "cannot watch: " + protocol::message_of(err));
    return started;
  }

  /// Asks the container to stop (SIGTERM or equivalent) and kills it when it has
  /// not exited after `grace`. Does not wait: the exit callback reports the end.
  /// Stopping a container that is not running succeeds.
  virtual caf::error stop(const std::string& name, caf::timespan grace) = 0;

  /// Removes an exited (or, with force, a running: killed first) container and
  /// everything the driver kept for it, logs included. not_found when absent.
  virtual caf::error remove(const std::string& name, bool force) = 0;

  /// The current state, or not_found.
  virtual caf::expected<container_info> inspect(const std::string& name) = 0;

  /// Registers the one exit callback of a running container. If it already
  /// exited, the callback runs soon (on the driver's thread), not inline.
  virtual caf::error watch(const std::string& name, exit_callback on_exit) = 0;

  /// The last `max_bytes` bytes of the container's stdout and stderr, interleaved
  /// in the order they were written.
  virtual caf::expected<std::string> logs(const std::string& name, size_t max_bytes) = 0;

  virtual caf::expected<container_stats> stats(const std::string& name) = 0;

  /// Every container this driver runs or ran for node `node` (label tutti.node),
  /// including exited ones not yet removed; used to adopt after a restart.
  virtual caf::expected<std::vector<container_info>> list_owned(const std::string& node) = 0;

  /// The names of what list_owned returns: what a sweep needs (a driver may
  /// answer it without building every container's labels and environment).
  virtual caf::expected<std::vector<std::string>> names_owned(const std::string& node) {
    auto owned = list_owned(node);
    if (!owned)
      return std::move(owned.error());
    std::vector<std::string> out;
    out.reserve(owned->size());
    for (auto& x : *owned)
      out.push_back(std::move(x.name));
    return out;
  }

  /// Whether the runtime behind the driver answers now: none when it does, else
  /// an error saying what is wrong and what to do. Cheap and bounded (about a
  /// second at most): the node asks every few seconds.
  virtual caf::error health() { return caf::none; }

  /// Loads the images of an archive on this host (`docker save` output or an
  /// OCI image layout, as a tar) into the runtime's image store; answers their
  /// names (name:tag). The archive stays where it is. Drivers that run no
  /// images refuse (invalid_argument).
  virtual caf::expected<std::vector<std::string>> import_images(const std::string& archive_path) {
    (void)archive_path;
    return protocol::make_error(protocol::error_code::invalid_argument,
                                "the " + protocol::to_string(kind()) +
                                    " driver runs no images: nothing to import");
  }

  /// Runs `command` in the context of the running container `name` (its
  /// environment; for containers, inside it) and waits at most `timeout` for it;
  /// a command still running then is killed and the call fails with timeout.
  /// Unlike the other methods it may be called from any thread at any time
  /// (health probes run it alongside the driver's own calls).
  virtual caf::expected<exec_result>
  exec(const std::string& name, const std::vector<std::string>& command, caf::timespan timeout) = 0;
};

} // namespace tutti::runtime_drivers
