// Autoscaling with real processes and load through the routing mesh: busybox
// httpd replicas of a service with an rps target; a load that rises scales it
// up, the load gone scales it down after the stabilization window, with no
// failed request, each decision an event with its reason, and a manual scale
// outside the bounds refused.

#include "tests/integration/fixture.hpp"

namespace tutti::tests::integration {
namespace {

/// `web`: httpd replicas behind `published`, autoscaled on rps (target 50 per
/// replica, 1-4 replicas), with short windows so that the test takes seconds.
std::string autoscaled_yaml(const std::string& root, uint16_t published) {
  auto dir = root + "/${PORT}";
  auto script = "mkdir -p " + dir + " && echo replica-${PORT} > " + dir +
                "/index.html && exec /bin/busybox httpd -f -p 127.0.0.1:${PORT} -h " + dir;
  return service_yaml("web", 1, {"/bin/busybox", "sh", "-c", script},
                      "ports: [{name: http, published: " + std::to_string(published) +
                          "}]\n"
                          "health: {readiness: {tcp: {port: http}, interval: 100ms}}\n"
                          "stop_grace: 5s\n"
                          "autoscale:\n"
                          "  min: 1\n"
                          "  max: 4\n"
                          "  metrics: [{type: rps, target: 50}]\n"
                          "  behavior: {window: 3s, scale_down_stabilization: 4s,\n"
                          "             scale_up: {replicas: 4, period: 1s},\n"
                          "             scale_down: {percent: 100, period: 1s}}\n");
}

std::vector<std::string> autoscale_events(s::tuttid_process& d) {
  std::vector<std::string> out;
  for (auto& e : events_of(d))
    if (e.value("kind", "") == "autoscaled")
      out.push_back(e.value("message", ""));
  return out;
}

class autoscale : public integration {};

TEST_F(autoscale, LoadScalesUpAndItsEndScalesDownWithoutAFailedRequest) {
  auto& d = start_daemon();
  auto published = s::free_port();
  auto file = d.scratch().write("web.yaml", autoscaled_yaml(d.scratch().file("www"), published));
  auto r = d.tutti({"apply", "-f", file});
  ASSERT_EQ(r.exit_code, 0) << r.describe();
  ASSERT_TRUE(wait_ready(d, "web", 1)) << json(replicas_of(d, "web"));
  ASSERT_TRUE(s::wait_until([&] { return !request(published).empty(); }, 5s));

  // A load of hundreds of requests per second: more than 4 replicas' worth.
  {
    traffic load{published};
    ASSERT_TRUE(s::wait_until([&] { return replicas_of(d, "web").size() == 4; }, 20s))
        << json(replicas_of(d, "web")) << json(autoscale_events(d));
    EXPECT_TRUE(wait_ready(d, "web", 4, 20s)) << json(replicas_of(d, "web"));
    auto events = autoscale_events(d);
    ASSERT_FALSE(events.empty());
    EXPECT_EQ(events.front().rfind("scaled web 1 -> ", 0), 0u) << events.front();
    EXPECT_NE(events.front().find("rps "), std::string::npos) << events.front();
    EXPECT_NE(events.front().find("target 50)"), std::string::npos) << events.front();
    // describe shows the bounds, the value against its target and the decision.
    auto described = d.tutti({"describe", "service", "web"});
    EXPECT_NE(described.out.find("1-4, rps "), std::string::npos) << described.out;
    EXPECT_NE(described.out.find("/50 (total/target per replica)"), std::string::npos)
        << described.out;
    EXPECT_NE(described.out.find("scaled web 1 -> "), std::string::npos) << described.out;
    // A manual scale outside the bounds is refused, saying which they are.
    auto refused = d.tutti({"scale", "web=9"});
    EXPECT_NE(refused.exit_code, 0);
    EXPECT_NE(refused.err.find("service web autoscales between 1 and 4 replicas"),
              std::string::npos)
        << refused.describe();
    // One within them is taken, and the CLI says the autoscaler moves on from it.
    auto taken = d.tutti({"scale", "web=4"});
    EXPECT_EQ(taken.exit_code, 0) << taken.describe();
    EXPECT_NE(taken.out.find("it autoscales (1-4, rps "), std::string::npos) << taken.out;
    // An apply keeps the autoscaler's count.
    r = d.tutti({"apply", "-f", file});
    ASSERT_EQ(r.exit_code, 0) << r.describe();
    EXPECT_EQ(replicas_of(d, "web").size(), 4u);
    load.stop();
    EXPECT_GT(load.answered(), 100);
    EXPECT_EQ(load.failed(), 0) << load.first_failure();
  }

  // The load gone: back to the min once the stabilization window has passed.
  EXPECT_TRUE(s::wait_until([&] { return replicas_of(d, "web").size() == 1; }, 30s))
      << json(replicas_of(d, "web")) << json(autoscale_events(d));
  auto events = autoscale_events(d);
  EXPECT_EQ(events.back().rfind("scaled web ", 0), 0u) << events.back();
  EXPECT_NE(events.back().find(" -> 1: "), std::string::npos) << events.back();
  auto metrics = metrics_text(d);
  EXPECT_TRUE(metric_value(metrics, "tutti_autoscale_desired{service=\"web\"}")) << metrics;
}

} // namespace
} // namespace tutti::tests::integration
