// tutti-bench mesh: HTTP throughput and tail latency through the routing mesh
// against the same replica reached directly, in one run, with wrk (Debian's
// `wrk`) and busybox httpd replicas of a real tuttid, all on 127.0.0.1.

#include "tools/bench/benches.hpp"
#include "tools/bench/bench_support.hpp"
#include "tools/harness/daemon_process.hpp"
#include "tools/tutti/client.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <regex>
#include <string>
#include <thread>

namespace tutti::bench {

namespace {

using clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

struct mesh_options {
  int seconds = 5;
  int connections = 8;
  int threads = 1;
  int replicas = 1;
  int rounds = 2;
  std::string port_range = "42000-42999";
};

struct wrk_result {
  double rps = 0;
  double p99_us = 0;
};

std::string spec(int replicas, uint16_t published, const std::string& root) {
  return "kind: Service\nname: meshbench\nreplicas: " + std::to_string(replicas) +
         "\ndriver: process\n"
         "command: [\"/bin/busybox\", \"httpd\", \"-f\", \"-p\", \"127.0.0.1:${PORT}\", "
         "\"-h\", \"" +
         root +
         "\"]\n"
         "ports: [{name: http, published: " +
         std::to_string(published) + "}]\n";
}

/// "719.00us", "1.04ms", "2.1s" -> microseconds.
double to_us(double value, const std::string& unit) {
  if (unit == "us")
    return value;
  if (unit == "ms")
    return value * 1e3;
  if (unit == "s")
    return value * 1e6;
  return value / 1e3; // ns, should wrk ever print it
}

std::optional<wrk_result> run_wrk(const mesh_options& o, uint16_t port, int seconds) {
  auto cmd = "wrk -t" + std::to_string(o.threads) + " -c" + std::to_string(o.connections) + " -d" +
             std::to_string(seconds) + "s --latency http://127.0.0.1:" + std::to_string(port) +
             "/index.html 2>&1";
  std::unique_ptr<FILE, int (*)(FILE*)> pipe{::popen(cmd.c_str(), "r"), ::pclose};
  if (!pipe)
    return std::nullopt;
  std::string out;
  char buf[4096];
  while (auto n = std::fread(buf, 1, sizeof(buf), pipe.get()))
    out.append(buf, n);
  std::smatch m;
  wrk_result r;
  if (!std::regex_search(out, m, std::regex{R"(Requests/sec:\s+([0-9.]+))"}))
    return std::fprintf(stderr, "tutti-bench: unexpected wrk output:\n%s\n", out.c_str()),
           std::nullopt;
  r.rps = std::stod(m[1]);
  if (std::regex_search(out, m, std::regex{R"(\n\s+99%\s+([0-9.]+)(us|ms|s)\b)"}))
    r.p99_us = to_us(std::stod(m[1]), m[2]);
  auto errors = std::regex_search(out, m, std::regex{R"(Socket errors:[^\n]*)"}) ? m[0].str() : "";
  auto non2xx = std::regex_search(out, m, std::regex{R"(Non-2xx[^\n]*)"}) ? m[0].str() : "";
  if (!errors.empty() || !non2xx.empty())
    std::printf("    wrk: %s %s\n", errors.c_str(), non2xx.c_str());
  return r;
}

/// The host port of the lowest running replica, once the mesh serves all of them.
std::optional<uint16_t> wait_ready(cli::client& c, int replicas, uint16_t published) {
  auto deadline = clock::now() + 30s;
  while (clock::now() < deadline) {
    auto sets = c.get_endpoints("meshbench");
    if (sets && sets->size() == 1 && static_cast<int>(sets->front().endpoints.size()) == replicas &&
        http_ok(published)) {
      auto first = sets->front().endpoints.front();
      for (auto& e : sets->front().endpoints)
        if (e.replica < first.replica)
          first = e;
      if (http_ok(first.host_port))
        return first.host_port;
    }
    std::this_thread::sleep_for(20ms);
  }
  return std::nullopt;
}

int run_mesh(const mesh_options& o) {
  if (std::system("command -v wrk > /dev/null 2>&1") != 0)
    return std::fprintf(stderr, "tutti-bench: wrk not found; install the Debian package wrk "
                                "(tools/install-deps.sh)\n"),
           1;
  daemon_process daemon{o.port_range};
  auto root = daemon.data_dir() + "/www";
  std::filesystem::create_directories(root);
  std::ofstream{root + "/index.html"} << "hello from the mesh bench\n";
  auto c = connect_client(daemon);
  if (!c)
    return std::fprintf(stderr, "tutti-bench: tuttid did not answer at %s\n", daemon.api().c_str()),
           1;
  auto published = free_port();
  auto applied = c->apply("meshbench.yaml", spec(o.replicas, published, root), false);
  if (!applied)
    return std::fprintf(stderr, "tutti-bench: apply failed: %s\n", applied.error().message.c_str()),
           1;
  if (!applied->errors.empty())
    return std::fprintf(stderr, "tutti-bench: apply refused: %s\n",
                        protocol::to_string(applied->errors.front()).c_str()),
           1;
  auto direct = wait_ready(*c, o.replicas, published);
  if (!direct)
    return std::fprintf(stderr, "tutti-bench: the mesh did not serve the replicas\n"), 1;
  std::printf("%d replica(s) of busybox httpd; mesh on 127.0.0.1:%u, one replica directly on "
              "127.0.0.1:%u; wrk -t%d -c%d, %d s per run, %d round(s)\n",
              o.replicas, published, *direct, o.threads, o.connections, o.seconds, o.rounds);
  run_wrk(o, *direct, 1); // warm up both paths (page cache, pids, the proxy's buffers)
  run_wrk(o, published, 1);
  wrk_result mesh, straight;
  for (int round = 1; round <= o.rounds; ++round) {
    auto d = run_wrk(o, *direct, o.seconds);
    auto m = run_wrk(o, published, o.seconds);
    if (!d || !m)
      return 1;
    std::printf("  round %d: direct %.0f req/s p99 %.0f us; mesh %.0f req/s p99 %.0f us\n", round,
                d->rps, d->p99_us, m->rps, m->p99_us);
    straight.rps += d->rps / o.rounds;
    straight.p99_us += d->p99_us / o.rounds;
    mesh.rps += m->rps / o.rounds;
    mesh.p99_us += m->p99_us / o.rounds;
  }
  std::printf("mesh_rps=%.0f direct_rps=%.0f ratio=%.3f mesh_p99_us=%.0f direct_p99_us=%.0f\n",
              mesh.rps, straight.rps, straight.rps > 0 ? mesh.rps / straight.rps : 0.0, mesh.p99_us,
              straight.p99_us);
  return 0;
}

} // namespace

void add_mesh_bench(CLI::App& app) {
  auto opts = std::make_shared<mesh_options>();
  auto* cmd = app.add_subcommand(
      "mesh", "wrk through the routing mesh (a published port) and straight at one replica, "
              "alternating, in one run: requests/s and p99 latency of both and their ratio");
  cmd->add_option("--seconds", opts->seconds, "Length of each wrk run (default 5)")
      ->check(CLI::Range(1, 600));
  cmd->add_option("--connections", opts->connections, "wrk connections (default 8)")
      ->check(CLI::Range(1, 10000));
  cmd->add_option("--threads", opts->threads, "wrk threads (default 1)")->check(CLI::Range(1, 64));
  cmd->add_option("--replicas", opts->replicas,
                  "Replicas behind the mesh (default 1: the same one wrk reaches directly)")
      ->check(CLI::Range(1, 100));
  cmd->add_option("--rounds", opts->rounds, "direct/mesh pairs, averaged (default 2)")
      ->check(CLI::Range(1, 100));
  cmd->add_option("--port-range", opts->port_range,
                  "Host ports for the replicas (default 42000-42999)");
  cmd->callback([opts] { std::exit(run_mesh(*opts)); });
}

} // namespace tutti::bench
