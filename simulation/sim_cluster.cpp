#include "simulation/sim_cluster.hpp"

#include "actors/cluster/cluster_actor.hpp"
#include "actors/mesh/discovery_actor.hpp"
#include "actors/cluster/gateway_actor.hpp"
#include "actors/node/node_actor.hpp"
#include "actors/placement/placement_actor.hpp"
#include "actors/store/store_actor.hpp"
#include "actors/runtime/system_config.hpp"
#include "metrics/catalogue.hpp"
#include <unistd.h>

#include "persistence/etcd_store.hpp"
#include "persistence/lmdb_store.hpp"
#include "protocol/errors.hpp"
#include "runtime-drivers/sim/sim_driver.hpp"
#include "runtime-drivers/task_thread.hpp"

#include <caf/all.hpp>
#include <caf/io/middleman.hpp>

namespace tutti::simulation {

using namespace tutti::actors;

namespace {

using namespace std::chrono_literals;

constexpr auto ask_timeout = std::chrono::seconds{60};

template <class T, class Handle, class... Ts>
caf::expected<T> ask(caf::actor_system& sys, const Handle& dest, Ts&&... xs) {
  caf::scoped_actor self{sys};
  caf::expected<T> out{caf::error{}};
  self->request(dest, ask_timeout, std::forward<Ts>(xs)...)
      .receive([&](T& x) { out = std::move(x); }, [&](caf::error& err) { out = std::move(err); });
  return out;
}

/// The gateway's view of this control plane: fixed children, nothing restarts.
directory_actor::behavior_type directory(std::map<std::string, caf::actor> children) {
  return {
      [children](p::child_atom, const std::string& name) {
        auto i = children.find(name);
        return i == children.end() ? caf::actor{} : i->second;
      },
  };
}

} // namespace

struct sim_cluster::impl {
  sim_cluster_options opts;
  std::shared_ptr<persistence::store> db;
  metrics::catalogue metrics;
  std::shared_ptr<rd::task_thread> events;              // the sim drivers' one callback thread
  std::vector<std::shared_ptr<rd::sim_driver>> drivers; // by node index
  std::unique_ptr<system_config> cfg;
  std::unique_ptr<caf::actor_system> sys;
  store_actor store;
  placement_actor placement;
  cluster_actor cluster;
  std::vector<node_actor> nodes;
  std::vector<std::string> names;
  // Only with a join token: what nodes of other processes join through.
  discovery_actor discovery;
  directory_actor directory;
  gateway_actor gateway;
  uint16_t gateway_port = 0;

  void spawn_node(p::resource_spec capacity, std::map<std::string, std::string> labels);
  caf::error publish_gateway();
};

caf::error sim_cluster::impl::publish_gateway() {
  // The nodes get a discovery handle with their join, as from tuttid; the sim
  // nodes run no routing mesh and the services here publish to none (as in one
  // process), so it stays idle.
  discovery = spawn_discovery(*sys);
  directory = sys->spawn(
      simulation::directory,
      std::map<std::string, caf::actor>{{"store", caf::actor_cast<caf::actor>(store)},
                                        {"placement", caf::actor_cast<caf::actor>(placement)},
                                        {"discovery", caf::actor_cast<caf::actor>(discovery)},
                                        {"cluster", caf::actor_cast<caf::actor>(cluster)}});
  gateway = spawn_gateway(*sys, caf::actor_cast<caf::actor>(directory), opts.join_token);
  auto port = sys->middleman().publish(gateway, 0, "127.0.0.1", true);
  if (!port)
    return p::make_error(p::error_code::unavailable,
                         "cannot publish the gateway for simulated nodes on 127.0.0.1: " +
                             p::message_of(port.error()));
  gateway_port = *port;
  return caf::none;
}

void sim_cluster::impl::spawn_node(p::resource_spec capacity,
                                   std::map<std::string, std::string> labels) {
  auto index = static_cast<int32_t>(nodes.size());
  rd::sim_options so;
  so.events = events;
  so.seed = static_cast<uint64_t>(index);
  auto driver = std::make_shared<rd::sim_driver>(so);
  drivers.push_back(driver);
  node_config nc;
  nc.name = opts.node_prefix + std::to_string(index);
  nc.labels = std::move(labels);
  nc.capacity = capacity;
  node_context ctx;
  ctx.config = nc;
  ctx.drivers[p::driver_kind::sim] = driver;
  ctx.store = store;
  ctx.placement = placement;
  ctx.metrics = &metrics;
  names.push_back(nc.name);
  nodes.push_back(actors::spawn_node(*sys, std::move(ctx)));
}

namespace {

caf::expected<std::shared_ptr<persistence::store>> open_store(const sim_cluster_options& opts,
                                                              persistence::store_options so) {
  if (opts.etcd_endpoints.empty()) {
    auto db = persistence::lmdb_store::open(opts.data_dir + "/store", so);
    if (!db)
      return db.error();
    return std::shared_ptr<persistence::store>(std::move(*db));
  }
  persistence::etcd::client_options co;
  co.endpoints = opts.etcd_endpoints;
  auto client = persistence::etcd::client::make(co);
  if (!client)
    return client.error();
  persistence::etcd_store_options eo;
  eo.prefix = "/tutti-sim-" + std::to_string(::getpid()) + "/";
  auto db = persistence::etcd_store::open(std::shared_ptr<persistence::etcd::client>(std::move(*client)),
                                          so, eo);
  if (!db)
    return db.error();
  return std::shared_ptr<persistence::store>(std::move(*db));
}

} // namespace

caf::expected<std::unique_ptr<sim_cluster>> sim_cluster::start(sim_cluster_options opts) {
  auto x = std::make_unique<impl>();
  x->opts = std::move(opts);
  persistence::store_options so;
  so.map_size = x->opts.map_size;
  auto db = open_store(x->opts, so);
  if (!db)
    return db.error();
  x->db = std::move(*db);
  x->events = rd::make_sim_events();
  x->cfg = std::make_unique<system_config>(x->opts.sharing_scheduler);
  if (!x->opts.join_token.empty())
    x->cfg->enable_network(x->opts.network.heartbeat, x->opts.network.loss_timeout);
  x->sys = std::make_unique<caf::actor_system>(*x->cfg);
  x->store = spawn_store(*x->sys, x->db, x->metrics);
  x->placement = spawn_placement(*x->sys, x->metrics);
  for (int32_t i = 0; i < x->opts.nodes; ++i)
    x->spawn_node(x->opts.node_capacity,
                  x->opts.labels ? x->opts.labels(i) : std::map<std::string, std::string>{});
  cluster_context cc;
  cc.store = x->store;
  cc.placement = x->placement;
  cc.metrics = &x->metrics;
  x->cluster = spawn_cluster(*x->sys, std::move(cc));
  bool networked = !x->opts.join_token.empty();
  auto out = std::unique_ptr<sim_cluster>(new sim_cluster(std::move(x)));
  if (networked)
    if (auto err = out->impl_->publish_gateway())
      return err; // out's destructor stops what was started
  return out;
}

sim_cluster::sim_cluster(std::unique_ptr<impl> x) : impl_(std::move(x)) {}

sim_cluster::~sim_cluster() {
  auto& x = *impl_;
  for (auto& a : {caf::actor_cast<caf::actor>(x.gateway), caf::actor_cast<caf::actor>(x.directory),
                  caf::actor_cast<caf::actor>(x.discovery)})
    if (a)
      caf::anon_send_exit(a, caf::exit_reason::user_shutdown);
  x.gateway = nullptr;
  x.directory = nullptr;
  x.discovery = nullptr;
  // The cluster ends its services; nodes end their replicas.
  caf::anon_send_exit(x.cluster, caf::exit_reason::user_shutdown);
  for (auto& node : x.nodes)
    caf::anon_send_exit(node, caf::exit_reason::user_shutdown);
  caf::anon_send_exit(x.placement, caf::exit_reason::user_shutdown);
  caf::anon_send_exit(x.store, caf::exit_reason::user_shutdown);
  x.cluster = nullptr;
  x.nodes.clear();
  x.placement = nullptr;
  x.store = nullptr;
  x.sys.reset(); // waits for every actor
  x.events.reset();
  x.drivers.clear();
  x.db.reset();
}

bool sim_cluster::wait_registered(caf::timespan timeout) {
  return wait_registered(impl_->nodes.size(), timeout);
}

bool sim_cluster::wait_registered(size_t count, caf::timespan timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    auto known = nodes();
    if (known && known->size() >= count)
      return true;
    if (std::chrono::steady_clock::now() >= deadline)
      return false;
    std::this_thread::sleep_for(10ms); // -- allowed: polling interval of a deadline wait
  }
}

caf::expected<p::apply_result> sim_cluster::apply(const std::string& yaml) {
  return ask<p::apply_result>(*impl_->sys, impl_->cluster, p::apply_atom::value,
                              std::string{"sim.yaml"}, yaml, false, std::string{});
}

caf::expected<int64_t> sim_cluster::scale(const std::string& service, int32_t replicas) {
  return ask<int64_t>(*impl_->sys, impl_->cluster, p::scale_atom::value, service, replicas);
}

caf::expected<std::vector<p::service_status>> sim_cluster::services() {
  return ask<std::vector<p::service_status>>(*impl_->sys, impl_->cluster, p::get_atom::value);
}

caf::expected<std::vector<p::replica_status>> sim_cluster::replicas(const std::string& service) {
  return ask<std::vector<p::replica_status>>(*impl_->sys, impl_->cluster, p::get_atom::value,
                                             service);
}

caf::expected<p::service_detail> sim_cluster::describe(const std::string& service) {
  return ask<p::service_detail>(*impl_->sys, impl_->cluster, p::describe_atom::value, service,
                                uint32_t{20});
}

caf::expected<std::vector<p::node_status>> sim_cluster::nodes() {
  return ask<std::vector<p::node_status>>(*impl_->sys, impl_->placement, p::nodes_atom::value);
}

void sim_cluster::kill_node(int32_t i) {
  auto& x = *impl_;
  caf::anon_send_exit(x.nodes.at(i), caf::exit_reason::kill);
  // The host's containers die with it, all at once. Its replica actors end
  // with the node (its supervision ends them) but do not stop them: a dead host
  // cannot.
  x.drivers.at(i)->drop_all();
}

void sim_cluster::add_node(p::resource_spec capacity, std::map<std::string, std::string> labels) {
  impl_->spawn_node(capacity, std::move(labels));
}

uint16_t sim_cluster::gateway_port() const {
  return impl_->gateway_port;
}

std::string sim_cluster::node_name(int32_t i) const {
  return impl_->names.at(i);
}

int32_t sim_cluster::node_count() const {
  return static_cast<int32_t>(impl_->nodes.size());
}

caf::actor_system& sim_cluster::system() {
  return *impl_->sys;
}

metrics::catalogue& sim_cluster::metrics() {
  return impl_->metrics;
}

actors::placement_actor sim_cluster::placement() const {
  return impl_->placement;
}

actors::store_actor sim_cluster::store() const {
  return impl_->store;
}

} // namespace tutti::simulation
