// A highly available control plane: three `tuttid control --store etcd://...`
// on a three-member etcd cluster on loopback, two node agents joining with the
// list of all three. One control process leads and serves; killed (kill -9) or
// frozen (SIGSTOP), another leads within a few seconds, the nodes move to it
// without restarting a replica, and nothing acknowledged is lost. A frozen
// leader that wakes finds itself deposed and stands by.

#include "tests/integration/fixture.hpp"

#include <sys/stat.h>

#include <fstream>
#include "tests/support/etcd.hpp"
#include "tools/harness/process_cut.hpp"

#include <signal.h>

namespace tutti::tests::integration {
namespace {

constexpr const char* token = "ha-token";

/// Why it stood down (etcd silent for a TTL), or what its campaign since found.
bool says_etcd_is_silent(const std::string& text) {
  return text.find("etcd did not answer") != std::string::npos ||
         text.find("etcd does not answer") != std::string::npos;
}

template <class F> bool eventually(F pred, std::chrono::milliseconds limit = converge_timeout) {
  return s::wait_until(pred, limit);
}

class ha : public integration {
protected:
  void SetUp() override {
    TUTTI_START_ETCD_OR_SKIP(etcd_, 3);
    std::string urls;
    for (const auto& u : etcd_->client_urls())
      urls += (urls.empty() ? "" : ",") + u.substr(std::string{"http://"}.size());
    store_ = "etcd://" + urls;
    config_ = scratch_.write("ha.yaml",
                             "cluster: {heartbeat_interval: 100ms, node_loss_timeout: 1s}\n"
                             "store: {etcd: {leader_ttl: 1s, timeout: 500ms}}\n");
    // Control process i on 127.0.0.(i+1), as on three hosts.
    for (int i = 0; i < 3; ++i)
      listens_.push_back(host(i) + ":" + std::to_string(s::free_port()));
    // One secrets key for every control process, as an HA control plane needs.
    auto key = scratch_.write("secrets.key", std::string(64, 'b') + "\n");
    ::chmod(key.c_str(), 0600);
    for (int i = 0; i < 3; ++i) {
      auto opts = daemon_options();
      opts.mode = "control";
      opts.host = host(i);
      opts.config_file = config_;
      opts.ready_line = "standing by for leadership";
      opts.log_level = "debug";
      opts.admin_token_file = scratch_.file("admin.token"); // one for the cluster
      opts.extra_args = {"--store",      store_, "--listen",           listens_[i],
                         "--join-token", token,  "--secrets-key-file", key};
      controls_.push_back(&make_daemon(opts));
    }
    for (auto* c : controls_)
      ASSERT_TRUE(c->start()) << c->log();
    for (auto* c : controls_)
      apis_ += (apis_.empty() ? "" : ",") + c->api();
  }

  static std::string host(int i) { return "127.0.0." + std::to_string(i + 1); }

  /// What `tutti version` says a control process is ("leader", "standby"),
  /// or "" when it does not answer.
  static std::string role_of(s::tuttid_process& c) {
    if (!c.running())
      return "";
    auto r = c.tutti({"version", "-o", "json"}, 2s);
    auto j = json::parse(r.out, nullptr, false);
    if (r.exit_code != 0 || !j.is_object())
      return "";
    return j["server"].value("role", "");
  }

  /// The control process that says it leads, when exactly one does.
  s::tuttid_process* leader() {
    s::tuttid_process* found = nullptr;
    for (auto* c : controls_) {
      if (role_of(*c) != "leader")
        continue;
      if (found)
        return nullptr;
      found = c;
    }
    return found;
  }

  /// A control process other than `old` that says it leads (the one `old`
  /// was replaced by), within 15 s; null when none does.
  s::tuttid_process* wait_other_leader(s::tuttid_process* old) {
    s::tuttid_process* found = nullptr;
    eventually(
        [&] {
          for (auto* c : controls_)
            if (c != old && role_of(*c) == "leader")
              found = c;
          return found != nullptr;
        },
        15s);
    return found;
  }

  s::tuttid_process* wait_leader(std::chrono::milliseconds limit = 15s) {
    s::tuttid_process* l = nullptr;
    eventually([&] { return (l = leader()) != nullptr; }, limit);
    return l;
  }

  /// `tutti --api A,B,C ARGS`: the client finds the leader itself.
  s::command_result tutti(std::vector<std::string> args) {
    std::vector<std::string> argv{TUTTI_BIN, "--api", apis_, "--timeout", "5"};
    argv.insert(argv.end(), args.begin(), args.end());
    return s::run_command(
        argv, {{"TUTTI_API", apis_}, {"TUTTI_TOKEN_FILE", controls_[0]->admin_token_file()}}, 30s);
  }

  void start_nodes() {
    std::string joins;
    for (const auto& l : listens_)
      joins += (joins.empty() ? "" : ",") + l;
    int i = 0;
    for (auto [name, address] : {std::pair{"n1", "127.0.0.2"}, std::pair{"n2", "127.0.0.3"}}) {
      auto opts = daemon_options();
      opts.mode = "node";
      opts.config_file = config_;
      opts.log_level = "debug";
      opts.extra_args = {"--join",    joins,   "--join-token", token, "--node-name", name,
                         "--address", address, "--no-docker"};
      nodes_.push_back(&start_daemon(opts));
      ++i;
    }
  }

  size_t ready_nodes(s::tuttid_process& control) {
    auto nodes = tutti_json(control, {"get", "nodes"});
    if (!nodes || !nodes->is_array())
      return 0;
    size_t n = 0;
    for (auto& x : *nodes)
      n += x.value("state", "") == "ready";
    return n;
  }

  std::unique_ptr<s::etcd_cluster> etcd_;
  s::temp_dir scratch_;
  std::string store_;
  std::string config_;
  std::string apis_;
  std::vector<std::string> listens_;
  std::vector<s::tuttid_process*> controls_;
  std::vector<s::tuttid_process*> nodes_;
};

TEST_F(ha, AKilledLeaderIsReplacedAndNothingAcknowledgedIsLostNorAReplicaRestarted) {
  auto* first = wait_leader();
  ASSERT_NE(first, nullptr) << "no single leader";
  start_nodes();
  ASSERT_TRUE(eventually([&] { return ready_nodes(*first) == 2; }));
  auto file = scratch_.write("sleepy.yaml", sleeper_yaml("sleepy", 4));
  auto applied = tutti({"apply", "-f", file});
  ASSERT_EQ(applied.exit_code, 0) << applied.describe();
  ASSERT_TRUE(wait_running(*first, "sleepy", 4));
  auto pids = running_pids(*first, "sleepy");
  for (auto& [id, pid] : pids)
    nodes_[0]->track(pid);

  first->kill9();
  auto killed = std::chrono::steady_clock::now();
  // The next write goes to whichever control process leads now.
  s::command_result scaled;
  ASSERT_TRUE(eventually(
      [&] {
        scaled = tutti({"scale", "sleepy=5"});
        return scaled.exit_code == 0;
      },
      15s))
      << scaled.describe();
  auto failover = std::chrono::steady_clock::now() - killed;
  std::printf("failover: a write acknowledged %lld ms after kill -9 of the leader\n",
              static_cast<long long>(
                  std::chrono::duration_cast<std::chrono::milliseconds>(failover).count()));
  auto* second = wait_leader();
  ASSERT_NE(second, nullptr);
  ASSERT_NE(second, first);
  ASSERT_TRUE(eventually([&] { return ready_nodes(*second) == 2; }, 15s));
  ASSERT_TRUE(wait_running(*second, "sleepy", 5, 15s));
  auto after = running_pids(*second, "sleepy");
  for (auto& [id, pid] : pids)
    EXPECT_EQ(after[id], pid) << id << " was restarted";
  EXPECT_EQ(after.size(), 5u);
  for (auto& [id, pid] : after)
    nodes_[0]->track(pid);
}

TEST_F(ha, ASecretStoredThroughOneLeaderReachesReplicasThroughTheNext) {
  auto* first = wait_leader();
  ASSERT_NE(first, nullptr) << "no single leader";
  start_nodes();
  ASSERT_TRUE(eventually([&] { return ready_nodes(*first) == 2; }));
  auto file = scratch_.write(
      "reader.yaml", "kind: Secret\nname: token\ndata: tok-ha\n---\n" +
                         service_yaml("reader", 1, {"/bin/busybox", "sleep", "300"},
                                      "placement: {constraints: [\"node.name == n1\"]}\n"
                                      "secrets: [token]\n"));
  auto applied = tutti({"apply", "-f", file});
  ASSERT_EQ(applied.exit_code, 0) << applied.describe();
  ASSERT_TRUE(wait_running(*first, "reader", 1));
  first->kill9();
  s::command_result scaled;
  ASSERT_TRUE(eventually(
      [&] {
        scaled = tutti({"scale", "reader=2"});
        return scaled.exit_code == 0;
      },
      15s))
      << scaled.describe();
  auto* second = wait_leader();
  ASSERT_NE(second, nullptr);
  ASSERT_TRUE(wait_running(*second, "reader", 2, 15s)) << json(replicas_of(*second, "reader"));
  for (const char* replica : {"reader-0", "reader-1"}) {
    std::ifstream in{nodes_[0]->secrets_dir() + "/" + replica + "/secrets/token"};
    EXPECT_EQ(std::string(std::istreambuf_iterator<char>{in}, {}), "tok-ha") << replica;
  }
  // etcd holds the secret sealed only.
  auto dump = s::run_command({"etcdctl", "--endpoints", etcd_->client_urls().front(), "get",
                              "--prefix", "/tutti/"},
                             {{"ETCDCTL_API", "3"}}, 10s);
  ASSERT_EQ(dump.exit_code, 0) << dump.describe();
  EXPECT_NE(dump.out.find("secret"), std::string::npos);
  EXPECT_EQ(dump.out.find("tok-ha"), std::string::npos) << "etcd holds the secret in clear";
  EXPECT_EQ(dump.out.find(base64_of("tok-ha")), std::string::npos) << "etcd holds it as base64";
}

TEST_F(ha, ABackupOfAStoreOnEtcdIsEtcdsOwnSnapshot) {
  ASSERT_NE(wait_leader(), nullptr);
  auto spec = scratch_.write("kept.yaml", sleeper_yaml("kept", 0));
  ASSERT_EQ(tutti({"apply", "-f", spec}).exit_code, 0);
  auto file = scratch_.file("etcd.snapshot");
  auto taken = tutti({"backup", "create", file, "-o", "json"});
  ASSERT_EQ(taken.exit_code, 0) << taken.describe();
  EXPECT_GT(json::parse(taken.out)["bytes"].get<uint64_t>(), 0u);
  // What etcdctl snapshot save writes: the database, then its SHA-256, which
  // restore checks; tutti's own restore says where it goes instead.
  auto restored = tutti({"backup", "restore", file, "--data-dir", scratch_.file("nowhere")});
  EXPECT_NE(restored.exit_code, 0);
  EXPECT_NE(restored.err.find("is a snapshot of etcd"), std::string::npos) << restored.describe();
  EXPECT_NE(restored.err.find("etcdctl snapshot restore"), std::string::npos) << restored.describe();
  EXPECT_FALSE(std::filesystem::exists(scratch_.file("nowhere")));
}

TEST_F(ha, GetControllersShowsWhoLeadsAndTheHealthOfEveryEtcdEndpoint) {
  auto* first = wait_leader();
  ASSERT_NE(first, nullptr);
  std::optional<json> report;
  ASSERT_TRUE(eventually([&] {
    report = tutti_json(*first, {"get", "controllers"});
    return report && (*report)["controllers"].size() == 3;
  })) << (report ? report->dump() : "no answer");
  int leading = 0;
  for (auto& c : (*report)["controllers"]) {
    leading += c.value("leading", false);
    if (c.value("leading", false))
      EXPECT_EQ(c.value("api", ""), first->api()) << *report;
  }
  EXPECT_EQ(leading, 1) << *report;
  // Each one's metrics endpoint says whether it leads.
  for (auto* c : controls_)
    EXPECT_EQ(metric_value(metrics_text(*c), "tutti_leader"), c == first ? 1.0 : 0.0)
        << c->api();
  EXPECT_EQ((*report)["store"].get<std::string>().rfind("etcd://", 0), 0u) << *report;
  ASSERT_EQ((*report)["endpoints"].size(), 3u) << *report;
  for (auto& e : (*report)["endpoints"])
    EXPECT_TRUE(e.value("healthy", false)) << *report;

  etcd_->kill(2);
  auto* standby = controls_[first == controls_[0] ? 1 : 0];
  standby->kill9();
  ASSERT_TRUE(eventually(
      [&] {
        auto* now = leader();
        report = now ? tutti_json(*now, {"get", "controllers"}) : std::nullopt;
        if (!report)
          return false;
        int healthy = 0;
        for (auto& e : (*report)["endpoints"])
          healthy += e.value("healthy", false);
        return (*report)["controllers"].size() == 2 && healthy == 2;
      },
      15s))
      << (report ? report->dump() : "no answer");
  auto* now = wait_leader();
  ASSERT_NE(now, nullptr);
  auto text = now->tutti({"get", "controllers"});
  EXPECT_NE(text.out.find("unreachable"), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("leader"), std::string::npos) << text.out;
}

TEST_F(ha, AFrozenLeaderIsDeposedAndStandsByWhenItWakes) {
  auto* first = wait_leader();
  ASSERT_NE(first, nullptr);
  // With nodes that joined it and replicas they run: what they were granted
  // must not keep its control plane from ending when it wakes.
  start_nodes();
  ASSERT_TRUE(eventually([&] { return ready_nodes(*first) == 2; }));
  auto sleepy = scratch_.write("sleepy.yaml", sleeper_yaml("sleepy", 2));
  ASSERT_EQ(tutti({"apply", "-f", sleepy}).exit_code, 0);
  ASSERT_TRUE(wait_running(*first, "sleepy", 2));
  for (auto& [id, pid] : running_pids(*first, "sleepy"))
    nodes_[0]->track(pid);
  ASSERT_EQ(::kill(first->pid(), SIGSTOP), 0);
  s::command_result applied;
  auto file = scratch_.write("web.yaml", sleeper_yaml("web", 1));
  // Its lease expires: another leads and takes writes, which the frozen one
  // could never overwrite (its writes are fenced).
  auto* second = wait_other_leader(first);
  ASSERT_NE(second, nullptr);
  applied = second->tutti({"apply", "-f", file});
  ASSERT_EQ(::kill(first->pid(), SIGCONT), 0);
  ASSERT_EQ(applied.exit_code, 0) << applied.describe();
  ASSERT_TRUE(eventually([&] { return first->log().find("no longer leading") != std::string::npos; },
                         15s))
      << first->log();
  EXPECT_TRUE(eventually([&] { return leader() == second; }, 15s));
  EXPECT_TRUE(eventually([&] { return role_of(*first) == "standby"; }, 15s)) << first->log();
  auto services = tutti_json(*second, {"get", "services"});
  ASSERT_TRUE(services);
  EXPECT_EQ(services->size(), 2u) << *services;
  for (auto& [id, pid] : running_pids(*second, "sleepy"))
    nodes_[0]->track(pid);
}

TEST_F(ha, AStandbyAnswersStoredReadsAndSendsTheRestToTheLeader) {
  auto* first = wait_leader();
  ASSERT_NE(first, nullptr);
  auto* standby = controls_[first == controls_[0] ? 1 : 0];
  auto file = scratch_.write("web.yaml", sleeper_yaml("web", 1));
  // Given every address, the client finds the leader whatever comes first.
  auto applied = tutti({"apply", "-f", file});
  ASSERT_EQ(applied.exit_code, 0) << applied.describe();

  auto version = standby->tutti({"version"}, 5s);
  EXPECT_EQ(version.exit_code, 0) << version.describe();
  EXPECT_NE(version.out.find("standby, the leader is at " + first->api()), std::string::npos)
      << version.out;
  // What etcd holds, a standby reads from its copy, which a watch keeps current.
  std::optional<json> history;
  ASSERT_TRUE(eventually([&] {
    history = tutti_json(*standby, {"rollout", "history", "web"});
    return history && history->size() == 1;
  })) << (history ? history->dump() : "no answer");
  auto events = standby->tutti({"events"}, 5s);
  EXPECT_EQ(events.exit_code, 0) << events.describe();
  EXPECT_NE(events.out.find("web"), std::string::npos) << events.out;
  // Writes and live state are the leader's: refused, naming it.
  auto scaled = standby->tutti({"scale", "web=2"}, 5s);
  EXPECT_NE(scaled.exit_code, 0);
  EXPECT_NE(scaled.err.find("not_leader"), std::string::npos) << scaled.describe();
  EXPECT_NE(scaled.err.find("the leader at " + first->api()), std::string::npos)
      << scaled.describe();
  auto services = tutti_json(*first, {"get", "services"});
  ASSERT_TRUE(services);
  EXPECT_EQ((*services)[0].value("desired", 0), 1) << *services << " the refused scale changed it";
  auto nodes = standby->tutti({"get", "nodes"}, 5s);
  EXPECT_NE(nodes.err.find("not_leader"), std::string::npos) << nodes.describe();
}

TEST_F(ha, ALeaderCutFromEtcdStandsDownSaysSoAndAnotherLeads) {
  if (!tutti::harness::can_cut_processes())
    GTEST_SKIP() << "cutting a process from etcd needs root, iptables' cgroup match and cgroup v2";
  auto* first = wait_leader();
  ASSERT_NE(first, nullptr);
  start_nodes();
  ASSERT_TRUE(eventually([&] { return ready_nodes(*first) == 2; }));
  auto file = scratch_.write("sleepy.yaml", sleeper_yaml("sleepy", 2));
  ASSERT_EQ(tutti({"apply", "-f", file}).exit_code, 0);
  ASSERT_TRUE(wait_running(*first, "sleepy", 2));
  auto pids = running_pids(*first, "sleepy");
  for (auto& [id, pid] : pids)
    nodes_[0]->track(pid);

  std::vector<uint16_t> etcd_ports;
  for (const auto& url : etcd_->client_urls())
    etcd_ports.push_back(static_cast<uint16_t>(std::stoi(url.substr(url.rfind(':') + 1))));
  s::tuttid_process* second = nullptr;
  {
    tutti::harness::process_cut cut{first->pid(), etcd_ports};
    ASSERT_TRUE(cut.ok());
    auto cut_at = std::chrono::steady_clock::now();
    second = wait_other_leader(first);
    ASSERT_NE(second, nullptr);
    std::printf("another control process leads %lld ms after the leader was cut from etcd\n",
                static_cast<long long>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                           std::chrono::steady_clock::now() - cut_at)
                                           .count()));
    // The cut one stopped acting, and says why.
    ASSERT_TRUE(eventually([&] { return role_of(*first) == "standby"; }, 15s)) << first->log();
    auto version = first->tutti({"version"}, 5s);
    EXPECT_TRUE(says_etcd_is_silent(version.out)) << version.describe();
    auto nodes = first->tutti({"get", "nodes"}, 5s);
    EXPECT_TRUE(says_etcd_is_silent(nodes.err)) << nodes.describe();
    EXPECT_EQ(metric_value(metrics_text(*first), "tutti_leader"), 0.0);
    // The cluster goes on under the new leader: nodes move, nothing restarts.
    ASSERT_TRUE(eventually([&] { return ready_nodes(*second) == 2; }, 15s));
    ASSERT_EQ(second->tutti({"scale", "sleepy=3"}).exit_code, 0);
    ASSERT_TRUE(wait_running(*second, "sleepy", 3, 15s));
  }
  // Healed, it stands by behind the new leader.
  EXPECT_TRUE(eventually([&] { return first->tutti({"version"}, 2s).out.find(
                                           "the leader is at " + second->api()) !=
                                       std::string::npos; },
                         15s))
      << first->tutti({"version"}, 2s).describe();
  EXPECT_EQ(leader(), second);
  auto after = running_pids(*second, "sleepy");
  for (auto& [id, pid] : pids)
    EXPECT_EQ(after[id], pid) << id << " was restarted";
  for (auto& [id, pid] : after)
    nodes_[0]->track(pid);
}

TEST_F(ha, AnEtcdMemberKilledLeavesTheClusterWorking) {
  auto* first = wait_leader();
  ASSERT_NE(first, nullptr);
  etcd_->kill(2);
  auto file = scratch_.write("web.yaml", sleeper_yaml("web", 1));
  // The leader may change too (its lease renewals can stall while etcd elects
  // its own leader): an apply cut short by that is not acknowledged, and the
  // client's next attempt goes to whoever leads.
  s::command_result applied;
  EXPECT_TRUE(eventually(
      [&] {
        applied = tutti({"apply", "-f", file});
        return applied.exit_code == 0;
      },
      15s))
      << applied.describe();
  auto* now = wait_leader();
  ASSERT_NE(now, nullptr);
  auto services = tutti_json(*now, {"get", "services"});
  ASSERT_TRUE(services);
  EXPECT_EQ(services->size(), 1u) << *services;
}

} // namespace
} // namespace tutti::tests::integration
