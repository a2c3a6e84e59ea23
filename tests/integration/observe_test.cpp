// Looking at a running cluster: replica logs, the event stream, and the metrics
// endpoint as a real Prometheus server scrapes it.

#include "tests/integration/fixture.hpp"

#include <signal.h>
#include <unistd.h>

namespace tutti::tests::integration {
namespace {

TEST_F(integration, LogsShowWhatReplicasPrinted) {
  auto& d = start_daemon();
  // $PORT and $PORT_MAIN are left to the shell: the node passes both.
  auto file = d.scratch().write(
      "echo.yaml",
      service_yaml("echo", 2,
                   {"/bin/sh", "-c", "echo hello-from-$PORT main-is-$PORT_MAIN; exec sleep 100"},
                   "ports: [{name: main}]\n"));
  auto r = d.tutti({"apply", "-f", file});
  ASSERT_EQ(r.exit_code, 0) << r.describe();
  ASSERT_TRUE(wait_running(d, "echo", 2));
  auto replicas = replicas_of(d, "echo");
  ASSERT_EQ(replicas.size(), 2u);

  for (int slot = 0; slot < 2; ++slot) {
    auto port = replicas[static_cast<size_t>(slot)]["ports"][0].value("host_port", 0);
    auto expected = "hello-from-" + std::to_string(port) + " main-is-" + std::to_string(port);
    s::command_result logs;
    EXPECT_TRUE(s::wait_until(
        [&] {
          logs = d.tutti({"logs", "echo", "--replica", std::to_string(slot)});
          return logs.exit_code == 0 && logs.out.find(expected) != std::string::npos;
        },
        5s))
        << expected << " not in: " << logs.describe();
  }
  // The default is the lowest slot.
  auto port0 = replicas[0]["ports"][0].value("host_port", 0);
  r = d.tutti({"logs", "echo"});
  EXPECT_EQ(r.exit_code, 0) << r.describe();
  EXPECT_NE(r.out.find("hello-from-" + std::to_string(port0)), std::string::npos) << r.out;

  r = d.tutti({"logs", "nosuch"});
  EXPECT_EQ(r.exit_code, 1) << r.describe();
  EXPECT_NE(r.err.find("nosuch"), std::string::npos) << r.err;
}

TEST_F(integration, EventsFollowPrintsNewEvents) {
  auto& d = start_daemon();
  auto r = d.tutti({"apply", "-f", d.scratch().write("keep.yaml", sleeper_yaml("keep", 1))});
  ASSERT_EQ(r.exit_code, 0) << r.describe();
  ASSERT_TRUE(wait_running(d, "keep", 1));

  s::child_process::options copts;
  copts.pipe_stdout = true;
  auto follower = s::child_process::start(
      {TUTTI_BIN, "--api", d.api(), "--token-file", d.admin_token_file(), "events", "--follow", "-o", "json"}, copts);
  // First the stored events: up to keep-0 having started.
  bool caught_up = false;
  while (auto line = follower.read_line(10s)) {
    auto e = json::parse(*line, nullptr, false);
    ASSERT_FALSE(e.is_discarded()) << "not JSON: " << *line;
    if (e.value("kind", "") == "replica_started" && e.value("replica", "") == "keep-0") {
      caught_up = true;
      break;
    }
  }
  ASSERT_TRUE(caught_up) << "the stored events did not come";

  auto scaled_at = std::chrono::steady_clock::now();
  r = d.tutti({"scale", "keep=2"});
  ASSERT_EQ(r.exit_code, 0) << r.describe();
  std::vector<json> fresh;
  bool applied = false, started = false;
  auto deadline = std::chrono::steady_clock::now() + 10s;
  while (!(applied && started) && std::chrono::steady_clock::now() < deadline) {
    auto line = follower.read_line(std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now()));
    if (!line)
      break;
    auto e = json::parse(*line, nullptr, false);
    ASSERT_FALSE(e.is_discarded()) << "not JSON: " << *line;
    fresh.push_back(e);
    if (e.value("kind", "") == "service_applied" && e.value("service", "") == "keep") {
      if (!applied)
        std::printf("scale_to_followed_event_ms=%lld\n", s::elapsed_ms(scaled_at));
      applied = true;
    }
    started |= e.value("kind", "") == "replica_started" && e.value("replica", "") == "keep-1";
  }
  EXPECT_TRUE(applied) << json(fresh).dump();
  EXPECT_TRUE(started) << json(fresh).dump();
  EXPECT_TRUE(follower.running()) << "--follow ended by itself";
  follower.kill_group();
  EXPECT_EQ(d.tutti({"version"}).exit_code, 0);
}

TEST_F(integration, PrometheusScrapesReplicaGauge) {
  const char* prometheus = "/usr/bin/prometheus";
  if (::access(prometheus, X_OK) != 0)
    GTEST_SKIP() << prometheus << " is missing (Debian package prometheus)";
  auto& d = start_daemon();
  auto r = d.tutti({"apply", "-f", d.scratch().write("hello.yaml", hello_yaml(d.scratch().str()))});
  ASSERT_EQ(r.exit_code, 0) << r.describe();
  ASSERT_TRUE(wait_running(d, "hello", 3));

  auto web = s::free_port();
  auto config =
      d.scratch().write("prometheus.yml", "global: {scrape_interval: 1s, evaluation_interval: 1s}\n"
                                          "scrape_configs:\n"
                                          "  - job_name: tuttid\n"
                                          "    scrape_interval: 1s\n"
                                          "    static_configs: [{targets: ['127.0.0.1:" +
                                              std::to_string(d.metrics_port()) + "']}]\n");
  s::child_process::options popts;
  popts.stderr_file = d.scratch().file("prometheus.log");
  popts.stdout_file = popts.stderr_file;
  auto started_at = std::chrono::steady_clock::now();
  // Cleaned up by its destructor (SIGKILL to its group) if anything below fails.
  auto server =
      s::child_process::start({prometheus, "--config.file=" + config,
                               "--storage.tsdb.path=" + d.scratch().file("prometheus-data"),
                               "--web.listen-address=127.0.0.1:" + std::to_string(web)},
                              popts);

  auto query = "/api/v1/query?query=" + s::url_encode("tutti_replicas_running{service=\"hello\"}");
  std::string last;
  bool seen = s::wait_until(
      [&] {
        if (!server.running())
          return true;
        auto a = s::http_get("127.0.0.1", web, query);
        if (!a || a->status != 200)
          return false;
        last = a->body;
        auto j = json::parse(a->body, nullptr, false);
        if (j.is_discarded() || !j.contains("data") || j["data"]["result"].empty())
          return false;
        return j["data"]["result"][0]["value"][1] == "3";
      },
      60s);
  std::printf("prometheus_start_to_value_ms=%lld\n", s::elapsed_ms(started_at));
  EXPECT_TRUE(server.running()) << s::read_file(popts.stderr_file);
  EXPECT_TRUE(seen) << "last answer: " << last << "\nprometheus log:\n"
                    << s::read_file(popts.stderr_file);

  server.signal(SIGTERM);
  auto code = server.wait_for_exit(15s);
  EXPECT_TRUE(code) << "prometheus did not stop on SIGTERM";
  server.kill_group();
}

} // namespace
} // namespace tutti::tests::integration
