#include "simulation/sim_node_host.hpp"

#include "actors/node/node_actor.hpp"
#include "actors/runtime/system_config.hpp"
#include "metrics/catalogue.hpp"
#include "protocol/errors.hpp"
#include "protocol/versions.hpp"
#include "runtime-drivers/sim/sim_driver.hpp"
#include "runtime-drivers/task_thread.hpp"

#include <caf/all.hpp>
#include <caf/io/middleman.hpp>

#include <optional>
#include <tuple>

namespace tutti::simulation {

using namespace tutti::actors;

namespace {

constexpr auto join_timeout = std::chrono::seconds{10};

struct sim_node {
  node_actor actor;
  std::shared_ptr<rd::sim_driver> driver;
};

} // namespace

struct sim_node_host::impl {
  sim_node_host_options opts;
  metrics::catalogue metrics;
  std::shared_ptr<rd::task_thread> events; // the sim drivers' one callback thread
  std::map<int32_t, sim_node> nodes;       // by index
  std::unique_ptr<system_config> cfg;
  std::unique_ptr<caf::actor_system> sys;
  gateway_actor gateway;
};

caf::expected<std::unique_ptr<sim_node_host>> sim_node_host::connect(sim_node_host_options opts) {
  auto x = std::make_unique<impl>();
  x->opts = std::move(opts);
  x->events = rd::make_sim_events();
  x->cfg = std::make_unique<system_config>(x->opts.sharing_scheduler);
  x->cfg->enable_network(x->opts.network.heartbeat, x->opts.network.loss_timeout);
  x->sys = std::make_unique<caf::actor_system>(*x->cfg);
  auto gateway = x->sys->middleman().remote_actor<gateway_actor>(x->opts.host, x->opts.port);
  if (!gateway)
    return p::make_error(p::error_code::unavailable,
                         "cannot reach the control plane at " + x->opts.host + ":" +
                             std::to_string(x->opts.port) + ": " + p::message_of(gateway.error()));
  x->gateway = std::move(*gateway);
  return std::unique_ptr<sim_node_host>(new sim_node_host(std::move(x)));
}

sim_node_host::sim_node_host(std::unique_ptr<impl> x) : impl_(std::move(x)) {}

sim_node_host::~sim_node_host() {
  auto& x = *impl_;
  for (auto& [index, node] : x.nodes)
    caf::anon_send_exit(node.actor, caf::exit_reason::user_shutdown);
  for (auto& [index, node] : x.nodes)
    node.actor = nullptr;
  x.gateway = nullptr;
  x.sys.reset(); // waits for every actor
  x.nodes.clear();
  x.events.reset();
}

caf::error sim_node_host::add_node(int32_t index, std::map<std::string, std::string> labels) {
  auto& x = *impl_;
  auto name = x.opts.node_prefix + std::to_string(index);
  std::optional<std::tuple<caf::actor, caf::actor, caf::actor>> granted;
  caf::error refused;
  {
    caf::scoped_actor self{*x.sys};
    self->request(x.gateway, join_timeout, p::join_atom::value, x.opts.join_token, name,
                  std::string{p::tuttid_version()})
        .receive([&](caf::actor& store, caf::actor& placement,
                     caf::actor& discovery) { granted.emplace(store, placement, discovery); },
                 [&](caf::error& err) { refused = std::move(err); });
  }
  if (!granted)
    return p::make_error(p::error_code::unavailable,
                         "node " + name + " could not join: " + p::message_of(refused));
  rd::sim_options so;
  so.events = x.events;
  so.seed = static_cast<uint64_t>(index);
  auto driver = std::make_shared<rd::sim_driver>(so);
  node_config nc;
  nc.name = name;
  nc.labels = std::move(labels);
  nc.capacity = x.opts.node_capacity;
  node_context ctx;
  ctx.config = nc;
  ctx.drivers[p::driver_kind::sim] = driver;
  ctx.store = caf::actor_cast<store_actor>(std::get<0>(*granted));
  ctx.placement = caf::actor_cast<placement_actor>(std::get<1>(*granted));
  ctx.metrics = &x.metrics;
  // No discovery: sim nodes run no routing mesh, as in sim_cluster.
  x.nodes[index] = sim_node{spawn_node(*x.sys, std::move(ctx)), driver};
  return caf::none;
}

void sim_node_host::kill_node(int32_t index) {
  auto& x = *impl_;
  auto i = x.nodes.find(index);
  if (i == x.nodes.end() || !i->second.actor)
    return;
  caf::anon_send_exit(i->second.actor, caf::exit_reason::kill);
  i->second.actor = nullptr;
  // The host's containers die with it (see sim_cluster::kill_node).
  auto name = x.opts.node_prefix + std::to_string(index);
  if (auto owned = i->second.driver->list_owned(name))
    for (auto& c : *owned)
      i->second.driver->remove(c.name, true);
}

caf::error sim_node_host::wait_disconnected() {
  caf::scoped_actor self{*impl_->sys};
  self->monitor(impl_->gateway);
  caf::error why;
  self->receive([&](caf::down_msg& msg) { why = std::move(msg.reason); });
  return why;
}

} // namespace tutti::simulation
