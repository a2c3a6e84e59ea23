#pragma once

// The one place that turns a driver kind into a driver; called from main.

#include "runtime-drivers/driver.hpp"
#include "runtime-drivers/sim_driver.hpp"

#include <caf/expected.hpp>

#include <memory>
#include <string>

namespace tutti::runtime_drivers {

struct driver_options {
  /// Where the process driver keeps its metadata and logs, e.g. DATA/process.
  std::string state_dir;
  sim_options sim;
};

/// A driver of `kind`: invalid_argument for kinds not built yet (docker,
/// containerd) or missing options; driver_failure when the runtime cannot be
/// set up (the process driver's state directory, say).
caf::expected<std::unique_ptr<driver>> make_driver(protocol::driver_kind kind,
                                                   const driver_options& options);

} // namespace tutti::runtime_drivers
