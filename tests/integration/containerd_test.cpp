// `driver: containerd` end to end: a real tuttid runs replicas as containerd
// tasks of a private containerd (started once for this binary), the image
// imported from the archive the spec names. Applied services become labelled
// containers with the spec's env and limits on the host network; a task killed
// behind tutti's back is replaced; a tuttid killed with -9 adopts its tasks
// (same pids); delete removes containers and snapshots; a missing image is a
// clear failure; an exec probe guards readiness.

#include "tests/integration/fixture.hpp"
#include "tests/support/containerd_environment.hpp"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>

namespace tutti::tests::integration {
namespace {

[[maybe_unused]] auto* const containerd_env =
    ::testing::AddGlobalTestEnvironment(new s::containerd_environment);

/// A replica that ends at once on SIGTERM (PID 1 ignores signals it does not
/// handle), so stops do not wait for a grace.
const std::vector<std::string> idle_command{"/bin/sh", "-c",
                                            "trap 'exit 0' TERM; while true; do sleep 0.05; done"};

class containerd : public integration {
protected:
  void SetUp() override { TUTTI_REQUIRE_CONTAINERD(containerd_); }

  void TearDown() override {
    integration::TearDown();
    if (containerd_ != nullptr)
      containerd_->remove_everything();
  }

  /// tuttid on the test containerd with a node name of its own.
  s::tuttid_process& start_containerd_daemon(const std::string& hint) {
    auto opts = daemon_options();
    node_ = containerd_->node_name(hint);
    opts.extra_args = {"--containerd-socket",     containerd_->socket(), "--containerd-namespace",
                       containerd_->name_space(), "--node-name",         node_};
    opts.port_count = 16;
    return start_daemon(opts);
  }

  std::string containerd_yaml(const std::string& name, int replicas,
                              const std::vector<std::string>& command,
                              const std::string& extra = {},
                              const std::string& image = s::containerd_instance::image) const {
    return "kind: Service\nname: " + name + "\nreplicas: " + std::to_string(replicas) +
           "\ndriver: containerd\nimage: " + image + "\nimage_archive: " + containerd_->archive() +
           "\ncommand: " + yaml_list(command) +
           "\nrestart: {policy: always, backoff: {initial: 100ms, max: 1s}}\n" +
           "stop_grace: 2s\n" + extra;
  }

  void apply(s::tuttid_process& d, const std::string& yaml) {
    auto file = d.scratch().write("containerd.yaml", yaml);
    auto r = d.tutti({"apply", "-f", file});
    ASSERT_EQ(r.exit_code, 0) << r.describe();
  }

  std::map<std::string, json> running(s::tuttid_process& d, const std::string& service) {
    std::map<std::string, json> out;
    for (auto& r : replicas_of(d, service))
      if (r.value("state", "") == "running" && !r.value("runtime_id", "").empty())
        out[r.value("id", "")] = r;
    return out;
  }

  /// containerd's containers of this run's namespace.
  std::vector<std::string> containers() const {
    std::vector<std::string> out;
    std::istringstream lines{containerd_->ctr({"containers", "ls", "-q"}).out};
    std::string line;
    while (std::getline(lines, line))
      if (!line.empty())
        out.push_back(line);
    return out;
  }

  json container_info(const std::string& id) const {
    auto r = containerd_->ctr({"containers", "info", id});
    return r.exit_code == 0 ? json::parse(r.out, nullptr, false) : json{};
  }

  bool kill_task(const std::string& id) const {
    return containerd_->ctr({"tasks", "kill", "--signal", "SIGKILL", id}).exit_code == 0;
  }

  s::containerd_instance* containerd_ = nullptr;
  std::string node_;
};

TEST_F(containerd, AppliedServiceRunsAsLabelledTasks) {
  auto& d = start_containerd_daemon("apply");
  auto applied_at = std::chrono::steady_clock::now();
  apply(d, containerd_yaml("web", 3,
                           {"/bin/sh", "-c",
                            "echo hello from $PORT; trap 'exit 0' TERM; "
                            "httpd -f -p 127.0.0.1:$PORT -h /tmp & wait"},
                           "env: {GREETING: hi}\n"
                           "resources: {cpu: 0.25, memory: 32Mi}\n"
                           "ports: [{name: http}]\n"));
  ASSERT_TRUE(wait_running(d, "web", 3)) << json(replicas_of(d, "web")) << d.log();
  std::printf("containerd_apply_to_3_running_ms=%lld\n", s::elapsed_ms(applied_at));
  ASSERT_EQ(containers().size(), 3u);

  for (auto& [id, r] : running(d, "web")) {
    SCOPED_TRACE(id);
    auto c = container_info(r.value("runtime_id", ""));
    ASSERT_TRUE(c.is_object()) << "no container " << r.value("runtime_id", "");
    auto& labels = c["Labels"];
    EXPECT_EQ(labels["tutti.service"], "web");
    EXPECT_EQ(labels["tutti.replica"], id);
    EXPECT_EQ(labels["tutti.node"], node_);
    EXPECT_EQ(labels["tutti.revision"], "1");
    EXPECT_EQ(c["ID"], "tutti-" + id + "_" + node_);
    auto port = r["ports"].at(0).value("host_port", 0);
    auto env = c["Spec"]["process"]["env"];
    EXPECT_NE(std::find(env.begin(), env.end(), "PORT=" + std::to_string(port)), env.end()) << env;
    EXPECT_NE(std::find(env.begin(), env.end(), "GREETING=hi"), env.end()) << env;
    EXPECT_EQ(c["Spec"]["linux"]["resources"]["cpu"]["quota"], 25000);
    EXPECT_EQ(c["Spec"]["linux"]["resources"]["memory"]["limit"], 32 << 20);
    // Host networking: the task's httpd answers on the host's loopback.
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
  // The driver's health: get nodes names containerd among the drivers, healthy.
  auto nodes = tutti_json(d, {"get", "nodes"});
  ASSERT_TRUE(nodes && nodes->is_array() && !nodes->empty());
  auto drivers = (*nodes)[0]["drivers"];
  EXPECT_NE(std::find(drivers.begin(), drivers.end(), "containerd"), drivers.end()) << *nodes;
  EXPECT_EQ((*nodes)[0].value("driver_errors", json::object()).count("containerd"), 0u) << *nodes;
}

TEST_F(containerd, KilledTasksAreReplaced) {
  auto& d = start_containerd_daemon("heal");
  apply(d, containerd_yaml("heal", 2, idle_command));
  ASSERT_TRUE(wait_running(d, "heal", 2)) << json(replicas_of(d, "heal")) << d.log();
  auto before = running(d, "heal");
  auto victim = before.at("heal-0");
  auto killed_at = std::chrono::steady_clock::now();
  ASSERT_TRUE(kill_task(victim.value("runtime_id", "")));
  std::map<std::string, json> now;
  ASSERT_TRUE(s::wait_until(
      [&] {
        now = running(d, "heal");
        return now.count("heal-0") && now["heal-0"].value("pid", 0) != victim.value("pid", 0) &&
               s::process_alive(now["heal-0"].value("pid", 0));
      },
      converge_timeout))
      << json(replicas_of(d, "heal"));
  std::printf("containerd_kill_to_running_ms=%lld\n", s::elapsed_ms(killed_at));
  EXPECT_EQ(now["heal-0"].value("runtime_id", ""), victim.value("runtime_id", ""));
  EXPECT_GE(now["heal-0"].value("restarts", 0), 1);
  EXPECT_EQ(containers().size(), 2u);
  EXPECT_TRUE(has_event(d, "replica_exited", "heal-0"));
}

TEST_F(containerd, AdoptsTasksAfterDaemonKill) {
  auto& d = start_containerd_daemon("adopt");
  apply(d, containerd_yaml("keep", 2, idle_command));
  ASSERT_TRUE(wait_running(d, "keep", 2)) << json(replicas_of(d, "keep")) << d.log();
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
  EXPECT_EQ(containers().size(), 2u);
  EXPECT_FALSE(s::wait_until([&] { return containers().size() != 2; }, 1s));

  // Still watched: an exit after the adoption is seen.
  auto victim = after.at("keep-1");
  ASSERT_TRUE(kill_task(victim.value("runtime_id", "")));
  EXPECT_TRUE(s::wait_until(
      [&] {
        auto now = running(d, "keep");
        return now.count("keep-1") && now["keep-1"].value("pid", 0) != victim.value("pid", 0);
      },
      converge_timeout))
      << json(replicas_of(d, "keep"));
}

TEST_F(containerd, DeleteRemovesContainersAndSnapshots) {
  auto& d = start_containerd_daemon("delete");
  apply(d, containerd_yaml("gone", 2, idle_command));
  ASSERT_TRUE(wait_running(d, "gone", 2)) << json(replicas_of(d, "gone")) << d.log();
  ASSERT_EQ(containers().size(), 2u);
  auto r = d.tutti({"delete", "gone"});
  ASSERT_EQ(r.exit_code, 0) << r.describe();
  EXPECT_TRUE(s::wait_until([&] { return containers().empty(); }, converge_timeout));
  auto snapshots = containerd_->ctr({"snapshots", "ls"}).out;
  EXPECT_EQ(snapshots.find("tutti-gone-"), std::string::npos) << snapshots;
  EXPECT_TRUE(s::wait_until([&] { return replicas_of(d, "gone").empty(); }, 5s));
}

TEST_F(containerd, MissingImageIsAClearFailure) {
  auto& d = start_containerd_daemon("noimage");
  auto yaml =
      "kind: Service\nname: ghost\ndriver: containerd\nimage: 127.0.0.1:1/tutti/missing:1\n"
      "command: [/bin/true]\nrestart: {policy: always, backoff: {initial: 100ms, max: 1s}}\n";
  apply(d, yaml);
  const std::string reason =
      "image 127.0.0.1:1/tutti/missing:1 is not in containerd (namespace " +
      containerd_->name_space() + ") and pulling it failed: cannot reach registry 127.0.0.1:1";
  json seen;
  EXPECT_TRUE(s::wait_until(
      [&] {
        auto rs = replicas_of(d, "ghost");
        if (rs.size() != 1)
          return false;
        seen = rs[0];
        return seen.value("state", "") == "backoff" &&
               seen.value("message", "").find(reason) != std::string::npos;
      },
      converge_timeout))
      << seen.dump();
  EXPECT_TRUE(containers().empty());
  EXPECT_TRUE(d.running()) << "tuttid must not fall over";
}

TEST_F(containerd, AnImportedImageRunsWithoutAnArchiveInItsSpec) {
  auto& d = start_containerd_daemon("import");
  auto listed = [&] { return containerd_->ctr({"images", "ls", "-q"}).out; };
  ASSERT_EQ(listed().find(s::containerd_instance::image), std::string::npos) << listed();
  auto r = d.tutti({"image", "import", containerd_->archive(), "--node", node_, "-o", "json"});
  ASSERT_EQ(r.exit_code, 0) << r.describe();
  auto out = json::parse(r.out, nullptr, false);
  ASSERT_TRUE(out.is_object()) << r.out;
  EXPECT_EQ(out["node"], node_);
  EXPECT_EQ(out["images"], json::array({s::containerd_instance::image})) << r.out;
  EXPECT_NE(listed().find(s::containerd_instance::image), std::string::npos) << listed();
  // The archive's copy on the node goes once it is loaded.
  EXPECT_TRUE(std::filesystem::is_empty(d.data_dir() + "/uploads"));

  apply(d, "kind: Service\nname: imported\ndriver: containerd\nimage: " +
               std::string{s::containerd_instance::image} + "\ncommand: " + yaml_list(idle_command) +
               "\n");
  EXPECT_TRUE(wait_running(d, "imported", 1)) << json(replicas_of(d, "imported")) << d.log();
}

TEST_F(containerd, AnImportOfABrokenArchiveSaysWhyAndKeepsNothing) {
  auto& d = start_containerd_daemon("badimport");
  // A tar cut short: the load fails, naming what is wrong.
  std::ifstream in{containerd_->archive(), std::ios::binary};
  std::string bytes{std::istreambuf_iterator<char>{in}, {}};
  auto cut = d.scratch().write("cut.tar", bytes.substr(0, bytes.size() / 2));
  auto r = d.tutti({"image", "import", cut, "--node", node_});
  EXPECT_EQ(r.exit_code, 1) << r.describe();
  EXPECT_NE(r.err.find("image import on node " + node_ + ": the image archive cut.tar"),
            std::string::npos)
      << r.describe();
  EXPECT_TRUE(std::filesystem::is_empty(d.data_dir() + "/uploads"));
  EXPECT_EQ(containerd_->ctr({"images", "ls", "-q"}).out, "");

  // What tuttid refuses before anything is sent.
  auto unknown = d.tutti({"image", "import", containerd_->archive(), "--node", "nowhere"});
  EXPECT_EQ(unknown.exit_code, 1);
  EXPECT_NE(unknown.err.find("node nowhere is not connected"), std::string::npos)
      << unknown.describe();
  auto absent = d.scratch().file("absent.tar");
  auto missing = d.tutti({"image", "import", absent, "--node", node_});
  EXPECT_NE(missing.exit_code, 0);
  EXPECT_NE(missing.err.find("cannot read " + absent), std::string::npos)
      << missing.describe();
  auto wrong = d.tutti({"image", "import", cut, "--node", node_, "--driver", "process"});
  EXPECT_NE(wrong.exit_code, 0);
  EXPECT_NE(wrong.err.find("containerd"), std::string::npos) << wrong.describe();
  EXPECT_TRUE(d.running()) << "tuttid must not fall over";
}

TEST_F(containerd, ConfigsAndSecretsAreReadOnlyFilesAndVariablesInTheContainer) {
  auto& d = start_containerd_daemon("objects");
  apply(d, std::string{"kind: Config\nname: app-conf\ndata: \"conf-1\\n\"\n---\nkind: Secret\nname: token\ndata: \"tok-1\\n\"\n---\nkind: Secret\nname: pw\ndata: pw-1\n---\n"} +
               containerd_yaml("reader", 1, {"/bin/sh", "-c", "cat /etc/app/app.conf > /data/out; cat /run/secrets/token >> /data/out; echo $PW >> /data/out; echo x > /run/secrets/token 2>/dev/null || echo ro >> /data/out; trap 'exit 0' TERM; while true; do sleep 0.05; done"},
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

TEST_F(containerd, APersistentVolumeKeepsWhatATaskWroteAcrossAKill) {
  auto& d = start_containerd_daemon("volume");
  apply(d, containerd_yaml("keeper", 1,
                           {"/bin/sh", "-c",
                            "echo run >> /data/runs; touch /ro/x 2>/dev/null || echo ro >> "
                            "/data/runs; trap 'exit 0' TERM; while true; do sleep 0.05; done"},
                           "volumes: [{name: data, type: persistent}, {name: ro}]\n"
                           "mounts: [{volume: data, path: /data}, {volume: ro, path: /ro, "
                           "read_only: true}]\n"));
  auto runs = d.data_dir() + "/volumes/persistent/keeper-0/data/runs";
  auto text = [&] {
    std::ifstream in{runs};
    return std::string{std::istreambuf_iterator<char>{in}, {}};
  };
  // The task writes before tuttid may have seen it run: wait for both.
  ASSERT_TRUE(s::wait_until(
      [&] { return text() == "run\nro\n" && running(d, "keeper").size() == 1; },
      converge_timeout))
      << text() << json(replicas_of(d, "keeper")) << d.log();
  auto before = running(d, "keeper");
  ASSERT_EQ(before.size(), 1u);
  containerd_->ctr({"tasks", "kill", "--signal", "SIGKILL", before.begin()->second.value("runtime_id", "")});
  EXPECT_TRUE(s::wait_until([&] { return text() == "run\nro\nrun\nro\n"; }, converge_timeout))
      << text() << json(replicas_of(d, "keeper"));
}

TEST_F(containerd, ContainersOfOneReplicaShareAVolumeAndLiveAsOne) {
  auto& d = start_containerd_daemon("pair");
  auto image = std::string{s::containerd_instance::image} + ", image_archive: " +
               containerd_->archive();
  apply(d, container_pair_yaml("containerd", image));
  ASSERT_TRUE(s::wait_until(
      [&] {
        return container_pair_seen(d).rfind("seed\n", 0) == 0 && running(d, "pair").size() == 1;
      },
      converge_timeout))
      << container_pair_seen(d) << json(replicas_of(d, "pair")) << d.log();
  auto listed = containers();
  std::sort(listed.begin(), listed.end());
  auto id = [&](const std::string& container) { return "tutti-pair-0_" + container + "_" + node_; };
  EXPECT_EQ(listed, (std::vector<std::string>{id("prepare"), id("reader"), id("writer")}));
  auto r = d.tutti({"logs", "pair", "--container", "writer"});
  EXPECT_NE(r.out.find("writer up"), std::string::npos) << r.describe();
  ASSERT_TRUE(kill_task(id("reader")));
  EXPECT_TRUE(s::wait_until(
      [&] {
        auto rs = running(d, "pair");
        return rs.size() == 1 && rs.begin()->second.value("restarts", 0) == 1;
      },
      converge_timeout))
      << json(replicas_of(d, "pair"));
  ASSERT_EQ(d.tutti({"delete", "pair"}).exit_code, 0);
  EXPECT_TRUE(s::wait_until([&] { return containers().empty(); }, converge_timeout))
      << containers().size();
}

TEST_F(containerd, AnExecProbeGuardsReadiness) {
  auto& d = start_containerd_daemon("probe");
  const std::string health = "health: {readiness: {exec: [/bin/sh, -c, 'test -e /tmp/up'], "
                             "interval: 100ms, timeout: 2s}}\n";
  apply(d, containerd_yaml("steady", 1,
                           {"/bin/sh", "-c", "sleep 0.5; touch /tmp/up; exec sleep 300"}, health));
  json seen;
  ASSERT_TRUE(s::wait_until(
      [&] {
        auto rs = replicas_of(d, "steady");
        if (rs.size() != 1)
          return false;
        seen = rs[0];
        return seen.value("ready", false);
      },
      converge_timeout))
      << seen.dump() << d.log();
}

} // namespace
} // namespace tutti::tests::integration
