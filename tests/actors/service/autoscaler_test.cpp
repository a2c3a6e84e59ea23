// The autoscaler's decisions on made-up samples and time: the stable window,
// the tolerance, panic mode, scale-down stabilization, the rate limits, the
// bounds and flapping load.

#include "actors/service/autoscaler.hpp"

#include <gtest/gtest.h>

namespace tutti::actors {
namespace {

using namespace std::chrono_literals;
using protocol::autoscale_metric;
using clock = autoscaler::clock;

protocol::autoscale_spec rps_spec(int32_t min, int32_t max, double target = 100) {
  protocol::autoscale_spec spec;
  spec.min = min;
  spec.max = max;
  spec.metrics = {{autoscale_metric::rps, target}};
  return spec;
}

/// Feeds `total` every second for `duration` from `t`, deciding after each sample;
/// the count after the last decision. `t` moves on.
int32_t run(autoscaler& a, int32_t count, double total, clock::duration duration,
            clock::time_point& t) {
  for (auto end = t + duration; t < end; t += 1s) {
    a.observe(autoscale_metric::rps, total, t);
    count = a.decide(count, t).desired;
  }
  return count;
}

TEST(Autoscaler, LoadNearTheTargetKeepsTheCount) {
  autoscaler a{rps_spec(1, 10)};
  auto t = clock::time_point{} + 1h;
  EXPECT_EQ(run(a, 3, 3 * 105.0, 120s, t), 3); // within 10 %
  EXPECT_EQ(run(a, 3, 3 * 95.0, 120s, t), 3);
}

TEST(Autoscaler, RisingLoadScalesUpWithTheReasonWithinTheRateLimit) {
  autoscaler a{rps_spec(1, 20)};
  auto t = clock::time_point{} + 1h;
  run(a, 2, 200, 60s, t);
  // 10x: a panic at once (the short window is past twice the target per replica).
  a.observe(autoscale_metric::rps, 2000, t);
  auto d = a.decide(2, t);
  EXPECT_TRUE(a.panicking(t));
  EXPECT_GT(d.desired, 2);
  EXPECT_EQ(d.reason.rfind("rps ", 0), 0u) << d.reason;
  EXPECT_NE(d.reason.find("per replica, target 100)"), std::string::npos) << d.reason;
  t += 1s;
  // The first period: at most 4 more (more than +100 % of 2).
  auto count = run(a, d.desired, 2000, 10s, t);
  EXPECT_EQ(count, 6);
  // The next: at most +100 % of the count at its start.
  count = run(a, count, 2000, 10s, t);
  EXPECT_GT(count, 6);
  EXPECT_LE(count, 12);
  EXPECT_EQ(run(a, count, 2000, 60s, t), 20); // the max
}

TEST(Autoscaler, WithoutAPanicTheStableWindowDecides) {
  autoscaler a{rps_spec(1, 10)};
  auto t = clock::time_point{} + 1h;
  run(a, 2, 200, 60s, t);
  // 1.5x the target: no panic, the window's average rises slowly.
  a.observe(autoscale_metric::rps, 300, t);
  EXPECT_EQ(a.decide(2, t).desired, 2); // the average is still near 200
  EXPECT_FALSE(a.panicking(t));
  EXPECT_EQ(run(a, 2, 300, 60s, t), 3);
}

TEST(Autoscaler, ScaleDownWaitsForTheStabilizationWindow) {
  autoscaler a{rps_spec(1, 10)};
  auto t = clock::time_point{} + 1h;
  auto count = run(a, 8, 800, 300s, t);
  ASSERT_EQ(count, 8);
  count = run(a, count, 100, 240s, t); // load gone, within 5 min: kept
  EXPECT_EQ(count, 8);
  count = run(a, count, 100, 180s, t); // the last high average left the window
  EXPECT_EQ(count, 1);
}

TEST(Autoscaler, FlappingLoadDoesNotMakeTheCountOscillate) {
  autoscaler a{rps_spec(1, 10)};
  auto t = clock::time_point{} + 1h;
  auto count = run(a, 4, 400, 120s, t);
  std::vector<int32_t> seen;
  for (int i = 0; i < 12; ++i) {
    count = run(a, count, i % 2 == 0 ? 700 : 200, 10s, t);
    seen.push_back(count);
  }
  // Up once, never down within the stabilization window.
  for (size_t i = 1; i < seen.size(); ++i)
    EXPECT_GE(seen[i], seen[i - 1]) << "step " << i;
}

TEST(Autoscaler, TheBoundsHoldAndAMissingMetricHasNoSay) {
  autoscaler a{rps_spec(2, 5)};
  auto t = clock::time_point{} + 1h;
  auto d = a.decide(1, t); // no sample: only the bounds
  EXPECT_EQ(d.desired, 2);
  EXPECT_EQ(d.reason, "bounds 2-5");
  EXPECT_EQ(a.decide(2, t + 1s).desired, 2);
  EXPECT_EQ(run(a, 2, 0, 400s, t), 2); // no load: the min
}

TEST(Autoscaler, TheLargestProposalOfSeveralMetricsWins) {
  auto spec = rps_spec(1, 10);
  spec.metrics.push_back({autoscale_metric::concurrency, 10});
  autoscaler a{spec};
  auto t = clock::time_point{} + 1h;
  for (int i = 0; i < 60; ++i, t += 1s) {
    a.observe(autoscale_metric::rps, 200, t);         // 2 replicas' worth
    a.observe(autoscale_metric::concurrency, 50, t); // 5 replicas' worth
  }
  auto d = a.decide(2, t);
  EXPECT_EQ(d.desired, 5);
  EXPECT_NE(d.reason.find("concurrency 50"), std::string::npos) << d.reason;
}

} // namespace
} // namespace tutti::actors
