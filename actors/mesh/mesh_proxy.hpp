#pragma once

// The data path of the routing mesh: a KJ event loop on a thread of its own that
// listens on the published ports and forwards each TCP connection to an upstream
// picked by that port's balancer, with no thread per connection. The router actor
// (CAF) owns it and hands it the whole routing table with update(); the table
// crosses threads under a mutex and a cross-thread fulfiller wakes the loop, so
// neither side ever waits for the other.

#include "actors/mesh/balancer.hpp"

#include <caf/timespan.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace tutti::metrics {
class recorder;
}

namespace tutti::actors {

/// What the mesh has carried for one service: connections forwarded since the
/// proxy started, and open now. Updated every metrics_interval.
struct service_traffic {
  uint64_t forwarded = 0;
  int64_t open = 0;
  /// When `forwarded` was counted last: rates are taken over these times, not
  /// over the reader's, which do not line up with the counting.
  std::chrono::steady_clock::time_point counted_at;
};

/// One published port and where its connections go.
struct mesh_route {
  std::string service;
  uint16_t port = 0; // the published port
  protocol::load_balancing balancing = protocol::load_balancing::round_robin;
  std::vector<upstream> upstreams;
};

class mesh_proxy {
public:
  struct options {
    std::string host = "127.0.0.1"; // the address published ports listen on
    caf::timespan connect_timeout =
        std::chrono::duration_cast<caf::timespan>(std::chrono::seconds{1});
    caf::timespan idle_timeout = std::chrono::duration_cast<caf::timespan>(std::chrono::minutes{5});
    /// How often the per-service counters are handed to the recorder.
    caf::timespan metrics_interval =
        std::chrono::duration_cast<caf::timespan>(std::chrono::milliseconds{500});
    /// Called on the proxy's thread when a published port cannot be bound (once
    /// per port and reason; binding is retried every few seconds).
    std::function<void(const std::string& service, uint16_t port, const std::string& why)>
        on_listen_error;
  };

  /// `metrics` receives the per-service counters, on the proxy's thread.
  mesh_proxy(options opts, metrics::recorder& metrics);
  ~mesh_proxy(); // stop()
  mesh_proxy(const mesh_proxy&) = delete;
  mesh_proxy& operator=(const mesh_proxy&) = delete;

  /// Starts the thread; returns at once (routes given before are applied first).
  void start();

  /// Replaces the routing table (thread-safe, never blocks on the loop). Ports no
  /// longer in it stop accepting; their open connections go on. Returns the
  /// table's generation.
  uint64_t update(std::vector<mesh_route> routes);

  /// The newest generation the loop has applied: connections accepted after it
  /// follow that table.
  uint64_t applied() const;

  /// Open connections forwarded to a replica's endpoints (thread-safe).
  int32_t active(const std::string& replica) const;

  /// Each routed service's traffic (thread-safe).
  std::map<std::string, service_traffic> traffic() const;

  /// The published ports being listened on now (thread-safe).
  std::vector<uint16_t> listening() const;

  /// Closes every listener and connection and joins the thread.
  void stop();

private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

} // namespace tutti::actors
