#pragma once

// `tuttid dev`: the control plane and one node agent in one process. Builds the
// actor tree of docs/architecture.md from a daemon config and owns everything it
// starts.

#include "actors/api/api_server.hpp"
#include "config/daemon_config.hpp"
#include "persistence/etcd_store.hpp"
#include "runtime-drivers/driver.hpp"

#include <caf/fwd.hpp>

namespace tutti::metrics {
class catalogue;
}

#include <caf/expected.hpp>

#include <memory>
#include <string>
#include <optional>

namespace tutti::actors {

/// dev: control plane and one node agent in one process; control: the control
/// plane alone, node agents join it over the network (cluster.listen).
enum class daemon_mode { dev, control };

/// The leadership a control process of several on etcd holds (ha_control.hpp):
/// the fence of its store writes (leader_election.hpp), and the metrics its
/// process serves for its whole life, leading or standing by.
struct leadership {
  persistence::write_fence fence;
  std::shared_ptr<metrics::catalogue> metrics;
};

/// This host's name as a node name (lower case, [a-z0-9-]), or "local".
std::string host_name();

/// Where a node agent writes the files of its replicas' configs and secrets:
/// node.secrets_dir, else /dev/shm/tutti-UID-HASH (HASH names the absolute data
/// directory, so two agents of one host keep apart).
std::string secrets_folder(const config::daemon_config& cfg);

/// The client API's options per the config (address, limits, version).
api_server::options api_options(const config::daemon_config& cfg);

/// The drivers a node offers per its config: sim always, process and docker
/// unless disabled (docker made even when no engine answers yet).
caf::expected<std::map<protocol::driver_kind, std::shared_ptr<runtime_drivers::driver>>>
make_drivers(const config::daemon_config& cfg);

class dev_daemon {
public:
  struct ports {
    uint16_t api = 0;
    uint16_t metrics = 0;
    uint16_t cluster = 0; // control: where node agents join
    std::string dashboard; // its URL; empty when off
  };

  /// Opens the store (refusing a data directory another tuttid holds), serves the
  /// API and metrics and starts the supervision tree. Errors say what to fix.
  /// `leading`: the leadership of a control process of several on etcd; none
  /// for LMDB, or one control process alone (it then serves its own metrics).
  static caf::expected<std::unique_ptr<dev_daemon>>
  start(const config::daemon_config& cfg, daemon_mode mode = daemon_mode::dev,
        std::optional<leadership> leading = std::nullopt);

  ~dev_daemon(); // same as shutdown()

  ports bound() const;

  /// Blocks until the control plane fails (returns its error) or shutdown().
  caf::error wait();

  /// A leader that lost its leadership: every store call still in progress or
  /// to come fails at once, so that shutdown() does not wait out the timeouts
  /// of an etcd that cannot be reached.
  void stand_down(const std::string& why);

  /// Stops the API, then the actor tree (newest first). Replicas keep running for
  /// adoption unless the config says stop_replicas_on_exit.
  void shutdown();

  /// For tests and chaos tooling: the actor system, the root supervisor (it
  /// answers `child_atom, NAME`), and the driver of a kind.
  caf::actor_system& system();
  caf::actor root() const;
  std::shared_ptr<runtime_drivers::driver> driver(protocol::driver_kind kind) const;

private:
  struct impl;
  explicit dev_daemon(std::unique_ptr<impl> x);
  std::unique_ptr<impl> impl_;
};

} // namespace tutti::actors
