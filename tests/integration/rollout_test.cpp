// Health probes, rolling updates, rollback and crash loops of a real tuttid with
// the process driver: busybox httpd replicas behind a published port while a
// client keeps requesting through the mesh and the ready replicas are sampled.

#include "tests/integration/fixture.hpp"

namespace tutti::tests::integration {
namespace {

/// `web`: httpd replicas serving DIR/PORT/index.html, ready when GET / answers.
/// `greeting` goes into their env, so changing it changes what they run.
std::string web_yaml(const std::string& root, uint16_t published, const std::string& greeting,
                     const std::string& command_override = {},
                     const std::string& start_period = "0s") {
  auto dir = root + "/${PORT}";
  auto script = "mkdir -p " + dir + " && echo $GREETING-${PORT} > " + dir +
                "/index.html && exec /bin/busybox httpd -f -p 127.0.0.1:${PORT} -h " + dir;
  std::vector<std::string> command{"/bin/busybox", "sh", "-c",
                                   command_override.empty() ? script : command_override};
  return service_yaml("web", 3, command,
                      "env: {GREETING: " + greeting + "}\n" +
                          "ports: [{name: http, published: " + std::to_string(published) +
                          "}]\n"
                          "restart: {policy: always, backoff: {initial: 100ms, max: 1s}}\n"
                          "stop_grace: 5s\n"
                          "health:\n"
                          "  readiness: {http: {port: http, path: /index.html}, interval: 100ms, "
                          "timeout: 500ms, start_period: " +
                          start_period +
                          "}\n"
                          "update: {parallelism: 1, max_surge: 1, max_unavailable: 0, "
                          "monitor: 2s, failure_action: rollback}\n");
}

/// Samples the ready replicas of `web` on a thread of its own; remembers the fewest.
class ready_sampler {
public:
  explicit ready_sampler(s::tuttid_process& d)
    : thread_([this, &d] {
        while (!stop_) {
          int ready = 0;
          for (auto& r : replicas_of(d, "web"))
            ready += r.value("ready", false) ? 1 : 0;
          std::lock_guard<std::mutex> guard{mutex_};
          fewest_ = std::min(fewest_, ready);
          ++samples_;
        }
      }) {}
  ~ready_sampler() { stop(); }
  void stop() {
    stop_ = true;
    if (thread_.joinable())
      thread_.join();
  }
  int fewest() {
    std::lock_guard<std::mutex> guard{mutex_};
    return fewest_;
  }
  int samples() {
    std::lock_guard<std::mutex> guard{mutex_};
    return samples_;
  }

private:
  std::mutex mutex_;
  int fewest_ = 1 << 30;
  int samples_ = 0;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

class rollout : public integration {
protected:
  s::tuttid_process& start_web() {
    auto& d = start_daemon();
    published_ = s::free_port();
    root_ = d.scratch().file("www");
    apply_web(d, "v1");
    EXPECT_TRUE(wait_ready(d, 3));
    EXPECT_TRUE(s::wait_until([&] { return !request(published_).empty(); }, 5s));
    return d;
  }

  void apply_web(s::tuttid_process& d, const std::string& greeting, const std::string& command = {},
                 const std::string& start_period = "0s") {
    auto file = d.scratch().write("web-" + greeting + ".yaml",
                                  web_yaml(root_, published_, greeting, command, start_period));
    auto r = d.tutti({"apply", "-f", file});
    EXPECT_EQ(r.exit_code, 0) << r.describe();
  }

  bool wait_ready(s::tuttid_process& d, int n) {
    return ::tutti::tests::integration::wait_ready(d, "web", n);
  }

  std::set<std::string> answers(int n) {
    std::set<std::string> out;
    for (int i = 0; i < n; ++i)
      out.insert(request(published_));
    return out;
  }

  uint16_t published_ = 0;
  std::string root_;
};

TEST_F(rollout, UpdateReplacesEveryReplicaWithoutAGap) {
  auto& d = start_web();
  traffic load{published_};
  ready_sampler ready{d};
  ASSERT_TRUE(load.wait_more(20));
  apply_web(d, "v2");
  auto status = d.tutti({"rollout", "status", "web", "--wait", "30"}, 40s);
  EXPECT_EQ(status.exit_code, 0) << status.describe();
  EXPECT_NE(status.out.find("complete: 3/3 updated, 3 ready, 3 available, 0 old"),
            std::string::npos)
      << status.out;
  ASSERT_TRUE(load.wait_more(20));
  load.stop();
  ready.stop();
  EXPECT_EQ(load.failed(), 0) << load.first_failure() << " (" << load.answered() << " answered)";
  EXPECT_GE(ready.fewest(), 3) << "in " << ready.samples() << " samples";
  for (auto& answer : answers(6))
    EXPECT_EQ(answer.rfind("v2-", 0), 0u) << answer;
  EXPECT_TRUE(has_event(d, "rollout_started"));
  EXPECT_TRUE(has_event(d, "rollout_completed"));
  std::printf("rolling update: %d requests answered, 0 failed, %d ready samples, fewest ready %d\n",
              load.answered(), ready.samples(), ready.fewest());
}

TEST_F(rollout, RestartAfterARolloutAdoptsEveryReplica) {
  auto& d = start_web();
  apply_web(d, "v2");
  ASSERT_EQ(d.tutti({"rollout", "status", "web"}, 40s).exit_code, 0);
  // The replicas now sit in slots 3-5: a restarted tuttid must adopt them, not
  // sweep them as orphans.
  auto before = running_pids(d, "web");
  ASSERT_EQ(before.size(), 3u);
  EXPECT_EQ(before.count("web-3"), 1u) << "the rollout used a slot beyond replicas";
  d.kill9();
  ASSERT_TRUE(d.start()) << d.log();
  ASSERT_TRUE(wait_ready(d, 3));
  EXPECT_EQ(running_pids(d, "web"), before);
  EXPECT_FALSE(has_event(d, "replica_orphan_removed"));
}

TEST_F(rollout, ARolloutGoesOnAfterTuttidIsKilledMidway) {
  auto& d = start_web();
  // Each new replica takes a second before it serves (its start period covers
  // that): the rollout takes seconds.
  auto dir = root_ + "/${PORT}";
  auto slow = "sleep 1; mkdir -p " + dir + " && echo v2-${PORT} > " + dir +
              "/index.html && exec /bin/busybox httpd -f -p 127.0.0.1:${PORT} -h " + dir;
  apply_web(d, "v2", slow, "3s");
  ASSERT_TRUE(s::wait_until(
      [&] {
        auto r = tutti_json(d, {"rollout", "status", "web", "--no-follow"});
        return r && (*r)["updated"] >= 1 && (*r)["old"] >= 2;
      },
      converge_timeout));
  d.kill9();
  ASSERT_TRUE(d.start()) << d.log();
  auto status = d.tutti({"rollout", "status", "web", "--wait", "30"}, 40s);
  EXPECT_EQ(status.exit_code, 0) << status.describe();
  ASSERT_TRUE(wait_ready(d, 3));
  for (auto& answer : answers(6))
    EXPECT_EQ(answer.rfind("v2-", 0), 0u) << answer;
  EXPECT_EQ(replicas_of(d, "web").size(), 3u);
}

TEST_F(rollout, BrokenUpdateIsRolledBackKeepingAvailability) {
  auto& d = start_web();
  traffic load{published_};
  ready_sampler ready{d};
  apply_web(d, "v2", "echo starting v2; exit 3");
  auto status = d.tutti({"rollout", "status", "web", "--wait", "30"}, 40s);
  // Followed from revision 2 it ends replaced by the rollback; the rollback may
  // also have been committed before the command's first look.
  if (status.out.rfind("revision 2", 0) == 0) {
    EXPECT_EQ(status.exit_code, 1) << status.describe();
    EXPECT_NE(status.err.find("was replaced by revision 3"), std::string::npos)
        << status.describe();
  }
  // The rollback revision completes with the v1 template.
  EXPECT_TRUE(s::wait_until(
      [&] {
        auto r = tutti_json(d, {"rollout", "status", "web", "--no-follow"});
        return r && (*r)["state"] == "complete" && (*r)["revision"] == 3 && (*r)["old"] == 0;
      },
      converge_timeout))
      << d.tutti({"rollout", "status", "web", "--no-follow"}).out;
  ASSERT_TRUE(load.wait_more(10));
  load.stop();
  ready.stop();
  EXPECT_EQ(load.failed(), 0) << load.first_failure();
  EXPECT_GE(ready.fewest(), 3) << "in " << ready.samples() << " samples";
  for (auto& answer : answers(6))
    EXPECT_EQ(answer.rfind("v1-", 0), 0u) << answer;
  EXPECT_TRUE(has_event(d, "rollout_failed"));
  EXPECT_TRUE(has_event(d, "rollout_undone"));

  // History keeps all three; undo to revision 2 (the broken one) pauses again
  // after failing: a rollback of a rollback does not loop.
  auto history = tutti_json(d, {"rollout", "history", "web"});
  ASSERT_TRUE(history && history->size() == 3) << d.tutti({"rollout", "history", "web"}).out;
  EXPECT_EQ((*history)[2]["revision"], 3);
  auto table = d.tutti({"rollout", "history", "web"});
  EXPECT_NE(table.out.find("REVISION"), std::string::npos) << table.out;
}

TEST_F(rollout, UndoGoesBackToAnEarlierRevision) {
  auto& d = start_web();
  apply_web(d, "v2");
  EXPECT_EQ(d.tutti({"rollout", "status", "web"}, 40s).exit_code, 0);
  auto undo = d.tutti({"rollout", "undo", "web"});
  EXPECT_EQ(undo.exit_code, 0) << undo.describe();
  EXPECT_NE(undo.out.find("rolled back (revision 3)"), std::string::npos) << undo.out;
  EXPECT_EQ(d.tutti({"rollout", "status", "web"}, 40s).exit_code, 0);
  for (auto& answer : answers(6))
    EXPECT_EQ(answer.rfind("v1-", 0), 0u) << answer;
  auto to = d.tutti({"rollout", "undo", "web", "--to-revision", "2"});
  EXPECT_EQ(to.exit_code, 0) << to.describe();
  EXPECT_EQ(d.tutti({"rollout", "status", "web"}, 40s).exit_code, 0);
  for (auto& answer : answers(6))
    EXPECT_EQ(answer.rfind("v2-", 0), 0u) << answer;
  auto missing = d.tutti({"rollout", "undo", "web", "--to-revision", "99"});
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_NE(missing.err.find("revision 99 of web is not kept"), std::string::npos)
      << missing.describe();
}

TEST_F(rollout, ProbesOfEachKindDecideReadinessAndLiveness) {
  auto& d = start_daemon();
  auto flag = d.scratch().file("sick");
  // tcp readiness: the port listens only after a second; exec liveness: the
  // replica is restarted once the flag file exists.
  auto script = "sleep 1; exec /bin/busybox httpd -f -p 127.0.0.1:${PORT}";
  auto yaml = service_yaml("probed", 1, {"/bin/busybox", "sh", "-c", script},
                           "ports: [{name: tcp}]\n"
                           "restart: {policy: always, backoff: {initial: 100ms, max: 1s}}\n"
                           "stop_grace: 1s\n"
                           "health:\n"
                           "  readiness: {tcp: {port: tcp}, interval: 100ms}\n"
                           "  liveness: {exec: [/bin/busybox, sh, -c, 'test ! -e " +
                               flag + "'], interval: 100ms, failure_threshold: 2}\n");
  auto r = d.tutti({"apply", "-f", d.scratch().write("probed.yaml", yaml)});
  ASSERT_EQ(r.exit_code, 0) << r.describe();
  std::vector<json> rs;
  ASSERT_TRUE(s::wait_until(
      [&] {
        rs = replicas_of(d, "probed");
        return rs.size() == 1 && rs[0].value("state", "") == "running";
      },
      converge_timeout));
  EXPECT_FALSE(rs[0].value("ready", true)) << rs[0]; // not listening yet
  ASSERT_TRUE(s::wait_until(
      [&] {
        rs = replicas_of(d, "probed");
        return rs.size() == 1 && rs[0].value("ready", false);
      },
      converge_timeout))
      << json(rs);
  EXPECT_NE(rs[0].value("health", "").find("readiness: ok (connected to port"), std::string::npos)
      << rs[0];
  d.scratch().write("sick", "");
  ASSERT_TRUE(s::wait_until([&] { return has_event(d, "replica_unhealthy", "probed-0"); },
                            converge_timeout));
  std::filesystem::remove(flag);
  ASSERT_TRUE(s::wait_until(
      [&] {
        rs = replicas_of(d, "probed");
        return rs.size() == 1 && rs[0].value("ready", false) && rs[0].value("restarts", 0) >= 1;
      },
      converge_timeout))
      << json(rs);
  auto metrics = metrics_text(d);
  EXPECT_NE(metrics.find("tutti_replicas_running{service=\"probed\"} 1"), std::string::npos);
  EXPECT_EQ(metric_value(metrics, "tutti_replicas_ready{service=\"probed\"}"), 1.0) << metrics;
  EXPECT_GE(metric_value(metrics, "tutti_probe_results_total{probe=\"liveness\",result=\"failed\","
                                  "service=\"probed\"}")
                .value_or(0),
            2.0)
      << metrics;
  EXPECT_GE(metric_value(metrics, "tutti_probe_results_total{probe=\"readiness\",result=\"ok\","
                                  "service=\"probed\"}")
                .value_or(0),
            1.0);
}

TEST_F(rollout, CrashLoopBacksOffAndShowsItsLogTail) {
  auto& d = start_daemon();
  auto yaml =
      service_yaml("crashy", 1, {"/bin/busybox", "sh", "-c", "echo cannot open config >&2; exit 2"},
                   "restart: {policy: always, backoff: {initial: 100ms, max: 800ms}}\n");
  auto applied = std::chrono::steady_clock::now();
  ASSERT_EQ(d.tutti({"apply", "-f", d.scratch().write("crashy.yaml", yaml)}).exit_code, 0);
  auto restarts = [&] {
    auto rs = replicas_of(d, "crashy");
    return rs.size() == 1 ? rs[0].value("restarts", 0) : 0;
  };
  ASSERT_TRUE(s::wait_until([&] { return restarts() >= 5; }, 20s));
  // Back-off 100+200+400+800 ms before the 5th restart: restarts grow slower than time.
  EXPECT_GE(s::elapsed_ms(applied), 1500);
  auto detail = tutti_json(d, {"describe", "service", "crashy"});
  ASSERT_TRUE(detail);
  auto replica = (*detail)["replicas"][0];
  EXPECT_NE(replica.value("message", "").find("crash loop: exited with code 2"), std::string::npos)
      << replica;
  EXPECT_NE(replica.value("log_tail", "").find("cannot open config"), std::string::npos) << replica;
  auto text = d.tutti({"describe", "service", "crashy"});
  EXPECT_NE(text.out.find("cannot open config"), std::string::npos) << text.out;
}

} // namespace
} // namespace tutti::tests::integration
