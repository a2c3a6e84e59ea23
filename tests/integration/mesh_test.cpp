// The routing mesh and service discovery of a real tuttid over loopback TCP:
// three busybox httpd replicas behind a published port, each serving a page that
// names it. Requests are spread over all three; a replica killed with SIGKILL costs
// no request but the one it was answering at that moment, and one removed by a
// scale-down costs none; `tutti get endpoints` lists them; other replicas learn the
// address from WEB_ADDR.

#include "tests/integration/fixture.hpp"

#include <signal.h>

#include <atomic>
#include <mutex>
#include <thread>

namespace tutti::tests::integration {
namespace {

/// `web`: replicas that serve DIR/PORT/index.html saying "replica-PORT".
std::string web_yaml(const std::string& root, uint16_t published, int replicas,
                     const std::string& balancing = "round_robin") {
  auto dir = root + "/${PORT}";
  auto script = "mkdir -p " + dir + " && echo replica-${PORT} > " + dir +
                "/index.html && exec /bin/busybox httpd -f -p 127.0.0.1:${PORT} -h " + dir;
  return service_yaml("web", replicas, {"/bin/busybox", "sh", "-c", script},
                      "ports: [{name: http, published: " + std::to_string(published) +
                          "}]\n"
                          "load_balancing: " +
                          balancing +
                          "\n"
                          "restart: {policy: always, backoff: {initial: 100ms, max: 1s}}\n"
                          "stop_grace: 5s\n");
}

/// The endpoints of `service` as `get endpoints NAME -o json` lists them.
std::vector<json> endpoints_of(s::tuttid_process& d, const std::string& service) {
  auto j = tutti_json(d, {"get", "endpoints", service});
  if (!j || !j->is_array() || j->size() != 1)
    return {};
  return (*j)[0]["endpoints"].get<std::vector<json>>();
}

class mesh : public integration {
protected:
  /// Applies web with 3 replicas and waits until the mesh routes to all three.
  s::tuttid_process& start_web(const std::string& balancing = "round_robin") {
    auto& d = start_daemon();
    published_ = s::free_port();
    auto file =
        d.scratch().write("web.yaml", web_yaml(d.scratch().file("www"), published_, 3, balancing));
    auto r = d.tutti({"apply", "-f", file});
    EXPECT_EQ(r.exit_code, 0) << r.describe();
    EXPECT_TRUE(wait_running(d, "web", 3)) << json(replicas_of(d, "web"));
    EXPECT_TRUE(s::wait_until([&] { return endpoints_of(d, "web").size() == 3; }, 10s))
        << d.tutti({"get", "endpoints", "web"}).out;
    // A replica may be "running" a moment before its httpd listens.
    EXPECT_TRUE(s::wait_until([&] { return !request(published_).empty(); }, 5s));
    return d;
  }

  uint16_t published_ = 0;
};

TEST_F(mesh, SpreadsRequestsOverEveryReplica) {
  auto& d = start_web();
  std::map<std::string, int> answers;
  for (int i = 0; i < 30; ++i) {
    auto body = request(published_);
    ASSERT_FALSE(body.empty()) << "request " << i;
    ++answers[body];
  }
  EXPECT_EQ(answers.size(), 3u) << json(answers).dump();
  for (auto& [body, n] : answers)
    EXPECT_GE(n, 5) << body;

  auto table = d.tutti({"get", "endpoints", "web"});
  EXPECT_EQ(table.exit_code, 0) << table.describe();
  for (auto word : {"SERVICE", "PUBLISHED", "ENDPOINT", "web-0", "web-1", "web-2"})
    EXPECT_NE(table.out.find(word), std::string::npos) << word << " in\n" << table.out;
  EXPECT_NE(table.out.find(std::to_string(published_)), std::string::npos) << table.out;
  auto listed = tutti_json(d, {"get", "endpoints"});
  ASSERT_TRUE(listed);
  EXPECT_EQ((*listed)[0].value("balancing", ""), "round_robin");
  EXPECT_EQ((*listed)[0]["ports"][0].value("published", 0), published_);

  EXPECT_TRUE(s::wait_until(
      [&] {
        auto v = metric_value(metrics_text(d), "tutti_mesh_connections_total{service=\"web\"}");
        return v && *v >= 30;
      },
      5s))
      << metrics_text(d);
  auto text = metrics_text(d);
  EXPECT_NE(text.find("tutti_mesh_bytes_total{direction=\"out\",service=\"web\"}"),
            std::string::npos);
  EXPECT_NE(text.find("tutti_mesh_connect_seconds_count{service=\"web\"}"), std::string::npos);
}

TEST_F(mesh, KilledReplicaCostsNoRequest) {
  auto& d = start_web("least_connections");
  auto before = running_pids(d, "web");
  ASSERT_EQ(before.size(), 3u);
  traffic load{published_};
  ASSERT_TRUE(load.wait_more(20));
  ASSERT_EQ(::kill(before.at("web-1"), SIGKILL), 0);
  EXPECT_TRUE(s::wait_until(
      [&] {
        auto now = running_pids(d, "web");
        return now.count("web-1") && now["web-1"] != before["web-1"];
      },
      converge_timeout));
  EXPECT_TRUE(s::wait_until([&] { return endpoints_of(d, "web").size() == 3; }, 5s));
  ASSERT_TRUE(load.wait_more(50));
  load.stop();
  std::printf("requests_during_kill=%d failed=%d cut_short=%d\n", load.answered(),
              load.failed_but_cut_short(), load.cut_short());
  // The mesh retries every request the killed replica refused, reset or closed
  // before answering. The one it was answering when SIGKILL came (its process
  // group goes with it) stops part way: what was sent cannot be taken back.
  EXPECT_EQ(load.failed_but_cut_short(), 0) << load.first_failure();
  EXPECT_LE(load.cut_short(), 1) << load.first_failure();
}

TEST_F(mesh, ScaleDownCostsNoRequest) {
  auto& d = start_web();
  traffic load{published_};
  ASSERT_TRUE(load.wait_more(20));
  auto r = d.tutti({"scale", "web=1"});
  ASSERT_EQ(r.exit_code, 0) << r.describe();
  EXPECT_TRUE(wait_running(d, "web", 1)) << json(replicas_of(d, "web"));
  auto left = endpoints_of(d, "web");
  ASSERT_EQ(left.size(), 1u);
  EXPECT_EQ(left[0].value("replica", ""), "web-0");
  ASSERT_TRUE(load.wait_more(30));
  load.stop();
  std::printf("requests_during_scale_down=%d failed=%d\n", load.answered(), load.failed());
  EXPECT_EQ(load.failed(), 0) << load.first_failure();
  std::set<std::string> answers;
  for (int i = 0; i < 5; ++i)
    answers.insert(request(published_));
  EXPECT_EQ(answers.size(), 1u) << "only web-0 is left";
}

TEST_F(mesh, WatchStreamsEveryChangeOfTheEndpoints) {
  auto& d = start_web();
  s::child_process::options opts;
  opts.pipe_stdout = true;
  auto watcher = s::child_process::start(
      {TUTTI_BIN, "--api", d.api(), "--token-file", d.admin_token_file(), "get", "endpoints", "web", "--watch", "-o", "json"}, opts);
  auto next_count = [&]() -> int {
    auto line = watcher.read_line(10s);
    if (!line)
      return -1;
    auto j = json::parse(*line);
    EXPECT_EQ(j.value("service", ""), "web") << *line;
    return static_cast<int>(j["endpoints"].size());
  };
  EXPECT_EQ(next_count(), 3) << "the current set comes first";
  ASSERT_EQ(d.tutti({"scale", "web=2"}).exit_code, 0);
  int count = 0;
  while (count != 2 && count != -1)
    count = next_count();
  EXPECT_EQ(count, 2) << "web-2 left the set";
  ASSERT_EQ(d.tutti({"scale", "web=3"}).exit_code, 0);
  while (count != 3 && count != -1)
    count = next_count();
  EXPECT_EQ(count, 3) << "a new web-2 joined it";
  watcher.kill_group();
  EXPECT_TRUE(wait_running(d, "web", 3)); // also tracks the new replica for the cleanup
}

TEST_F(mesh, OtherServicesGetTheAddressAndThePortStaysWithItsService) {
  auto& d = start_web();
  auto out = d.scratch().file("addr.txt");
  auto client = service_yaml("client", 1,
                             {"/bin/busybox", "sh", "-c",
                              "echo $WEB_ADDR $WEB_ADDR_HTTP > " + out + " && exec sleep 300"});
  auto file = d.scratch().write("client.yaml", client);
  auto r = d.tutti({"apply", "-f", file});
  ASSERT_EQ(r.exit_code, 0) << r.describe();
  auto expected = "127.0.0.1:" + std::to_string(published_);
  EXPECT_TRUE(wait_running(d, "client", 1)); // also tracks it for the cleanup
  EXPECT_TRUE(s::wait_until([&] { return s::read_file(out).size() > 1; }, 10s));
  EXPECT_EQ(s::read_file(out), expected + " " + expected + "\n");

  // Another service may not take web's port.
  auto thief = d.scratch().write(
      "thief.yaml",
      service_yaml("thief", 1, {"/bin/busybox", "sleep", "300"},
                   "ports: [{name: http, published: " + std::to_string(published_) + "}]\n"));
  auto refused = d.tutti({"apply", "-f", thief});
  EXPECT_EQ(refused.exit_code, 1) << refused.describe();
  EXPECT_NE(refused.err.find("'thief'"), std::string::npos) << refused.err;
  EXPECT_NE(refused.err.find("'web'"), std::string::npos) << refused.err;
  EXPECT_FALSE(service_status(d, "thief"));

  // Deleted, web's port is no longer served (a bind may still fail for a while:
  // the mesh's closed connections linger in TIME_WAIT).
  ASSERT_EQ(d.tutti({"delete", "web"}).exit_code, 0);
  EXPECT_TRUE(s::wait_until([&] { return !s::send_raw("127.0.0.1", published_, ""); }, 10s));
}

} // namespace
} // namespace tutti::tests::integration
