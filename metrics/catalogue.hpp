#pragma once

// Every metric tutti exports, declared in one place. prometheus-cpp stays behind
// this facade (linked PRIVATE), so callers need no prometheus headers.
//
// Thread-safe: actors on any thread may record concurrently.

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace tutti::metrics {

/// What the routing mesh saw of one service since its last report.
struct mesh_sample {
  uint64_t connections = 0;          // forwarded to a replica
  uint64_t bytes_in = 0;             // client -> replica
  uint64_t bytes_out = 0;            // replica -> client
  uint64_t upstream_errors = 0;      // connect attempts refused or timed out, or no replica
  int64_t active = 0;                // open connections now (a level, not a delta)
  std::vector<double> setup_seconds; // accept -> replica connected, per connection
};

enum class placement_result { placed, refused, unschedulable };

/// Totals of the placement metrics, for benchmarks that print them.
struct placement_totals {
  double placed = 0;
  double refused = 0;
  double unschedulable = 0;
  uint64_t decisions = 0;      // choose_node calls
  double decision_seconds = 0; // their summed duration
};

class catalogue {
public:
  catalogue();
  ~catalogue();
  catalogue(const catalogue&) = delete;
  catalogue& operator=(const catalogue&) = delete;

  // tutti_replicas_desired{service}, tutti_replicas_running{service}
  void set_replicas_desired(const std::string& service, double n);
  void set_replicas_running(const std::string& service, double n);
  // tutti_replicas_ready{service}: running and passing their readiness probe
  void set_replicas_ready(const std::string& service, double n);
  // tutti_probe_results_total{service,probe,result}: probe = readiness | liveness,
  // result = ok | failed
  void count_probe(const std::string& service, const std::string& probe, bool ok);
  // tutti_driver_healthy{node,driver}: 1 when the runtime behind the driver answers
  void set_driver_healthy(const std::string& node, const std::string& driver, bool healthy);
  // tutti_replica_restarts_total{service}
  void count_replica_restart(const std::string& service);
  // tutti_reconcile_duration_seconds{service} (histogram)
  void observe_reconcile(const std::string& service, double seconds);
  // tutti_replica_start_seconds{service,driver} (histogram): start request -> running
  void observe_replica_start(const std::string& service, const std::string& driver, double seconds);
  // tutti_actor_restarts_total{supervisor,child}
  void count_actor_restart(const std::string& supervisor, const std::string& child);
  // tutti_rpc_requests_total{method,code}, tutti_rpc_duration_seconds{method}
  void count_rpc(const std::string& method, const std::string& code, double seconds);
  // tutti_events_total{kind}
  void count_event(const std::string& kind);
  // tutti_placement_decisions_total{result}
  void count_placement(placement_result result);
  // tutti_placement_decision_seconds (histogram): filter and score of one replica
  void observe_placement(double seconds);
  placement_totals placements() const;
  // tutti_store_commit_seconds (histogram)
  void observe_store_commit(double seconds);
  // tutti_store_logged_assignments: assignment changes in the store's log, not
  // yet folded into their tree
  void set_store_logged_assignments(double n);
  // tutti_mesh_connections_total{service}, tutti_mesh_bytes_total{service,direction},
  // tutti_mesh_active_connections{service}, tutti_mesh_upstream_errors_total{service},
  // tutti_mesh_connect_seconds{service} (histogram: accept -> replica connected)
  void record_mesh(const std::string& service, const mesh_sample& x);
  /// Drops the mesh series of a service the mesh no longer routes (forget_service
  /// drops them too; this one leaves the others alone).
  void forget_mesh(const std::string& service);

  /// Drops the per-service series of a deleted service.
  void forget_service(const std::string& service);

  /// The Prometheus text exposition of everything, as /metrics serves it.
  std::string serialize() const;

private:
  friend class exposer;
  struct impl;
  std::unique_ptr<impl> impl_;
};

/// Serves a catalogue at http://HOST:PORT/metrics (civetweb inside prometheus-cpp).
class exposer {
public:
  /// Binds "host:port" (port 0 picks a free one). Throws std::runtime_error with
  /// the address when the bind fails.
  exposer(catalogue& cat, const std::string& bind_address);
  ~exposer();
  uint16_t port() const;

private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

} // namespace tutti::metrics
