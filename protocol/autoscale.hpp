#pragma once

// What a service's `autoscale:` asks for: the bounds of its replica count, the
// metrics whose targets decide it, and how fast it may move.

#include <caf/meta/type_name.hpp>
#include <caf/timespan.hpp>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace tutti::protocol {

/// What a target is set on, per replica: `cpu` (% of its requested cpu),
/// `memory` (% of its requested memory), `rps` (requests per second through the
/// routing mesh), `concurrency` (open connections through the mesh).
enum class autoscale_metric : uint8_t { cpu, memory, rps, concurrency };

std::string to_string(autoscale_metric x);
std::optional<autoscale_metric> autoscale_metric_from(const std::string& text);

struct metric_target {
  autoscale_metric type = autoscale_metric::rps;
  double target = 0; // per replica; > 0
  friend bool operator==(const metric_target&, const metric_target&) = default;
};

template <class Inspector> typename Inspector::result_type inspect(Inspector& f, metric_target& x) {
  return f(caf::meta::type_name("metric_target"), x.type, x.target);
}

/// How much the count may change per `period`: the larger of `replicas` and
/// `percent` of the current count (the HPA's policies, Max select).
struct scale_rule {
  int32_t replicas = 0;
  int32_t percent = 0;
  caf::timespan period = std::chrono::duration_cast<caf::timespan>(std::chrono::seconds{15});
  friend bool operator==(const scale_rule&, const scale_rule&) = default;
};

template <class Inspector> typename Inspector::result_type inspect(Inspector& f, scale_rule& x) {
  return f(caf::meta::type_name("scale_rule"), x.replicas, x.percent, x.period);
}

struct autoscale_spec {
  bool enabled = false; // a spec without `autoscale:` has the count it gives
  int32_t min = 1;
  int32_t max = 1;
  std::vector<metric_target> metrics; // the largest proposal wins
  /// The stable window: the values a decision averages.
  caf::timespan window = std::chrono::duration_cast<caf::timespan>(std::chrono::seconds{60});
  /// A scale-down takes the highest count proposed within this time.
  caf::timespan scale_down_stabilization =
      std::chrono::duration_cast<caf::timespan>(std::chrono::minutes{5});
  scale_rule scale_up{4, 100};
  scale_rule scale_down{0, 100};
  friend bool operator==(const autoscale_spec&, const autoscale_spec&) = default;
};

template <class Inspector> typename Inspector::result_type inspect(Inspector& f, autoscale_spec& x) {
  return f(caf::meta::type_name("autoscale_spec"), x.enabled, x.min, x.max, x.metrics, x.window,
           x.scale_down_stabilization, x.scale_up, x.scale_down);
}

} // namespace tutti::protocol
