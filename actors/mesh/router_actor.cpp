#include "actors/mesh/router_actor.hpp"

#include "actors/mesh/mesh_proxy.hpp"
#include "metrics/recorder.hpp"
#include "protocol/errors.hpp"

#include <caf/all.hpp>

#include <spdlog/spdlog.h>

#include <map>
#include <memory>

namespace tutti::actors {

namespace {

using clock = std::chrono::steady_clock;

/// How often a pending drain looks at the proxy's connection counts.
constexpr auto drain_poll = std::chrono::milliseconds{5};

struct pending_drain {
  std::string replica;
  uint64_t generation = 0; // the table without the replica
  clock::time_point deadline;
  caf::typed_response_promise<bool> promise;
};

struct router_state {
  router_context ctx;
  std::unique_ptr<mesh_proxy> proxy;
  std::map<std::string, p::service_endpoints> services;
  uint64_t generation = 0;
  std::vector<pending_drain> drains;
  bool polling = false;
  // The traffic at the last report, to report the rate since.
  std::map<std::string, service_traffic> reported;
  std::map<std::string, double> last_rps; // kept while no new count came

  static inline const char* name = "router";
};

using self_ptr = router_actor::stateful_pointer<router_state>;

std::vector<mesh_route> routes_of(self_ptr self) {
  std::vector<mesh_route> out;
  std::map<uint16_t, std::string> owner;
  for (const auto& [name, set] : self->state.services) {
    for (const auto& port : set.ports) {
      if (port.published == 0)
        continue;
      // The cluster refuses a port published twice; a moment of overlap (one
      // service deleted, another applied) keeps the first by name.
      auto [first, inserted] = owner.emplace(port.published, name);
      if (!inserted) {
        spdlog::warn("router {}: port {} is published by {} and {}; {} keeps it",
                     self->state.ctx.node, port.published, first->second, name, first->second);
        continue;
      }
      mesh_route route{name, port.published, set.balancing, {}};
      for (const auto& e : set.endpoints)
        if (e.port == port.name)
          route.upstreams.push_back({e.replica, e.host, e.host_port});
      out.push_back(std::move(route));
    }
  }
  return out;
}

void on_endpoints(self_ptr self, p::service_endpoints& x) {
  auto name = x.service;
  if (x.removed)
    self->state.services.erase(name);
  else
    self->state.services[name] = std::move(x);
  self->state.generation = self->state.proxy->update(routes_of(self));
}

bool drained(self_ptr self, const pending_drain& d) {
  auto& proxy = *self->state.proxy;
  return proxy.applied() >= d.generation && proxy.active(d.replica) == 0;
}

void poll_drains(self_ptr self) {
  auto now = clock::now();
  std::erase_if(self->state.drains, [&](pending_drain& d) {
    bool timed_out = now >= d.deadline;
    if (!drained(self, d) && !timed_out)
      return false;
    if (timed_out)
      spdlog::info("router {}: {} still has {} connection(s) at the end of its drain",
                   self->state.ctx.node, d.replica, self->state.proxy->active(d.replica));
    d.promise.deliver(true);
    return true;
  });
  self->state.polling = !self->state.drains.empty();
  if (self->state.polling)
    self->delayed_send(self, drain_poll, p::tick_atom::value);
}

caf::result<bool> drain(self_ptr self, const std::string& replica, caf::timespan timeout) {
  pending_drain d{replica,
                  self->state.generation,
                  clock::now() + std::chrono::duration_cast<clock::duration>(timeout),
                  {}};
  if (drained(self, d))
    return true;
  d.promise = self->make_response_promise<bool>();
  auto promise = d.promise;
  self->state.drains.push_back(std::move(d));
  if (!self->state.polling) {
    self->state.polling = true;
    self->delayed_send(self, drain_poll, p::tick_atom::value);
  }
  return promise;
}

mesh_proxy::options proxy_options(self_ptr self) {
  const auto& ctx = self->state.ctx;
  mesh_proxy::options opts;
  opts.host = ctx.mesh.host;
  opts.connect_timeout = ctx.mesh.connect_timeout;
  opts.idle_timeout = ctx.mesh.idle_timeout;
  // Runs on the proxy's thread: anon_send is safe from any thread.
  opts.on_listen_error = [store = ctx.store, node = ctx.node](
                             const std::string& service, uint16_t port, const std::string& why) {
    p::event e;
    e.kind = "mesh_listen_failed";
    e.service = service;
    e.message =
        "node " + node + " cannot listen on published port " + std::to_string(port) + ": " + why;
    if (store)
      caf::anon_send(store, p::append_atom::value, std::move(e));
  };
  return opts;
}

/// How often the mesh's traffic goes to discovery (autoscaling reads it there).
constexpr auto load_interval = std::chrono::seconds{1};

/// Sends discovery each routed service's rate of connections since the last
/// report and its open connections.
void report_load(self_ptr self) {
  auto traffic = self->state.proxy->traffic();
  p::mesh_load report;
  report.node = self->state.ctx.node;
  for (auto& [service, t] : traffic) {
    auto open = t.open;
    auto& rps = self->state.last_rps[service]; // 0 for a service new to the mesh
    if (auto before = self->state.reported.find(service); before != self->state.reported.end()) {
      const auto& was = before->second;
      std::chrono::duration<double> counted = t.counted_at - was.counted_at;
      if (counted.count() <= 0)
        t = was; // not counted since: the last rate stands, measured from the same start
      else
        rps = t.forwarded >= was.forwarded
                  ? static_cast<double>(t.forwarded - was.forwarded) / counted.count()
                  : 0.0;
    }
    report.services.push_back({service, rps, open});
  }
  std::erase_if(self->state.last_rps, [&](const auto& x) { return !traffic.count(x.first); });
  self->state.reported = std::move(traffic);
  if (!report.services.empty())
    self->send(self->state.ctx.discovery, std::move(report));
  self->delayed_send(self, load_interval, p::load_atom::value);
}

router_actor::behavior_type router(self_ptr self, router_context ctx) {
  self->state.ctx = std::move(ctx);
  self->state.proxy = std::make_unique<mesh_proxy>(proxy_options(self), *self->state.ctx.metrics);
  self->state.proxy->start();
  self->delayed_send(self, load_interval, p::load_atom::value);
  // Discovery answers with every current set first, then each change.
  self->request(self->state.ctx.discovery, caf::infinite, p::register_atom::value,
                caf::actor_cast<router_actor>(self))
      .then([](bool) {},
            [self](caf::error& err) {
              spdlog::error("router {}: cannot register with discovery: {}", self->state.ctx.node,
                            p::message_of(err));
              self->quit(err);
            });
  return {
      [self](p::service_endpoints& x) { on_endpoints(self, x); },
      [self](p::drain_atom, const std::string& replica, caf::timespan timeout) {
        return drain(self, replica, timeout);
      },
      [self](p::tick_atom) { poll_drains(self); },
      [self](p::load_atom) { report_load(self); },
  };
}

} // namespace

router_actor spawn_router(caf::actor_system& sys, router_context ctx) {
  metrics::required(ctx.metrics, "router_context");
  return sys.spawn(router, std::move(ctx));
}

} // namespace tutti::actors
