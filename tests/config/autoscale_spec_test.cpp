// autoscale: of a Service: what it reads into, what it refuses (each mistake
// named, with what is not supported yet), and its canonical YAML.

#include "tests/config/spec_test_support.hpp"

namespace tutti::config::spec_testing {
namespace {

using protocol::autoscale_metric;

/// The errors of `minimal` with `autoscale` appended, as "field: message".
std::vector<std::string> errors_of(const std::string& autoscale, const std::string& extra = {}) {
  auto result = parse(minimal + extra + "autoscale: " + autoscale + "\n");
  std::vector<std::string> out;
  for (const auto& e : result.errors)
    out.push_back(e.field + ": " + e.message);
  return out;
}

TEST(AutoscaleSpec, ReadsTheBoundsMetricsAndBehaviorAndWritesThemBack) {
  auto spec = only_spec(minimal +
                        "autoscale: {min: 2, max: 10, metrics: [{type: rps, target: 100}, "
                        "{type: concurrency, target: 0.5}], behavior: {window: 30s, "
                        "scale_down_stabilization: 0s, scale_up: {replicas: 2, period: 10s}, "
                        "scale_down: {percent: 50}}}\n");
  const auto& a = spec.autoscale;
  EXPECT_TRUE(a.enabled);
  EXPECT_EQ(a.min, 2);
  EXPECT_EQ(a.max, 10);
  ASSERT_EQ(a.metrics.size(), 2u);
  EXPECT_EQ(a.metrics[0], (protocol::metric_target{autoscale_metric::rps, 100}));
  EXPECT_EQ(a.metrics[1], (protocol::metric_target{autoscale_metric::concurrency, 0.5}));
  EXPECT_EQ(a.window, std::chrono::seconds{30});
  EXPECT_EQ(a.scale_down_stabilization, caf::timespan{0});
  EXPECT_EQ(a.scale_up, (protocol::scale_rule{2, 100, std::chrono::seconds{10}}));
  EXPECT_EQ(a.scale_down, (protocol::scale_rule{0, 50, std::chrono::seconds{15}}));
  EXPECT_EQ(only_spec(config::emit_spec(spec)), spec) << config::emit_spec(spec);
  // Without it: nothing in the canonical text.
  auto plain = only_spec(minimal);
  EXPECT_FALSE(plain.autoscale.enabled);
  EXPECT_EQ(config::emit_spec(plain).find("autoscale"), std::string::npos);
}

TEST(AutoscaleSpec, EachMistakeIsNamed) {
  auto expect = [](const std::string& yaml, const std::string& error,
                   const std::string& extra = {}) {
    auto errors = errors_of(yaml, extra);
    ASSERT_EQ(errors.size(), 1u) << yaml;
    EXPECT_EQ(errors[0].rfind(error, 0), 0u) << errors[0];
  };
  expect("{min: 5, max: 2, metrics: [{type: rps, target: 1}]}",
         "autoscale.min: min (5) is above max (2)");
  expect("{metrics: [{type: rps, target: 1}]}", "autoscale.max: required field is missing");
  expect("{max: 3}", "autoscale.metrics: required field is missing");
  expect("{max: 3, metrics: []}", "autoscale.metrics: expected 1 to 8 metrics, got 0");
  expect("{max: 3, metrics: [{type: latency, target: 1}]}",
         "autoscale.metrics[0].type: expected one of cpu, memory, rps or concurrency");
  expect("{max: 3, metrics: [{type: rps, target: 0}]}",
         "autoscale.metrics[0].target: expected a number above 0");
  expect("{max: 3, metrics: [{type: rps, target: 1}, {type: rps, target: 2}]}",
         "autoscale.metrics[1].type: metric rps is given twice");
  expect("{max: 3, metrics: [{type: memory, target: 80}]}",
         "autoscale.metrics[0].type: a memory target is a percentage of what each replica "
         "requests");
  expect("{max: 3, metrics: [{type: rps, target: 1}], behavior: {scale_up: {replicas: 0, "
         "percent: 0}}}",
         "autoscale.behavior.scale_up: replicas and percent cannot both be 0");
  expect("{max: 3, metrics: [{type: rps, target: 1}], behavior: {window: 2h}}",
         "autoscale.behavior.window:");
  expect("{max: 3, metrics: [{type: rps, target: 1}], surprise: 1}", "autoscale.surprise:");
}

TEST(AutoscaleSpec, WhatIsNotBuiltYetIsRefusedSo) {
  EXPECT_EQ(errors_of("{min: 0, max: 3, metrics: [{type: rps, target: 1}]}"),
            std::vector<std::string>{
                "autoscale.min: scale to zero (min: 0) is not supported yet; use min: 1"});
  EXPECT_EQ(errors_of("{max: 3, metrics: [{type: cpu, target: 70}]}", "resources: {cpu: 1}\n"),
            std::vector<std::string>{"autoscale.metrics[0].type: the cpu metric is not "
                                     "supported yet; rps and concurrency are"});
}

} // namespace
} // namespace tutti::config::spec_testing
