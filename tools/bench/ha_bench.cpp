// tutti-bench ha: three `tuttid control --store etcd://...` on a three-member
// etcd cluster, and two node agents that join any of them (sim replicas). Each
// trial kill -9s the leader and times until a write (a scale) is acknowledged
// by whichever control process leads next; the killed one is started again
// and stands by. After each trial every acknowledged write must be there (the
// service's desired count is the last scale acknowledged) and the replicas
// running must be exactly that many (none started twice).

#include "tools/bench/benches.hpp"
#include "tools/bench/bench_support.hpp"
#include "tools/harness/daemon_process.hpp"
#include "tools/harness/etcd_members.hpp"
#include "tools/tutti/client.hpp"

#include <unistd.h>

#include <array>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <memory>
#include <thread>

namespace tutti::bench {

namespace {

using clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

struct ha_options {
  int trials = 20;
  int replicas = 4;
};

const std::string token = "bench-token";

/// Heartbeats and lease as the integration tests use them: a lost peer in 1 s,
/// a leader's lease of 1 s (etcd runs with a 500 ms election timeout).
const std::string config_text = "cluster: {heartbeat_interval: 100ms, node_loss_timeout: 1s}\n"
                                "store: {etcd: {leader_ttl: 1s, timeout: 500ms}}\n";

std::string spec(int replicas) {
  return "kind: Service\nname: bench\nreplicas: " + std::to_string(replicas) +
         "\ndriver: sim\ncommand: [serve]\n";
}

struct ha_cluster {
  std::unique_ptr<harness::etcd_members> etcd;
  std::string config;
  std::array<uint16_t, 3> listens{};
  std::array<std::unique_ptr<daemon_process>, 3> controls;
  std::array<std::unique_ptr<daemon_process>, 2> nodes;

  ~ha_cluster() {
    if (!config.empty())
      ::unlink(config.c_str());
  }

  std::string joins() const {
    std::string out;
    for (auto port : listens)
      out += (out.empty() ? "" : ",") + ("127.0.0.1:" + std::to_string(port));
    return out;
  }

  std::unique_ptr<daemon_process> start_control(int i) {
    return std::make_unique<daemon_process>(
        daemon_process::mode{"control"},
        std::vector<std::string>{"-c", config, "--store", etcd->store_url(), "--listen",
                                 "127.0.0.1:" + std::to_string(listens[i]), "--join-token", token});
  }

  std::unique_ptr<daemon_process> start_node(int i) {
    auto name = "n" + std::to_string(i + 1);
    auto address = "127.0.0." + std::to_string(i + 2);
    return std::make_unique<daemon_process>(
        daemon_process::mode{"node"},
        std::vector<std::string>{"-c", config, "--join", joins(), "--join-token", token,
                                 "--node-name", name, "--address", address, "--no-docker",
                                 "--no-process"});
  }
};

/// The control process that says it leads, and a client of it; -1 when none
/// does yet.
int find_leader(ha_cluster& c, std::unique_ptr<cli::client>& client) {
  // First: a thread holds one KJ event loop at a time, and the client of an
  // earlier look-up (whose write then failed) still holds one.
  client.reset();
  for (int i = 0; i < 3; ++i) {
    if (!c.controls[i] || !c.controls[i]->running())
      continue;
    auto x = cli::client::connect(c.controls[i]->api(), 500ms,
                                  cli::credentials{harness::admin_token(), {}, {}, {}, {}});
    auto v = x ? x.value()->version() : cli::result<cli::server_version>{x.error()};
    if (v && v->role.role == protocol::control_role::leader) {
      client = std::move(*x);
      return i;
    }
  }
  return -1;
}

template <class Pred> bool wait_for(Pred pred, std::chrono::seconds limit = 60s) {
  auto deadline = clock::now() + limit;
  while (clock::now() < deadline) {
    if (pred())
      return true;
    std::this_thread::sleep_for(5ms);
  }
  return false;
}

/// Both nodes ready and exactly `n` replicas of bench running.
bool settled(cli::client& client, int n) {
  auto nodes = client.get_nodes();
  if (!nodes || nodes->size() != 2)
    return false;
  for (auto& x : *nodes)
    if (x.state != protocol::node_state::ready)
      return false;
  auto rs = client.get_replicas("bench");
  if (!rs)
    return false;
  int running = 0;
  for (auto& r : *rs)
    running += r.state == protocol::replica_state::running;
  return running == n && static_cast<int>(rs->size()) == n;
}

/// The desired count the leader holds for bench; -1 when it cannot be read.
int desired(cli::client& client) {
  auto services = client.get_services();
  if (!services)
    return -1;
  for (auto& s : *services)
    if (s.name == "bench")
      return s.desired;
  return 0;
}

int run_ha(const ha_options& opts) {
  ha_cluster c;
  c.etcd = std::make_unique<harness::etcd_members>(3);
  char tmpl[] = "/tmp/tutti-bench-ha-XXXXXX.yaml";
  int fd = ::mkstemps(tmpl, 5);
  if (fd < 0)
    return std::fprintf(stderr, "tutti-bench: cannot write a config file\n"), 1;
  ::close(fd);
  c.config = tmpl;
  std::ofstream{c.config} << config_text;
  for (auto& port : c.listens)
    port = free_port();
  for (int i = 0; i < 3; ++i)
    c.controls[i] = c.start_control(i);
  std::unique_ptr<cli::client> client;
  int leader = -1;
  if (!wait_for([&] { return (leader = find_leader(c, client)) >= 0; }, 20s))
    return std::fprintf(stderr, "tutti-bench: no control process leads\n"), 1;
  for (int i = 0; i < 2; ++i)
    c.nodes[i] = c.start_node(i);
  // The leader just elected may not take writes yet (its control plane is
  // still starting, or leadership moved on): ask the leader again until it does.
  auto applied = client->apply("bench.yaml", spec(opts.replicas), false);
  wait_for(
      [&] {
        if (applied)
          return true;
        if ((leader = find_leader(c, client)) >= 0)
          applied = client->apply("bench.yaml", spec(opts.replicas), false);
        return static_cast<bool>(applied);
      },
      10s);
  if (!applied)
    return std::fprintf(stderr, "tutti-bench: apply failed: %s\n",
                        applied.error().message.c_str()),
           1;
  if (!applied->errors.empty())
    return std::fprintf(stderr, "tutti-bench: apply refused the bench's spec\n"), 1;
  int acknowledged = opts.replicas;
  if (!wait_for([&] { return settled(*client, acknowledged); }))
    return std::fprintf(stderr, "tutti-bench: the cluster did not settle\n"), 1;

  std::printf("killing the leading control process, %d trials...\n", opts.trials);
  std::vector<double> failover;
  int lost = 0;
  int duplicates = 0;
  int writes = 1;
  for (int t = 0; t < opts.trials; ++t) {
    client.reset();
    c.controls[leader]->kill9();
    auto start = clock::now();
    int next = acknowledged == opts.replicas ? opts.replicas + 1 : opts.replicas;
    int now_leading = -1;
    bool written = wait_for([&] {
      now_leading = find_leader(c, client);
      return now_leading >= 0 && client->scale("bench", next);
    });
    if (!written)
      return std::fprintf(stderr, "tutti-bench: no write acknowledged after the kill\n"), 1;
    failover.push_back(ms_since(start));
    acknowledged = next;
    ++writes;
    c.controls[leader]->restart(); // stands by now
    bool ok = wait_for([&] { return settled(*client, acknowledged); });
    auto held = desired(*client);
    lost += held != acknowledged;
    auto rs = client->get_replicas("bench");
    duplicates += rs && static_cast<int>(rs->size()) > acknowledged;
    std::printf("  trial %2d: control %d -> %d, write acknowledged after %.0f ms; %s\n", t + 1,
                leader, now_leading, failover.back(),
                ok ? "replicas settled" : "replicas did NOT settle within 60 s");
    if (!ok)
      return 1;
    leader = now_leading;
  }
  client->delete_service("bench");
  std::printf("failover_p50_ms=%.0f failover_p99_ms=%.0f lost=%d duplicates=%d writes=%d "
              "trials=%d\n",
              percentile(failover, 0.5), percentile(failover, 0.99), lost, duplicates, writes,
              opts.trials);
  return lost == 0 && duplicates == 0 ? 0 : 1;
}

} // namespace

void add_ha_bench(CLI::App& app) {
  auto opts = std::make_shared<ha_options>();
  auto* cmd = app.add_subcommand(
      "ha", "Leader kill -9 to a write acknowledged by the next leader (3 control processes on "
            "3 etcd members, 2 nodes)");
  cmd->add_option("--trials", opts->trials, "Leader kills")->capture_default_str();
  cmd->add_option("--replicas", opts->replicas, "Replicas of the service (sim driver)")
      ->capture_default_str();
  cmd->callback([opts] { std::exit(run_ha(*opts)); });
}

} // namespace tutti::bench
