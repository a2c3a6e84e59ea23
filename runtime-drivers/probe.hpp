#pragma once

// Health probes of a replica: exec through its driver, http and tcp straight to
// its host port (replicas use host networking). Blocking, bounded by the probe's
// timeout: callers run them off the actor threads.

#include "protocol/spec.hpp"
#include "protocol/status.hpp"
#include "runtime-drivers/driver.hpp"

#include <string>
#include <vector>

namespace tutti::runtime_drivers {

struct probe_target {
  std::string container;                     // the replica id, for exec
  std::string address = "127.0.0.1";         // where its ports listen
  std::vector<protocol::port_binding> ports; // name -> host port
};

struct probe_outcome {
  bool healthy = false;
  std::string message; // "HTTP 200", "exit code 1: <output>", "connection refused"
};

/// Runs `probe` once against `target`.
probe_outcome run_probe(driver& d, const protocol::probe_spec& probe, const probe_target& target);

} // namespace tutti::runtime_drivers
