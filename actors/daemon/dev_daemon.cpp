#include "actors/daemon/dev_daemon.hpp"

#include "actors/supervision/admin_actor.hpp"
#include "actors/api/api_server.hpp"
#include "actors/daemon/api_access.hpp"
#include "actors/cluster/cluster_actor.hpp"
#include "actors/daemon/cluster_tls.hpp"
#include "actors/mesh/discovery_actor.hpp"
#include "actors/cluster/gateway_actor.hpp"
#include "actors/node/node_actor.hpp"
#include "actors/placement/placement_actor.hpp"
#include "actors/store/store_actor.hpp"
#include "actors/supervision/supervisor_actor.hpp"
#include "actors/runtime/system_config.hpp"
#include "metrics/catalogue.hpp"
#include "actors/daemon/controllers_actor.hpp"
#include "actors/daemon/store_setup.hpp"
#include "protocol/errors.hpp"
#include "protocol/type_ids.hpp"
#include "runtime-drivers/factory.hpp"

#include <filesystem>
#include <caf/all.hpp>
#include <caf/io/middleman.hpp>
#include <caf/openssl/manager.hpp>
#include <caf/openssl/publish.hpp>

#include <spdlog/spdlog.h>

#include <condition_variable>
#include <mutex>
#include <thread>
#include <unistd.h>

#include <cstdio>

namespace tutti::actors {

namespace {

/// Handles of the root's children, refreshed as each is (re)started in order.
struct directory {
  store_actor store;
  placement_actor placement;
  discovery_actor discovery;
  node_actor node;
};

} // namespace

namespace {

/// What containerd's shims run to copy task output: tutti-log-copier beside
/// this program, else this program itself (`tuttid containerd-log`, slower to
/// start).
std::string log_copier_path() {
  char path[4096];
  auto n = ::readlink("/proc/self/exe", path, sizeof path - 1);
  if (n <= 0)
    return {};
  std::string self(path, static_cast<size_t>(n));
  auto copier = self.substr(0, self.rfind('/') + 1) + "tutti-log-copier";
  return ::access(copier.c_str(), X_OK) == 0 ? copier : self;
}

} // namespace

std::string host_name() {
  char buf[256] = {};
  if (::gethostname(buf, sizeof(buf) - 1) != 0 || buf[0] == '\0')
    return "local";
  std::string out;
  for (char c : std::string{buf})
    out += std::isalnum(static_cast<unsigned char>(c)) ? static_cast<char>(std::tolower(c)) : '-';
  return out;
}

std::string secrets_folder(const config::daemon_config& cfg) {
  if (!cfg.node.secrets_dir.empty())
    return cfg.node.secrets_dir;
  auto data = std::filesystem::absolute(cfg.data_dir).lexically_normal().string();
  uint64_t h = 1469598103934665603ull; // FNV-1a: the same folder for the same data directory
  for (unsigned char c : data)
    h = (h ^ c) * 1099511628211ull;
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(h));
  return "/dev/shm/tutti-" + std::to_string(::getuid()) + "-" + buf;
}

namespace {

/// Stops accepting nodes on `port`. (caf/openssl/unpublish.hpp of this CAF
/// sends its manager a message it does not take: the manager is asked here
/// the way the middleman asks its own.)
caf::expected<void> close_listener(caf::actor_system& sys, const gateway_actor& gateway,
                                   uint16_t port, bool tls) {
  if (!tls)
    return sys.middleman().unpublish(gateway, port);
  auto f = caf::make_function_view(sys.openssl_manager().actor_handle());
  return f(caf::unpublish_atom::value, gateway.address(), port);
}

} // namespace

struct dev_daemon::impl {
  config::daemon_config cfg;
  daemon_mode mode = daemon_mode::dev;
  std::shared_ptr<persistence::store> db;
  std::shared_ptr<persistence::etcd::client> etcd; // null for LMDB
  std::shared_ptr<metrics::catalogue> metrics;
  std::unique_ptr<metrics::exposer> exposer;
  std::map<p::driver_kind, std::shared_ptr<rd::driver>> drivers;
  pinned_tls tls; // outlives sys: CAF reads these copies per connection
  system_config sys_cfg;
  std::unique_ptr<caf::actor_system> sys;
  std::unique_ptr<api_server> api;
  caf::actor root;
  gateway_actor gateway;
  supervising_actor admin;       // outside the tree: it only reads it, and kills on request
  controllers_actor controllers; // outside the tree: it only reads etcd
  ports bound;
  std::optional<access::secret_box> secrets; // seals Secret objects; none: they are refused
  std::mutex mtx;
  std::condition_variable cv;
  bool ended = false;
  caf::error failure;
  std::vector<caf::actor_id> store_ids; // every store actor spawned (restarts make new ones)
  size_t detached_of_caf = 0;           // CAF's own detached actors, there before ours

  caf::error open_store(std::optional<persistence::write_fence> fence);
  void release_store_actors();
  void await_detached_actors();
  caf::error make_drivers();
  void start_tree();
  void stop_replicas();
};

caf::error dev_daemon::impl::open_store(std::optional<persistence::write_fence> fence) {
  auto opened = open_configured_store(cfg, std::move(fence));
  if (!opened)
    return opened.error();
  db = std::move(opened->store);
  etcd = std::move(opened->etcd);
  return {};
}

api_server::options api_options(const config::daemon_config& cfg) {
  api_server::options opts;
  opts.host = cfg.api.host;
  opts.port = cfg.api.port;
  opts.node_name = cfg.node.name.empty() ? host_name() : cfg.node.name;
  opts.version = TUTTI_VERSION;
  opts.limits = cfg.limits;
  opts.backup_dir = cfg.data_dir + "/backups";
  if (cfg.ui) {
    opts.ui_host = cfg.ui->host;
    opts.ui_port = cfg.ui->port;
  }
  opts.ui_required = cfg.ui_required;
  return opts;
}

caf::expected<std::map<p::driver_kind, std::shared_ptr<rd::driver>>>
make_drivers(const config::daemon_config& cfg) {
  std::map<p::driver_kind, std::shared_ptr<rd::driver>> drivers;
  rd::driver_options opts;
  opts.state_dir = cfg.data_dir + "/process";
  opts.docker_socket = cfg.docker.socket;
  opts.containerd_socket = cfg.containerd.socket;
  opts.containerd_namespace = cfg.containerd.name_space;
  opts.containerd_state_dir = cfg.data_dir + "/containerd";
  opts.containerd_log_binary = log_copier_path();
  opts.node = cfg.node.name.empty() ? host_name() : cfg.node.name;
  std::vector<p::driver_kind> kinds{p::driver_kind::sim};
  if (cfg.process.enabled)
    kinds.push_back(p::driver_kind::process);
  // Made even when no engine answers: docker replicas then fail with the reason
  // and start once the engine is there.
  if (cfg.docker.enabled)
    kinds.push_back(p::driver_kind::docker);
  if (cfg.containerd.enabled)
    kinds.push_back(p::driver_kind::containerd);
  for (auto kind : kinds) {
    auto d = rd::make_driver(kind, opts);
    if (!d)
      return d.error();
    drivers[kind] = std::shared_ptr<rd::driver>(std::move(*d));
  }
  return drivers;
}

caf::error dev_daemon::impl::make_drivers() {
  auto made = actors::make_drivers(cfg);
  if (!made)
    return made.error();
  drivers = std::move(*made);
  return {};
}

void dev_daemon::impl::start_tree() {
  auto dir = std::make_shared<directory>();
  restart_limit limit{cfg.supervision.max_restarts, cfg.supervision.window};
  node_config ncfg;
  ncfg.name = cfg.node.name.empty() ? host_name() : cfg.node.name;
  ncfg.labels = cfg.node.labels;
  ncfg.capacity = cfg.node.capacity;
  ncfg.port_first = cfg.node.port_range_first;
  ncfg.port_last = cfg.node.port_range_last;
  ncfg.address = cfg.node.address;
  ncfg.limit = limit;
  ncfg.upload_dir = cfg.data_dir + "/uploads";
  // Absolute: the engines take bind mounts of absolute paths only.
  ncfg.volumes = {std::filesystem::absolute(cfg.data_dir + "/volumes").string(),
                  cfg.node.host_volume_paths};
  ncfg.objects = {secrets_folder(cfg)};
  auto* m = metrics.get();
  auto* server = api.get();
  std::vector<child_spec> children;
  children.push_back({"store", [this, dir, m, server] {
                        dir->store = spawn_store(*sys, db, *m);
                        server->set_store(dir->store);
                        std::lock_guard<std::mutex> guard{mtx};
                        store_ids.push_back(dir->store.id());
                        return caf::actor_cast<caf::actor>(dir->store);
                      }});
  children.push_back({"placement", [this, dir, m] {
                        dir->placement = spawn_placement(*sys, *m, cfg.cluster.restart_grace);
                        return caf::actor_cast<caf::actor>(dir->placement);
                      }});
  children.push_back({"discovery", [this, dir] {
                        dir->discovery = spawn_discovery(*sys);
                        return caf::actor_cast<caf::actor>(dir->discovery);
                      }});
  mesh_options mesh{cfg.mesh.host, cfg.mesh.connect_timeout, cfg.mesh.idle_timeout};
  if (mode == daemon_mode::dev)
    children.push_back({"node",
                        [this, dir, ncfg, m, mesh] {
                          dir->node = spawn_node(*sys, node_context{ncfg, drivers, dir->store,
                                                                    dir->placement, m,
                                                                    dir->discovery, mesh});
                          return caf::actor_cast<caf::actor>(dir->node);
                        },
                        true});
  children.push_back({"cluster",
                      [this, dir, m, limit, server] {
                        cluster_context cc{dir->store,
                                           dir->placement,
                                           m,
                                           limit,
                                           [server](cluster_actor c) { server->set_cluster(c); },
                                           dir->discovery,
                                           cfg.mesh.host,
                                           cfg.limits,
                                           secrets};
                        return caf::actor_cast<caf::actor>(spawn_cluster(*sys, std::move(cc)));
                      },
                      true});
  // rest_for_one: each child depends on those started before it.
  root = spawn_supervisor(*sys, "cluster_supervisor", restart_strategy::rest_for_one, limit, *m,
                          std::move(children));
  // Runs on the root's thread when it terminates, for whatever reason.
  root->attach_functor([this](const caf::error& reason) {
    spdlog::debug("root supervisor ended: {}", p::message_of(reason));
    {
      std::lock_guard<std::mutex> guard{mtx};
      ended = true;
      if (!is_clean_exit(reason))
        failure = reason;
    }
    cv.notify_all();
  });
}

void dev_daemon::impl::stop_replicas() {
  // Runs after the actors are gone, so nothing restarts what is stopped here.
  stop_node_replicas(drivers, cfg.node.name.empty() ? host_name() : cfg.node.name,
                     object_places{secrets_folder(cfg)});
}

caf::expected<std::unique_ptr<dev_daemon>> dev_daemon::start(const config::daemon_config& cfg,
                                                             daemon_mode mode,
                                                             std::optional<leadership> leading) {
  auto x = std::make_unique<impl>();
  x->cfg = cfg;
  x->mode = mode;
  if (mode == daemon_mode::control) {
    if (cfg.cluster.join_token.empty())
      return p::make_error(p::error_code::invalid_argument,
                           "a control plane needs a join token (--join-token or "
                           "cluster.join_token) that its nodes show");
    x->sys_cfg.enable_network(cfg.cluster.heartbeat_interval, cfg.cluster.node_loss_timeout);
    if (cfg.cluster.tls.enabled()) {
      auto tls = check_tls_files(cfg.cluster.tls);
      if (!tls)
        return tls.error();
      x->tls = std::move(*tls);
      const auto& copies = x->tls.copies();
      x->sys_cfg.enable_tls(copies.certificate, copies.key, copies.ca);
    }
  }
  if (auto err = x->open_store(leading ? std::optional{leading->fence} : std::nullopt))
    return err;
  if (leading) {
    x->metrics = leading->metrics;
  } else {
    x->metrics = std::make_shared<metrics::catalogue>();
    try {
      x->exposer = std::make_unique<metrics::exposer>(*x->metrics, cfg.metrics.to_string());
    } catch (const std::exception& e) {
      return p::make_error(p::error_code::invalid_argument,
                           std::string{e.what()} + "; choose another --metrics address");
    }
    x->bound.metrics = x->exposer->port();
  }
  x->metrics->set_leader(true);
  if (mode == daemon_mode::dev)
    if (auto err = x->make_drivers())
      return err;
  x->sys = std::make_unique<caf::actor_system>(x->sys_cfg);
  x->detached_of_caf = x->sys->detached_actors();
  auto opts = api_options(cfg);
  if (auto err = configure_api_access(cfg, mode == daemon_mode::dev, opts))
    return err;
  auto secrets = load_secrets_key(cfg, mode == daemon_mode::dev);
  if (!secrets)
    return std::move(secrets.error());
  x->secrets = std::move(*secrets);
  if (!x->secrets)
    spdlog::info("no secrets key (secrets.key_file): Secret objects are refused");
  spdlog::info("{}", describe_api_access(cfg, opts));
  if (leading)
    opts.role = [me = cfg.api.to_string()] {
      return p::role_report{p::control_role::leader, me, {}};
    };
  x->api = std::make_unique<api_server>(*x->sys, opts, *x->metrics);
  auto port = x->api->start();
  if (!port)
    return p::make_error(p::error_code::invalid_argument,
                         p::message_of(port.error()) +
                             "; is another tuttid running? choose another --api address");
  x->bound.api = *port;
  x->bound.dashboard = x->api->dashboard_url();
  x->start_tree();
  x->admin =
      spawn_admin(*x->sys, admin_context{x->root, cfg.enable_chaos, mode == daemon_mode::control});
  x->api->set_admin(x->admin);
  x->controllers = spawn_controllers(
      *x->sys, controllers_context{cfg, x->etcd,
                                   std::chrono::duration_cast<std::chrono::milliseconds>(
                                       std::chrono::system_clock::now().time_since_epoch())
                                       .count(),
                                   true});
  x->api->set_controllers(x->controllers);
  if (mode == daemon_mode::control) {
    x->gateway = spawn_gateway(*x->sys, x->root, cfg.cluster.join_token);
    const auto& at = cfg.cluster.listen;
    auto listen = x->tls.enabled()
                      ? caf::openssl::publish(x->gateway, at.port, at.host.c_str(), true)
                      : x->sys->middleman().publish(x->gateway, at.port, at.host.c_str(), true);
    if (!listen) {
      x->api->stop();
      caf::anon_send(x->root, p::shutdown_atom::value);
      caf::anon_send_exit(x->gateway, caf::exit_reason::user_shutdown);
      caf::anon_send_exit(x->admin, caf::exit_reason::user_shutdown);
      caf::anon_send_exit(x->controllers, caf::exit_reason::user_shutdown);
      return p::make_error(p::error_code::invalid_argument,
                           "cannot listen for nodes on " + cfg.cluster.listen.to_string() + ": " +
                               p::message_of(listen.error()) + "; choose another --listen address");
    }
    x->bound.cluster = *listen;
  }
  return std::unique_ptr<dev_daemon>(new dev_daemon(std::move(x)));
}

dev_daemon::dev_daemon(std::unique_ptr<impl> x) : impl_(std::move(x)) {}

dev_daemon::~dev_daemon() {
  shutdown();
}

caf::actor_system& dev_daemon::system() {
  return *impl_->sys;
}

caf::actor dev_daemon::root() const {
  return impl_->root;
}

std::shared_ptr<rd::driver> dev_daemon::driver(p::driver_kind kind) const {
  auto i = impl_->drivers.find(kind);
  return i == impl_->drivers.end() ? nullptr : i->second;
}

dev_daemon::ports dev_daemon::bound() const {
  return impl_->bound;
}

caf::error dev_daemon::wait() {
  std::unique_lock<std::mutex> guard{impl_->mtx};
  impl_->cv.wait(guard, [this] { return impl_->ended; });
  return impl_->failure;
}

void dev_daemon::impl::release_store_actors() {
  // CAF's registry keeps every actor it sent to another node (a node agent
  // was granted the store), and lets go when the actor ends; an actor sent
  // while it was ending stays there. A store actor held so is never
  // destroyed, and its thread (it is detached) keeps the actor system's
  // destructor waiting forever: a deposed leader that nodes joined as it
  // woke hung so. Its entries go here, once the tree has ended.
  std::lock_guard<std::mutex> guard{mtx};
  for (auto id : store_ids)
    if (sys->registry().get(id)) {
      spdlog::debug("control: the registry still held store actor {}; released", id);
      sys->registry().erase(id);
    }
}

void dev_daemon::impl::await_detached_actors() {
  // The actor system's destructor stops its clock, then waits for every
  // detached actor's thread, which ends once nothing holds the actor: a
  // message to it the clock still held (the store's fold, due within a
  // second) would hold it forever. Waited for here, the clock still running.
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds{3};
  while (sys->detached_actors() > detached_of_caf && std::chrono::steady_clock::now() < deadline) {
    release_store_actors();
    std::this_thread::sleep_for(std::chrono::milliseconds{10});
  }
  if (auto left = sys->detached_actors(); left > detached_of_caf)
    spdlog::warn("control: {} detached actor(s) still held after 3 s; ending anyway",
                 left - detached_of_caf);
}

void dev_daemon::stand_down(const std::string& why) {
  if (impl_->etcd)
    impl_->etcd->cancel(why);
}

void dev_daemon::shutdown() {
  if (!impl_->sys)
    return;
  impl_->api->stop();
  // Closed first: a node that joined a control plane on its way out would
  // wait for an answer that never comes, while the next leader waits for it.
  if (impl_->gateway && impl_->bound.cluster != 0) {
    auto closed =
        close_listener(*impl_->sys, impl_->gateway, impl_->bound.cluster, impl_->tls.enabled());
    if (!closed)
      spdlog::warn("control: cannot close the cluster listener on {}: {}",
                   impl_->cfg.cluster.listen.to_string(), p::message_of(closed.error()));
    caf::anon_send_exit(impl_->gateway, caf::exit_reason::user_shutdown);
  }
  caf::anon_send(impl_->root, p::shutdown_atom::value);
  {
    std::unique_lock<std::mutex> guard{impl_->mtx};
    impl_->cv.wait_for(guard, std::chrono::seconds{10}, [this] { return impl_->ended; });
  }
  impl_->api.reset();
  // Not in the tree: the system would wait for them forever.
  if (impl_->gateway)
    caf::anon_send_exit(impl_->gateway, caf::exit_reason::user_shutdown);
  if (impl_->admin)
    caf::anon_send_exit(impl_->admin, caf::exit_reason::user_shutdown);
  if (impl_->controllers)
    caf::anon_send_exit(impl_->controllers, caf::exit_reason::user_shutdown);
  // A detached actor's thread ends only once the last handle to it is gone.
  impl_->controllers = controllers_actor{};
  impl_->await_detached_actors();
  impl_->sys.reset(); // waits for every actor to finish
  {
    std::lock_guard<std::mutex> guard{impl_->mtx};
    impl_->ended = true;
  }
  impl_->cv.notify_all();
  if (impl_->cfg.stop_replicas_on_exit)
    impl_->stop_replicas();
  impl_->drivers.clear();
  impl_->exposer.reset();
  impl_->db.reset();
}

} // namespace tutti::actors
