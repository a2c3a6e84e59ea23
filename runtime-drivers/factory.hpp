#pragma once

// The one place that turns a driver kind into a driver; called from main.

#include "runtime-drivers/driver.hpp"
#include "runtime-drivers/sim/sim_driver.hpp"

#include <caf/expected.hpp>

#include <memory>
#include <string>

namespace tutti::runtime_drivers {

struct driver_options {
  /// Where the process driver keeps its metadata and logs, e.g. DATA/process.
  std::string state_dir;
  sim_options sim;
  /// The Docker engine's unix socket (docker driver).
  std::string docker_socket = "/var/run/docker.sock";
  /// containerd's gRPC socket and tutti's namespace in it (containerd driver).
  std::string containerd_socket = "/run/containerd/containerd.sock";
  std::string containerd_namespace = "tutti";
  /// Where the containerd driver keeps task logs, e.g. DATA/containerd.
  std::string containerd_state_dir;
  /// tuttid's own path: containerd's shims run it to copy task output.
  std::string containerd_log_binary;
  /// The node the driver runs containers for; the docker driver puts it in
  /// container names so that nodes sharing one engine never clash.
  std::string node;
};

/// A driver of `kind`: invalid_argument for missing options; driver_failure
/// when the runtime cannot be set up (the process driver's state directory,
/// say). The docker and containerd drivers are made even when their runtime
/// does not answer: their calls fail until it does.
caf::expected<std::unique_ptr<driver>> make_driver(protocol::driver_kind kind,
                                                   const driver_options& options);

} // namespace tutti::runtime_drivers
