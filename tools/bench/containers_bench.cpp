// tutti-bench containers: what a replica of two containers costs to start.
// Each round scales a service whose replicas run two containers from 0 to
// `--replicas` and times it until all of them run, then does the same with two
// services of one container each (the same programs), in the same run on the
// same tuttid, with the process or the docker driver. Scaling up runs only the
// start path: placement, the node's run request, the replica actor and the driver.

#include "tools/bench/bench_support.hpp"
#include "tools/bench/benches.hpp"
#include "tools/bench/docker_engine.hpp"
#include "tools/harness/daemon_process.hpp"
#include "tools/tutti/client.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <memory>
#include <thread>
#include <unistd.h>

namespace tutti::bench {

namespace {

using clock = std::chrono::steady_clock;

struct containers_options {
  int replicas = 1;
  int rounds = 20;
  std::string driver = "process";
  std::string docker_socket;
  std::string port_range = "44000-44999";
};

/// The specs of the run: `pair` (two containers per replica), `single-a` and
/// `single-b` (one container each, the plain form), all at 0 replicas, running
/// the same program with `driver`.
std::string specs(const std::string& driver) {
  bool docker = driver == "docker";
  std::string image = docker ? std::string{"image: "} + docker_engine::image : "";
  std::string command =
      docker ? "command: [/bin/sh, -c, \"trap 'exit 0' TERM; while true; do sleep 1; done\"]"
             : "command: [/bin/busybox, sleep, \"600\"]";
  std::string part = (docker ? image + ", " : "") + command;
  std::string head = "replicas: 0\nstop_grace: 1s\ndriver: " + driver + "\n";
  std::string out = "kind: Service\nname: pair\n" + head + "containers:\n  - {name: app, " + part +
                    "}\n  - {name: sidecar, " + part + "}\n";
  for (const char* name : {"single-a", "single-b"})
    out += "---\nkind: Service\nname: " + std::string{name} + "\n" + head +
           (docker ? image + "\n" : "") + command + "\n";
  return out;
}

/// Scales `services` to `n` at wall time t0 and waits until each has `n`
/// running replicas; the time from t0 to the last one's start (ms), or < 0.
double scale_up(cli::client& c, const std::vector<std::string>& services, int n) {
  auto t0 = wall_ms();
  for (const auto& s : services)
    if (!c.scale(s, n))
      return -1;
  int64_t last = 0;
  for (const auto& s : services) {
    bool ok = wait_replicas(c, s, [&](const std::vector<protocol::replica_status>& rs) {
      if (static_cast<int>(std::count_if(rs.begin(), rs.end(), is_running)) != n)
        return false;
      for (const auto& r : rs)
        last = std::max(last, r.since_ms);
      return true;
    });
    if (!ok)
      return -1;
  }
  return static_cast<double>(last - t0);
}

bool scale_down(cli::client& c, const std::vector<std::string>& services) {
  for (const auto& s : services)
    if (!c.scale(s, 0) ||
        !wait_replicas(c, s, [](const std::vector<protocol::replica_status>& rs) {
          return rs.empty();
        }))
      return false;
  return true;
}

int run_containers(const containers_options& opts) {
  std::unique_ptr<docker_engine> engine;
  std::vector<std::string> args;
  auto node = "bench-containers-" + std::to_string(::getpid());
  if (opts.driver == "docker") {
    try {
      engine = std::make_unique<docker_engine>(opts.docker_socket);
    } catch (const std::exception& e) {
      std::fprintf(stderr, "tutti-bench: %s\n", e.what());
      return 1;
    }
    args = {"--docker-socket", engine->socket(), "--node-name", node};
  }
  // Whatever the run leaves (it failed midway) goes with the engine's containers of it.
  struct remove_on_exit {
    docker_engine* engine;
    std::string label;
    ~remove_on_exit() {
      if (engine)
        engine->remove_all(label);
    }
  } cleanup{engine.get(), "tutti.node=" + node};
  daemon_process daemon{opts.port_range, args};
  auto c = connect_client(daemon);
  if (!c) {
    std::fprintf(stderr, "tutti-bench: tuttid did not answer at %s\n", daemon.api().c_str());
    return 1;
  }
  if (!apply_when_ready(*c, "bench.yaml", specs(opts.driver)))
    return 1;
  std::printf("%s driver: starting %d replica(s) of two containers, then two services of one, "
              "%d times...\n",
              opts.driver.c_str(), opts.replicas, opts.rounds);
  std::vector<double> pair_ms, singles_ms;
  for (int round = 1; round <= opts.rounds; ++round) {
    auto pair = scale_up(*c, {"pair"}, opts.replicas);
    if (pair < 0 || !scale_down(*c, {"pair"}))
      return std::fprintf(stderr, "tutti-bench: the two-container replicas did not start\n"), 1;
    auto singles = scale_up(*c, {"single-a", "single-b"}, opts.replicas);
    if (singles < 0 || !scale_down(*c, {"single-a", "single-b"}))
      return std::fprintf(stderr, "tutti-bench: the single replicas did not start\n"), 1;
    pair_ms.push_back(pair);
    singles_ms.push_back(singles);
    std::printf("  round %d: two containers per replica %.0f ms; two single replicas %.0f ms\n",
                round, pair, singles);
  }
  auto pair_p50 = percentile(pair_ms, 0.5);
  auto singles_p50 = percentile(singles_ms, 0.5);
  std::printf("driver=%s replicas=%d rounds=%d pair_start_p50_ms=%.1f "
              "singles_start_p50_ms=%.1f ratio=%.2f\n",
              opts.driver.c_str(), opts.replicas, opts.rounds, pair_p50, singles_p50,
              singles_p50 > 0 ? pair_p50 / singles_p50 : 0.0);
  return 0;
}

} // namespace

void add_containers_bench(CLI::App& app) {
  auto opts = std::make_shared<containers_options>();
  auto* cmd = app.add_subcommand(
      "containers", "tuttid dev: replicas of two containers scaled 0 -> N until running "
                    "(median of --rounds), against two services of one container each");
  cmd->add_option("--replicas", opts->replicas, "Replicas started per round (default 1)")
      ->check(CLI::Range(1, 200));
  cmd->add_option("--rounds", opts->rounds, "Rounds (default 20)")->check(CLI::Range(1, 500));
  cmd->add_option("--driver", opts->driver, "process (default) or docker")
      ->check(CLI::IsMember({"process", "docker"}));
  cmd->add_option("--docker-socket", opts->docker_socket,
                  "docker: this engine's socket (default: the host's when it answers, else a "
                  "private dockerd started here)");
  cmd->add_option("--port-range", opts->port_range,
                  "Host ports for the replicas (default 44000-44999)");
  cmd->callback([opts] { std::exit(run_containers(*opts)); });
}

} // namespace tutti::bench
