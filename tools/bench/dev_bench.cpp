// tutti-bench dev: apply -> running, kill -9 -> replaced, and tuttid's memory with
// 100 process replicas, against a real tuttid and real busybox processes.

#include "tools/bench/benches.hpp"
#include "tools/bench/bench_support.hpp"
#include "tools/harness/daemon_process.hpp"
#include "tools/tutti/client.hpp"

#include <signal.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <map>
#include <thread>

namespace tutti::bench {

namespace {

using clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

struct dev_options {
  int kills = 20;
  int scale_to = 100;
  std::string port_range = "41000-41999";
  std::string backoff = "100ms";
};

std::string spec(int replicas, const std::string& backoff) {
  return "kind: Service\nname: bench\nreplicas: " + std::to_string(replicas) +
         "\ndriver: process\n"
         "command: [\"/bin/busybox\", \"httpd\", \"-f\", \"-p\", \"127.0.0.1:${PORT}\"]\n"
         "ports: [{name: http}]\n"
         "restart: {policy: always, backoff: {initial: " +
         backoff + ", max: 10s}}\n";
}

/// Polls (every 2 ms) until `pred` holds on the replicas, or 60 s pass.
template <class Pred> bool wait_replicas(cli::client& c, Pred pred) {
  auto deadline = clock::now() + 60s;
  while (clock::now() < deadline) {
    auto rs = c.get_replicas("bench");
    if (rs && pred(*rs))
      return true;
    std::this_thread::sleep_for(2ms);
  }
  return false;
}

size_t running(const std::vector<protocol::replica_status>& rs) {
  return std::count_if(rs.begin(), rs.end(), [](auto& r) {
    return r.state == protocol::replica_state::running && r.pid > 0;
  });
}

int run_dev(const dev_options& opts) {
  daemon_process daemon{opts.port_range};
  auto c = connect_client(daemon);
  if (!c) {
    std::fprintf(stderr, "tutti-bench: tuttid did not answer at %s\n", daemon.api().c_str());
    return 1;
  }

  std::printf("applying a service of 3 process replicas...\n");
  auto t0 = clock::now();
  auto applied = c->apply("bench.yaml", spec(3, opts.backoff), false);
  if (!applied || !applied->errors.empty()) {
    std::fprintf(stderr, "tutti-bench: apply failed\n");
    return 1;
  }
  if (!wait_replicas(*c, [](auto& rs) { return running(rs) == 3; }))
    return std::fprintf(stderr, "tutti-bench: replicas did not start\n"), 1;
  double apply_ms = ms_since(t0);
  std::printf("  apply -> 3 running: %.1f ms\n", apply_ms);

  std::printf("killing a replica with SIGKILL %d times...\n", opts.kills);
  std::vector<double> heal;
  for (int i = 0; i < opts.kills; ++i) {
    // A replica that ran at least 1 s restarts after the initial back-off; wait
    // for that so every sample measures the same path.
    std::this_thread::sleep_for(1100ms);
    auto rs = c->get_replicas("bench");
    if (!rs || rs->empty())
      return 1;
    auto victim = (*rs)[i % rs->size()];
    auto t = clock::now();
    ::kill(static_cast<pid_t>(victim.pid), SIGKILL);
    bool ok = wait_replicas(*c, [&](auto& now) {
      for (auto& r : now)
        if (r.id == victim.id)
          return r.state == protocol::replica_state::running && r.pid > 0 && r.pid != victim.pid;
      return false;
    });
    if (!ok)
      return std::fprintf(stderr, "tutti-bench: %s was not replaced\n", victim.id.c_str()), 1;
    heal.push_back(ms_since(t));
    std::printf("  kill %2d: %s replaced in %.1f ms\n", i + 1, victim.id.c_str(), heal.back());
  }

  std::printf("scaling to %d replicas...\n", opts.scale_to);
  auto t1 = clock::now();
  if (!c->scale("bench", opts.scale_to))
    return 1;
  if (!wait_replicas(*c, [&](auto& rs) { return static_cast<int>(running(rs)) == opts.scale_to; }))
    return std::fprintf(stderr, "tutti-bench: scale did not finish\n"), 1;
  double scale_ms = ms_since(t1);
  std::this_thread::sleep_for(500ms); // let allocations settle before reading RSS
  double rss_mb = daemon.rss_bytes() / 1048576.0;
  std::printf("  3 -> %d running: %.1f ms; tuttid RSS %.1f MiB\n", opts.scale_to, scale_ms, rss_mb);

  std::printf("apply_to_3_running_ms=%.1f heal_p50_ms=%.1f heal_p90_ms=%.1f heal_max_ms=%.1f "
              "kills=%zu scale_to_%d_ms=%.1f rss_%d_replicas_mib=%.1f\n",
              apply_ms, percentile(heal, 0.5), percentile(heal, 0.9), percentile(heal, 1.0),
              heal.size(), opts.scale_to, scale_ms, opts.scale_to, rss_mb);
  return 0;
}

} // namespace

void add_dev_bench(CLI::App& app) {
  auto opts = std::make_shared<dev_options>();
  auto* cmd = app.add_subcommand(
      "dev", "tuttid dev with the process driver: apply -> 3 running, kill -9 -> replaced "
             "(median of --kills), tuttid RSS with --scale-to replicas");
  cmd->add_option("--kills", opts->kills, "How many replicas to kill (default 20)")
      ->check(CLI::Range(1, 1000));
  cmd->add_option("--scale-to", opts->scale_to, "Replicas for the memory figure (default 100)")
      ->check(CLI::Range(3, 1000));
  cmd->add_option(
      "--backoff", opts->backoff,
      "restart.backoff.initial of the service (default 100ms; the heal time includes it)");
  cmd->add_option("--port-range", opts->port_range,
                  "Host ports for the replicas (default 41000-41999)");
  cmd->callback([opts] { std::exit(run_dev(*opts)); });
}

} // namespace tutti::bench
