#pragma once

// The Prometheus implementation of recorder (recorder.hpp declares every
// metric). prometheus-cpp stays behind this facade (linked PRIVATE), so callers
// need no prometheus headers.
//
// Thread-safe: actors on any thread may record concurrently.

#include "metrics/recorder.hpp"

#include <cstdint>
#include <memory>
#include <string>

namespace tutti::metrics {

/// Totals of the placement metrics, for benchmarks that print them.
struct placement_totals {
  double placed = 0;
  double refused = 0;
  double unschedulable = 0;
  uint64_t decisions = 0;      // choose_node calls
  double decision_seconds = 0; // their summed duration
};

class catalogue final : public recorder {
public:
  catalogue();
  ~catalogue() override;
  catalogue(const catalogue&) = delete;
  catalogue& operator=(const catalogue&) = delete;

  void set_replicas_desired(const std::string& service, double n) override;
  void set_autoscale(const std::string& service, double desired, double rps,
                     double open) override;
  void set_replicas_running(const std::string& service, double n) override;
  void set_replicas_ready(const std::string& service, double n) override;
  void count_probe(const std::string& service, const std::string& probe, bool ok) override;
  void set_driver_healthy(const std::string& node, const std::string& driver,
                          bool healthy) override;
  void count_replica_restart(const std::string& service) override;
  void observe_reconcile(const std::string& service, double seconds) override;
  void observe_replica_start(const std::string& service, const std::string& driver,
                             double seconds) override;
  void count_actor_restart(const std::string& supervisor, const std::string& child) override;
  void count_rpc(const std::string& method, const std::string& code, double seconds) override;
  void count_event(const std::string& kind) override;
  void count_placement(placement_result result) override;
  void observe_placement(double seconds) override;
  void observe_store_commit(double seconds) override;
  void set_leader(bool leading) override;
  /// A control process of several saw another leader (or itself) take over.
  void count_leader_change();
  void set_store_logged_assignments(double n) override;
  void record_mesh(const std::string& service, const mesh_sample& x) override;
  void forget_mesh(const std::string& service) override;
  void forget_service(const std::string& service) override;

  placement_totals placements() const;

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
