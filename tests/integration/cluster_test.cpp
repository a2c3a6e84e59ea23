// A multi-host cluster on loopback: `tuttid control` and `tuttid node` agents on
// 127.0.0.2 and 127.0.0.3, joined over CAF's network layer. A wrong join token is
// refused on both sides; a killed agent's replicas move to the other node and are
// removed from it when it returns; a cut link (iptables DROP on lo) is detected
// by heartbeats; a killed control plane comes back to the same replicas; a
// drained node is emptied within the update limits, cordon and uncordon steer
// placement, and both survive restarts.

#include "tests/integration/fixture.hpp"

#include <signal.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <atomic>
#include <thread>
#include <unistd.h>

namespace tutti::tests::integration {
namespace {

constexpr const char* token = "s3cret-token";

template <class F> bool eventually(F pred, std::chrono::milliseconds limit = converge_timeout) {
  return s::wait_until(pred, limit);
}

/// Heartbeats every 100 ms, a silent peer is lost after 1 s.
const std::string fast_detection =
    "cluster: {heartbeat_interval: 100ms, node_loss_timeout: 1s, restart_grace: 3s}\n";

class cluster : public integration {
protected:
  s::tuttid_process& start_control(bool chaos = false) {
    auto opts = daemon_options();
    opts.mode = "control";
    opts.pick_listen_port = true;
    config_ = scratch_.write("cluster.yaml", fast_detection);
    opts.config_file = config_;
    opts.extra_args = {"--join-token", token};
    if (chaos)
      opts.extra_args.push_back("--enable-chaos");
    auto& control = start_daemon(opts);
    listen_ = control.listen_port();
    return control;
  }

  s::tuttid_options node_options(const std::string& name, const std::string& address,
                                 const std::string& join_token = token) {
    auto opts = daemon_options();
    opts.mode = "node";
    opts.config_file = config_;
    opts.extra_args = {"--join",       "127.0.0.1:" + std::to_string(listen_),
                       "--join-token", join_token,
                       "--node-name",  name,
                       "--address",    address,
                       "--no-docker"};
    return opts;
  }

  s::tuttid_process& start_node(const std::string& name, const std::string& address) {
    return start_daemon(node_options(name, address));
  }

  /// A replica's shell script: busybox httpd on the node's address, serving a
  /// page that names its port.
  std::string httpd_script() {
    auto dir = scratch_.path().string() + "/www/${PORT}";
    return "mkdir -p " + dir + " && echo replica-${PORT} > " + dir +
           "/index.html && exec /bin/busybox httpd -f -p ${TUTTI_ADDRESS}:${PORT} -h " + dir;
  }

  /// replica id -> node, of the running replicas of `service`.
  std::map<std::string, std::string> placement_of(s::tuttid_process& control,
                                                  const std::string& service) {
    std::map<std::string, std::string> out;
    for (auto& r : replicas_of(control, service))
      if (r.value("state", "") == "running")
        out[r.value("id", "")] = r.value("node", "");
    return out;
  }

  void apply_sleepers(s::tuttid_process& control, int n) {
    auto file = scratch_.write("sleepy.yaml", sleeper_yaml("sleepy", n));
    auto r = control.tutti({"apply", "-f", file});
    ASSERT_EQ(r.exit_code, 0) << r.describe();
  }

  s::temp_dir scratch_;
  std::string config_;
  uint16_t listen_ = 0;
};

TEST_F(cluster, WrongJoinTokenIsRefusedOnBothSides) {
  auto& control = start_control();
  auto& intruder = make_daemon(node_options("intruder", "127.0.0.2", "guessed"));
  EXPECT_FALSE(intruder.start(10s));
  EXPECT_EQ(intruder.wait_for_exit(5s), 1);
  EXPECT_NE(intruder.log().find("refused the join token of node intruder"), std::string::npos)
      << intruder.log();
  EXPECT_NE(control.log().find("refused node intruder: wrong join token"), std::string::npos)
      << control.log();
  auto nodes = tutti_json(control, {"get", "nodes"});
  ASSERT_TRUE(nodes);
  EXPECT_TRUE(nodes->empty()) << *nodes;
}

TEST_F(cluster, KilledAgentsReplicasMoveAndAreRemovedWhenItReturns) {
  auto& control = start_control();
  auto& n1 = start_node("n1", "127.0.0.2");
  auto& n2 = start_node("n2", "127.0.0.3");
  ASSERT_TRUE(eventually([&] {
    auto nodes = tutti_json(control, {"get", "nodes"});
    return nodes && nodes->size() == 2;
  }));
  apply_sleepers(control, 4);
  std::map<std::string, std::string> where;
  ASSERT_TRUE(eventually([&] {
    where = placement_of(control, "sleepy");
    return where.size() == 4;
  })) << json(replicas_of(control, "sleepy"));
  std::set<std::string> on_n1;
  for (auto& [id, node] : where)
    if (node == "n1")
      on_n1.insert(id);
  ASSERT_EQ(on_n1.size(), 2u) << "spread over both nodes";
  auto orphans = running_pids(control, "sleepy"); // pids of n1's replicas live on

  n1.kill9();
  auto killed_at = std::chrono::steady_clock::now();
  ASSERT_TRUE(eventually([&] {
    where = placement_of(control, "sleepy");
    return where.size() == 4 &&
           std::all_of(where.begin(), where.end(), [](auto& x) { return x.second == "n2"; });
  })) << json(replicas_of(control, "sleepy"));
  std::printf("killed node agent -> its replicas running on n2: %lld ms\n",
              s::elapsed_ms(killed_at));
  EXPECT_TRUE(has_event(control, "replica_rescheduled"));
  auto nodes = tutti_json(control, {"get", "nodes"});
  ASSERT_TRUE(nodes);
  EXPECT_EQ((*nodes)[0].value("state", ""), "lost") << *nodes;

  // Fencing: back again, n1 removes what it still runs of the moved replicas.
  ASSERT_TRUE(n1.start());
  ASSERT_TRUE(eventually([&] { return has_event(control, "replica_orphan_removed"); }));
  for (auto& id : on_n1)
    EXPECT_TRUE(eventually([&] { return !s::process_alive(orphans[id]); }))
        << id << " pid " << orphans[id] << " still runs on n1";
  EXPECT_EQ(placement_of(control, "sleepy").size(), 4u);
  (void)n2;
}

TEST_F(cluster, AnAgentStoppedToRestartKeepsItsReplicasForTheNextToAdopt) {
  auto& control = start_control();
  start_node("n1", "127.0.0.2");
  auto& n2 = start_node("n2", "127.0.0.3");
  ASSERT_TRUE(eventually([&] {
    auto nodes = tutti_json(control, {"get", "nodes"});
    return nodes && nodes->size() == 2;
  }));
  apply_sleepers(control, 4);
  ASSERT_TRUE(eventually([&] { return running_pids(control, "sleepy").size() == 4; }));
  auto where = placement_of(control, "sleepy");
  auto pids = running_pids(control, "sleepy");
  auto state_of_n2 = [&] {
    auto nodes = tutti_json(control, {"get", "nodes"});
    return nodes ? (*nodes)[1].value("state", "") : std::string{};
  };

  // An upgrade: SIGTERM, then the next agent on the same data directory.
  ASSERT_EQ(n2.terminate(), 0);
  EXPECT_EQ(state_of_n2(), "restarting");
  EXPECT_EQ(placement_of(control, "sleepy"), where) << "nothing moved while it restarts";
  ASSERT_TRUE(n2.start());
  ASSERT_TRUE(eventually([&] { return state_of_n2() == "ready"; }));
  ASSERT_TRUE(eventually([&] { return running_pids(control, "sleepy").size() == 4; }));
  EXPECT_EQ(running_pids(control, "sleepy"), pids) << "every replica adopted, none restarted";
  EXPECT_EQ(placement_of(control, "sleepy"), where);
  EXPECT_FALSE(has_event(control, "replica_rescheduled"));
  EXPECT_FALSE(has_event(control, "replica_orphan_removed"));

  // An agent that does not come back within restart_grace (3 s) is lost.
  auto stopped_at = std::chrono::steady_clock::now(); // before it announces its restart
  ASSERT_EQ(n2.terminate(), 0);
  ASSERT_TRUE(eventually(
      [&] {
        auto now = placement_of(control, "sleepy");
        return state_of_n2() == "lost" && now.size() == 4 &&
               std::all_of(now.begin(), now.end(), [](auto& x) { return x.second == "n1"; });
      },
      15s))
      << json(replicas_of(control, "sleepy"));
  EXPECT_GE(s::elapsed_ms(stopped_at), 3000);
  for (auto& [id, node] : where)
    if (node == "n2")
      control.track(pids[id]); // left running by the agent that never came back
}

TEST_F(cluster, ControlPlaneKilledAndRestartedFindsTheSameReplicas) {
  auto& control = start_control();
  start_node("n1", "127.0.0.2");
  apply_sleepers(control, 2);
  ASSERT_TRUE(wait_running(control, "sleepy", 2));
  auto before = running_pids(control, "sleepy");
  control.kill9();
  ASSERT_TRUE(control.start());
  std::map<std::string, int> after;
  ASSERT_TRUE(eventually([&] {
    after = running_pids(control, "sleepy");
    return after.size() == 2;
  })) << json(replicas_of(control, "sleepy"));
  EXPECT_EQ(after, before) << "adopted, not restarted";
}

TEST_F(cluster, AutoscalingSumsTheLoadOfEveryNodesMeshAndPlacesByItsRules) {
  auto& control = start_control();
  start_node("n1", "127.0.0.2");
  start_node("n2", "127.0.0.3");
  ASSERT_TRUE(eventually([&] {
    auto nodes = tutti_json(control, {"get", "nodes"});
    return nodes && nodes->size() == 2;
  }));
  auto published = s::free_port();
  auto script = httpd_script();
  auto yaml = service_yaml(
      "web", 1, {"/bin/busybox", "sh", "-c", script},
      "ports: [{name: http, published: " + std::to_string(published) +
          "}]\n"
          "health: {readiness: {tcp: {port: http}, interval: 100ms}}\n"
          "placement: {max_per_node: 2}\n"
          "autoscale: {min: 1, max: 4, metrics: [{type: rps, target: 30}],\n"
          "            behavior: {window: 3s, scale_down_stabilization: 4s,\n"
          "                       scale_up: {replicas: 4, period: 1s},\n"
          "                       scale_down: {percent: 100, period: 1s}}}\n");
  ASSERT_EQ(control.tutti({"apply", "-f", scratch_.write("web.yaml", yaml)}).exit_code, 0);
  ASSERT_TRUE(wait_ready(control, "web", 1)) << json(replicas_of(control, "web"));
  {
    // Clients of both nodes' meshes: the service's load is their sum.
    traffic via_n1{published, "127.0.0.2"};
    traffic via_n2{published, "127.0.0.3"};
    ASSERT_TRUE(eventually([&] { return replicas_of(control, "web").size() == 4; }))
        << json(replicas_of(control, "web"));
    ASSERT_TRUE(wait_ready(control, "web", 4)) << json(replicas_of(control, "web"));
    std::map<std::string, int> per_node;
    for (auto& [id, node] : placement_of(control, "web"))
      ++per_node[node];
    EXPECT_EQ(per_node, (std::map<std::string, int>{{"n1", 2}, {"n2", 2}}));
    via_n1.stop();
    via_n2.stop();
    EXPECT_EQ(via_n1.failed() + via_n2.failed(), 0) << via_n1.first_failure()
                                                    << via_n2.first_failure();
  }
  EXPECT_TRUE(s::wait_until([&] { return replicas_of(control, "web").size() == 1; }, 30s))
      << json(replicas_of(control, "web"));
}

TEST_F(cluster, LostNodesReplicasLeaveTheMeshWithoutAFailedRequest) {
  auto& control = start_control();
  auto& n1 = start_node("n1", "127.0.0.2");
  start_node("n2", "127.0.0.3");
  ASSERT_TRUE(eventually([&] {
    auto nodes = tutti_json(control, {"get", "nodes"});
    return nodes && nodes->size() == 2;
  }));
  auto published = s::free_port();
  auto script = httpd_script();
  auto yaml =
      service_yaml("web", 2, {"/bin/busybox", "sh", "-c", script},
                   "ports: [{name: http, published: " + std::to_string(published) +
                       "}]\n"
                       "health: {http: {port: http, path: /index.html}, interval: 100ms}\n");
  ASSERT_EQ(control.tutti({"apply", "-f", scratch_.write("web.yaml", yaml)}).exit_code, 0);
  auto endpoint_nodes = [&] {
    std::set<std::string> out;
    auto j = tutti_json(control, {"get", "endpoints", "web"});
    if (j && j->size() == 1)
      for (auto& e : (*j)[0]["endpoints"])
        out.insert(e.value("node", ""));
    return out;
  };
  ASSERT_TRUE(eventually([&] {
    return endpoint_nodes() == std::set<std::string>{"n1", "n2"};
  })) << control.tutti({"get", "endpoints", "web"}).out;
  // Clients use n2's mesh; n1 dies with its replica (a host that is gone).
  traffic load{published, "127.0.0.3"};
  ASSERT_TRUE(load.wait_more(20)) << load.first_failure();
  auto pids = running_pids(control, "web");
  auto where = placement_of(control, "web");
  n1.kill9();
  auto lost_at = std::chrono::steady_clock::now();
  for (auto& [id, pid] : pids)
    if (where[id] == "n1")
      ::kill(pid, SIGKILL);
  ASSERT_TRUE(eventually([&] { return endpoint_nodes() == std::set<std::string>{"n2"}; }))
      << control.tutti({"get", "endpoints", "web"}).out;
  std::printf("node lost -> its endpoint out of the mesh: %lld ms\n", s::elapsed_ms(lost_at));
  ASSERT_TRUE(load.wait_more(20)) << load.first_failure();
  load.stop();
  EXPECT_EQ(load.failed(), 0) << load.first_failure() << " (" << load.answered() << " answered)";
}

/// Number of running replicas of `service` on each node.
std::map<std::string, int> per_node(const std::map<std::string, std::string>& where) {
  std::map<std::string, int> out;
  for (auto& [id, node] : where)
    ++out[node];
  return out;
}

/// name -> state of every node (`get nodes -o json`); empty on failure.
std::map<std::string, std::string> node_states(s::tuttid_process& control) {
  std::map<std::string, std::string> out;
  if (auto nodes = tutti_json(control, {"get", "nodes"}))
    for (auto& n : *nodes)
      out[n.value("name", "")] = n.value("state", "");
  return out;
}

TEST_F(cluster, DrainMovesEveryReplicaOffANodeCordonAndUncordonSteerPlacement) {
  auto& control = start_control();
  start_node("n1", "127.0.0.2");
  auto& n2 = start_node("n2", "127.0.0.3");
  start_node("n3", "127.0.0.4");
  ASSERT_TRUE(eventually([&] { return node_states(control).size() == 3; }));
  // At most one replica below the desired 6 while they move, one above.
  auto yaml =
      sleeper_yaml("sleepy", 6) + "update: {parallelism: 1, max_surge: 1, max_unavailable: 1}\n";
  ASSERT_EQ(control.tutti({"apply", "-f", scratch_.write("sleepy.yaml", yaml)}).exit_code, 0);
  std::map<std::string, std::string> where;
  ASSERT_TRUE(eventually([&] {
    where = placement_of(control, "sleepy");
    return where.size() == 6;
  })) << json(replicas_of(control, "sleepy"));
  ASSERT_EQ(per_node(where)["n1"], 2) << json(replicas_of(control, "sleepy"));

  // Unknown nodes are named with the known ones.
  auto unknown = control.tutti({"node", "drain", "n9"});
  EXPECT_EQ(unknown.exit_code, 1);
  EXPECT_NE(unknown.err.find("node n9 not found; known nodes: n1, n2, n3"), std::string::npos)
      << unknown.describe();

  // Drain n1 (the command waits until it is empty) while availability is sampled.
  std::atomic<bool> drained{false};
  s::command_result drain;
  std::thread drainer{[&] {
    drain = control.tutti({"node", "drain", "n1", "--timeout", "60"}, 90s);
    drained = true;
  }};
  int least_ready = 6;
  int samples = 0;
  s::wait_until(
      [&] {
        // A sample is a listing tuttid answered: a CLI call that timed out on a
        // loaded machine says nothing about availability.
        auto listed = tutti_json(control, {"get", "replicas", "sleepy"});
        if (listed && listed->is_array()) {
          int ready = 0;
          for (auto& r : *listed)
            if (r.value("state", "") == "running" && r.value("ready", false))
              ++ready;
          least_ready = std::min(least_ready, ready);
          ++samples;
        }
        return drained.load();
      },
      100s);
  drainer.join();
  ASSERT_EQ(drain.exit_code, 0) << drain.describe();
  EXPECT_NE(drain.out.find("node/n1 cordoned and draining (2 replicas on it)"), std::string::npos)
      << drain.out;
  EXPECT_NE(drain.out.find("node/n1: 0 replicas left"), std::string::npos) << drain.out;
  EXPECT_NE(drain.out.find("node/n1 drained"), std::string::npos) << drain.out;
  std::printf("drain of n1: %d availability samples, least ready %d of 6\n", samples, least_ready);
  EXPECT_GE(least_ready, 6 - 1) << "desired - max_unavailable";
  ASSERT_TRUE(eventually([&] {
    where = placement_of(control, "sleepy");
    return where.size() == 6 && per_node(where)["n1"] == 0;
  })) << json(replicas_of(control, "sleepy"));
  EXPECT_TRUE(eventually([&] { return node_states(control)["n1"] == "cordoned"; }))
      << control.tutti({"get", "nodes"}).out;
  EXPECT_TRUE(has_event(control, "node_draining"));
  EXPECT_TRUE(has_event(control, "node_drained"));

  // Cordoned n1 and n2 get nothing of a scale-up; n2 keeps what it runs.
  ASSERT_EQ(control.tutti({"node", "cordon", "n2"}).exit_code, 0);
  EXPECT_EQ(node_states(control)["n2"], "cordoned");
  auto on_n2 = per_node(where)["n2"];
  ASSERT_EQ(control.tutti({"scale", "sleepy=8"}).exit_code, 0);
  ASSERT_TRUE(eventually([&] {
    where = placement_of(control, "sleepy");
    return where.size() == 8;
  })) << json(replicas_of(control, "sleepy"));
  EXPECT_EQ(per_node(where)["n1"], 0);
  EXPECT_EQ(per_node(where)["n2"], on_n2);
  EXPECT_TRUE(has_event(control, "node_cordoned"));

  // Uncordoned, n1 takes replicas again.
  ASSERT_EQ(control.tutti({"node", "uncordon", "n1"}).exit_code, 0);
  ASSERT_EQ(control.tutti({"scale", "sleepy=10"}).exit_code, 0);
  ASSERT_TRUE(eventually([&] {
    where = placement_of(control, "sleepy");
    return where.size() == 10;
  })) << json(replicas_of(control, "sleepy"));
  EXPECT_GE(per_node(where)["n1"], 1) << json(replicas_of(control, "sleepy"));
  EXPECT_EQ(per_node(where)["n2"], on_n2);

  // The states survive a restart of the control plane and of n2's agent.
  auto before_restart = running_pids(control, "sleepy");
  control.kill9();
  auto killed_at = std::chrono::steady_clock::now();
  ASSERT_TRUE(control.start());
  ASSERT_TRUE(eventually([&] { return node_states(control).size() == 3; }, 30s));
  if (std::chrono::steady_clock::now() - killed_at < 4s) {
    // Every node joined within placement's grace: each replica stays where it
    // runs, adopted (none started again elsewhere, none swept).
    EXPECT_TRUE(eventually([&] { return running_pids(control, "sleepy") == before_restart; }))
        << json(replicas_of(control, "sleepy"));
  }
  // A node whose first join hits the control plane while it starts waits out
  // its 10 s join timeout before it tries again.
  ASSERT_TRUE(eventually(
      [&] {
        return node_states(control) == std::map<std::string, std::string>{
                                           {"n1", "ready"}, {"n2", "cordoned"}, {"n3", "ready"}};
      },
      30s))
      << control.tutti({"get", "nodes"}).out;
  n2.kill9();
  ASSERT_TRUE(eventually([&] { return node_states(control)["n2"] == "lost"; }));
  ASSERT_TRUE(n2.start());
  ASSERT_TRUE(eventually([&] { return node_states(control)["n2"] == "cordoned"; }))
      << control.tutti({"get", "nodes"}).out;
  ASSERT_TRUE(eventually([&] {
    where = placement_of(control, "sleepy");
    return where.size() == 10;
  })) << json(replicas_of(control, "sleepy"));
  EXPECT_EQ(per_node(where)["n2"], 0) << "its replicas moved while it was lost; none came back";
}

TEST_F(cluster, DrainKeepsAReplicaThatFitsNowhereElseAndSaysWhy) {
  auto& control = start_control();
  start_node("n1", "127.0.0.2");
  start_node("n2", "127.0.0.3");
  ASSERT_TRUE(eventually([&] { return node_states(control).size() == 2; }));
  auto yaml = sleeper_yaml("pinned", 1) + "placement: {constraints: [\"node.name == n2\"]}\n";
  ASSERT_EQ(control.tutti({"apply", "-f", scratch_.write("pinned.yaml", yaml)}).exit_code, 0);
  ASSERT_TRUE(wait_running(control, "pinned", 1));
  auto before = running_pids(control, "pinned");

  auto drain = control.tutti({"node", "drain", "n2", "--timeout", "2"});
  EXPECT_EQ(drain.exit_code, 1) << drain.describe();
  EXPECT_NE(drain.out.find("waiting: node n2: 1 replica of pinned stay until a replacement fits "
                           "elsewhere: 0/2 nodes: 1 constraint node.name == n2, 1 node draining"),
            std::string::npos)
      << drain.describe();
  EXPECT_NE(drain.err.find("timed out after 2 s: 1 replica left on node n2"), std::string::npos)
      << drain.describe();
  EXPECT_TRUE(has_event(control, "node_drain_blocked"));
  EXPECT_EQ(running_pids(control, "pinned"), before) << "availability first: it stays";
  EXPECT_EQ(node_states(control)["n2"], "draining");

  // Uncordoned, the replacement that waited is given up and the replica stays.
  ASSERT_EQ(control.tutti({"node", "uncordon", "n2"}).exit_code, 0);
  ASSERT_TRUE(eventually([&] { return replicas_of(control, "pinned").size() == 1; }))
      << json(replicas_of(control, "pinned"));
  EXPECT_EQ(running_pids(control, "pinned"), before);
}

/// Drops TCP on lo to and from one port while it lives.
class cut_link {
public:
  explicit cut_link(uint16_t port) : port_(std::to_string(port)) {
    ok_ = rule("-I", "--dport") && rule("-I", "--sport");
  }
  ~cut_link() { heal(); }
  bool ok() const { return ok_; }
  void heal() {
    if (healed_)
      return;
    healed_ = true;
    while (rule("-D", "--dport")) {
    }
    while (rule("-D", "--sport")) {
    }
  }

private:
  bool rule(const char* op, const char* which) {
    auto r = s::run_command(
        {"iptables", op, "INPUT", "-i", "lo", "-p", "tcp", which, port_, "-j", "DROP"});
    return r.exit_code == 0;
  }
  std::string port_;
  bool ok_ = false;
  bool healed_ = false;
};

TEST_F(cluster, CutLinkIsDetectedByHeartbeatsAndItsReplicasMove) {
  if (::geteuid() != 0 || s::run_command({"iptables", "-L", "INPUT", "-n"}).exit_code != 0)
    GTEST_SKIP() << "cutting a link needs root and iptables";
  auto& control = start_control();
  start_node("n1", "127.0.0.2");
  start_node("n2", "127.0.0.3");
  apply_sleepers(control, 4);
  ASSERT_TRUE(eventually([&] { return placement_of(control, "sleepy").size() == 4; }));
  // Node agents connect from 127.0.0.1, so the cut is on the control plane's
  // listen port: both nodes fall silent, are lost, and join again once healed.
  cut_link cut{listen_};
  ASSERT_TRUE(cut.ok());
  auto cut_at = std::chrono::steady_clock::now();
  ASSERT_TRUE(eventually([&] {
    auto nodes = tutti_json(control, {"get", "nodes"});
    return nodes && nodes->size() == 2 && (*nodes)[0].value("state", "") == "lost" &&
           (*nodes)[1].value("state", "") == "lost";
  })) << control.tutti({"get", "nodes"}).out;
  std::printf("cut link -> nodes lost: %lld ms (bound 1 s + one 100 ms heartbeat)\n",
              s::elapsed_ms(cut_at));
  cut.heal();
  ASSERT_TRUE(eventually(
      [&] {
        auto where = placement_of(control, "sleepy");
        auto nodes = tutti_json(control, {"get", "nodes"});
        return where.size() == 4 && nodes && (*nodes)[0].value("state", "") == "ready" &&
               (*nodes)[1].value("state", "") == "ready";
      },
      20s))
      << json(replicas_of(control, "sleepy"));
}

/// path -> id of every actor `tutti tree` lists.
std::map<std::string, uint64_t> tree_ids(s::tuttid_process& control) {
  std::map<std::string, uint64_t> out;
  if (auto j = tutti_json(control, {"tree"}); j && j->is_array())
    for (auto& x : *j)
      out[x.value("path", "")] = x.value("id", uint64_t{0});
  return out;
}

TEST_F(cluster, TreeReachesTheNodesAndKilledActorsThereAndOnTheControlPlaneComeBack) {
  auto& control = start_control(true);
  start_node("n1", "127.0.0.2");
  start_node("n2", "127.0.0.3");
  apply_sleepers(control, 2);
  ASSERT_TRUE(eventually([&] { return placement_of(control, "sleepy").size() == 2; }));
  auto pids = running_pids(control, "sleepy");
  auto where = placement_of(control, "sleepy");
  auto [replica, node] = *where.begin();
  auto path = "/nodes/" + node + "/replica/" + replica;
  auto before = tree_ids(control);
  ASSERT_TRUE(before.count("/nodes/n1") && before.count("/nodes/n2/driver/process"))
      << json(before);
  ASSERT_TRUE(before.count(path)) << path << " not in " << json(before);

  // A replica actor on a node agent: restarted there, adopting its process.
  auto r = control.tutti({"chaos", "kill", path});
  ASSERT_EQ(r.exit_code, 0) << r.describe();
  EXPECT_TRUE(eventually([&] {
    auto now = tree_ids(control);
    return now.count(path) && now[path] != before[path];
  })) << json(tree_ids(control));

  // Placement on the control plane: the node agents see it go, join again and
  // register with the new one; nothing moves or restarts.
  r = control.tutti({"chaos", "kill", "/placement"});
  ASSERT_EQ(r.exit_code, 0) << r.describe();
  EXPECT_TRUE(eventually([&] {
    auto nodes = tutti_json(control, {"get", "nodes"});
    if (!nodes || nodes->size() != 2)
      return false;
    for (auto& n : *nodes)
      if (n.value("state", "") != "ready" || n.value("replicas", 0) != 1)
        return false;
    return true;
  })) << control.tutti({"get", "nodes"}).out;
  EXPECT_TRUE(eventually([&] { return running_pids(control, "sleepy") == pids; }))
      << json(replicas_of(control, "sleepy"));
  EXPECT_EQ(placement_of(control, "sleepy"), where);
}

TEST_F(cluster, ASecretReachesOnlyTheNodeThatRunsAReplicaUsingIt) {
  auto& refusing = start_control();
  auto secret = scratch_.write("token.yaml", "kind: Secret\nname: token\ndata: tok-1\n");
  auto refused = refusing.tutti({"apply", "-f", secret});
  EXPECT_EQ(refused.exit_code, 1);
  EXPECT_NE(refused.err.find("this control plane has no secrets key"), std::string::npos)
      << refused.describe();
  refusing.kill9();

  auto opts = daemon_options();
  opts.mode = "control";
  opts.pick_listen_port = true;
  opts.config_file = config_;
  auto key = scratch_.write("secrets.key", std::string(64, 'a') + "\n");
  ::chmod(key.c_str(), 0600);
  opts.extra_args = {"--join-token", token, "--secrets-key-file", key};
  auto& control = start_daemon(opts);
  listen_ = control.listen_port();
  auto& n1 = start_node("n1", "127.0.0.2");
  auto& n2 = start_node("n2", "127.0.0.3");
  auto applied = control.tutti({"apply", "-f", secret});
  ASSERT_EQ(applied.exit_code, 0) << applied.describe();
  auto file = scratch_.write(
      "reader.yaml", service_yaml("reader", 1, {"/bin/busybox", "sleep", "300"},
                                  "placement: {constraints: [\"node.name == n1\"]}\n"
                                  "secrets: [token]\n"));
  ASSERT_EQ(control.tutti({"apply", "-f", file}).exit_code, 0);
  ASSERT_TRUE(wait_running(control, "reader", 1)) << json(replicas_of(control, "reader"));
  std::ifstream in{n1.secrets_dir() + "/reader-0/secrets/token"};
  EXPECT_EQ(std::string(std::istreambuf_iterator<char>{in}, {}), "tok-1");
  EXPECT_FALSE(std::filesystem::exists(n2.secrets_dir())) << "n2 runs no replica using it";
}

TEST_F(cluster, ASlotPlacedAnewGoesBackToTheNodeThatKeepsItsVolume) {
  auto& control = start_control();
  auto& n1 = start_node("n1", "127.0.0.2");
  auto& n2 = start_node("n2", "127.0.0.3");
  auto db = [&](const std::string& placement) {
    return service_yaml("db", 1,
                        {"/bin/busybox", "sh", "-c",
                         "echo run >> $TUTTI_VOLUME_DATA/runs; exec /bin/busybox sleep 300"},
                        "volumes: [{name: data, type: persistent}]\nmounts: [{volume: data}]\n" +
                            placement);
  };
  auto apply = [&](const std::string& name, const std::string& yaml) {
    auto r = control.tutti({"apply", "-f", scratch_.write(name, yaml)});
    ASSERT_EQ(r.exit_code, 0) << r.describe();
  };
  apply("db.yaml", db("placement: {constraints: [\"node.name == n2\"]}\n"));
  ASSERT_TRUE(wait_running(control, "db", 1));
  auto runs = n2.data_dir() + "/volumes/persistent/db-0/data/runs";
  ASSERT_TRUE(eventually([&] { return std::filesystem::exists(runs); }));
  ASSERT_EQ(control.tutti({"delete", "db"}).exit_code, 0);
  ASSERT_TRUE(eventually([&] { return replicas_of(control, "db").empty(); }));
  // n2 is the busier node now: a slot without a volume would go to n1.
  apply("load.yaml", service_yaml("load", 2, {"/bin/busybox", "sleep", "300"},
                                  "resources: {cpu: 0.5}\n"
                                  "placement: {constraints: [\"node.name == n2\"]}\n"));
  ASSERT_TRUE(wait_running(control, "load", 2));
  apply("db2.yaml", db(""));
  ASSERT_TRUE(wait_running(control, "db", 1));
  EXPECT_EQ(placement_of(control, "db"), (std::map<std::string, std::string>{{"db-0", "n2"}}));
  EXPECT_TRUE(eventually([&] {
    std::ifstream in{runs};
    std::string text{std::istreambuf_iterator<char>{in}, {}};
    return text == "run\nrun\n";
  })) << "the slot found its data";
  EXPECT_FALSE(std::filesystem::exists(n1.data_dir() + "/volumes/persistent/db-0"));
}

} // namespace
} // namespace tutti::tests::integration
