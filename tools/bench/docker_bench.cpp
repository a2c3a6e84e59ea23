// tutti-bench docker: a service of N docker replicas through tuttid against the
// same N containers started with `docker run -d` in a loop, and against
// Docker's own swarm mode (on a private engine); then how fast tutti replaces a
// container killed behind its back. Real engine, real containers.

#include "tools/bench/benches.hpp"
#include "tools/bench/bench_support.hpp"
#include "tools/harness/daemon_process.hpp"
#include "tools/bench/docker_engine.hpp"
#include "tools/tutti/client.hpp"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <map>
#include <optional>
#include <thread>

namespace tutti::bench {

namespace {

using clock = std::chrono::steady_clock;
using namespace std::chrono_literals;
using nlohmann::json;

struct docker_options {
  int replicas = 20;
  int kills = 10;
  std::string socket;
  std::string port_range = "42000-42999";
  std::string backoff = "100ms";
  bool swarm = true;
};

/// What every container runs, under tutti, docker run and swarm alike: idles
/// and ends at once on SIGTERM (PID 1 ignores signals it does not handle).
const std::vector<std::string> idle = {"/bin/sh", "-c",
                                       "trap 'exit 0' TERM; while true; do sleep 0.2; done"};

std::string spec(int replicas, const std::string& backoff) {
  return "kind: Service\nname: bench\nreplicas: " + std::to_string(replicas) +
         "\ndriver: docker\nimage: " + docker_engine::image +
         "\ncommand: [\"/bin/sh\", \"-c\", \"trap 'exit 0' TERM; while true; do sleep 0.2; "
         "done\"]\nrestart: {policy: always, backoff: {initial: " +
         backoff + ", max: 10s}}\nstop_grace: 2s\n";
}

/// Removes the containers of a label when the bench ends, however it ends.
struct remove_on_exit {
  const docker_engine& engine;
  std::string label;
  ~remove_on_exit() { engine.remove_all(label); }
};

struct tutti_figures {
  double up_ms = 0;
  std::vector<double> starts; // apply -> each replica running
  std::vector<double> heals;
  std::vector<double> singles;     // scale N -> N+1: the new replica running, alone
  std::vector<double> api_singles; // the engine alone, in the same conditions
};

/// How many single starts each side measures, one at a time.
constexpr int single_samples = 5;

/// The engine's own time to run one container: create + start through the API,
/// as the driver does; 0 when that failed.
double api_single(const docker_engine& engine, const std::string& label, int i) {
  json body = {{"Image", docker_engine::image},
               {"Cmd", idle},
               {"Labels", {{label.substr(0, label.find('=')), label.substr(label.find('=') + 1)}}},
               {"HostConfig", {{"NetworkMode", "host"}, {"RestartPolicy", {{"Name", "no"}}}}}};
  auto name = "tutti-bench-api-" + std::to_string(::getpid()) + "-" + std::to_string(i);
  auto t = clock::now();
  auto created = engine.call("POST", "/containers/create?name=" + name, body.dump());
  auto started = engine.call("POST", "/containers/" + name + "/start");
  double took = ms_since(t);
  engine.call("DELETE", "/containers/" + name + "?force=1");
  if (created.status != 201 || started.status != 204) {
    std::fprintf(stderr, "tutti-bench: create/start through the API failed: %s %s\n",
                 created.body.c_str(), started.body.c_str());
    return 0;
  }
  return took;
}

/// Applies the bench service and times apply -> every replica running.
bool measure_up(cli::client& c, const docker_options& o, tutti_figures& out) {
  std::printf("tutti: applying a service of %d docker replicas...\n", o.replicas);
  auto applied_wall = wall_ms();
  auto t0 = clock::now();
  auto applied = c.apply("bench.yaml", spec(o.replicas, o.backoff), false);
  if (!applied || !applied->errors.empty()) {
    std::fprintf(stderr, "tutti-bench: apply failed\n");
    return false;
  }
  std::vector<protocol::replica_status> last;
  bool up = wait_replicas(c, "bench", [&](auto& rs) {
    last = rs;
    return static_cast<int>(std::count_if(rs.begin(), rs.end(), is_running)) == o.replicas;
  });
  if (!up) {
    std::fprintf(stderr, "tutti-bench: the replicas did not all run within 60 s\n");
    for (auto& r : last)
      std::fprintf(stderr, "  %s: %s %s\n", r.id.c_str(), protocol::to_string(r.state).c_str(),
                   r.message.c_str());
    return false;
  }
  out.up_ms = ms_since(t0);
  for (auto& r : last)
    out.starts.push_back(static_cast<double>(std::max<int64_t>(r.since_ms - applied_wall, 0)));
  std::printf("  apply -> %d running: %.1f ms (per replica p50 %.1f, p99 %.1f ms)\n", o.replicas,
              out.up_ms, percentile(out.starts, 0.5), percentile(out.starts, 0.99));
  return true;
}

/// Kills a replica's container `o.kills` times and times each until it runs again.
bool measure_heals(cli::client& c, const docker_engine& engine, const docker_options& o,
                   tutti_figures& out) {
  std::printf("tutti: killing a replica's container (docker kill) %d times...\n", o.kills);
  return bench::measure_heals(
      c, "bench", o.kills,
      [&](const protocol::replica_status& victim) {
        return engine.call("POST", "/containers/" + victim.runtime_id + "/kill").status == 204;
      },
      out.heals);
}

/// Scales up by one and back, timing the new replica against one engine
/// create+start, alternating.
bool measure_singles(cli::client& c, const docker_engine& engine, const docker_options& o,
                     const std::string& node, tutti_figures& out) {
  std::printf("tutti: one replica at a time (scale %d -> %d -> %d) against one engine "
              "create+start, %d times each, alternating...\n",
              o.replicas, o.replicas + 1, o.replicas, single_samples);
  auto baseline = [&](int i) { return api_single(engine, "tutti.bench=" + node, i); };
  auto settle = [&](const std::string& extra) {
    auto gone = clock::now() + 10s;
    while (engine.containers("tutti.replica=" + extra).size() > 0 && clock::now() < gone)
      std::this_thread::sleep_for(5ms);
  };
  if (!bench::measure_singles(c, "bench", o.replicas, single_samples, baseline, settle, out.singles,
                              out.api_singles))
    return false;
  std::printf("  scale -> the new replica running: p50 %.1f ms; engine create+start: p50 %.1f ms\n",
              percentile(out.singles, 0.5), percentile(out.api_singles, 0.5));
  return true;
}

std::optional<tutti_figures> run_tutti(const docker_options& o, const docker_engine& engine,
                                       const std::string& node) {
  daemon_process daemon{o.port_range, {"--docker-socket", engine.socket(), "--node-name", node}};
  auto c = connect_client(daemon);
  if (!c) {
    std::fprintf(stderr, "tutti-bench: tuttid did not answer at %s\n", daemon.api().c_str());
    return std::nullopt;
  }
  tutti_figures out;
  if (!measure_up(*c, o, out) || !measure_heals(*c, engine, o, out) ||
      !measure_singles(*c, engine, o, node, out))
    return std::nullopt;
  if (c->delete_service("bench")) {
    auto gone = clock::now() + 30s;
    while (!engine.containers("tutti.node=" + node).empty() && clock::now() < gone)
      std::this_thread::sleep_for(20ms);
  }
  return out;
}

std::vector<double> run_docker_loop(const docker_options& o, const docker_engine& engine,
                                    const std::string& label) {
  std::printf("docker: %d x `docker run -d --network host` in a loop...\n", o.replicas);
  std::vector<double> done;
  auto t0 = clock::now();
  for (int i = 0; i < o.replicas; ++i) {
    std::vector<std::string> args{"run",
                                  "-d",
                                  "--network",
                                  "host",
                                  "--label",
                                  label,
                                  "--name",
                                  "tutti-bench-run-" + std::to_string(::getpid()) + "-" +
                                      std::to_string(i),
                                  docker_engine::image};
    args.insert(args.end(), idle.begin(), idle.end());
    std::string out;
    if (engine.cli(args, &out) != 0) {
      std::fprintf(stderr, "tutti-bench: docker run failed: %s\n", out.c_str());
      return {};
    }
    done.push_back(ms_since(t0));
  }
  std::printf("  %d running: %.1f ms (per container p50 %.1f, p99 %.1f ms)\n", o.replicas,
              done.back(), percentile(done, 0.5), percentile(done, 0.99));
  return done;
}

/// Tasks of the swarm service in state running.
int swarm_running(const docker_engine& engine) {
  json filter = {{"service", {"tutti-bench"}}, {"desired-state", {"running"}}};
  auto r = engine.call("GET", "/tasks?filters=" + url_escape(filter.dump()));
  auto tasks = json::parse(r.body, nullptr, false);
  if (r.status != 200 || !tasks.is_array())
    return 0;
  int n = 0;
  for (auto& t : tasks)
    n += t["Status"].value("State", "") == "running" ? 1 : 0;
  return n;
}

/// Time for swarm mode to run N replicas; nullopt (with the reason printed)
/// when swarm cannot run here.
std::optional<double> run_swarm(const docker_options& o, const docker_engine& engine) {
  if (!o.swarm) {
    std::printf("swarm: skipped (--no-swarm)\n");
    return std::nullopt;
  }
  if (!engine.is_private()) {
    std::printf("swarm: skipped (the host's engine is in use; swarm runs only on a private one)\n");
    return std::nullopt;
  }
  std::string out;
  if (engine.cli({"swarm", "init", "--advertise-addr", "127.0.0.1"}, &out) != 0) {
    std::printf("swarm: skipped (docker swarm init failed: %s)\n", out.c_str());
    return std::nullopt;
  }
  struct leave {
    const docker_engine& engine;
    ~leave() {
      engine.cli({"service", "rm", "tutti-bench"});
      engine.cli({"swarm", "leave", "--force"});
      engine.remove_all("com.docker.swarm.service.name=tutti-bench");
    }
  } leave_swarm{engine};
  std::printf("swarm: docker service create --replicas %d --network host...\n", o.replicas);
  std::vector<std::string> args{"service",
                                "create",
                                "--detach",
                                "--quiet",
                                "--replicas",
                                std::to_string(o.replicas),
                                "--network",
                                "host",
                                "--name",
                                "tutti-bench",
                                docker_engine::image};
  args.insert(args.end(), idle.begin(), idle.end());
  auto t0 = clock::now();
  if (engine.cli(args, &out) != 0) {
    std::printf("swarm: skipped (docker service create failed: %s)\n", out.c_str());
    return std::nullopt;
  }
  auto deadline = clock::now() + 120s;
  while (swarm_running(engine) < o.replicas) {
    if (clock::now() > deadline) {
      std::printf("swarm: skipped (%d of %d tasks running after 120 s)\n", swarm_running(engine),
                  o.replicas);
      return std::nullopt;
    }
    std::this_thread::sleep_for(10ms);
  }
  double up = ms_since(t0);
  std::printf("  %d running: %.1f ms\n", o.replicas, up);

  // One kill, for scale: swarm restarts a task after its restart delay (5 s by default).
  auto victims = engine.containers("com.docker.swarm.service.name=tutti-bench");
  if (!victims.empty()) {
    auto t = clock::now();
    engine.call("POST", "/containers/" + victims.front().value("Id", "") + "/kill");
    auto until = clock::now() + 30s;
    while (swarm_running(engine) == o.replicas && clock::now() < until)
      std::this_thread::sleep_for(5ms);
    while (swarm_running(engine) < o.replicas && clock::now() < until)
      std::this_thread::sleep_for(10ms);
    std::printf("  docker kill of one task -> %d running again: %.1f ms\n", o.replicas,
                ms_since(t));
  }
  return up;
}

int run_docker_bench(const docker_options& o) {
  std::unique_ptr<docker_engine> engine;
  try {
    engine = std::make_unique<docker_engine>(o.socket);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "tutti-bench: %s\n", e.what());
    return 1;
  }
  std::printf("engine: %s at %s\n", engine->is_private() ? "a private dockerd" : "the host's",
              engine->socket().c_str());
  auto node = "bench-" + std::to_string(::getpid());
  remove_on_exit tutti_containers{*engine, "tutti.node=" + node};
  remove_on_exit run_containers{*engine, "tutti.bench=" + node};

  auto tutti = run_tutti(o, *engine, node);
  if (!tutti)
    return 1;
  auto docker = run_docker_loop(o, *engine, "tutti.bench=" + node);
  engine->remove_all("tutti.bench=" + node);
  if (docker.empty())
    return 1;
  std::vector<double> docker_each; // each `docker run -d` on its own
  for (size_t i = 0; i < docker.size(); ++i)
    docker_each.push_back(docker[i] - (i == 0 ? 0.0 : docker[i - 1]));
  double single_tutti = percentile(tutti->singles, 0.5);
  double single_api = percentile(tutti->api_singles, 0.5);
  std::printf("one container alone (p50): tutti %.1f ms (scale +1 -> running), engine API "
              "create+start %.1f ms, docker run -d %.1f ms; tutti adds %.0f%% to the engine's "
              "own start\n",
              single_tutti, single_api, percentile(docker_each, 0.5),
              single_api > 0 ? 100.0 * (single_tutti / single_api - 1) : 0.0);
  auto swarm = run_swarm(o, *engine);

  double tutti_p50 = percentile(tutti->starts, 0.5);
  double docker_p50 = percentile(docker, 0.5);
  std::printf("replicas=%d tutti_p50_ms=%.1f tutti_p99_ms=%.1f docker_p50_ms=%.1f ratio=%.2f "
              "swarm_up_ms=%s tutti_up_ms=%.1f heal_p50_ms=%.1f\n",
              o.replicas, tutti_p50, percentile(tutti->starts, 0.99), docker_p50,
              docker_p50 > 0 ? tutti_p50 / docker_p50 : 0.0,
              swarm ? std::to_string(static_cast<long long>(*swarm)).c_str() : "NA", tutti->up_ms,
              percentile(tutti->heals, 0.5));
  return 0;
}

} // namespace

void add_docker_bench(CLI::App& app) {
  auto opts = std::make_shared<docker_options>();
  auto* cmd = app.add_subcommand(
      "docker", "tuttid dev with the docker driver: apply -> N running against the same N "
                "`docker run -d` and swarm mode; docker kill -> replaced (median of --kills)");
  cmd->add_option("--replicas", opts->replicas, "Replicas of the service (default 20)")
      ->check(CLI::Range(1, 500));
  cmd->add_option("--kills", opts->kills, "How many containers to kill (default 10)")
      ->check(CLI::Range(0, 1000));
  cmd->add_option("--socket", opts->socket,
                  "The engine's socket (default: /var/run/docker.sock when it answers, else a "
                  "private dockerd)");
  cmd->add_option(
      "--backoff", opts->backoff,
      "restart.backoff.initial of the service (default 100ms; the heal time includes it)");
  cmd->add_option("--port-range", opts->port_range, "Host ports for tuttid (default 42000-42999)");
  cmd->add_flag("--no-swarm{false}", opts->swarm, "Skip the swarm mode comparison");
  cmd->callback([opts] { std::exit(run_docker_bench(*opts)); });
}

} // namespace tutti::bench
