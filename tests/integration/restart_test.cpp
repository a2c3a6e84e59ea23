// tuttid going away and coming back: after a crash (SIGKILL) or a clean stop
// (SIGTERM) the replicas keep running and the next tuttid adopts them instead of
// starting duplicates; with --stop-replicas-on-exit a clean stop takes them along.

#include "tests/integration/fixture.hpp"

#include <signal.h>

namespace tutti::tests::integration {
namespace {

/// hello applied and its 3 replicas running (busybox httpd, whose argv carries
/// the port, so processes_on_ports() counts every replica of this daemon).
std::map<std::string, int> apply_and_wait(s::tuttid_process& d) {
  auto file = d.scratch().write(
      "hello.yaml",
      service_yaml(
          "hello", 3,
          {"/bin/busybox", "httpd", "-f", "-p", "127.0.0.1:${PORT}", "-h", d.scratch().str()},
          "ports: [{name: http}]\n"
          "restart: {policy: always, backoff: {initial: 100ms, max: 1s}}\n"));
  auto r = d.tutti({"apply", "-f", file});
  EXPECT_EQ(r.exit_code, 0) << r.describe();
  EXPECT_TRUE(wait_running(d, "hello", 3)) << json(replicas_of(d, "hello"));
  return running_pids(d, "hello");
}

size_t alive_count(const std::map<std::string, int>& pids) {
  size_t n = 0;
  for (auto& [id, pid] : pids)
    n += s::process_alive(pid) ? 1 : 0;
  return n;
}

TEST_F(integration, AdoptsSurvivorsAfterDaemonKill) {
  auto& d = start_daemon();
  auto before = apply_and_wait(d);
  ASSERT_EQ(before.size(), 3u);

  d.kill9();
  ASSERT_EQ(::kill(before.at("hello-1"), SIGKILL), 0);
  ASSERT_TRUE(s::wait_until([&] { return !s::process_alive(before.at("hello-1")); }, 5s));
  EXPECT_TRUE(s::process_alive(before.at("hello-0")));
  EXPECT_TRUE(s::process_alive(before.at("hello-2")));

  auto restarted_at = std::chrono::steady_clock::now();
  ASSERT_TRUE(d.start()) << d.log();
  std::map<std::string, int> after;
  EXPECT_TRUE(s::wait_until(
      [&] {
        after = running_pids(d, "hello");
        return after.size() == 3 && after["hello-1"] != before["hello-1"];
      },
      converge_timeout))
      << json(replicas_of(d, "hello"));
  std::printf("restart_to_3_running_ms=%lld\n", s::elapsed_ms(restarted_at));

  EXPECT_EQ(after["hello-0"], before["hello-0"]) << "survivor hello-0 must be adopted";
  EXPECT_EQ(after["hello-2"], before["hello-2"]) << "survivor hello-2 must be adopted";
  EXPECT_NE(after["hello-1"], before["hello-1"]);

  // Exactly 3 replica processes: no duplicate of an adopted one, now and a
  // little later (a late duplicate start would show up here).
  auto records = d.replica_records();
  EXPECT_EQ(records.size(), 3u);
  EXPECT_EQ(processes_on_ports(d.port_range()).size(), 3u);
  EXPECT_FALSE(s::wait_until([&] { return processes_on_ports(d.port_range()).size() != 3; }, 1s))
      << "replica processes: " << processes_on_ports(d.port_range()).size();

  EXPECT_TRUE(has_event(d, "replica_adopted", "hello-0"));
  EXPECT_TRUE(has_event(d, "replica_adopted", "hello-2"));
  auto described = tutti_json(d, {"describe", "service", "hello"});
  ASSERT_TRUE(described);
  EXPECT_EQ((*described)["status"].value("revision", 0), 1) << "the restart is no new revision";
}

TEST_F(integration, SigtermLeavesReplicasForAdoption) {
  auto& d = start_daemon();
  auto before = apply_and_wait(d);
  ASSERT_EQ(before.size(), 3u);

  auto stop_at = std::chrono::steady_clock::now();
  auto code = d.terminate(8s);
  std::printf("sigterm_to_exit_ms=%lld\n", s::elapsed_ms(stop_at));
  EXPECT_EQ(code, std::optional<int>{0}) << "tuttid did not exit cleanly within 8 s of SIGTERM";
  if (!code)
    d.kill9(); // go on with the adoption half
  EXPECT_NE(d.log().find("replicas keep running"), std::string::npos);
  EXPECT_EQ(alive_count(before), 3u) << "SIGTERM must leave the replicas running";

  ASSERT_TRUE(d.start()) << d.log();
  std::map<std::string, int> after;
  EXPECT_TRUE(s::wait_until(
      [&] {
        after = running_pids(d, "hello");
        return after == before;
      },
      converge_timeout))
      << "before: " << json(before) << " after: " << json(after);
  EXPECT_TRUE(has_event(d, "replica_adopted", "hello-0"));
  EXPECT_EQ(processes_on_ports(d.port_range()).size(), 3u);
}

TEST_F(integration, SigtermWithStopReplicasOnExitStopsThem) {
  auto opts = daemon_options();
  opts.stop_replicas_on_exit = true;
  auto& d = start_daemon(opts);
  auto before = apply_and_wait(d);
  ASSERT_EQ(before.size(), 3u);

  auto stop_at = std::chrono::steady_clock::now();
  d.terminate(0ms); // SIGTERM; the waits below measure the two halves
  bool gone = s::wait_until([&] { return alive_count(before) == 0; }, 8s);
  std::printf("sigterm_to_replicas_gone_ms=%lld\n", s::elapsed_ms(stop_at));
  EXPECT_TRUE(gone) << alive_count(before) << " replicas still run 8 s after SIGTERM";
  auto code = d.wait_for_exit(5s);
  std::printf("sigterm_stop_replicas_to_exit_ms=%lld\n", s::elapsed_ms(stop_at));
  EXPECT_EQ(code, std::optional<int>{0}) << "tuttid did not exit cleanly after SIGTERM";
  if (!code)
    d.kill9();
  EXPECT_TRUE(s::wait_until([&] { return alive_count(before) == 0; }, 5s));
  EXPECT_TRUE(processes_on_ports(d.port_range()).empty());
}

} // namespace
} // namespace tutti::tests::integration
