#include "runtime-drivers/factory.hpp"

#include "protocol/errors.hpp"
#include "runtime-drivers/containerd/containerd_driver.hpp"
#include "runtime-drivers/docker/docker_driver.hpp"
#include "runtime-drivers/pod_driver.hpp"
#include "runtime-drivers/process/process_driver.hpp"

namespace tutti::runtime_drivers {

namespace {

caf::expected<std::unique_ptr<driver>> make_runtime_driver(protocol::driver_kind kind,
                                                           const driver_options& options) {
  using protocol::driver_kind;
  switch (kind) {
    case driver_kind::process: {
      auto result = process_driver::make(options.state_dir);
      if (!result)
        return std::move(result.error());
      return std::unique_ptr<driver>{std::move(*result)};
    }
    case driver_kind::sim:
      return std::unique_ptr<driver>{std::make_unique<sim_driver>(options.sim)};
    case driver_kind::docker: {
      docker_options docker;
      docker.socket = options.docker_socket;
      docker.node = options.node;
      auto result = docker_driver::make(std::move(docker));
      if (!result)
        return std::move(result.error());
      return std::unique_ptr<driver>{std::move(*result)};
    }
    case driver_kind::containerd: {
      containerd_options containerd;
      containerd.socket = options.containerd_socket;
      containerd.name_space = options.containerd_namespace;
      containerd.node = options.node;
      containerd.state_dir = options.containerd_state_dir;
      containerd.log_binary = options.containerd_log_binary;
      auto result = containerd_driver::make(std::move(containerd));
      if (!result)
        return std::move(result.error());
      return std::unique_ptr<driver>{std::move(*result)};
    }
  }
  return protocol::make_error(protocol::error_code::invalid_argument,
                              "driver '" + protocol::to_string(kind) + "' is not known");
}

} // namespace

caf::expected<std::unique_ptr<driver>> make_driver(protocol::driver_kind kind,
                                                   const driver_options& options) {
  auto made = make_runtime_driver(kind, options);
  // The sim driver stands in for a runtime at scale: one container per replica.
  if (!made || kind == protocol::driver_kind::sim)
    return made;
  return std::unique_ptr<driver>{std::make_unique<pod_driver>(std::move(*made), options.node)};
}

} // namespace tutti::runtime_drivers
