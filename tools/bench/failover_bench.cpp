// tutti-bench failover: a control plane and two node agents on 127.0.0.2 and
// 127.0.0.3 (process driver, default heartbeat settings). Each trial takes one
// node away, by kill -9 of its agent or by cutting its link (iptables DROP on lo
// of its connection to the control plane), and times until every replica runs on
// the other node; then brings the node back and waits until it is ready again.

#include "tools/bench/benches.hpp"
#include "tools/bench/bench_support.hpp"
#include "tools/harness/daemon_process.hpp"
#include "tools/harness/link_cut.hpp"
#include "tools/tutti/client.hpp"

#include <unistd.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdio>
#include <memory>
#include <set>
#include <sstream>
#include <thread>

namespace tutti::bench {

namespace {

using clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

struct failover_options {
  int trials = 20;
  int replicas = 4;
  bool cut = true;
  std::string driver = "process"; // or sim: no process per replica
};

const std::string token = "bench-token";

std::string spec(int replicas, const std::string& driver) {
  return "kind: Service\nname: bench\nreplicas: " + std::to_string(replicas) + "\ndriver: " +
         driver + "\ncommand: [\"/bin/busybox\", \"sleep\", \"3600\"]\n";
}

struct cluster {
  std::unique_ptr<daemon_process> control;
  std::array<std::unique_ptr<daemon_process>, 2> nodes;
  std::unique_ptr<cli::client> client;
  uint16_t listen = 0;
};

std::unique_ptr<daemon_process> start_node(uint16_t listen, int i) {
  auto name = "n" + std::to_string(i + 1);
  auto address = "127.0.0." + std::to_string(i + 2);
  auto range = std::to_string(42000 + 100 * i) + "-" + std::to_string(42099 + 100 * i);
  return std::make_unique<daemon_process>(
      daemon_process::mode{"node"},
      std::vector<std::string>{"--join", "127.0.0.1:" + std::to_string(listen), "--join-token",
                               token, "--node-name", name, "--address", address, "--port-range",
                               range, "--no-docker", "--stop-replicas-on-exit"});
}

/// Polls (every 2 ms) until `pred` holds, or 60 s pass.
template <class Pred> bool wait_for(Pred pred) {
  auto deadline = clock::now() + 60s;
  while (clock::now() < deadline) {
    if (pred())
      return true;
    std::this_thread::sleep_for(2ms);
  }
  return false;
}

bool all_on(cli::client& c, const std::string& node, int n) {
  auto rs = c.get_replicas("bench");
  if (!rs)
    return false;
  return std::count_if(rs->begin(), rs->end(), [&](auto& r) {
           return r.state == protocol::replica_state::running && r.node == node;
         }) == n;
}

bool node_ready(cli::client& c, const std::string& node) {
  auto ns = c.get_nodes();
  if (!ns)
    return false;
  for (auto& n : *ns)
    if (n.name == node)
      return n.state == protocol::node_state::ready;
  return false;
}

/// Spreads the replicas over both nodes again (after a trial moved them all to
/// one): scaled to 0 and back, placement spreads them.
bool respread(cli::client& c, int n) {
  if (!c.scale("bench", 0) || !wait_for([&] {
        auto rs = c.get_replicas("bench");
        return rs && rs->empty();
      }))
    return false;
  if (!c.scale("bench", n))
    return false;
  return wait_for([&] {
    auto rs = c.get_replicas("bench");
    std::set<std::string> nodes;
    int running = 0;
    for (auto& r : rs ? *rs : std::vector<protocol::replica_status>{})
      if (r.state == protocol::replica_state::running) {
        ++running;
        nodes.insert(r.node);
      }
    return running == n && nodes.size() == 2;
  });
}

int run_failover(const failover_options& opts) {
  cluster c;
  c.listen = free_port();
  c.control = std::make_unique<daemon_process>(
      daemon_process::mode{"control"},
      std::vector<std::string>{"--listen", "127.0.0.1:" + std::to_string(c.listen), "--join-token",
                               token});
  c.client = connect_client(*c.control);
  if (!c.client)
    return std::fprintf(stderr, "tutti-bench: the control plane did not answer\n"), 1;
  for (int i = 0; i < 2; ++i)
    c.nodes[i] = start_node(c.listen, i);
  auto& client = *c.client;
  if (!wait_for([&] { return node_ready(client, "n1") && node_ready(client, "n2"); }))
    return std::fprintf(stderr, "tutti-bench: the nodes did not join\n"), 1;
  auto applied = client.apply("bench.yaml", spec(opts.replicas, opts.driver), false);
  if (!applied || !applied->errors.empty())
    return std::fprintf(stderr, "tutti-bench: apply failed\n"), 1;

  bool can_cut = opts.cut && harness::can_cut_links();
  std::vector<double> killed, cut;
  for (int kind = 0; kind < (can_cut ? 2 : 1); ++kind) {
    std::printf("%s a node agent, %d trials...\n", kind == 0 ? "killing" : "cutting the link of",
                opts.trials);
    for (int t = 0; t < opts.trials; ++t) {
      if (!respread(client, opts.replicas))
        return std::fprintf(stderr, "tutti-bench: replicas did not spread over both nodes\n"), 1;
      int victim = t % 2;
      auto survivor = "n" + std::to_string(2 - victim);
      auto start = clock::now();
      std::unique_ptr<harness::link_cut> link;
      if (kind == 0) {
        c.nodes[victim]->kill9();
      } else {
        link = std::make_unique<harness::link_cut>(c.nodes[victim]->pid(), c.listen);
        if (!link->ok())
          return std::fprintf(stderr, "tutti-bench: cannot cut the link with iptables\n"), 1;
      }
      if (!wait_for([&] { return all_on(client, survivor, opts.replicas); }))
        return std::fprintf(stderr, "tutti-bench: replicas did not move\n"), 1;
      (kind == 0 ? killed : cut).push_back(ms_since(start));
      std::printf("  trial %2d: all %d running on %s after %.0f ms\n", t + 1, opts.replicas,
                  survivor.c_str(), (kind == 0 ? killed : cut).back());
      link.reset(); // heals; the node joins again and sweeps what moved away
      if (kind == 0)
        c.nodes[victim]->restart();
      auto back = "n" + std::to_string(victim + 1);
      if (!wait_for([&] { return node_ready(client, back); }))
        return std::fprintf(stderr, "tutti-bench: %s did not come back\n", back.c_str()), 1;
    }
  }
  client.delete_service("bench");
  wait_for([&] {
    auto rs = client.get_replicas("");
    return rs && rs->empty();
  });
  std::printf("driver=%s killed_p50_ms=%.0f killed_p99_ms=%.0f cut_p50_ms=%.0f cut_p99_ms=%.0f "
              "trials=%d\n",
              opts.driver.c_str(),
              percentile(killed, 0.5), percentile(killed, 0.99), percentile(cut, 0.5),
              percentile(cut, 0.99), opts.trials);
  return 0;
}

} // namespace

void add_failover_bench(CLI::App& app) {
  auto opts = std::make_shared<failover_options>();
  auto* cmd = app.add_subcommand(
      "failover", "Node loss to rescheduled-and-running: killed agent and cut link (2 nodes)");
  cmd->add_option("--trials", opts->trials, "Trials of each kind")->capture_default_str();
  cmd->add_option("--replicas", opts->replicas, "Replicas of the service")->capture_default_str();
  cmd->add_flag("!--no-cut", opts->cut, "Skip the cut-link trials (they need root and iptables)");
  cmd->add_option("--driver", opts->driver, "Driver of the replicas: process or sim")
      ->check(CLI::IsMember({"process", "sim"}))
      ->capture_default_str();
  cmd->callback([opts] { std::exit(run_failover(*opts)); });
}

} // namespace tutti::bench
