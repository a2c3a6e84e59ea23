// tutti-bench sim: a control plane and N simulated nodes (real node actors with the
// sim driver), in this process or (--processes K) in K child processes that join
// it over CAF's network (sim_nodes.cpp); applies services totalling M replicas and
// measures convergence, placement rate and memory, then kills 10% of the nodes and
// measures the time until every replica runs again.

#include "tools/bench/benches.hpp"
#include "tools/harness/etcd_members.hpp"
#include "tools/bench/bench_support.hpp"
#include "tools/bench/node_processes.hpp"

#include "actors/cluster/gateway_actor.hpp"
#include "simulation/sim_cluster.hpp"
#include "metrics/catalogue.hpp"
#include "protocol/errors.hpp"

#include <spdlog/spdlog.h>

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace tutti::bench {

namespace {

using clock = std::chrono::steady_clock;
using namespace std::chrono_literals;
namespace p = tutti::protocol;

struct sim_options {
  int32_t nodes = 50;
  std::string replicas = "2000"; // one count, or several separated by commas
  int32_t processes = 1;
  int32_t zones = 3;
  double kill_fraction = 0.1;
  int32_t timeout_s = 600;
  int32_t per_service = p::max_replicas;
  bool work_stealing = false; // CAF's default; tuttid runs the sharing scheduler
  std::string store = "lmdb";  // etcd: a run on LMDB, then one on etcd, side by side
  std::string backend;         // one run on this store (what `store` runs)
};

/// A figure of this process's /proc/self/status in bytes ("VmRSS", "VmHWM").
double proc_status_bytes(const std::string& key) {
  return bench::proc_status_bytes(static_cast<int>(::getpid()), key);
}

/// CPU seconds (user + system) this process used so far.
double cpu_seconds() {
  return proc_cpu_seconds(static_cast<int>(::getpid()));
}

/// A sample of the catalogue's Prometheus text ("name" of an unlabelled series).
double sample(const std::string& text, const std::string& name) {
  auto at = text.find("\n" + name + " ");
  return at == std::string::npos ? 0 : std::stod(text.substr(at + name.size() + 2));
}

/// Services of at most p::max_replicas replicas each, M in total.
std::string specs(int64_t replicas, int64_t per_service) {
  std::string out;
  int64_t services = (replicas + per_service - 1) / per_service;
  for (int64_t i = 0; i < services; ++i) {
    auto n = replicas / services + (i < replicas % services ? 1 : 0);
    out += "---\nkind: Service\nname: sim-" + std::to_string(i) +
           "\nreplicas: " + std::to_string(n) +
           "\ndriver: sim\nresources: {cpu: 10m, memory: 16Mi}\n"
           "placement: {strategy: spread, spread_over: zone}\n";
  }
  return out;
}

struct progress {
  int64_t desired = 0;
  int64_t running = 0;
};

progress count(simulation::sim_cluster& c) {
  progress out;
  if (auto xs = c.services())
    for (auto& s : *xs) {
      out.desired += s.desired;
      out.running += s.running;
    }
  return out;
}

/// What placement knows of the killed nodes.
struct loss {
  size_t lost = 0;   // killed nodes placement knows are lost
  int64_t held = -1; // replicas placement still records on lost nodes; -1: unknown
};

loss loss_of(simulation::sim_cluster& c, const std::set<std::string>& killed) {
  loss out;
  auto xs = c.nodes();
  if (!xs)
    return out;
  out.held = 0;
  for (auto& x : *xs)
    if (x.state == p::node_state::lost) {
      out.held += x.replicas;
      out.lost += killed.count(x.name);
    }
  return out;
}

/// Whether every node of `killed` is known to be lost, and no lost node still
/// holds replicas. A node dies some time before placement hears of it (at once in
/// one process, over the network with --processes): until then, "all running" is
/// the state before.
bool lost_and_replaced(const loss& x, const std::set<std::string>& killed) {
  return x.held == 0 && x.lost == killed.size();
}

/// Moved replicas' assignments go to the store's log, which it folds into their
/// tree once idle: after the reconvergence, not in it, but the store's work all
/// the same, so the bench waits for it and shows what it took.
void report_fold(simulation::sim_cluster& c) {
  auto text = c.metrics().serialize();
  auto logged = sample(text, "tutti_store_logged_assignments");
  if (logged == 0)
    return;
  auto commit_s = sample(text, "tutti_store_commit_seconds_sum");
  auto start = clock::now();
  auto cpu = cpu_seconds();
  auto deadline = start + std::chrono::seconds{120};
  while (sample(text = c.metrics().serialize(), "tutti_store_logged_assignments") > 0) {
    if (clock::now() > deadline) {
      std::printf("store: its log of %.0f assignment changes was not folded within 120 s\n",
                  logged);
      return;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds{50}); // -- allowed: a poll
  }
  std::printf("store: folded its log of %.0f assignment changes %.1f s later, once idle for "
              "1 s (%.2f s of commits, %.1f s of CPU here meanwhile)\n",
              logged, ms_since(start) / 1000,
              sample(text, "tutti_store_commit_seconds_sum") - commit_s, cpu_seconds() - cpu);
}

/// Polls (every 50 ms) until `done` holds or the deadline; prints progress to
/// stderr once a second.
/// With node processes: false as soon as one of them ended.
template <class F>
bool wait_for(simulation::sim_cluster& c, node_processes* children, clock::time_point deadline,
              const char* what, F done, std::function<std::string()> more = {}) {
  auto start = clock::now();
  auto last_print = start;
  for (;;) {
    auto now = count(c);
    if (done(now))
      return true;
    if (clock::now() >= deadline)
      return false;
    if (children != nullptr)
      if (auto why = children->exited(); !why.empty()) {
        std::fprintf(stderr, "tutti-bench: %s\n", why.c_str());
        return false;
      }
    if (clock::now() - last_print >= 1s) {
      last_print = clock::now();
      std::fprintf(stderr, "  %s: %.1f s, %lld/%lld running%s\n", what, ms_since(start) / 1000,
                   static_cast<long long>(now.running), static_cast<long long>(now.desired),
                   more ? more().c_str() : "");
    }
    std::this_thread::sleep_for(50ms);
  }
}

/// A few replicas that do not run, with why: what a failed run shows.
void show_stragglers(simulation::sim_cluster& c) {
  int shown = 0;
  if (auto xs = c.nodes())
    for (auto& x : *xs)
      if (x.state == p::node_state::lost && x.replicas != 0 && shown++ < 10)
        std::fprintf(stderr, "  lost node %s still holds %d replicas\n", x.name.c_str(),
                     x.replicas);
  auto services = c.services();
  if (!services)
    return;
  for (auto& s : *services) {
    if (s.running == s.desired)
      continue;
    auto rs = c.replicas(s.name);
    if (!rs)
      continue;
    for (auto& r : *rs)
      if (r.state != p::replica_state::running && shown++ < 10)
        std::fprintf(stderr, "  %s on %s: %s %s\n", r.id.c_str(), r.node.c_str(),
                     p::to_string(r.state).c_str(), r.message.c_str());
  }
}

/// A join token for the node processes of one run.
std::string random_token() {
  std::random_device rd;
  std::string out;
  for (int i = 0; i < 4; ++i) {
    char buf[9];
    std::snprintf(buf, sizeof(buf), "%08x", rd());
    out += buf;
  }
  return out;
}

/// Memory of this process, and with node processes also theirs (summed).
struct memory {
  double self = 0;
  double children = 0;
  double total() const { return self + children; }
};

memory rss_now(const node_processes* children) {
  return {proc_status_bytes("VmRSS"), children ? children->status_bytes("VmRSS") : 0};
}

/// A temporary directory, removed with its contents at scope exit.
struct scratch_dir {
  std::filesystem::path path;
  ~scratch_dir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
};

/// One run at one size, in phases: start the control plane (and with
/// --processes the node processes), start the nodes, converge, kill a share of
/// the nodes and reconverge, report. Each phase prints its own figures and says
/// false (after printing why) when the run cannot go on.
class sim_run {
public:
  sim_run(const sim_options& opts, int64_t replicas)
    : opts_(opts), replicas_(replicas), dir_{std::filesystem::temp_directory_path() /
                                             ("tutti-bench-sim-" + std::to_string(::getpid()))} {
    std::filesystem::create_directories(dir_.path);
  }

  int run() {
    if (!start_cluster() || !start_nodes() || !converge() || !reconverge())
      return 1;
    report();
    // Tearing down a million actors one by one takes longer than the run; the
    // figures are out, so end here (the temporary store is removed first).
    cluster_.release(); // never destroyed: _Exit follows
    spdlog::set_level(spdlog::level::off); // the store's last commits meet no etcd
    etcd_.reset();                          // its members are processes of their own
    std::error_code ec;
    std::filesystem::remove_all(dir_.path, ec);
    std::_Exit(0);
  }

private:
  simulation::sim_cluster& c() { return *cluster_; }
  bool remote() const { return opts_.processes > 1; }

  /// With --processes K, this process is the control plane only (like `tuttid
  /// control`): all N nodes run in K child processes and reach it over CAF's
  /// network on 127.0.0.1, so every message between a node and the control plane
  /// crosses a connection, and the memory here is the control plane's.
  bool start_cluster() {
    if (remote())
      spdlog::set_level(spdlog::level::warn); // not a line per joining node
    co_.data_dir = dir_.path.string();
    if (opts_.backend == "etcd") {
      std::printf("starting 3 etcd members on 127.0.0.1-3...\n");
      std::fflush(stdout);
      etcd_ = std::make_unique<harness::etcd_members>(3);
      co_.etcd_endpoints = etcd_->client_urls();
    }
    co_.nodes = 0; // added by start_nodes, to measure their memory
    co_.sharing_scheduler = !opts_.work_stealing;
    if (remote())
      co_.join_token = random_token();
    auto cluster = simulation::sim_cluster::start(co_);
    if (!cluster)
      return fail(p::message_of(cluster.error()));
    cluster_ = std::move(*cluster);
    if (remote() && !start_node_processes())
      return false;
    rss_empty_ = rss_now(children_.get());
    return true;
  }

  bool start_node_processes() {
    node_processes_options no;
    no.gateway = "127.0.0.1:" + std::to_string(c().gateway_port());
    no.join_token = co_.join_token;
    no.processes = opts_.processes;
    no.nodes = opts_.nodes;
    no.zones = opts_.zones;
    no.sharing = !opts_.work_stealing;
    std::printf("starting %d node processes (control plane's gateway at %s)...\n", opts_.processes,
                no.gateway.c_str());
    auto started = node_processes::start(no, clock::now() + 30s);
    if (!started)
      return fail(p::message_of(started.error()));
    children_ = std::move(*started);
    return true;
  }

  bool start_nodes() {
    std::printf("starting %d simulated nodes in %d zones...\n", opts_.nodes, opts_.zones);
    auto t_nodes = clock::now();
    if (children_) {
      if (auto err = children_->spawn_nodes(clock::now() + 120s))
        return fail(p::message_of(err));
    } else {
      for (int32_t i = 0; i < opts_.nodes; ++i)
        c().add_node({64, int64_t{256} << 30}, {{"zone", "z" + std::to_string(i % opts_.zones)}});
    }
    if (!c().wait_registered(static_cast<size_t>(opts_.nodes),
                             std::chrono::duration_cast<caf::timespan>(120s)))
      return fail("the nodes did not register within 120 s");
    double nodes_s = ms_since(t_nodes) / 1000;
    std::this_thread::sleep_for(200ms); // let the nodes' first driver probes settle
    // The gateway has the cluster sweep each node shortly after its join; on a
    // real cluster the nodes joined long before, so let those sweeps (of an empty
    // cluster) pass rather than count them in the convergence.
    if (remote())
      std::this_thread::sleep_for(actors::join_sweep_delay + 800ms); // + the join window
    rss_nodes_ = rss_now(children_.get());
    std::printf("  %d nodes registered in %.2f s\n", opts_.nodes, nodes_s);
    return true;
  }

  bool converge() {
    std::printf("applying services of %lld replicas in total...\n",
                static_cast<long long>(replicas_));
    auto deadline = clock::now() + std::chrono::seconds{opts_.timeout_s};
    auto cpu0 = cpu_seconds();
    auto children_cpu0 = children_ ? children_->cpu_seconds() : 0;
    auto t0 = clock::now();
    auto applied = c().apply(specs(replicas_, opts_.per_service));
    if (!applied || !applied->errors.empty())
      return fail("apply failed: " + (applied ? p::to_string(applied->errors.front())
                                              : p::message_of(applied.error())));
    bool ok = wait_for(c(), children_.get(), deadline, "converging",
                       [&](const progress& x) { return x.running == replicas_; });
    converge_s_ = ms_since(t0) / 1000;
    if (!ok) {
      std::fprintf(stderr, "tutti-bench: not all replicas ran within %d s\n", opts_.timeout_s);
      show_stragglers(c());
      return false;
    }
    auto converge_cpu = cpu_seconds() - cpu0;
    auto children_cpu = children_ ? children_->cpu_seconds() - children_cpu0 : 0;
    totals_ = c().metrics().placements();
    auto exposition = c().metrics().serialize();
    commits_ = sample(exposition, "tutti_store_commit_seconds_count");
    commit_s_ = sample(exposition, "tutti_store_commit_seconds_sum");
    rss_replicas_ = rss_now(children_.get());
    print_convergence(converge_cpu, children_cpu);
    return true;
  }

  void print_convergence(double cpu, double children_cpu) {
    auto replicas = static_cast<long long>(replicas_);
    if (children_)
      std::printf("  all %lld running after %.2f s, using %.1f s of CPU here and %.1f s in the "
                  "node processes (%.0f us per replica; %.2f of the 2 cores were ours)\n",
                  replicas, converge_s_, cpu, children_cpu, (cpu + children_cpu) / replicas_ * 1e6,
                  (cpu + children_cpu) / converge_s_);
    else
      std::printf("  all %lld running after %.2f s, using %.1f s of CPU (%.0f us per replica; "
                  "%.2f of the 2 cores were ours)\n",
                  replicas, converge_s_, cpu, cpu / replicas_ * 1e6, cpu / converge_s_);
  }

  bool kill_nodes(int32_t kills) {
    for (int32_t k = 0; k < kills; ++k) {
      auto index = k * opts_.nodes / std::max(kills, 1);
      if (!children_)
        c().kill_node(index);
      else if (auto err = children_->kill_node(index))
        return fail(p::message_of(err));
      killed_.insert(co_.node_prefix + std::to_string(index)); // as sim_node_host names them
    }
    return true;
  }

  bool reconverge() {
    auto kills = static_cast<int32_t>(opts_.nodes * opts_.kill_fraction);
    std::printf("killing %d of %d nodes...\n", kills, opts_.nodes);
    // The peaks of the node processes before they lose nodes (the control
    // plane's own is read at the end, after placing the replicas again).
    children_peak_ = children_ ? children_->status_bytes("VmHWM") : 0;
    auto t1 = clock::now();
    auto cpu1 = cpu_seconds();
    if (!kill_nodes(kills))
      return false;
    // Every killed node known to be lost, every replica of it placed elsewhere,
    // and all of them running: without the first, a look taken before placement
    // heard of the kills would count as converged.
    auto deadline = clock::now() + std::chrono::seconds{opts_.timeout_s};
    bool ok = wait_for(
        c(), children_.get(), deadline, "reconverging",
        [&](const progress& x) {
          return x.running == replicas_ && lost_and_replaced(loss_of(c(), killed_), killed_);
        },
        [&] { // once a second: asking placement for 5,000 nodes is not free
          auto x = loss_of(c(), killed_);
          return "; " + std::to_string(x.lost) + "/" + std::to_string(killed_.size()) +
                 " killed nodes known lost, " + std::to_string(x.held) +
                 " replicas still to move off them";
        });
    reconverge_s_ = ms_since(t1) / 1000;
    if (!ok) {
      std::fprintf(stderr,
                   "tutti-bench: the replicas of the lost nodes did not run again within %d s\n",
                   opts_.timeout_s);
      show_stragglers(c());
      return false;
    }
    // With the CPU: wall time on a shared machine varies from run to run; what
    // the reconvergence cost (teardown of the killed nodes included) does not.
    auto moved = static_cast<double>(replicas_) * kills / std::max(opts_.nodes, 1);
    auto reconverge_cpu = cpu_seconds() - cpu1;
    std::printf("  all running again after %.2f s, using %.1f s of CPU here (~%.0f us per "
                "replica moved)\n",
                reconverge_s_, reconverge_cpu, moved > 0 ? reconverge_cpu / moved * 1e6 : 0.0);
    report_fold(c());
    return true;
  }

  void report() {
    double peak_mb = proc_status_bytes("VmHWM") / 1048576.0;
    if (children_)
      children_peak_ = std::max(children_peak_, children_->status_bytes("VmHWM"));
    double per_node = opts_.nodes > 0 ? (rss_nodes_.total() - rss_empty_.total()) / opts_.nodes : 0;
    double per_replica =
        replicas_ > 0 ? (rss_replicas_.total() - rss_nodes_.total()) / replicas_ : 0;
    double decision_us =
        totals_.decisions > 0 ? totals_.decision_seconds / totals_.decisions * 1e6 : 0;
    std::printf("placement: %.0f placed, %.0f offers refused, %.0f unschedulable; one decision "
                "takes %.2f us on average (%.0f decisions/s of placement's time)\n",
                totals_.placed, totals_.refused, totals_.unschedulable, decision_us,
                decision_us > 0 ? 1e6 / decision_us : 0);
    std::printf("store: %.0f group commits took %.2f s in all (%.2f ms each)\n", commits_,
                commit_s_, commits_ > 0 ? commit_s_ / commits_ * 1000 : 0);
    if (children_)
      report_processes(peak_mb, per_replica, per_node, decision_us);
    else
      std::printf("nodes=%d replicas=%lld converge_s=%.2f placements_per_s=%.0f "
                  "decision_us=%.2f peak_rss_mb=%.0f bytes_per_replica=%.0f bytes_per_node=%.0f "
                  "reconverge_s=%.2f store=%s\n",
                  opts_.nodes, static_cast<long long>(replicas_), converge_s_,
                  totals_.placed / converge_s_, decision_us, peak_mb, per_replica, per_node,
                  reconverge_s_, opts_.backend.empty() ? "lmdb" : opts_.backend.c_str());
    std::fflush(stdout);
  }

  void report_processes(double peak_mb, double per_replica, double per_node, double decision_us) {
    std::printf("memory: control plane peak %.0f MB, node processes' peaks %.0f MB in all; per "
                "node %.0f bytes here and %.0f in the node processes, per replica %.0f here "
                "and %.0f there\n",
                peak_mb, children_peak_ / 1048576.0,
                (rss_nodes_.self - rss_empty_.self) / std::max(opts_.nodes, 1),
                (rss_nodes_.children - rss_empty_.children) / std::max(opts_.nodes, 1),
                (rss_replicas_.self - rss_nodes_.self) / std::max<double>(replicas_, 1),
                (rss_replicas_.children - rss_nodes_.children) / std::max<double>(replicas_, 1));
    std::printf("nodes=%d replicas=%lld converge_s=%.2f placements_per_s=%.0f decision_us=%.2f "
                "peak_rss_mb=%.0f bytes_per_replica=%.0f bytes_per_node=%.0f reconverge_s=%.2f "
                "processes=%d node_processes_peak_rss_mb=%.0f\n",
                opts_.nodes, static_cast<long long>(replicas_), converge_s_,
                totals_.placed / converge_s_, decision_us, peak_mb, per_replica, per_node,
                reconverge_s_, opts_.processes, children_peak_ / 1048576.0);
    std::fflush(stdout);
    spdlog::set_level(spdlog::level::err); // their nodes are lost now, not news
    children_->stop();
  }

  static bool fail(const std::string& why) {
    std::fprintf(stderr, "tutti-bench: %s\n", why.c_str());
    return false;
  }

  const sim_options& opts_;
  const int64_t replicas_;
  scratch_dir dir_;
  simulation::sim_cluster_options co_;
  std::unique_ptr<harness::etcd_members> etcd_; // --store etcd: outlives the cluster
  std::unique_ptr<simulation::sim_cluster> cluster_;
  // Declared after the cluster: the node processes end first, also on failure.
  std::unique_ptr<node_processes> children_;
  memory rss_empty_, rss_nodes_, rss_replicas_;
  metrics::placement_totals totals_;
  double converge_s_ = 0;
  double reconverge_s_ = 0;
  double commits_ = 0;
  double commit_s_ = 0;
  double children_peak_ = 0;
  std::set<std::string> killed_;
};

int run_one(const sim_options& opts, int64_t replicas) {
  return sim_run{opts, replicas}.run();
}

std::vector<int64_t> parse_counts(const std::string& text) {
  std::vector<int64_t> out;
  std::stringstream in{text};
  std::string item;
  while (std::getline(in, item, ','))
    out.push_back(std::stoll(item));
  return out;
}

/// Several sizes: each in a process of its own (so that peak RSS is its own),
/// then their final lines side by side.
int run_several(const sim_options& opts, const std::vector<int64_t>& counts) {
  // popen runs a shell, whose /proc/self/exe is the shell: name ourselves.
  std::error_code ec;
  auto self = std::filesystem::read_symlink("/proc/self/exe", ec).string();
  if (ec)
    return std::fprintf(stderr, "tutti-bench: cannot find its own binary: %s\n",
                        ec.message().c_str()),
           1;
  std::vector<std::string> lines;
  for (auto m : counts) {
    auto cmd = self + " sim --nodes " + std::to_string(opts.nodes) + " --replicas " +
               std::to_string(m) + " --zones " + std::to_string(opts.zones) + " --timeout " +
               std::to_string(opts.timeout_s) + " --processes " + std::to_string(opts.processes) +
               " --kill-fraction " + std::to_string(opts.kill_fraction) +
               (opts.work_stealing ? " --work-stealing" : "") +
               (opts.backend.empty() ? "" : " --backend " + opts.backend);
    std::printf("== %s\n", cmd.c_str());
    std::fflush(stdout);
    auto* pipe = ::popen(cmd.c_str(), "r");
    if (pipe == nullptr)
      return 1;
    char buf[4096];
    std::string last;
    while (std::fgets(buf, sizeof(buf), pipe) != nullptr) {
      std::fputs(buf, stdout);
      last = buf;
    }
    if (::pclose(pipe) != 0)
      return std::fprintf(stderr, "tutti-bench: the run of %lld replicas failed\n",
                          static_cast<long long>(m)),
             1;
    lines.push_back(last);
  }
  std::printf("== side by side\n");
  for (auto& line : lines)
    std::fputs(line.c_str(), stdout);
  return 0;
}

int run_sim(const sim_options& opts) {
  if (opts.processes > opts.nodes) {
    std::fprintf(stderr, "tutti-bench: --processes %d: more node processes than --nodes %d\n",
                 opts.processes, opts.nodes);
    return 2;
  }
  std::vector<int64_t> counts;
  try {
    counts = parse_counts(opts.replicas);
  } catch (const std::exception&) {
    std::fprintf(stderr, "tutti-bench: --replicas: expected counts like 10000,100000, got '%s'\n",
                 opts.replicas.c_str());
    return 2;
  }
  if (counts.empty())
    return 2;
  if (opts.store == "etcd" && opts.backend.empty()) {
    // The same run on each store, each in a process of its own, side by side.
    for (const char* backend : {"lmdb", "etcd"}) {
      auto one = opts;
      one.backend = backend;
      if (run_several(one, counts) != 0)
        return 1;
    }
    return 0;
  }
  if (counts.size() > 1)
    return run_several(opts, counts);
  return run_one(opts, counts.front());
}

} // namespace

void add_sim_bench(CLI::App& app) {
  auto opts = std::make_shared<sim_options>();
  auto* cmd = app.add_subcommand(
      "sim", "a control plane and N simulated nodes (in this process, or in K others over "
             "CAF's network): time until M replicas run, placements/s, memory, and the time "
             "to run them again after 10% of the nodes die");
  cmd->add_option("--nodes", opts->nodes, "Simulated nodes (default 50)")
      ->check(CLI::Range(1, 100000));
  cmd->add_option("--replicas", opts->replicas,
                  "Replicas in total (default 2000); several, comma-separated, run one after "
                  "the other and are printed side by side");
  cmd->add_option("--processes", opts->processes,
                  "1 (default): the nodes run in this process; K > 1: in K child processes "
                  "that join this one over CAF's network on 127.0.0.1")
      ->check(CLI::Range(1, 1000));
  cmd->add_option("--zones", opts->zones, "Zone labels the nodes are spread over (default 3)")
      ->check(CLI::Range(1, 1000));
  cmd->add_option("--kill-fraction", opts->kill_fraction,
                  "Share of the nodes killed for the reconvergence figure (default 0.1)")
      ->check(CLI::Range(0.0, 0.9));
  cmd->add_option("--timeout", opts->timeout_s, "Seconds to wait for each convergence (600)");
  cmd->add_option("--per-service", opts->per_service,
                  "Replicas per service (default and most: 10000)")
      ->check(CLI::Range(1, p::max_replicas));
  cmd->add_flag("--work-stealing", opts->work_stealing,
                "CAF's work-stealing scheduler instead of the sharing one tuttid runs (measured "
                "on 2 cores: about 20% more CPU per replica, idle workers poll to steal)");
  cmd->add_option("--store", opts->store,
                  "lmdb (default), or etcd: the same run on LMDB and then on etcd (3 members "
                  "on 127.0.0.1-3, started here), printed side by side")
      ->check(CLI::IsMember({"lmdb", "etcd"}));
  cmd->add_option("--backend", opts->backend, "One run on this store (what --store runs)")
      ->check(CLI::IsMember({"lmdb", "etcd"}))
      ->group(""); // internal
  cmd->callback([opts] { std::exit(run_sim(*opts)); });
}

} // namespace tutti::bench
