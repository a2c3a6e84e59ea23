#pragma once

// Every metric tutti exports, declared in one place: one method of `recorder`
// each, named with its series and labels. Every actor is given a recorder and
// records without asking whether metrics are wanted: the daemons and the
// simulated cluster give a `catalogue` (catalogue.hpp, the Prometheus
// implementation), tests that look at no metric a `null_recorder`.
//
// Implementations are thread-safe: actors on any thread may record concurrently.

#include <cstdint>
#include <stdexcept>
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

class recorder {
public:
  virtual ~recorder() = default;

  // tutti_replicas_desired{service}, tutti_replicas_running{service}
  virtual void set_replicas_desired(const std::string& service, double n) = 0;
  /// An autoscaled service's last decision and the load it saw: requests per
  /// second and open connections through every node's mesh.
  virtual void set_autoscale(const std::string& service, double desired, double rps,
                             double open) = 0;
  virtual void set_replicas_running(const std::string& service, double n) = 0;
  // tutti_replicas_ready{service}: running and passing their readiness probe
  virtual void set_replicas_ready(const std::string& service, double n) = 0;
  // tutti_probe_results_total{service,probe,result}: probe = readiness | liveness,
  // result = ok | failed
  virtual void count_probe(const std::string& service, const std::string& probe, bool ok) = 0;
  // tutti_driver_healthy{node,driver}: 1 when the runtime behind the driver answers
  virtual void set_driver_healthy(const std::string& node, const std::string& driver,
                                  bool healthy) = 0;
  // tutti_replica_restarts_total{service}
  virtual void count_replica_restart(const std::string& service) = 0;
  // tutti_reconcile_duration_seconds{service} (histogram)
  virtual void observe_reconcile(const std::string& service, double seconds) = 0;
  // tutti_replica_start_seconds{service,driver} (histogram): start request -> running
  virtual void observe_replica_start(const std::string& service, const std::string& driver,
                                     double seconds) = 0;
  // tutti_actor_restarts_total{supervisor,child}
  virtual void count_actor_restart(const std::string& supervisor, const std::string& child) = 0;
  // tutti_rpc_requests_total{method,code}, tutti_rpc_duration_seconds{method}
  virtual void count_rpc(const std::string& method, const std::string& code, double seconds) = 0;
  // tutti_events_total{kind}
  virtual void count_event(const std::string& kind) = 0;
  // tutti_placement_decisions_total{result}
  virtual void count_placement(placement_result result) = 0;
  // tutti_placement_decision_seconds (histogram): filter and score of one replica
  virtual void observe_placement(double seconds) = 0;
  // tutti_store_commit_seconds (histogram)
  virtual void observe_store_commit(double seconds) = 0;
  // tutti_store_logged_assignments: assignment changes in the store's log, not
  // yet folded into their tree
  virtual void set_store_logged_assignments(double n) = 0;
  // tutti_leader: 1 while this process runs the control plane (the leader of
  // several on an etcd store, or the only one), 0 while it stands by
  virtual void set_leader(bool leading) = 0;
  // tutti_mesh_connections_total{service}, tutti_mesh_bytes_total{service,direction},
  // tutti_mesh_active_connections{service}, tutti_mesh_upstream_errors_total{service},
  // tutti_mesh_connect_seconds{service} (histogram: accept -> replica connected)
  virtual void record_mesh(const std::string& service, const mesh_sample& x) = 0;
  /// Drops the mesh series of a service the mesh no longer routes (forget_service
  /// drops them too; this one leaves the others alone).
  virtual void forget_mesh(const std::string& service) = 0;

  /// Drops the per-service series of a deleted service.
  virtual void forget_service(const std::string& service) = 0;

protected:
  // Protected so that a recorder is never copied through its interface (slicing).
  recorder() = default;
  recorder(const recorder&) = default;
  recorder& operator=(const recorder&) = default;
};

/// Records nothing: for tests and tools that look at no metric. Stateless, so
/// one instance serves any number of actors on any thread.
class null_recorder final : public recorder {
public:
  void set_replicas_desired(const std::string&, double) override {}
  void set_autoscale(const std::string&, double, double, double) override {}
  void set_replicas_running(const std::string&, double) override {}
  void set_replicas_ready(const std::string&, double) override {}
  void count_probe(const std::string&, const std::string&, bool) override {}
  void set_driver_healthy(const std::string&, const std::string&, bool) override {}
  void count_replica_restart(const std::string&) override {}
  void observe_reconcile(const std::string&, double) override {}
  void observe_replica_start(const std::string&, const std::string&, double) override {}
  void count_actor_restart(const std::string&, const std::string&) override {}
  void count_rpc(const std::string&, const std::string&, double) override {}
  void count_event(const std::string&) override {}
  void count_placement(placement_result) override {}
  void observe_placement(double) override {}
  void observe_store_commit(double) override {}
  void set_leader(bool) override {}
  void set_store_logged_assignments(double) override {}
  void record_mesh(const std::string&, const mesh_sample&) override {}
  void forget_mesh(const std::string&) override {}
  void forget_service(const std::string&) override {}
};

/// `*x`; throws std::invalid_argument naming `holder` when `x` is null. A
/// context that carries its recorder as a pointer is checked with this once,
/// where its actor is made, so the actor records without checking.
inline recorder& required(recorder* x, const char* holder) {
  if (x == nullptr)
    throw std::invalid_argument(std::string{holder} +
                                ": no metrics recorder (metrics::null_recorder records nothing)");
  return *x;
}

} // namespace tutti::metrics
