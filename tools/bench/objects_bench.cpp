// tutti-bench objects: what a config change costs. A service of N process
// replicas that read a config; each round stores a new version of the config
// and times it until every replica runs the new revision, against the same
// rollout made by a change of the spec's env (no config involved), in the
// same run on the same tuttid.

#include "tools/bench/benches.hpp"
#include "tools/bench/bench_support.hpp"
#include "tools/harness/daemon_process.hpp"
#include "tools/tutti/client.hpp"

#include <chrono>
#include <cstdio>
#include <thread>

namespace tutti::bench {

namespace {

using clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

struct objects_options {
  int replicas = 10;
  int rounds = 5;
  std::string port_range = "43000-43999";
};

std::string config_doc(int round) {
  return "kind: Config\nname: bench-conf\ndata: \"round " + std::to_string(round) + "\"\n";
}

/// `with_config`: the replicas read the config; else they get `env` only.
std::string spec(int replicas, bool with_config, int env) {
  std::string out = "kind: Service\nname: " + std::string{with_config ? "conf" : "plain"} +
                    "\nreplicas: " + std::to_string(replicas) +
                    "\ndriver: process\n"
                    "command: [/bin/busybox, sh, -c, \"" +
                    std::string{with_config ? "test -s $TUTTI_CONFIG_BENCH_CONF && " : ""} +
                    "exec /bin/busybox sleep 600\"]\n"
                    "env: {ROUND: \"" +
                    std::to_string(env) +
                    "\"}\n"
                    "update: {parallelism: 10, max_surge: 10, max_unavailable: 0, monitor: 0s}\n";
  if (with_config)
    out += "configs: [bench-conf]\n";
  return out;
}

/// Polls until the rollout of `service` to revision `after`+ completes, or 60 s pass.
bool rolled_out(cli::client& c, const std::string& service, int64_t after) {
  auto deadline = clock::now() + 60s;
  while (clock::now() < deadline) {
    auto r = c.rollout_status(service);
    if (r && r->revision > after && r->state == protocol::rollout_state::complete &&
        r->old == 0 && r->ready == r->desired)
      return true;
    std::this_thread::sleep_for(2ms);
  }
  return false;
}

bool apply_text(cli::client& c, const std::string& text) {
  auto r = c.apply("bench.yaml", text, false);
  if (!r || !r->errors.empty()) {
    std::fprintf(stderr, "tutti-bench: apply failed: %s\n",
                 !r ? r.error().message.c_str() : r->errors.front().message.c_str());
    return false;
  }
  return true;
}

int64_t revision_of(cli::client& c, const std::string& service) {
  auto r = c.rollout_status(service);
  return r ? r->revision : -1;
}

int run_objects(const objects_options& opts) {
  daemon_process daemon{opts.port_range};
  auto c = connect_client(daemon);
  if (!c) {
    std::fprintf(stderr, "tutti-bench: tuttid did not answer at %s\n", daemon.api().c_str());
    return 1;
  }
  std::printf("applying two services of %d process replicas, one reading a config...\n",
              opts.replicas);
  if (!apply_text(*c, config_doc(0) + "---\n" + spec(opts.replicas, true, 0) + "---\n" +
                     spec(opts.replicas, false, 0)))
    return 1;
  if (!rolled_out(*c, "conf", 0) || !rolled_out(*c, "plain", 0))
    return std::fprintf(stderr, "tutti-bench: the replicas did not start\n"), 1;
  std::vector<double> config_ms;
  std::vector<double> env_ms;
  for (int round = 1; round <= opts.rounds; ++round) {
    auto before = revision_of(*c, "conf");
    auto t = clock::now();
    if (!apply_text(*c, config_doc(round)) || !rolled_out(*c, "conf", before))
      return std::fprintf(stderr, "tutti-bench: the config change did not roll out\n"), 1;
    config_ms.push_back(ms_since(t));
    before = revision_of(*c, "plain");
    t = clock::now();
    if (!apply_text(*c, spec(opts.replicas, false, round)) || !rolled_out(*c, "plain", before))
      return std::fprintf(stderr, "tutti-bench: the env change did not roll out\n"), 1;
    env_ms.push_back(ms_since(t));
    std::printf("  round %d: config change -> %d replicas replaced %.1f ms; env change %.1f ms\n",
                round, opts.replicas, config_ms.back(), env_ms.back());
  }
  auto config_p50 = percentile(config_ms, 0.5);
  auto env_p50 = percentile(env_ms, 0.5);
  std::printf("replicas=%d rounds=%d config_rollout_p50_ms=%.1f env_rollout_p50_ms=%.1f "
              "ratio=%.2f\n",
              opts.replicas, opts.rounds, config_p50, env_p50,
              env_p50 > 0 ? config_p50 / env_p50 : 0.0);
  return 0;
}

} // namespace

void add_objects_bench(CLI::App& app) {
  auto opts = std::make_shared<objects_options>();
  auto* cmd = app.add_subcommand(
      "objects", "tuttid dev with the process driver: a new config version -> every replica "
                 "replaced (median of --rounds), against the same rollout made by an env change");
  cmd->add_option("--replicas", opts->replicas, "Replicas of each service (default 10)")
      ->check(CLI::Range(1, 500));
  cmd->add_option("--rounds", opts->rounds, "Changes of each kind (default 5)")
      ->check(CLI::Range(1, 100));
  cmd->add_option("--port-range", opts->port_range,
                  "Host ports for the replicas (default 43000-43999)");
  cmd->callback([opts] { std::exit(run_objects(*opts)); });
}

} // namespace tutti::bench
