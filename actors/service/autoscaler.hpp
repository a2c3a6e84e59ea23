#pragma once

// The decisions of one autoscaled service: the replica count its metrics call
// for, within its bounds and rate limits. The HPA's algorithm (desired =
// ceil(value / target) over a stable window, a 10 % tolerance, scale-down
// stabilization, rate limits per period) with Knative's panic mode (a short
// window at twice the target scales up at once and holds off scaling down).
// Pure: its owner feeds it samples and the time, and applies its answers.

#include "protocol/autoscale.hpp"

#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <string>

namespace tutti::actors {

struct autoscale_decision {
  int32_t desired = 0;
  std::string reason; // "rps 412 (137.3 per replica, target 100)"; empty when it keeps the count
};

class autoscaler {
public:
  using clock = std::chrono::steady_clock;

  /// Of a value this close to the target (as a share of it), the count stays.
  static constexpr double tolerance = 0.1;

  explicit autoscaler(protocol::autoscale_spec spec);

  /// The service-wide value of `metric` at `now`: for rps and concurrency the
  /// sum over its replicas; for cpu and memory the sum over its ready replicas
  /// of each one's use as a percentage of its request.
  void observe(protocol::autoscale_metric metric, double total, clock::time_point now);

  /// The count to run from `current` at `now`, and why it changes. The answer
  /// is taken as applied (the rate limits count from it).
  autoscale_decision decide(int32_t current, clock::time_point now);

  /// Whether the short window's value is at twice a target or more, lately.
  bool panicking(clock::time_point now) const { return now < panic_until_; }

  /// The stable window's average of `metric`; negative when it has no sample.
  double value(protocol::autoscale_metric metric, clock::time_point now) const;

  const protocol::autoscale_spec& spec() const { return spec_; }

private:
  struct sample {
    clock::time_point at;
    double total;
  };

  /// The mean of the samples of `metric` since `since`; negative when none.
  double mean_since(protocol::autoscale_metric metric, clock::time_point since) const;

  /// What the metrics ask for from `current`, and the reason of the largest.
  autoscale_decision propose(int32_t current, clock::time_point now);

  /// `proposal` held to the scale-down stabilization and the rate limits.
  int32_t limit(int32_t current, int32_t proposal, clock::time_point now);

  void forget_before(clock::time_point now);

  protocol::autoscale_spec spec_;
  std::map<protocol::autoscale_metric, std::deque<sample>> samples_;
  std::deque<std::pair<clock::time_point, int32_t>> proposals_; // for stabilization
  std::deque<std::pair<clock::time_point, int32_t>> counts_;    // for the rate limits
  clock::time_point panic_until_{};
};

} // namespace tutti::actors
