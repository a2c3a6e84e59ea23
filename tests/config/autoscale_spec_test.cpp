// autoscale: of a Service is checked whole (its place named in each error)
// and then refused as not supported yet.

#include "tests/config/spec_test_support.hpp"

namespace tutti::config::spec_testing {
namespace {

/// The errors of `minimal` with `autoscale` appended, as "field: message".
std::vector<std::string> errors_of(const std::string& autoscale,
                                   const std::string& extra = {}) {
  auto result = parse(minimal + extra + "autoscale: " + autoscale + "\n");
  std::vector<std::string> out;
  for (const auto& e : result.errors)
    out.push_back(e.field + ": " + e.message);
  return out;
}

const std::string refused = "autoscale: autoscale is not supported yet";

TEST(AutoscaleSpec, AWholeSpecIsCheckedThenRefusedForNow) {
  EXPECT_EQ(errors_of("{min: 2, max: 10, metrics: [{type: rps, target: 100}, "
                      "{type: concurrency, target: 0.5}], behavior: {window: 30s, "
                      "scale_down_stabilization: 0s, scale_up: {replicas: 2, period: 10s}, "
                      "scale_down: {percent: 50}}}"),
            std::vector<std::string>{refused});
  EXPECT_EQ(errors_of("{max: 4, metrics: [{type: cpu, target: 70}]}",
                      "resources: {cpu: 0.5}\n"),
            std::vector<std::string>{refused});
}

TEST(AutoscaleSpec, EachMistakeIsNamed) {
  auto expect = [](const std::string& yaml, const std::string& error,
                   const std::string& extra = {}) {
    auto errors = errors_of(yaml, extra);
    ASSERT_EQ(errors.size(), 2u) << yaml;
    EXPECT_EQ(errors[0], refused); // at the key: first
    EXPECT_EQ(errors[1].rfind(error, 0), 0u) << errors[1];
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

} // namespace
} // namespace tutti::config::spec_testing
