#include "actors/daemon/node_daemon.hpp"

#include "actors/daemon/cluster_tls.hpp"
#include "actors/daemon/dev_daemon.hpp"
#include "actors/node/node_actor.hpp"
#include "actors/supervision/supervisor_actor.hpp"
#include "actors/runtime/system_config.hpp"
#include "metrics/catalogue.hpp"
#include "protocol/errors.hpp"
#include "protocol/versions.hpp"

#include <filesystem>
#include <caf/all.hpp>
#include <caf/io/middleman.hpp>
#include <caf/openssl/remote_actor.hpp>

#include <spdlog/spdlog.h>

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <thread>

namespace tutti::actors {

namespace {

using std::chrono::milliseconds;

constexpr milliseconds first_retry{100};
constexpr milliseconds max_retry{2000};
constexpr milliseconds probe_timeout{5000};
// A gateway answers a join at once. One that does not is ending (its process
// stands down) and never will: CAF does not fail a request whose remote
// receiver's connection closes, so waiting longer would keep the node from
// the next leader, whose services wait for it only a few seconds.
constexpr milliseconds join_timeout{2000};
// A stopping agent waits this long for the control plane to note its restart.
constexpr milliseconds announce_timeout{1000};

/// The control plane's actors a node is given when it joins.
struct granted_handles {
  caf::actor store;
  caf::actor placement;
  caf::actor discovery;
};

} // namespace

struct node_daemon::impl {
  config::daemon_config cfg;
  std::string name;
  std::unique_ptr<metrics::catalogue> metrics;
  std::unique_ptr<metrics::exposer> exposer;
  std::map<p::driver_kind, std::shared_ptr<rd::driver>> drivers;
  pinned_tls tls; // outlives sys: CAF reads these copies per connection
  system_config sys_cfg;
  std::unique_ptr<caf::actor_system> sys;
  std::thread joiner;
  std::atomic<bool> stopping{false};
  std::mutex mtx;
  std::condition_variable cv;
  bool ended = false;
  caf::error failure;
  bool gave_up = false; // joining failed for good: serve_once returns false
  size_t next_join = 0;  // the join address tried first: the one that answered last
  std::string joined;    // the control plane this node joined last

  void run();
  /// Tells placement that this agent stops to be restarted (its replicas run
  /// on and the next agent adopts them), so they are not placed elsewhere.
  void announce_restart(caf::scoped_actor& self, const granted_handles& granted);
  /// One membership: join, run the node tree until the control plane is lost or
  /// we stop. False when joining failed for good.
  bool serve_once(milliseconds& retry);
  /// The control plane's gateway: of the first join address that answers,
  /// from the one that answered last. None when none does (after a pause) or
  /// when one can never be joined (after give_up).
  std::optional<gateway_actor> reach_gateway(milliseconds& retry);
  /// The gateway at `where`; none with why in `problem` when it cannot be
  /// reached, none with give_up when it can never be joined.
  std::optional<gateway_actor> gateway_at(const config::endpoint& where, std::string& problem);
  /// What the gateway grants for the join token. None when the join failed
  /// (after a pause) or the token was refused (after give_up).
  std::optional<granted_handles> join(caf::scoped_actor& self, const gateway_actor& gateway,
                                      milliseconds& retry);
  /// Spawns the node tree (a supervisor of the node actor) for the handles granted.
  caf::actor start_node_tree(const granted_handles& granted);
  /// Blocks until the control plane or the node tree is lost, or we stop.
  void serve_until_lost(caf::scoped_actor& self, const gateway_actor& gateway,
                        const caf::actor& root, const granted_handles& granted);
  /// Warns and waits the retry delay (which doubles).
  void retry_later(const std::string& why, milliseconds& retry);
  /// Ends the daemon with `why`: retrying cannot help.
  void give_up(caf::error why);
  void end(caf::error why);
  void pause(milliseconds& retry);
};

void node_daemon::impl::end(caf::error why) {
  {
    std::lock_guard<std::mutex> guard{mtx};
    ended = true;
    failure = std::move(why);
  }
  cv.notify_all();
}

void node_daemon::impl::pause(milliseconds& retry) {
  std::unique_lock<std::mutex> guard{mtx};
  cv.wait_for(guard, retry, [this] { return stopping.load(); });
  retry = std::min(retry * 2, max_retry);
}

void node_daemon::impl::retry_later(const std::string& why, milliseconds& retry) {
  spdlog::warn("node {}: {}; retrying in {} ms", name, why, retry.count());
  pause(retry);
}

void node_daemon::impl::give_up(caf::error why) {
  spdlog::error("node {}: {}", name, p::message_of(why));
  gave_up = true;
  end(std::move(why));
}

std::optional<gateway_actor> node_daemon::impl::gateway_at(const config::endpoint& where,
                                                           std::string& problem) {
  // CAF drops a connection whose TLS handshake fails without saying why, and a
  // plain node gets no greeting at all from a TLS control plane: a trial
  // connection first tells a mismatch (for good) from an absent control plane.
  auto probe = probe_join(where, tls, probe_timeout);
  if (probe.outcome == join_probe::verdict::refused) {
    give_up(p::make_error(p::error_code::invalid_argument, probe.message));
    return std::nullopt;
  }
  auto unreachable = "cannot reach the control plane at " + where.to_string() + ": ";
  if (probe.outcome == join_probe::verdict::unreachable) {
    problem = unreachable + probe.message;
    return std::nullopt;
  }
  auto gateway = tls.enabled()
                     ? caf::openssl::remote_actor<gateway_actor>(*sys, where.host, where.port)
                     : sys->middleman().remote_actor<gateway_actor>(where.host, where.port);
  if (!gateway) {
    problem = unreachable + p::message_of(gateway.error());
    return std::nullopt;
  }
  return std::move(*gateway);
}

std::optional<gateway_actor> node_daemon::impl::reach_gateway(milliseconds& retry) {
  const auto& addresses = cfg.cluster.join;
  std::string problems;
  // Only the leading control process listens: the others stand by.
  for (size_t tried = 0; tried < addresses.size() && !stopping; ++tried) {
    auto i = (next_join + tried) % addresses.size();
    std::string problem;
    auto gateway = gateway_at(addresses[i], problem);
    if (gave_up)
      return std::nullopt;
    if (gateway) {
      next_join = i;
      joined = addresses[i].to_string();
      return gateway;
    }
    problems += (problems.empty() ? "" : "; ") + problem;
  }
  retry_later(problems, retry);
  return std::nullopt;
}

std::optional<granted_handles> node_daemon::impl::join(caf::scoped_actor& self,
                                                       const gateway_actor& gateway,
                                                       milliseconds& retry) {
  std::optional<granted_handles> granted;
  caf::error refused;
  self->request(gateway, join_timeout, p::join_atom::value, cfg.cluster.join_token,
                name, std::string{p::tuttid_version()})
      .receive(
          [&](caf::actor& store, caf::actor& placement, caf::actor& discovery) {
            granted = granted_handles{store, placement, discovery};
          },
          [&](caf::error& err) { refused = err; });
  if (granted)
    return granted;
  if (p::code_of(refused) == p::error_code::invalid_argument)
    give_up(std::move(refused));
  else
    retry_later("join failed: " + p::message_of(refused), retry);
  return std::nullopt;
}

caf::actor node_daemon::impl::start_node_tree(const granted_handles& granted) {
  node_config ncfg;
  ncfg.name = name;
  ncfg.address = cfg.node.address;
  ncfg.labels = cfg.node.labels;
  ncfg.capacity = cfg.node.capacity;
  ncfg.port_first = cfg.node.port_range_first;
  ncfg.port_last = cfg.node.port_range_last;
  ncfg.limit = {cfg.supervision.max_restarts, cfg.supervision.window};
  ncfg.upload_dir = cfg.data_dir + "/uploads";
  // Absolute: the engines take bind mounts of absolute paths only.
  ncfg.volumes = {std::filesystem::absolute(cfg.data_dir + "/volumes").string(),
                  cfg.node.host_volume_paths};
  ncfg.objects = {secrets_folder(cfg)};
  mesh_options mesh{cfg.mesh.host, cfg.mesh.connect_timeout, cfg.mesh.idle_timeout};
  node_context ctx{ncfg,
                   drivers,
                   caf::actor_cast<store_actor>(granted.store),
                   caf::actor_cast<placement_actor>(granted.placement),
                   metrics.get(),
                   caf::actor_cast<discovery_actor>(granted.discovery),
                   mesh};
  auto* s = sys.get();
  return spawn_supervisor(
      *sys, "node_supervisor", restart_strategy::one_for_one, ncfg.limit, *metrics,
      {{"node", [s, ctx] { return caf::actor_cast<caf::actor>(spawn_node(*s, ctx)); }, true}});
}

void node_daemon::impl::serve_until_lost(caf::scoped_actor& self, const gateway_actor& gateway,
                                         const caf::actor& root, const granted_handles& granted) {
  self->monitor(gateway);
  self->monitor(root);
  // The control plane restarts its store, placement and discovery on its own
  // (a crash, `tutti chaos kill`): the handles granted here die with them, and
  // joining again is how this node gets the new ones and registers anew.
  for (auto& granted_actor : {granted.store, granted.placement, granted.discovery})
    self->monitor(granted_actor);
  bool lost = false;
  while (!stopping && !lost) {
    self->receive(
        [&](caf::down_msg& msg) {
          lost = true;
          if (msg.source == root.address())
            spdlog::error("node {}: the node actor failed for good: {}", name,
                          p::message_of(msg.reason));
          else
            spdlog::warn("node {}: lost the control plane ({}); replicas keep running, joining "
                         "again",
                         name, p::message_of(msg.reason));
        },
        caf::after(milliseconds{200}) >> [] {});
  }
}

void node_daemon::impl::announce_restart(caf::scoped_actor& self,
                                         const granted_handles& granted) {
  self->request(caf::actor_cast<placement_actor>(granted.placement), announce_timeout,
                p::restart_atom::value, name)
      .receive([&](bool) { spdlog::info("node {}: the control plane keeps its replicas here "
                                        "while it restarts", name); },
               [&](caf::error& err) {
                 spdlog::warn("node {}: could not announce its restart ({}); the control "
                              "plane may place its replicas elsewhere",
                              name, p::message_of(err));
               });
}

bool node_daemon::impl::serve_once(milliseconds& retry) {
  auto gateway = reach_gateway(retry);
  if (!gateway)
    return !gave_up;
  caf::scoped_actor self{*sys};
  auto granted = join(self, *gateway, retry);
  if (!granted)
    return !gave_up;
  retry = first_retry;
  auto root = start_node_tree(*granted);
  spdlog::info("tuttid node {} ready: joined the control plane at {}", name, joined);
  serve_until_lost(self, *gateway, root, *granted);
  if (stopping && !cfg.stop_replicas_on_exit)
    announce_restart(self, *granted);
  // Ending the node tree leaves the containers alone; the next node actor adopts them.
  self->send(root, p::shutdown_atom::value);
  self->wait_for(root);
  return true;
}

void node_daemon::impl::run() {
  auto retry = first_retry;
  while (!stopping)
    if (!serve_once(retry))
      return;
  end(caf::none);
}

caf::expected<std::unique_ptr<node_daemon>> node_daemon::start(const config::daemon_config& cfg) {
  if (cfg.cluster.join_token.empty())
    return p::make_error(p::error_code::invalid_argument,
                         "a node needs the control plane's join token (--join-token or "
                         "cluster.join_token)");
  auto x = std::make_unique<impl>();
  x->cfg = cfg;
  if (cfg.cluster.tls.enabled()) { // before anything binds or spawns: a file error ends us
    auto tls = check_tls_files(cfg.cluster.tls);
    if (!tls)
      return tls.error();
    x->tls = std::move(*tls);
  }
  x->name = cfg.node.name.empty() ? host_name() : cfg.node.name;
  x->metrics = std::make_unique<metrics::catalogue>();
  try {
    x->exposer = std::make_unique<metrics::exposer>(*x->metrics, cfg.metrics.to_string());
  } catch (const std::exception& e) {
    return p::make_error(p::error_code::invalid_argument,
                         std::string{e.what()} + "; choose another --metrics address");
  }
  auto drivers = make_drivers(cfg);
  if (!drivers)
    return drivers.error();
  x->drivers = std::move(*drivers);
  x->sys_cfg.enable_network(cfg.cluster.heartbeat_interval, cfg.cluster.node_loss_timeout);
  if (x->tls.enabled()) {
    const auto& copies = x->tls.copies();
    x->sys_cfg.enable_tls(copies.certificate, copies.key, copies.ca);
  }
  x->sys = std::make_unique<caf::actor_system>(x->sys_cfg);
  auto* raw = x.get();
  x->joiner = std::thread{[raw] { raw->run(); }};
  return std::unique_ptr<node_daemon>(new node_daemon(std::move(x)));
}

node_daemon::node_daemon(std::unique_ptr<impl> x) : impl_(std::move(x)) {}

node_daemon::~node_daemon() {
  shutdown();
}

uint16_t node_daemon::metrics_port() const {
  return impl_->exposer->port();
}

caf::error node_daemon::wait() {
  std::unique_lock<std::mutex> guard{impl_->mtx};
  impl_->cv.wait(guard, [this] { return impl_->ended; });
  return impl_->failure;
}

void node_daemon::shutdown() {
  if (!impl_->sys)
    return;
  impl_->stopping = true;
  impl_->cv.notify_all();
  if (impl_->joiner.joinable())
    impl_->joiner.join();
  impl_->sys.reset();
  if (impl_->cfg.stop_replicas_on_exit)
    stop_node_replicas(impl_->drivers, impl_->name, object_places{secrets_folder(impl_->cfg)});
  impl_->drivers.clear();
  impl_->exposer.reset();
  {
    std::lock_guard<std::mutex> guard{impl_->mtx};
    impl_->ended = true;
  }
  impl_->cv.notify_all();
}

} // namespace tutti::actors
