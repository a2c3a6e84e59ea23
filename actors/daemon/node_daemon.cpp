#include "actors/daemon/node_daemon.hpp"

#include "actors/daemon/cluster_tls.hpp"
#include "actors/daemon/dev_daemon.hpp"
#include "actors/node/node_actor.hpp"
#include "actors/supervision/supervisor_actor.hpp"
#include "actors/runtime/system_config.hpp"
#include "metrics/catalogue.hpp"
#include "protocol/errors.hpp"

#include <caf/all.hpp>
#include <caf/io/middleman.hpp>
#include <caf/openssl/remote_actor.hpp>

#include <spdlog/spdlog.h>

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <thread>

namespace tutti::actors {

namespace {

using std::chrono::milliseconds;

constexpr milliseconds first_retry{100};
constexpr milliseconds max_retry{2000};
constexpr milliseconds probe_timeout{5000};

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

  void run();
  /// One membership: join, run the node tree until the control plane is lost or
  /// we stop. False when joining failed for good.
  bool serve_once(milliseconds& retry);
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

bool node_daemon::impl::serve_once(milliseconds& retry) {
  const auto& where = cfg.cluster.join;
  // CAF drops a connection whose TLS handshake fails without saying why, and a
  // plain node gets no greeting at all from a TLS control plane: a trial
  // connection first tells a mismatch (for good) from an absent control plane.
  auto probe = probe_join(where, tls, probe_timeout);
  if (probe.outcome == join_probe::verdict::refused) {
    spdlog::error("node {}: {}", name, probe.message);
    end(p::make_error(p::error_code::invalid_argument, probe.message));
    return false;
  }
  if (probe.outcome == join_probe::verdict::unreachable) {
    spdlog::warn("node {}: cannot reach the control plane at {}: {}; retrying in {} ms", name,
                 where.to_string(), probe.message, retry.count());
    pause(retry);
    return true;
  }
  auto gateway = tls.enabled()
                     ? caf::openssl::remote_actor<gateway_actor>(*sys, where.host, where.port)
                     : sys->middleman().remote_actor<gateway_actor>(where.host, where.port);
  if (!gateway) {
    spdlog::warn("node {}: cannot reach the control plane at {}: {}; retrying in {} ms", name,
                 where.to_string(), p::message_of(gateway.error()), retry.count());
    pause(retry);
    return true;
  }
  caf::scoped_actor self{*sys};
  std::optional<std::tuple<caf::actor, caf::actor, caf::actor>> granted;
  caf::error refused;
  self->request(*gateway, std::chrono::seconds{10}, p::join_atom::value, cfg.cluster.join_token,
                name)
      .receive([&](caf::actor& store, caf::actor& placement,
                   caf::actor& discovery) { granted.emplace(store, placement, discovery); },
               [&](caf::error& err) { refused = err; });
  if (!granted) {
    if (p::code_of(refused) == p::error_code::invalid_argument) {
      spdlog::error("node {}: {}", name, p::message_of(refused));
      end(refused);
      return false;
    }
    spdlog::warn("node {}: join failed: {}; retrying in {} ms", name, p::message_of(refused),
                 retry.count());
    pause(retry);
    return true;
  }
  retry = first_retry;
  node_config ncfg;
  ncfg.name = name;
  ncfg.address = cfg.node.address;
  ncfg.labels = cfg.node.labels;
  ncfg.capacity = cfg.node.capacity;
  ncfg.port_first = cfg.node.port_range_first;
  ncfg.port_last = cfg.node.port_range_last;
  ncfg.limit = {cfg.supervision.max_restarts, cfg.supervision.window};
  mesh_options mesh{cfg.mesh.host, cfg.mesh.connect_timeout, cfg.mesh.idle_timeout};
  node_context ctx{ncfg,
                   drivers,
                   caf::actor_cast<store_actor>(std::get<0>(*granted)),
                   caf::actor_cast<placement_actor>(std::get<1>(*granted)),
                   metrics.get(),
                   caf::actor_cast<discovery_actor>(std::get<2>(*granted)),
                   mesh};
  auto* s = sys.get();
  auto root = spawn_supervisor(
      *sys, "node_supervisor", restart_strategy::one_for_one, ncfg.limit, *metrics,
      {{"node", [s, ctx] { return caf::actor_cast<caf::actor>(spawn_node(*s, ctx)); }, true}});
  spdlog::info("tuttid node {} ready: joined the control plane at {}", name, where.to_string());
  self->monitor(*gateway);
  self->monitor(root);
  // The control plane restarts its store, placement and discovery on its own
  // (a crash, `tutti chaos kill`): the handles granted here die with them, and
  // joining again is how this node gets the new ones and registers anew.
  for (auto& granted_actor : {std::get<0>(*granted), std::get<1>(*granted), std::get<2>(*granted)})
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
    stop_node_replicas(impl_->drivers, impl_->name);
  impl_->drivers.clear();
  impl_->exposer.reset();
  {
    std::lock_guard<std::mutex> guard{impl_->mtx};
    impl_->ended = true;
  }
  impl_->cv.notify_all();
}

} // namespace tutti::actors
