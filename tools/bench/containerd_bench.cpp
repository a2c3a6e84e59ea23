// tutti-bench containerd: a service of N containerd replicas through tuttid;
// one replica's start against containerd's own create+start through its API
// (what the driver calls, without tutti around it); a task killed behind
// tutti's back until it runs again; and, in the same run, the same service on
// the docker driver, for the time to N running. Real containerd, real tasks.

#include "runtime-drivers/containerd/containerd_client.hpp"
#include "runtime-drivers/containerd/image_store.hpp"
#include "runtime-drivers/containerd/log_copier.hpp"
#include "runtime-drivers/containerd/oci_spec.hpp"
#include "tools/bench/bench_support.hpp"
#include "tools/bench/benches.hpp"
#include "tools/bench/docker_engine.hpp"
#include "tools/harness/containerd_instance.hpp"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <optional>
#include <thread>

namespace tutti::bench {

namespace {

namespace cd = runtime_drivers::containerd;
using clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

struct containerd_bench_options {
  int replicas = 20;
  int kills = 10;
  int singles = 10;
  std::string socket;
  std::string port_range = "43000-43999";
  std::string backoff = "10ms";
  bool docker = true;
};

const std::string idle_command =
    "[\"/bin/sh\", \"-c\", \"trap 'exit 0' TERM; while true; do sleep 0.2; done\"]";

std::string spec(const std::string& driver, int replicas, const std::string& image,
                 const std::string& archive, const std::string& backoff) {
  return "kind: Service\nname: bench\nreplicas: " + std::to_string(replicas) +
         "\ndriver: " + driver + "\nimage: " + image +
         (archive.empty() ? "" : "\nimage_archive: " + archive) + "\ncommand: " + idle_command +
         "\nrestart: {policy: always, backoff: {initial: " + backoff +
         ", max: 10s}}\nstop_grace: 2s\n";
}

/// Applies the service and returns apply -> every replica running (ms), with
/// each replica's own time in `starts`; nullopt when they do not all run.
std::optional<double> measure_up(cli::client& c, const std::string& yaml, int replicas,
                                 std::vector<double>& starts) {
  auto applied_wall = wall_ms();
  auto t0 = clock::now();
  auto applied = c.apply("bench.yaml", yaml, false);
  if (!applied || !applied->errors.empty()) {
    std::fprintf(stderr, "tutti-bench: apply failed\n");
    return std::nullopt;
  }
  std::vector<protocol::replica_status> last;
  bool up = wait_replicas(c, "bench", [&](auto& rs) {
    last = rs;
    return static_cast<int>(std::count_if(rs.begin(), rs.end(), is_running)) == replicas;
  });
  if (!up) {
    std::fprintf(stderr, "tutti-bench: the replicas did not all run within 60 s\n");
    for (auto& r : last)
      std::fprintf(stderr, "  %s: %s %s\n", r.id.c_str(), protocol::to_string(r.state).c_str(),
                   r.message.c_str());
    return std::nullopt;
  }
  double took = ms_since(t0);
  for (auto& r : last)
    starts.push_back(static_cast<double>(std::max<int64_t>(r.since_ms - applied_wall, 0)));
  std::printf("  apply -> %d running: %.1f ms (per replica p50 %.1f, p99 %.1f ms)\n", replicas,
              took, percentile(starts, 0.5), percentile(starts, 0.99));
  return took;
}

/// The logging binary tuttid gives containerd's shim: tutti-log-copier
/// beside tuttid, else tuttid itself (`tuttid containerd-log`).
std::string log_copier() {
  auto tuttid = harness::tuttid_binary();
  auto copier = tuttid.substr(0, tuttid.rfind('/') + 1) + "tutti-log-copier";
  return ::access(copier.c_str(), X_OK) == 0 ? copier : tuttid;
}

/// containerd's own create+start of one container, through the calls the
/// driver makes: container record, snapshot, task create, task start, with
/// the task's output to the same logging binary (tutti-log-copier, which the
/// shim starts with the task); and a task's kill, through the same API.
class direct_starts {
public:
  direct_starts(const harness::containerd_instance& containerd)
    : client_(containerd.socket(), containerd.name_space()),
      images_(client_, "overlayfs", std::chrono::seconds{30}), archive_(containerd.archive()),
      log_uri_(cd::log_copier_uri(log_copier(), containerd.state_dir("direct") + "/direct.log")) {}

  /// SIGKILL to task `id`, through the API (as `ctr task kill` does, without
  /// the time ctr takes to start).
  bool kill(const std::string& id) {
    cd::api::tasks::KillRequest req;
    req.set_container_id(id);
    req.set_signal(SIGKILL);
    google::protobuf::Empty empty;
    auto ctx = client_.context(10s);
    return client_.tasks().Kill(ctx.get(), req, &empty).ok();
  }

  /// The time of one start, or nullopt with the reason printed.
  std::optional<double> once(int i) {
    if (!image_) {
      auto image = images_.prepare(harness::containerd_instance::image, archive_);
      if (!image) {
        std::fprintf(stderr, "tutti-bench: %s\n", protocol::message_of(image.error()).c_str());
        return std::nullopt;
      }
      image_ = *image;
      runtime_drivers::container_spec x;
      x.name = "direct";
      x.command = {"/bin/sh", "-c", "trap 'exit 0' TERM; while true; do sleep 0.2; done"};
      cd::runtime_spec_options o;
      o.cgroups_path = "/tutti/bench-direct";
      auto json = cd::runtime_spec(x, image_->config, {}, o);
      if (!json) {
        std::fprintf(stderr, "tutti-bench: %s\n", protocol::message_of(json.error()).c_str());
        return std::nullopt;
      }
      spec_ = *json;
    }
    auto id = "bench-direct-" + std::to_string(::getpid()) + "-" + std::to_string(i);
    auto t = clock::now();
    auto failed = create_and_start(id);
    double took = ms_since(t);
    remove(id);
    if (!failed.empty()) {
      std::fprintf(stderr, "tutti-bench: containerd's own create+start failed: %s\n",
                   failed.c_str());
      return std::nullopt;
    }
    return took;
  }

private:
  /// "" when it ran, else what failed.
  std::string create_and_start(const std::string& id) {
    namespace api = cd::api;
    api::containers::CreateContainerRequest creq;
    auto* c = creq.mutable_container();
    c->set_id(id);
    c->set_image(image_->name);
    c->mutable_runtime()->set_name("io.containerd.runc.v2");
    c->mutable_spec()->set_type_url("types.containerd.io/opencontainers/runtime-spec/1/Spec");
    c->mutable_spec()->set_value(spec_);
    c->set_snapshotter("overlayfs");
    c->set_snapshot_key(id);
    api::containers::CreateContainerResponse cresp;
    api::snapshots::PrepareSnapshotRequest preq;
    preq.set_snapshotter("overlayfs");
    preq.set_key(id);
    preq.set_parent(image_->snapshot);
    api::snapshots::PrepareSnapshotResponse mounts;
    api::tasks::CreateTaskRequest treq;
    api::tasks::CreateTaskResponse tresp;
    api::tasks::StartRequest sreq;
    api::tasks::StartResponse sresp;
    auto ctx = [&] { return client_.context(30s); };
    auto c1 = ctx(), c2 = ctx(), c3 = ctx(), c4 = ctx();
    if (auto s = client_.containers().Create(c1.get(), creq, &cresp); !s.ok())
      return "container: " + s.error_message();
    if (auto s = client_.snapshots().Prepare(c2.get(), preq, &mounts); !s.ok())
      return "snapshot: " + s.error_message();
    treq.set_container_id(id);
    *treq.mutable_rootfs() = mounts.mounts();
    treq.set_stdout(log_uri_);
    treq.set_stderr(log_uri_);
    if (auto s = client_.tasks().Create(c3.get(), treq, &tresp); !s.ok())
      return "task: " + s.error_message();
    sreq.set_container_id(id);
    if (auto s = client_.tasks().Start(c4.get(), sreq, &sresp); !s.ok())
      return "start: " + s.error_message();
    return {};
  }

  void remove(const std::string& id) {
    namespace api = cd::api;
    google::protobuf::Empty empty;
    api::tasks::KillRequest kill;
    kill.set_container_id(id);
    kill.set_signal(SIGKILL);
    kill.set_all(true);
    auto k = client_.context(10s);
    (void)client_.tasks().Kill(k.get(), kill, &empty);
    api::tasks::WaitRequest wait;
    wait.set_container_id(id);
    api::tasks::WaitResponse waited;
    auto w = client_.context(10s);
    (void)client_.tasks().Wait(w.get(), wait, &waited);
    api::tasks::DeleteTaskRequest del;
    del.set_container_id(id);
    api::tasks::DeleteResponse deleted;
    auto d = client_.context(10s);
    (void)client_.tasks().Delete(d.get(), del, &deleted);
    api::containers::DeleteContainerRequest cdel;
    cdel.set_id(id);
    auto c = client_.context(10s);
    (void)client_.containers().Delete(c.get(), cdel, &empty);
    api::snapshots::RemoveSnapshotRequest sdel;
    sdel.set_snapshotter("overlayfs");
    sdel.set_key(id);
    auto s = client_.context(10s);
    (void)client_.snapshots().Remove(s.get(), sdel, &empty);
  }

  cd::containerd_client client_;
  cd::image_store images_;
  std::string archive_;
  std::string log_uri_;
  std::optional<cd::unpacked_image> image_;
  std::string spec_;
};

struct figures {
  double up_ms = 0;
  std::vector<double> starts;
  std::vector<double> heals;
  std::vector<double> singles;
  std::vector<double> direct;
};

/// Kills a replica's task `o.kills` times and times each until it runs again.
bool measure_heals(cli::client& c, direct_starts& api, const containerd_bench_options& o,
                   figures& out) {
  std::printf("tutti: killing a replica's task (SIGKILL through containerd) %d times...\n",
              o.kills);
  return bench::measure_heals(
      c, "bench", o.kills,
      [&](const protocol::replica_status& victim) { return api.kill(victim.runtime_id); },
      out.heals);
}

/// Scales up by one and back, timing the new replica against one direct
/// create+start, alternating.
bool measure_singles(cli::client& c, direct_starts& direct, const containerd_bench_options& o,
                     figures& out) {
  std::printf("tutti: one replica at a time (scale %d -> %d -> %d) against containerd's own "
              "create+start, %d times each, alternating...\n",
              o.replicas, o.replicas + 1, o.replicas, o.singles);
  auto baseline = [&](int i) { return direct.once(i).value_or(0.0); };
  // Nothing to wait for: the next direct start uses an id of its own.
  auto settle = [](const std::string&) {};
  if (!bench::measure_singles(c, "bench", o.replicas, o.singles, baseline, settle, out.singles,
                              out.direct))
    return false;
  std::printf("  scale -> the new replica running: p50 %.1f ms; containerd create+start: p50 "
              "%.1f ms\n",
              percentile(out.singles, 0.5), percentile(out.direct, 0.5));
  return true;
}

std::optional<figures> run_containerd(const containerd_bench_options& o,
                                      harness::containerd_instance& containerd) {
  auto node = containerd.node_name("bench");
  daemon_process daemon{o.port_range,
                        {"--containerd-socket", containerd.socket(), "--containerd-namespace",
                         containerd.name_space(), "--node-name", node, "--no-docker"}};
  auto c = connect_client(daemon);
  if (!c) {
    std::fprintf(stderr, "tutti-bench: tuttid did not answer at %s\n", daemon.api().c_str());
    return std::nullopt;
  }
  // The image is imported and unpacked once, before anything is timed, as
  // docker's image is present before its bench.
  direct_starts direct{containerd};
  if (!direct.once(1000))
    return std::nullopt;
  figures out;
  std::printf("tutti: applying a service of %d containerd replicas...\n", o.replicas);
  auto up = measure_up(*c,
                       spec("containerd", o.replicas, harness::containerd_instance::image,
                            containerd.archive(), o.backoff),
                       o.replicas, out.starts);
  if (!up)
    return std::nullopt;
  out.up_ms = *up;
  if (!measure_heals(*c, direct, o, out) || !measure_singles(*c, direct, o, out))
    return std::nullopt;
  c->delete_service("bench");
  return out;
}

/// The same service on the docker driver: apply -> N running (ms).
std::optional<double> run_docker(const containerd_bench_options& o) {
  if (!o.docker) {
    std::printf("docker: skipped (--no-docker)\n");
    return std::nullopt;
  }
  std::unique_ptr<docker_engine> engine;
  try {
    engine = std::make_unique<docker_engine>();
  } catch (const std::exception& e) {
    std::printf("docker: skipped (%s)\n", e.what());
    return std::nullopt;
  }
  auto node = "bench-" + std::to_string(::getpid());
  struct remove_on_exit {
    const docker_engine& engine;
    std::string label;
    ~remove_on_exit() { engine.remove_all(label); }
  } cleanup{*engine, "tutti.node=" + node};
  daemon_process daemon{
      o.port_range, {"--docker-socket", engine->socket(), "--node-name", node, "--no-containerd"}};
  auto c = connect_client(daemon);
  if (!c)
    return std::nullopt;
  std::printf("docker driver (%s engine): applying a service of %d docker replicas...\n",
              engine->is_private() ? "a private" : "the host's", o.replicas);
  std::vector<double> starts;
  auto up = measure_up(*c, spec("docker", o.replicas, docker_engine::image, {}, o.backoff),
                       o.replicas, starts);
  c->delete_service("bench");
  auto gone = clock::now() + 30s;
  while (!engine->containers("tutti.node=" + node).empty() && clock::now() < gone)
    std::this_thread::sleep_for(20ms);
  return up;
}

int run_containerd_bench(const containerd_bench_options& o) {
  std::string why;
  bool unavailable = false;
  auto containerd = o.socket.empty() ? harness::containerd_instance::start(why, unavailable)
                                     : harness::containerd_instance::attach(o.socket, why);
  if (!containerd) {
    std::fprintf(stderr, "tutti-bench: no containerd: %s\n", why.c_str());
    return 1;
  }
  std::printf("containerd: %s at %s, namespace %s\n",
              o.socket.empty() ? "a private containerd" : "the given containerd",
              containerd->socket().c_str(), containerd->name_space().c_str());
  auto tutti = run_containerd(o, *containerd);
  if (!tutti)
    return 1;
  auto docker = run_docker(o);
  double start = percentile(tutti->singles, 0.5);
  double own = percentile(tutti->direct, 0.5);
  std::printf("replicas=%d tutti_up_ms=%.1f docker_up_ms=%s start_p50_ms=%.1f "
              "containerd_start_p50_ms=%.1f ratio=%.2f heal_p50_ms=%.1f\n",
              o.replicas, tutti->up_ms,
              docker ? std::to_string(static_cast<long long>(*docker)).c_str() : "NA", start, own,
              own > 0 ? start / own : 0.0, percentile(tutti->heals, 0.5));
  return 0;
}

} // namespace

void add_containerd_bench(CLI::App& app) {
  auto opts = std::make_shared<containerd_bench_options>();
  auto* cmd = app.add_subcommand(
      "containerd",
      "tuttid dev with the containerd driver: apply -> N running, one start against "
      "containerd's own create+start, a task killed -> running again; the docker driver's "
      "apply -> N running in the same run");
  cmd->add_option("--replicas", opts->replicas, "Replicas of the service (default 20)")
      ->check(CLI::Range(1, 500));
  cmd->add_option("--kills", opts->kills, "How many tasks to kill (default 10)")
      ->check(CLI::Range(0, 1000));
  cmd->add_option("--singles", opts->singles,
                  "How many single starts each side measures (default 10)")
      ->check(CLI::Range(1, 1000));
  cmd->add_option("--socket", opts->socket,
                  "A containerd's socket to use (default: a private containerd started here)");
  cmd->add_option(
      "--backoff", opts->backoff,
      "restart.backoff.initial of the service (default 10ms; the heal time includes it)");
  cmd->add_option("--port-range", opts->port_range, "Host ports for tuttid (default 43000-43999)");
  cmd->add_flag("--no-docker{false}", opts->docker, "Skip the docker driver's comparison");
  cmd->callback([opts] { std::exit(run_containerd_bench(*opts)); });
}

} // namespace tutti::bench
