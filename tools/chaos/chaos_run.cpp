#include "tools/chaos/chaos_run.hpp"

#include "tools/chaos/own_cluster.hpp"
#include "tools/chaos/replica_audit.hpp"
#include "tools/harness/daemon_process.hpp"
#include "tools/harness/link_cut.hpp"
#include "tools/tutti/client.hpp"

#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <set>
#include <thread>

namespace tutti::chaos {

namespace {

using clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

/// Set by SIGINT/SIGTERM: the round stops early but still heals, restarts and
/// cleans up what it started.
std::atomic<bool> interrupted{false};

extern "C" void on_signal(int) {
  interrupted = true;
}

double seconds_since(clock::time_point t) {
  return std::chrono::duration<double>(clock::now() - t).count();
}

/// The admin token of the clusters it starts; a cluster given by --cluster:
/// the credentials of the environment, as `tutti` reads them.
cli::credentials credentials_for(bool own) {
  if (own)
    return cli::credentials{harness::admin_token(), {}, {}, {}, {}};
  auto from_env = cli::credentials::from_environment();
  return from_env ? *from_env : cli::credentials{};
}

/// A client of the control plane (of its leader, of several) that connects
/// again after it went away or stood down.
class api_link {
public:
  api_link(std::vector<std::string> apis, cli::credentials creds)
    : apis_(std::move(apis)), creds_(std::move(creds)) {}

  cli::client* get() {
    if (!client_) {
      auto c = cli::client::connect_any(apis_, 3s, creds_);
      if (c)
        client_ = std::move(*c);
    }
    return client_.get();
  }

  /// After a failed call: a lost connection, or one to a control process
  /// that does not lead (any more), is made again on the next get().
  void failed(const cli::client_error& e) {
    if (e.code == cli::client_code::disconnected || e.code == cli::client_code::unreachable ||
        e.code == cli::client_code::timeout || e.code == protocol::error_code::timeout ||
        e.code == protocol::error_code::not_leader || e.code == protocol::error_code::unavailable)
      client_.reset();
  }

  /// The index of the control process that says it leads; -1 when none
  /// does. (Its client goes first: a thread runs one KJ event loop at a time.)
  int leader() {
    client_.reset();
    for (size_t i = 0; i < apis_.size(); ++i) {
      auto c = cli::client::connect(apis_[i], 1s, creds_);
      auto v = c ? (*c)->version() : cli::result<cli::server_version>{c.error()};
      if (v && v->role.role != protocol::control_role::standby)
        return static_cast<int>(i);
    }
    return -1;
  }

private:
  std::vector<std::string> apis_;
  cli::credentials creds_;
  std::unique_ptr<cli::client> client_;
};

std::string service_name(int i) {
  return "chaos-" + std::to_string(i);
}

std::string spec(const std::string& run, const std::string& name, int replicas) {
  return "kind: Service\nname: " + name + "\nreplicas: " + std::to_string(replicas) +
         "\ndriver: process\ncommand: [\"/bin/busybox\", \"sleep\", \"3600\"]\n"
         "env: {CHAOS_RUN: \"" +
         run + "\", CHAOS_SERVICE: \"" + name + "\"}\nstop_grace: 1s\n";
}

/// What the client was told was stored, and what may have been stored without
/// an answer (the call broke).
struct acknowledged {
  int64_t revision = 0;
  int replicas = -1;
  std::set<int> uncertain; // replicas of unanswered applies after the last answer
};

class round {
public:
  round(const chaos_options& opts, std::unique_ptr<own_cluster> own)
    : opts_(opts), own_(std::move(own)),
      api_(own_ ? own_->apis() : std::vector<std::string>{opts.cluster}, credentials_for(own_ != nullptr)),
      rng_(opts.seed), run_(std::to_string(::getpid()) + "-" + std::to_string(opts.seed)) {}

  int run();

private:
  void log(const std::string& what) {
    std::printf("[%6.1fs] %s\n", seconds_since(start_), what.c_str());
    std::fflush(stdout);
  }
  int pick(int n) { return std::uniform_int_distribution<int>(0, n - 1)(rng_); }
  clock::duration between(double lo_s, double hi_s) {
    auto s = std::uniform_real_distribution<double>(lo_s, hi_s)(rng_);
    return std::chrono::duration_cast<clock::duration>(std::chrono::duration<double>(s));
  }
  static std::string in_ms(clock::duration d) {
    return std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(d).count()) +
           " ms";
  }
  void later(clock::duration after, std::function<void()> f) {
    pending_.emplace(clock::now() + after, std::move(f));
  }
  void run_due(bool all);
  /// Restarts control processes that ended by themselves.
  void supervise();

  bool join_wait();
  void apply_some();
  void act();
  bool kill_actor();
  bool kill_replica();
  /// A random node agent that runs and is not cut off; -1 when there is none.
  int undisturbed_node();
  bool kill_node();
  bool kill_control();
  bool cut_link();
  // With --ha: faults of the leader and of etcd.
  /// The leading control process, up and not disturbed; -1 when none is.
  int undisturbed_leader();
  bool freeze_leader();
  bool cut_leader_from_etcd();
  bool kill_etcd_member();

  struct verdict {
    int lost = 0;
    int duplicates = 0;
    bool converged = false;
    double converge_s = 0;
  };
  verdict converge();
  bool check(verdict& v, bool final);
  int clean_up();

  const chaos_options& opts_;
  std::unique_ptr<own_cluster> own_;
  api_link api_;
  // Asked once: each probe runs iptables (and forks a process).
  bool can_cut_links_ = opts_.cut && harness::can_cut_links();
  bool can_cut_processes_ = opts_.cut && own_ && own_->etcd() && harness::can_cut_processes();
  std::mt19937_64 rng_;
  std::string run_;
  clock::time_point start_ = clock::now();
  std::multimap<clock::time_point, std::function<void()>> pending_;
  std::map<std::string, acknowledged> acked_;
  int actions_ = 0;
  int acknowledged_ = 0;
};

void round::supervise() {
  if (!own_)
    return;
  for (const auto& which : own_->restart_ended_controls())
    log(which + " ended by itself; restarted it, as its supervisor would");
}

void round::run_due(bool all) {
  while (!pending_.empty() && (all || pending_.begin()->first <= clock::now())) {
    auto f = std::move(pending_.begin()->second);
    pending_.erase(pending_.begin());
    f();
  }
}

bool round::join_wait() {
  auto deadline = clock::now() + 30s;
  while (clock::now() < deadline) {
    if (auto* c = api_.get()) {
      auto nodes = c->get_nodes();
      if (!nodes)
        api_.failed(nodes.error());
      int ready = 0;
      for (auto& n : nodes ? *nodes : std::vector<protocol::node_status>{})
        ready += n.state == protocol::node_state::ready ? 1 : 0;
      if (ready >= (own_ ? own_->nodes() : 1))
        return true;
    }
    std::this_thread::sleep_for(50ms); // -- allowed: polling the cluster with a deadline
  }
  return false;
}

void round::apply_some() {
  auto name = service_name(pick(opts_.services));
  int replicas = 1 + pick(4);
  auto* c = api_.get();
  if (c == nullptr)
    return;
  auto r = c->apply(name + ".yaml", spec(run_, name, replicas), false);
  auto& ack = acked_[name];
  if (r && r->errors.empty() && !r->changes.empty()) {
    ack.revision = r->changes.front().revision;
    ack.replicas = replicas;
    ack.uncertain.clear();
    ++acknowledged_;
    return;
  }
  if (r) {
    log("apply of " + name + " refused: " + protocol::to_string(r->errors.front()));
    return;
  }
  api_.failed(r.error());
  if (r.error().code != cli::client_code::unreachable)
    ack.uncertain.insert(replicas); // it may have been committed before the answer was lost
}

bool round::kill_actor() {
  auto* c = api_.get();
  if (c == nullptr)
    return false;
  auto tree = c->tree();
  if (!tree)
    return api_.failed(tree.error()), false;
  std::vector<std::string> paths;
  for (auto& x : *tree)
    if (x.path != "/" && x.state == protocol::actor_state::running)
      paths.push_back(x.path);
  if (paths.empty())
    return false;
  auto path = paths[pick(static_cast<int>(paths.size()))];
  auto killed = c->kill_actor(path, "kill");
  if (!killed) {
    api_.failed(killed.error());
    log("kill actor " + path + " failed: " + killed.error().message);
    return false;
  }
  log("killed actor " + path);
  return true;
}

bool round::kill_replica() {
  auto* c = api_.get();
  if (c == nullptr)
    return false;
  auto replicas = c->get_replicas("");
  if (!replicas)
    return api_.failed(replicas.error()), false;
  std::vector<protocol::replica_status> running;
  for (auto& r : *replicas)
    if (r.state == protocol::replica_state::running && r.pid > 0)
      running.push_back(r);
  if (running.empty())
    return false;
  auto& victim = running[pick(static_cast<int>(running.size()))];
  if (::kill(static_cast<pid_t>(victim.pid), SIGKILL) != 0)
    return false;
  log("kill -9 replica " + victim.id + " (pid " + std::to_string(victim.pid) + ") on " +
      victim.node);
  return true;
}

int round::undisturbed_node() {
  std::vector<int> up;
  for (int i = 0; i < own_->nodes(); ++i)
    if (own_->node_up(i) && !own_->node_cut(i))
      up.push_back(i);
  return up.empty() ? -1 : up[pick(static_cast<int>(up.size()))];
}

bool round::kill_node() {
  auto i = undisturbed_node();
  if (i < 0)
    return false;
  own_->kill_node(i);
  auto back = between(1, 3);
  log("kill -9 node agent " + own_cluster::node_name(i) + ", restarting it in " + in_ms(back));
  later(back, [this, i] {
    own_->restart_node(i);
    log("restarted node agent " + own_cluster::node_name(i));
  });
  return true;
}

int round::undisturbed_leader() {
  auto i = api_.leader();
  return i >= 0 && own_->control_up(i) && !own_->control_cut(i) ? i : -1;
}

/// The only control process, or the leader of several.
bool round::kill_control() {
  auto i = undisturbed_leader(); // a lone control process says it is single: not a standby
  if (i < 0)
    return false;
  own_->kill_control(i);
  auto back = between(0.5, 2);
  auto which = own_->controls() == 1 ? std::string{"control plane"}
                                     : "leader (control " + std::to_string(i + 1) + ")";
  log("kill -9 " + which + ", restarting it in " + in_ms(back));
  later(back, [this, i, which] {
    own_->restart_control(i);
    log("restarted " + which);
  });
  return true;
}

bool round::freeze_leader() {
  auto i = undisturbed_leader();
  if (i < 0)
    return false;
  own_->freeze_control(i);
  auto thaw = between(1, 4);
  log("SIGSTOP the leader (control " + std::to_string(i + 1) + "), SIGCONT in " + in_ms(thaw));
  later(thaw, [this, i] {
    own_->thaw_control(i);
    log("SIGCONT control " + std::to_string(i + 1));
  });
  return true;
}

bool round::cut_leader_from_etcd() {
  auto i = undisturbed_leader();
  if (i < 0 || !own_->cut_control(i))
    return false;
  auto heal = between(2, 5);
  log("cut the leader (control " + std::to_string(i + 1) + ") from etcd, healing it in " +
      in_ms(heal));
  later(heal, [this, i] {
    own_->heal_control(i);
    log("healed control " + std::to_string(i + 1) + "'s link to etcd");
  });
  return true;
}

bool round::kill_etcd_member() {
  auto* etcd = own_->etcd();
  for (size_t m = 0; m < etcd->size(); ++m)
    if (!etcd->up(m))
      return false; // one at a time: etcd keeps its majority
  auto m = static_cast<size_t>(pick(static_cast<int>(etcd->size())));
  etcd->kill(m);
  auto back = between(2, 5);
  log("kill -9 etcd member m" + std::to_string(m) + ", restarting it in " + in_ms(back));
  later(back, [this, etcd, m] {
    etcd->restart(m);
    log("restarted etcd member m" + std::to_string(m));
  });
  return true;
}

bool round::cut_link() {
  auto i = undisturbed_node();
  if (i < 0)
    return false;
  if (!own_->cut_node(i))
    return false; // not connected right now (rejoining)
  auto heal = between(1, 4);
  log("cut the link of " + own_cluster::node_name(i) + ", healing it in " + in_ms(heal));
  later(heal, [this, i] {
    own_->heal_node(i);
    log("healed the link of " + own_cluster::node_name(i));
  });
  return true;
}

void round::act() {
  // Weights: actors and replicas most often; whole processes and links less,
  // each of those takes seconds to come back.
  struct kind {
    int weight;
    bool (round::*f)();
  };
  std::vector<kind> kinds{{30, &round::kill_actor}, {25, &round::kill_replica}};
  if (own_) {
    kinds.push_back({15, &round::kill_node});
    kinds.push_back({8, &round::kill_control});
    if (can_cut_links_)
      kinds.push_back({15, &round::cut_link});
    if (own_->etcd()) {
      kinds.push_back({6, &round::freeze_leader});
      kinds.push_back({6, &round::kill_etcd_member});
      if (can_cut_processes_)
        kinds.push_back({6, &round::cut_leader_from_etcd});
    }
  }
  int total = 0;
  for (auto& k : kinds)
    total += k.weight;
  int x = pick(total);
  for (auto& k : kinds) {
    if (x < k.weight) {
      actions_ += (this->*k.f)() ? 1 : 0;
      return;
    }
    x -= k.weight;
  }
}

/// One look at the cluster: true when every service has its acknowledged spec
/// and exactly the desired replicas run, each in one process.
bool round::check(verdict& v, bool final) {
  auto* c = api_.get();
  if (c == nullptr)
    return false;
  auto services = c->get_services();
  if (!services)
    return api_.failed(services.error()), false;
  auto replicas = c->get_replicas("");
  if (!replicas)
    return api_.failed(replicas.error()), false;
  auto live = live_replicas(run_);
  std::map<std::string, protocol::service_status> stored;
  for (auto& s : *services)
    stored[s.name] = s;
  std::map<std::string, int> running;
  for (auto& r : *replicas)
    running[r.service] += r.state == protocol::replica_state::running ? 1 : 0;
  bool ok = true;
  v.lost = 0;
  v.duplicates = 0;
  for (auto& [name, ack] : acked_) {
    if (ack.replicas < 0 && ack.uncertain.empty())
      continue; // never applied
    auto s = stored.find(name);
    bool spec_kept = s != stored.end() && s->second.revision >= ack.revision &&
                     (s->second.desired == ack.replicas || ack.uncertain.count(s->second.desired));
    if (ack.replicas < 0 && s == stored.end())
      spec_kept = true; // only unanswered applies, none of them committed
    int desired = s == stored.end() ? 0 : s->second.desired;
    int processes = static_cast<int>(live[name].size());
    if (!spec_kept) {
      ++v.lost;
      if (final)
        log("LOST: " + name + " revision " + std::to_string(ack.revision) + " with " +
            std::to_string(ack.replicas) + " replicas was acknowledged; stored is " +
            (s == stored.end() ? std::string{"nothing"}
                               : "revision " + std::to_string(s->second.revision) + " with " +
                                     std::to_string(s->second.desired)));
    }
    if (processes > desired)
      v.duplicates += processes - desired;
    if (processes < desired)
      v.lost += final ? desired - processes : 0;
    bool converged = running[name] == desired && processes == desired;
    if (final && !converged)
      log(name + ": desired " + std::to_string(desired) + ", running " +
          std::to_string(running[name]) + ", processes " + std::to_string(processes));
    ok = ok && spec_kept && converged;
  }
  return ok;
}

round::verdict round::converge() {
  verdict v;
  auto since = clock::now();
  auto deadline = since + std::chrono::duration_cast<clock::duration>(
                              std::chrono::duration<double>(opts_.converge_s));
  int stable = 0;
  while (clock::now() < deadline && !interrupted) {
    supervise();
    // Converged twice in a row, 200 ms apart: a late duplicate would show.
    stable = check(v, false) ? stable + 1 : 0;
    if (stable == 2) {
      v.converged = true;
      v.converge_s = seconds_since(since);
      return v;
    }
    std::this_thread::sleep_for(200ms); // -- allowed: polling convergence with a deadline
  }
  check(v, true);
  v.converge_s = seconds_since(since);
  return v;
}

/// Deletes the services, stops our cluster; returns what was left behind.
int round::clean_up() {
  if (auto* c = api_.get())
    for (auto& [name, ack] : acked_)
      c->delete_service(name);
  auto deadline = clock::now() + 20s;
  while (clock::now() < deadline && !live_replicas(run_).empty())
    std::this_thread::sleep_for(100ms); // -- allowed: waiting for deletes with a deadline
  int rules = 0;
  if (own_) {
    own_->stop();
    rules = own_->leftover_rules();
  }
  int leaked = kill_leftovers(run_);
  if (leaked > 0)
    log(std::to_string(leaked) + " replica process(es) outlived their deleted services");
  if (rules > 0)
    log(std::to_string(rules) + " iptables rule(s) left over");
  return leaked + rules;
}

int round::run() {
  if (!join_wait()) {
    std::fprintf(stderr, "tutti-chaos: the cluster at %s did not answer with ready nodes within "
                         "30 s; check that tuttid runs (TUTTI_KEEP=1 keeps its logs)\n",
                 own_ ? own_->apis().front().c_str() : opts_.cluster.c_str());
    return 1;
  }
  for (int i = 0; i < opts_.services; ++i) {
    auto name = service_name(i);
    acked_[name];
  }
  log("cluster ready; chaos for " + std::to_string(opts_.duration_s) + " s with seed " +
      std::to_string(opts_.seed));
  start_ = clock::now();
  auto end = start_ + std::chrono::duration_cast<clock::duration>(
                          std::chrono::duration<double>(opts_.duration_s));
  auto next_action = clock::now() + between(0.3, 0.9);
  while (clock::now() < end && !interrupted) {
    supervise();
    run_due(false);
    apply_some();
    if (clock::now() >= next_action) {
      act();
      next_action = clock::now() + between(0.3, 0.9);
    }
    std::this_thread::sleep_for(150ms); // -- allowed: the client's pace
  }
  run_due(true); // heal every link, restart every process
  log("chaos over; waiting for convergence");
  auto v = converge();
  auto leaked = clean_up();
  std::printf("%d actions, %d acknowledged specs, lost: %d, duplicates: %d, leaked: %d, %s in "
              "%.1f s\n",
              actions_, acknowledged_, v.lost, v.duplicates, leaked,
              v.converged ? "converged" : "NOT converged", v.converge_s);
  std::printf("actions=%d acknowledged=%d lost=%d duplicates=%d leaked=%d converge_s=%.2f\n",
              actions_, acknowledged_, v.lost, v.duplicates, leaked, v.converge_s);
  if (interrupted)
    return std::fprintf(stderr, "tutti-chaos: interrupted; cleaned up\n"), 130;
  return v.converged && v.lost == 0 && v.duplicates == 0 && leaked == 0 ? 0 : 1;
}

} // namespace

int run_chaos(const chaos_options& opts) {
  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);
  std::unique_ptr<own_cluster> own;
  if (opts.cluster.empty()) {
    try {
      own = std::make_unique<own_cluster>(opts.nodes, opts.ha);
    } catch (const std::exception& e) {
      std::fprintf(stderr, "tutti-chaos: cannot start the cluster: %s\n", e.what());
      return 1;
    }
  }
  round r{opts, std::move(own)};
  return r.run();
}

} // namespace tutti::chaos
