#pragma once

// What one client may ask of the control plane at once: bounds that keep a
// careless or hostile client from starving the others. Each is a config value
// (`limits:` in tuttid's config) and each refusal says which limit it hit.

#include <cstdint>

namespace tutti::protocol {

struct api_limits {
  /// The largest message a client may send (an apply's YAML is most of it).
  uint64_t request_bytes = 5u << 20;
  /// Documents (services) in one apply.
  int32_t documents_per_apply = 1000;
  /// Services the cluster holds; an apply that would create more is refused.
  int32_t services = 10000;
  /// Client connections served at once; more are closed as they arrive.
  int32_t connections = 1024;
  /// Calls of one connection that may await their answer; a client that sends
  /// more without reading answers is refused further calls until it reads.
  int32_t calls_per_connection = 64;
  /// Event follow and endpoint watch streams one connection may hold open.
  int32_t streams_per_connection = 8;
  /// Records the audit log keeps; older ones are pruned (a client whose calls
  /// are all refused still adds records, so the log must not grow unbounded).
  int64_t audit_records = 100000;
};

} // namespace tutti::protocol
