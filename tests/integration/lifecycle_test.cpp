// Replicas of one tuttid: apply to running and serving, a killed replica
// replaced, a crash loop backing off, restart policies that leave a clean exit
// alone.

#include "tests/integration/fixture.hpp"

#include <signal.h>

#include <thread>

namespace tutti::tests::integration {
namespace {

/// A document root with an index page the replicas serve.
std::string make_doc_root(const s::temp_dir& dir) {
  dir.write("www/index.html", "hello from tutti\n");
  return dir.file("www");
}

/// hello applied and its 3 replicas running; the milliseconds that took.
long long apply_hello(s::tuttid_process& d) {
  auto file = d.scratch().write("hello.yaml", hello_yaml(make_doc_root(d.scratch())));
  auto start = std::chrono::steady_clock::now();
  auto r = d.tutti({"apply", "-f", file});
  EXPECT_EQ(r.exit_code, 0) << r.describe();
  EXPECT_NE(r.out.find("service/hello created (revision 1)"), std::string::npos) << r.out;
  EXPECT_TRUE(wait_running(d, "hello", 3)) << "replicas: " << json(replicas_of(d, "hello"));
  return s::elapsed_ms(start);
}

TEST_F(integration, ApplyRunsThreeServingReplicas) {
  auto& d = start_daemon();
  auto ms = apply_hello(d);
  std::printf("apply_to_3_running_ms=%lld\n", ms);

  auto replicas = replicas_of(d, "hello");
  ASSERT_EQ(replicas.size(), 3u);
  std::set<int> ports;
  for (size_t slot = 0; slot < replicas.size(); ++slot) {
    auto& r = replicas[slot];
    SCOPED_TRACE(r.dump());
    EXPECT_EQ(r.value("id", ""), "hello-" + std::to_string(slot));
    EXPECT_EQ(r.value("state", ""), "running");
    int pid = r.value("pid", 0);
    EXPECT_TRUE(s::process_alive(pid));
    auto cmdline = s::process_cmdline(pid);
    ASSERT_GE(cmdline.size(), 2u);
    EXPECT_EQ(cmdline[1], "httpd");
    ASSERT_EQ(r["ports"].size(), 1u);
    int port = r["ports"][0].value("host_port", 0);
    EXPECT_GE(port, d.port_range().first);
    EXPECT_LE(port, d.port_range().second);
    ports.insert(port);
    // The replica got its port through ${PORT} and serves on it.
    std::optional<s::http_response> answer;
    auto serve_start = std::chrono::steady_clock::now();
    EXPECT_TRUE(s::wait_until(
        [&] {
          answer = s::http_get("127.0.0.1", static_cast<uint16_t>(port), "/index.html");
          return answer.has_value();
        },
        5s));
    std::printf("replica_%zu_first_http_answer_ms=%lld\n", slot, s::elapsed_ms(serve_start));
    ASSERT_TRUE(answer);
    EXPECT_EQ(answer->status, 200);
    EXPECT_EQ(answer->body, "hello from tutti\n");
  }
  EXPECT_EQ(ports.size(), 3u) << "each replica has a port of its own";

  auto table = d.tutti({"get", "services"});
  EXPECT_EQ(table.exit_code, 0) << table.describe();
  EXPECT_NE(table.out.find("NAME"), std::string::npos) << table.out;
  EXPECT_NE(table.out.find("hello"), std::string::npos) << table.out;

  auto yaml = d.tutti({"get", "replicas", "-o", "yaml"});
  EXPECT_EQ(yaml.exit_code, 0) << yaml.describe();
  for (const char* key : {"- id: hello-0", "id: hello-1", "id: hello-2", "state: running",
                          "pid: ", "host_port: ", "service: hello"})
    EXPECT_NE(yaml.out.find(key), std::string::npos) << key << " missing in:\n" << yaml.out;

  auto records = d.replica_records();
  EXPECT_EQ(records.size(), 3u);
}

TEST_F(integration, KilledReplicaIsReplaced) {
  auto& d = start_daemon();
  apply_hello(d);
  auto before = running_pids(d, "hello");
  ASSERT_EQ(before.size(), 3u);
  int victim = before.at("hello-1");

  ASSERT_EQ(::kill(victim, SIGKILL), 0);
  auto killed_at = std::chrono::steady_clock::now();
  int replacement = 0;
  EXPECT_TRUE(s::wait_until(
      [&] {
        auto now = running_pids(d, "hello");
        auto i = now.find("hello-1");
        if (i == now.end() || i->second == victim)
          return false;
        replacement = i->second;
        return true;
      },
      converge_timeout));
  std::printf("kill_to_replaced_ms=%lld\n", s::elapsed_ms(killed_at));
  ASSERT_NE(replacement, 0);
  EXPECT_FALSE(s::process_alive(victim));

  // The other two were left alone.
  auto after = running_pids(d, "hello");
  EXPECT_EQ(after["hello-0"], before["hello-0"]);
  EXPECT_EQ(after["hello-2"], before["hello-2"]);

  auto described = tutti_json(d, {"describe", "service", "hello"});
  ASSERT_TRUE(described);
  EXPECT_EQ((*described)["status"].value("restarts", -1), 1) << described->dump(2);
  for (auto& r : (*described)["replicas"])
    EXPECT_EQ(r.value("restarts", -1), r.value("id", "") == "hello-1" ? 1 : 0) << r.dump();

  EXPECT_TRUE(s::wait_until([&] { return has_event(d, "replica_exited", "hello-1"); }, 5s))
      << d.tutti({"events"}).out;

  std::optional<double> restarts;
  EXPECT_TRUE(s::wait_until(
      [&] {
        restarts = metric_value(metrics_text(d), "tutti_replica_restarts_total{service=\"hello\"}");
        return restarts == 1.0;
      },
      5s))
      << "tutti_replica_restarts_total{service=\"hello\"} = " << restarts.value_or(-1);
}

TEST_F(integration, CrashLoopBacksOffExponentially) {
  auto& d = start_daemon();
  auto file = d.scratch().write(
      "crash.yaml",
      service_yaml("crash", 1, {"/bin/busybox", "false"},
                   "restart: {policy: always, backoff: {initial: 100ms, max: 2s}}\n"));
  auto applied_at = std::chrono::steady_clock::now();
  auto r = d.tutti({"apply", "-f", file});
  ASSERT_EQ(r.exit_code, 0) << r.describe();

  auto restarts = [&] {
    auto rs = replicas_of(d, "crash");
    return rs.size() == 1 ? rs[0].value("restarts", -1) : -1;
  };
  // Back-off 100+200+400+800 ms: the 4th restart comes ~1.5 s after the apply.
  EXPECT_TRUE(s::wait_until([&] { return restarts() >= 4; }, 10s)) << restarts();
  std::printf("crash_4_restarts_ms=%lld\n", s::elapsed_ms(applied_at));

  // The measuring window: 3 s of wall time after the apply. Without back-off a
  // `false` would have been restarted hundreds of times by then; with it the
  // 5th restart is due at ~3.1 s and the 6th at ~5.1 s.
  std::this_thread::sleep_until(applied_at + 3s);
  int at_3s = restarts();
  std::printf("crash_restarts_after_3s=%d\n", at_3s);
  EXPECT_GE(at_3s, 4);
  EXPECT_LE(at_3s, 6);

  json seen;
  EXPECT_TRUE(s::wait_until(
      [&] {
        auto rs = replicas_of(d, "crash");
        if (rs.size() != 1)
          return false;
        seen = rs[0];
        return seen.value("state", "") == "backoff" &&
               seen.value("message", "").find("restarting in") != std::string::npos;
      },
      5s))
      << seen.dump();
  EXPECT_EQ(seen.value("exit_code", 0), 1) << seen.dump();
  EXPECT_TRUE(has_event(d, "replica_exited", "crash-0"));
}

TEST_F(integration, RestartPoliciesLeaveFinishedReplicasAlone) {
  auto& d = start_daemon();
  auto file = d.scratch().write(
      "policies.yaml",
      service_yaml("once", 1, {"/bin/sh", "-c", "exit 0"},
                   "restart: {policy: on-failure, backoff: {initial: 100ms, max: 1s}}\n") +
          "---\n" +
          service_yaml("never", 1, {"/bin/sh", "-c", "exit 3"},
                       "restart: {policy: never, backoff: {initial: 100ms, max: 1s}}\n") +
          "---\n" +
          service_yaml("failing", 1, {"/bin/sh", "-c", "exit 1"},
                       "restart: {policy: on-failure, backoff: {initial: 100ms, max: 1s}}\n"));
  auto r = d.tutti({"apply", "-f", file});
  ASSERT_EQ(r.exit_code, 0) << r.describe();

  auto one = [&](const std::string& service) {
    auto rs = replicas_of(d, service);
    return rs.size() == 1 ? rs[0] : json{};
  };
  auto exited_with = [&](const std::string& service, int code) {
    auto x = one(service);
    return x.is_object() && x.value("state", "") == "exited" && x.value("exit_code", -1) == code;
  };
  EXPECT_TRUE(s::wait_until([&] { return exited_with("once", 0); }, converge_timeout))
      << one("once").dump();
  EXPECT_TRUE(s::wait_until([&] { return exited_with("never", 3); }, converge_timeout))
      << one("never").dump();
  // on-failure does restart a failure: the contrast that shows the policy is read.
  EXPECT_TRUE(
      s::wait_until([&] { return one("failing").value("restarts", 0) >= 1; }, converge_timeout))
      << one("failing").dump();

  // And they stay exited: several initial back-offs later nothing restarted them.
  bool changed = s::wait_until(
      [&] {
        return !exited_with("once", 0) || !exited_with("never", 3) ||
               one("once").value("restarts", 0) != 0 || one("never").value("restarts", 0) != 0;
      },
      1500ms);
  EXPECT_FALSE(changed) << one("once").dump() << "\n" << one("never").dump();
}

} // namespace
} // namespace tutti::tests::integration
