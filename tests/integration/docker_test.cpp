// `driver: docker` end to end: a real tuttid runs replicas as containers of a
// real engine (the host's, or a private dockerd started once for this binary).
// Applied services become labelled containers with the spec's env and limits on
// the host network; a container killed or removed behind tutti's back is
// replaced; a tuttid killed with -9 adopts its containers; delete removes them;
// a missing image is a clear failure; an engine that goes away and comes back
// gets its replicas running again.

#include "tests/integration/fixture.hpp"
#include "tests/support/docker_environment.hpp"

#include <algorithm>
#include <iterator>
#include <fstream>

#include <unistd.h>

namespace tutti::tests::integration {
namespace {

[[maybe_unused]] auto* const docker_env =
    ::testing::AddGlobalTestEnvironment(new s::docker_environment);

/// A replica that ends at once on SIGTERM (PID 1 ignores signals it does not
/// handle), so stops and an engine shutdown do not wait for a grace.
const std::vector<std::string> idle_command{"/bin/sh", "-c",
                                            "trap 'exit 0' TERM; while true; do sleep 0.05; done"};

class docker : public integration {
protected:
  void SetUp() override { TUTTI_REQUIRE_DOCKER(engine_); }

  void TearDown() override {
    integration::TearDown();
    if (engine_ != nullptr)
      engine_->remove_run_containers();
  }

  /// tuttid on the test engine with a node name of its own, so its containers
  /// are told apart from every other test's.
  s::tuttid_process& start_docker_daemon(const std::string& hint) {
    auto opts = daemon_options();
    node_ = engine_->node_name(hint);
    opts.extra_args = {"--docker-socket", engine_->socket(), "--node-name", node_};
    opts.port_count = 16; // a few replicas with a port each
    return start_daemon(opts);
  }

  static std::string docker_yaml(const std::string& name, int replicas,
                                 const std::vector<std::string>& command,
                                 const std::string& extra = {},
                                 const std::string& image = s::docker_engine::image) {
    return "kind: Service\nname: " + name + "\nreplicas: " + std::to_string(replicas) +
           "\ndriver: docker\nimage: " + image + "\ncommand: " + yaml_list(command) +
           "\nrestart: {policy: always, backoff: {initial: 100ms, max: 1s}}\n" +
           "stop_grace: 2s\n" + extra;
  }

  void apply(s::tuttid_process& d, const std::string& yaml) {
    auto file = d.scratch().write("docker.yaml", yaml);
    auto r = d.tutti({"apply", "-f", file});
    ASSERT_EQ(r.exit_code, 0) << r.describe();
  }

  /// replica id -> its replica JSON, for replicas in state running.
  std::map<std::string, json> running(s::tuttid_process& d, const std::string& service) {
    std::map<std::string, json> out;
    for (auto& r : replicas_of(d, service))
      if (r.value("state", "") == "running" && !r.value("runtime_id", "").empty())
        out[r.value("id", "")] = r;
    return out;
  }

  /// The engine's containers of this test's node, running or not.
  std::vector<json> containers() const { return engine_->containers(node_); }

  size_t running_containers() const {
    auto all = containers();
    return std::count_if(all.begin(), all.end(),
                         [](const json& c) { return c.value("State", "") == "running"; });
  }

  s::docker_engine* engine_ = nullptr;
  std::string node_;
};

TEST_F(docker, AppliedServiceRunsAsLabelledContainers) {
  auto& d = start_docker_daemon("apply");
  auto applied_at = std::chrono::steady_clock::now();
  apply(d, docker_yaml("web", 3,
                       {"/bin/sh", "-c",
                        "echo hello from $PORT; trap 'exit 0' TERM; "
                        "httpd -f -p 127.0.0.1:$PORT -h /tmp & wait"},
                       "env: {GREETING: hi}\n"
                       "resources: {cpu: 0.25, memory: 32Mi}\n"
                       "ports: [{name: http}]\n"));
  ASSERT_TRUE(wait_running(d, "web", 3)) << json(replicas_of(d, "web"));
  std::printf("docker_apply_to_3_running_ms=%lld\n", s::elapsed_ms(applied_at));
  ASSERT_EQ(containers().size(), 3u);

  for (auto& [id, r] : running(d, "web")) {
    SCOPED_TRACE(id);
    auto c = engine_->inspect(r.value("runtime_id", ""));
    ASSERT_TRUE(c) << "no container " << r.value("runtime_id", "");
    auto& labels = (*c)["Config"]["Labels"];
    EXPECT_EQ(labels["tutti.service"], "web");
    EXPECT_EQ(labels["tutti.replica"], id);
    EXPECT_EQ(labels["tutti.node"], node_);
    EXPECT_EQ(labels["tutti.revision"], "1");
    EXPECT_EQ((*c)["Name"], "/tutti-" + id + "_" + node_);
    auto port = r["ports"].at(0).value("host_port", 0);
    auto env = (*c)["Config"]["Env"];
    EXPECT_NE(std::find(env.begin(), env.end(), "PORT=" + std::to_string(port)), env.end()) << env;
    EXPECT_NE(std::find(env.begin(), env.end(), "GREETING=hi"), env.end()) << env;
    EXPECT_EQ((*c)["HostConfig"]["NanoCpus"], 250000000);
    EXPECT_EQ((*c)["HostConfig"]["Memory"], 32 << 20);
    EXPECT_EQ((*c)["HostConfig"]["NetworkMode"], "host");
    EXPECT_EQ((*c)["HostConfig"]["RestartPolicy"]["Name"], "no");
    EXPECT_EQ((*c)["State"]["Pid"], r.value("pid", 0));
    // Host networking: the container's httpd answers on the host's loopback.
    EXPECT_TRUE(s::wait_until([&] { return s::http_get("127.0.0.1", port, "/").has_value(); }, 5s))
        << "nothing answers on 127.0.0.1:" << port;
    if (id == "web-1") {
      std::string out;
      EXPECT_TRUE(s::wait_until(
          [&] {
            out = d.tutti({"logs", "web", "--replica", "1"}).out;
            return out.find("hello from " + std::to_string(port)) != std::string::npos;
          },
          5s))
          << out;
    }
  }
}

TEST_F(docker, KilledOrRemovedContainersAreReplaced) {
  auto& d = start_docker_daemon("heal");
  apply(d, docker_yaml("heal", 2, idle_command));
  ASSERT_TRUE(wait_running(d, "heal", 2)) << json(replicas_of(d, "heal"));
  auto before = running(d, "heal");

  // docker kill: the same container is started again.
  auto victim = before.at("heal-0");
  auto killed_at = std::chrono::steady_clock::now();
  ASSERT_TRUE(engine_->kill(victim.value("runtime_id", "")));
  std::map<std::string, json> now;
  ASSERT_TRUE(s::wait_until(
      [&] {
        now = running(d, "heal");
        return now.count("heal-0") && now["heal-0"].value("pid", 0) != victim.value("pid", 0) &&
               s::process_alive(now["heal-0"].value("pid", 0));
      },
      converge_timeout))
      << json(replicas_of(d, "heal"));
  std::printf("docker_kill_to_running_ms=%lld\n", s::elapsed_ms(killed_at));
  EXPECT_EQ(now["heal-0"].value("runtime_id", ""), victim.value("runtime_id", ""));
  EXPECT_GE(now["heal-0"].value("restarts", 0), 1);

  // docker rm -f: a new container takes its place.
  auto removed = before.at("heal-1");
  auto removed_at = std::chrono::steady_clock::now();
  ASSERT_TRUE(engine_->remove(removed.value("runtime_id", "")));
  ASSERT_TRUE(s::wait_until(
      [&] {
        now = running(d, "heal");
        return now.count("heal-1") &&
               now["heal-1"].value("runtime_id", "") != removed.value("runtime_id", "");
      },
      converge_timeout))
      << json(replicas_of(d, "heal"));
  std::printf("docker_rm_to_running_ms=%lld\n", s::elapsed_ms(removed_at));
  EXPECT_EQ(containers().size(), 2u);
  EXPECT_EQ(running_containers(), 2u);
  EXPECT_TRUE(has_event(d, "replica_exited", "heal-0"));
}

TEST_F(docker, AdoptsContainersAfterDaemonKill) {
  auto& d = start_docker_daemon("adopt");
  apply(d, docker_yaml("keep", 2, idle_command));
  ASSERT_TRUE(wait_running(d, "keep", 2)) << json(replicas_of(d, "keep"));
  auto before = running(d, "keep");

  d.kill9();
  ASSERT_TRUE(d.start()) << d.log();
  std::map<std::string, json> after;
  ASSERT_TRUE(s::wait_until(
      [&] {
        after = running(d, "keep");
        return after.size() == 2;
      },
      converge_timeout))
      << json(replicas_of(d, "keep"));
  for (auto& [id, r] : before) {
    EXPECT_EQ(after[id].value("runtime_id", ""), r.value("runtime_id", "")) << id << " adopted";
    EXPECT_EQ(after[id].value("pid", 0), r.value("pid", 0)) << id << " not restarted";
    EXPECT_TRUE(has_event(d, "replica_adopted", id));
  }
  // No duplicate now, nor a little later (a late duplicate start would show).
  EXPECT_EQ(containers().size(), 2u);
  EXPECT_FALSE(s::wait_until([&] { return containers().size() != 2; }, 1s))
      << json(containers()).dump(2);

  // Still watched: an exit after the adoption is seen.
  auto victim = after.at("keep-1");
  ASSERT_TRUE(engine_->kill(victim.value("runtime_id", "")));
  EXPECT_TRUE(s::wait_until(
      [&] {
        auto now = running(d, "keep");
        return now.count("keep-1") && now["keep-1"].value("pid", 0) != victim.value("pid", 0);
      },
      converge_timeout))
      << json(replicas_of(d, "keep"));
}

TEST_F(docker, DeleteRemovesTheContainers) {
  auto& d = start_docker_daemon("delete");
  apply(d, docker_yaml("gone", 2, idle_command));
  ASSERT_TRUE(wait_running(d, "gone", 2)) << json(replicas_of(d, "gone"));
  ASSERT_EQ(containers().size(), 2u);
  auto r = d.tutti({"delete", "gone"});
  ASSERT_EQ(r.exit_code, 0) << r.describe();
  EXPECT_TRUE(s::wait_until([&] { return containers().empty(); }, converge_timeout))
      << json(containers()).dump(2);
  EXPECT_TRUE(s::wait_until([&] { return replicas_of(d, "gone").empty(); }, 5s));
}

TEST_F(docker, AnImportedImageLoadsIntoTheEngine) {
  auto& d = start_docker_daemon("import");
  // The test image under a name of this run: saved, untagged, then imported.
  auto version = std::to_string(::getpid());
  auto name = "local/tutti-import:" + version;
  struct untag {
    s::docker_engine* engine;
    std::string name;
    ~untag() { engine->call("DELETE", "/images/" + name); }
  } cleanup{engine_, name};
  auto tagged = engine_->call("POST", "/images/" + std::string{s::docker_engine::image} +
                                          "/tag?repo=local/tutti-import&tag=" + version);
  ASSERT_EQ(tagged.status, 201) << tagged.body << tagged.error;
  auto saved = engine_->call("GET", "/images/" + name + "/get");
  ASSERT_EQ(saved.status, 200) << saved.error;
  auto archive = d.scratch().write("image.tar", saved.body);
  ASSERT_EQ(engine_->call("DELETE", "/images/" + name).status, 200);
  ASSERT_EQ(engine_->call("GET", "/images/" + name + "/json").status, 404);

  auto r = d.tutti({"image", "import", archive, "--node", node_, "--driver", "docker", "-o", "json"});
  ASSERT_EQ(r.exit_code, 0) << r.describe();
  auto out = json::parse(r.out, nullptr, false);
  ASSERT_TRUE(out.is_object()) << r.out;
  EXPECT_EQ(out["images"], json::array({name})) << r.out;
  EXPECT_EQ(engine_->call("GET", "/images/" + name + "/json").status, 200);
  apply(d, docker_yaml("imported", 1, idle_command, {}, name));
  EXPECT_TRUE(s::wait_until([&] { return running(d, "imported").size() == 1; }, converge_timeout))
      << json(replicas_of(d, "imported")) << d.log();
  d.tutti({"delete", "imported"});
  EXPECT_TRUE(s::wait_until([&] { return containers().empty(); }, converge_timeout));

  // What the engine refuses is said with its reason.
  auto junk = d.scratch().write("junk.tar", "not a tar archive");
  auto refused = d.tutti({"image", "import", junk, "--node", node_, "--driver", "docker"});
  EXPECT_EQ(refused.exit_code, 1) << refused.describe();
  EXPECT_NE(refused.err.find("the Docker engine refused the archive"), std::string::npos)
      << refused.describe();
}

TEST_F(docker, ConfigsAndSecretsAreReadOnlyFilesAndVariablesInTheContainer) {
  auto& d = start_docker_daemon("objects");
  apply(d, std::string{"kind: Config\nname: app-conf\ndata: \"conf-1\\n\"\n---\nkind: Secret\nname: token\ndata: \"tok-1\\n\"\n---\nkind: Secret\nname: pw\ndata: pw-1\n---\n"} +
               docker_yaml("reader", 1, {"/bin/sh", "-c", "cat /etc/app/app.conf > /data/out; cat /run/secrets/token >> /data/out; echo $PW >> /data/out; echo x > /run/secrets/token 2>/dev/null || echo ro >> /data/out; trap 'exit 0' TERM; while true; do sleep 0.05; done"},
                         "volumes: [{name: data, type: persistent}]\nmounts: [{volume: data, path: /data}]\n"
          "configs: [{name: app-conf, path: /etc/app/app.conf}]\n"
          "secrets: [token, {name: pw, env: PW}]\n"));
  auto out = d.data_dir() + "/volumes/persistent/reader-0/data/out";
  auto text = [&] {
    std::ifstream in{out};
    return std::string{std::istreambuf_iterator<char>{in}, {}};
  };
  // The container writes before tuttid may have seen it run: wait for both.
  EXPECT_TRUE(s::wait_until(
      [&] { return text() == "conf-1\ntok-1\npw-1\nro\n" && running(d, "reader").size() == 1; },
      converge_timeout))
      << text() << json(replicas_of(d, "reader")) << d.log();
}

TEST_F(docker, APersistentVolumeKeepsWhatAContainerWroteAcrossAKill) {
  auto& d = start_docker_daemon("volume");
  apply(d, docker_yaml("keeper", 1,
                       {"/bin/sh", "-c",
                        "echo run >> /data/runs; trap 'exit 0' TERM; while true; do sleep 0.05; "
                        "done"},
                       "volumes: [{name: data, type: persistent}, {name: ro, type: scratch}]\n"
                       "mounts: [{volume: data, path: /data}, {volume: ro, path: /ro, "
                       "read_only: true}]\n"));
  auto runs = d.data_dir() + "/volumes/persistent/keeper-0/data/runs";
  auto lines = [&] {
    std::ifstream in{runs};
    std::string text{std::istreambuf_iterator<char>{in}, {}};
    return std::count(text.begin(), text.end(), '\n');
  };
  // The container writes before tuttid may have seen it run: wait for both.
  ASSERT_TRUE(s::wait_until([&] { return lines() == 1 && running(d, "keeper").size() == 1; },
                            converge_timeout))
      << json(replicas_of(d, "keeper")) << d.log();
  auto before = running(d, "keeper");
  ASSERT_EQ(before.size(), 1u);
  auto id = before.begin()->second.value("runtime_id", "");
  ASSERT_TRUE(engine_->kill(id));
  EXPECT_TRUE(s::wait_until([&] { return lines() == 2; }, converge_timeout))
      << json(replicas_of(d, "keeper"));
  // The read-only mount is read-only inside the container.
  auto c = engine_->inspect(id);
  ASSERT_TRUE(c);
  bool read_only = false;
  for (auto& m : (*c)["Mounts"])
    if (m.value("Destination", "") == "/ro")
      read_only = !m.value("RW", true);
  EXPECT_TRUE(read_only) << (*c)["Mounts"];
}

TEST_F(docker, ContainersOfOneReplicaShareAVolumeAndLiveAsOne) {
  auto& d = start_docker_daemon("pair");
  auto image = std::string{s::docker_engine::image};
  apply(d, container_pair_yaml("docker", image));
  // The writer's ticks, after the init container's seed, reach the reader.
  ASSERT_TRUE(s::wait_until(
      [&] {
        return container_pair_seen(d).rfind("seed\n", 0) == 0 && running(d, "pair").size() == 1;
      },
      converge_timeout))
      << container_pair_seen(d) << json(replicas_of(d, "pair")) << d.log();
  std::map<std::string, std::string> ids; // container name in the spec -> engine id
  for (auto& c : containers())
    ids[c["Labels"].value("tutti.container", "")] = c.value("Id", "");
  ASSERT_EQ(ids.size(), 3u) << json(containers());
  ASSERT_TRUE(ids.count("prepare") && ids.count("writer") && ids.count("reader"));
  auto r = d.tutti({"logs", "pair", "--container", "writer"});
  EXPECT_NE(r.out.find("writer up"), std::string::npos) << r.describe();
  // One container killed: the replica restarts as one.
  ASSERT_TRUE(engine_->kill(ids["reader"]));
  EXPECT_TRUE(s::wait_until(
      [&] {
        auto rs = running(d, "pair");
        return rs.size() == 1 && rs.begin()->second.value("restarts", 0) == 1;
      },
      converge_timeout))
      << json(replicas_of(d, "pair"));
  ASSERT_EQ(d.tutti({"delete", "pair"}).exit_code, 0);
  EXPECT_TRUE(s::wait_until([&] { return containers().empty(); }, converge_timeout))
      << json(containers());
}

TEST_F(docker, MissingImageIsAClearFailure) {
  auto& d = start_docker_daemon("noimage");
  const std::string missing = "local/tutti-missing:1";
  apply(d, docker_yaml("ghost", 1, {"/bin/true"}, {}, missing));
  const std::string reason = "image " + missing + " is not present locally and pulling it failed";
  json seen;
  EXPECT_TRUE(s::wait_until(
      [&] {
        auto rs = replicas_of(d, "ghost");
        if (rs.size() != 1)
          return false;
        seen = rs[0];
        return seen.value("state", "") == "backoff" &&
               seen.value("message", "").find(reason) != std::string::npos &&
               seen.value("message", "").find("restarting in") != std::string::npos;
      },
      converge_timeout))
      << seen.dump();

  auto described = tutti_json(d, {"describe", "service", "ghost"});
  ASSERT_TRUE(described);
  ASSERT_EQ((*described)["replicas"].size(), 1u);
  EXPECT_NE((*described)["replicas"][0].value("message", "").find(reason), std::string::npos)
      << described->dump(2);
  bool failed_event = false;
  EXPECT_TRUE(s::wait_until(
      [&] {
        for (auto& e : events_of(d))
          failed_event = failed_event || (e.value("kind", "") == "replica_failed" &&
                                          e.value("message", "").find(reason) != std::string::npos);
        return failed_event;
      },
      5s))
      << d.tutti({"events"}).out;
  EXPECT_TRUE(containers().empty());
  EXPECT_TRUE(d.running()) << "tuttid must not fall over";
}

TEST_F(docker, UpdateToAMissingImageIsRolledBackAndAnExecProbeGuardsReadiness) {
  auto& d = start_docker_daemon("rollout");
  // Ready once the file the command writes exists: an exec probe inside the container.
  const std::string health = "health: {readiness: {exec: [/bin/sh, -c, 'test -e /tmp/up'], "
                             "interval: 100ms, timeout: 2s}}\n"
                             "update: {max_surge: 1, max_unavailable: 0, monitor: 2s}\n";
  std::vector<std::string> command{"/bin/sh", "-c", "touch /tmp/up; exec sleep 300"};
  apply(d, docker_yaml("steady", 2, command, health));
  ASSERT_TRUE(s::wait_until(
      [&] {
        auto rs = replicas_of(d, "steady");
        return rs.size() == 2 && rs[0].value("ready", false) && rs[1].value("ready", false);
      },
      converge_timeout))
      << json(replicas_of(d, "steady"));
  auto ids = [&] {
    std::set<std::string> out;
    for (auto& c : containers())
      out.insert(c.value("Id", ""));
    return out;
  };
  auto ready_count = [&] {
    int ready = 0;
    for (auto& x : replicas_of(d, "steady"))
      ready += x.value("ready", false) ? 1 : 0;
    return ready;
  };
  // A working revision replaces both containers, never with fewer than 2 ready.
  auto first = ids();
  apply(d, docker_yaml("steady", 2, command, health + "env: {VERSION: '2'}\n"));
  int fewest_ready = 2;
  EXPECT_TRUE(s::wait_until(
      [&] {
        fewest_ready = std::min(fewest_ready, ready_count());
        auto r = tutti_json(d, {"rollout", "status", "steady", "--no-follow"});
        return r && (*r)["revision"] == 2 && (*r)["state"] == "complete" && (*r)["old"] == 0 &&
               ready_count() == 2;
      },
      converge_timeout))
      << d.tutti({"rollout", "status", "steady", "--no-follow"}).out;
  EXPECT_EQ(fewest_ready, 2);
  // The old ones stop within their stop_grace.
  std::set<std::string> before;
  EXPECT_TRUE(s::wait_until(
      [&] {
        before = ids();
        return before.size() == 2;
      },
      converge_timeout));
  for (auto& id : first)
    EXPECT_EQ(before.count(id), 0u) << "not replaced: " << id;

  apply(d, docker_yaml("steady", 2, command, health + "env: {VERSION: '2'}\n",
                       "local/tutti-missing:2"));
  EXPECT_TRUE(s::wait_until(
      [&] {
        auto r = tutti_json(d, {"rollout", "status", "steady", "--no-follow"});
        fewest_ready = std::min(fewest_ready, ready_count());
        return r && (*r)["revision"] == 4 && (*r)["state"] == "complete" && (*r)["old"] == 0;
      },
      converge_timeout))
      << d.tutti({"rollout", "status", "steady", "--no-follow"}).out;
  EXPECT_EQ(fewest_ready, 2);
  EXPECT_TRUE(has_event(d, "rollout_failed"));
  EXPECT_TRUE(has_event(d, "rollout_undone"));
  // The rollback went back to the same template: the first containers still run.
  EXPECT_EQ(ids(), before);
}

TEST_F(docker, RecoversWhenTheEngineRestarts) {
  if (!engine_->is_private())
    GTEST_SKIP() << "stopping the engine needs a private dockerd (the host's answers)";
  auto& d = start_docker_daemon("engine");
  apply(d, docker_yaml("phoenix", 2, idle_command));
  ASSERT_TRUE(wait_running(d, "phoenix", 2)) << json(replicas_of(d, "phoenix"));
  auto before = running(d, "phoenix");

  auto docker_error = [&] {
    auto r = d.tutti({"get", "nodes", "-o", "json"});
    auto nodes = json::parse(r.out, nullptr, false);
    if (r.exit_code != 0 || !nodes.is_array() || nodes.empty())
      return std::string{"?"};
    return nodes[0].value("driver_errors", json::object()).value("docker", "");
  };
  auto health_metric = [&] {
    return metric_value(metrics_text(d),
                        "tutti_driver_healthy{driver=\"docker\",node=\"" + node_ + "\"}");
  };
  EXPECT_EQ(docker_error(), "");

  ASSERT_TRUE(engine_->stop_engine());
  // While the engine is away tuttid stays up and answers, and says the driver is down.
  EXPECT_EQ(replicas_of(d, "phoenix").size(), 2u);
  EXPECT_TRUE(d.running());
  std::string down_reason;
  EXPECT_TRUE(s::wait_until(
      [&] {
        down_reason = docker_error();
        return down_reason.find("is dockerd running?") != std::string::npos;
      },
      converge_timeout))
      << down_reason;
  EXPECT_EQ(health_metric(), 0.0);
  EXPECT_TRUE(has_event(d, "driver_unhealthy"));
  std::string why;
  auto restarted_at = std::chrono::steady_clock::now();
  ASSERT_TRUE(engine_->start_engine(why)) << why;
  std::map<std::string, json> after;
  EXPECT_TRUE(s::wait_until(
      [&] {
        after = running(d, "phoenix");
        return after.size() == 2 && running_containers() == 2;
      },
      converge_timeout))
      << json(replicas_of(d, "phoenix"));
  std::printf("docker_engine_back_to_2_running_ms=%lld\n", s::elapsed_ms(restarted_at));
  for (auto& [id, r] : after)
    EXPECT_NE(r.value("pid", 0), before[id].value("pid", 0)) << id;
  EXPECT_EQ(containers().size(), 2u);
  EXPECT_TRUE(s::wait_until([&] { return docker_error().empty(); }, converge_timeout));
  EXPECT_EQ(health_metric(), 1.0);
  EXPECT_TRUE(has_event(d, "driver_recovered"));
}

} // namespace
} // namespace tutti::tests::integration
