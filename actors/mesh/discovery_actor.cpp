#include "actors/mesh/discovery_actor.hpp"

#include <caf/all.hpp>

#include <chrono>
#include <map>
#include <memory>

namespace tutti::actors {

namespace {

struct watcher {
  std::string service; // empty: every service
  endpoints_sink_actor sink;
};

/// A report older than this is of a node whose mesh no longer reports.
constexpr auto load_lifetime = std::chrono::seconds{3};

struct discovery_state {
  std::map<std::string, p::service_endpoints> sets;
  std::vector<router_actor> routers;
  std::vector<watcher> watchers;
  // By node: its last report and when it came.
  std::map<std::string, std::pair<std::chrono::steady_clock::time_point, p::mesh_load>> loads;
  static inline const char* name = "discovery";
};

using self_ptr = discovery_actor::stateful_pointer<discovery_state>;

void on_published(self_ptr self, p::service_endpoints& x) {
  auto& sets = self->state.sets;
  auto i = sets.find(x.service);
  if (x.removed) {
    if (i == sets.end())
      return;
    sets.erase(i);
  } else if (i != sets.end() && i->second == x) {
    return;
  } else {
    sets[x.service] = x;
  }
  for (auto& r : self->state.routers)
    self->send(r, x);
  for (auto& w : self->state.watchers)
    if (w.service.empty() || w.service == x.service)
      self->send(w.sink, x);
}

std::vector<p::service_endpoints> get(self_ptr self, const std::string& service) {
  std::vector<p::service_endpoints> out;
  for (auto& [name, set] : self->state.sets)
    if (service.empty() || name == service)
      out.push_back(set);
  return out;
}

bool watch(self_ptr self, const std::string& service, endpoints_sink_actor sink) {
  self->monitor(sink);
  for (auto& set : get(self, service))
    self->send(sink, set);
  self->state.watchers.push_back({service, std::move(sink)});
  return true;
}

bool register_router(self_ptr self, router_actor router) {
  self->monitor(router);
  for (auto& [name, set] : self->state.sets)
    self->send(router, set);
  self->state.routers.push_back(std::move(router));
  return true;
}

/// Answers once every router has no connection to `replica` left (or its drain
/// timed out, or it failed to answer).
caf::result<bool> drain(self_ptr self, const std::string& replica, caf::timespan timeout) {
  if (self->state.routers.empty())
    return true;
  auto promise = self->make_response_promise<bool>();
  auto pending = std::make_shared<size_t>(self->state.routers.size());
  auto answered = [pending, promise]() mutable {
    if (--*pending == 0)
      promise.deliver(true);
  };
  // A router that hangs must not hold the stop up beyond the grace period.
  auto limit = timeout + std::chrono::duration_cast<caf::timespan>(std::chrono::seconds{1});
  for (auto& r : self->state.routers)
    self->request(r, limit, p::drain_atom::value, replica, timeout)
        .then([answered](bool) mutable { answered(); },
              [answered](caf::error&) mutable { answered(); });
  return promise;
}

void on_load(self_ptr self, p::mesh_load& x) {
  auto node = x.node;
  self->state.loads[node] = {std::chrono::steady_clock::now(), std::move(x)};
}

p::service_load load_of(self_ptr self, const std::string& service) {
  p::service_load out;
  out.service = service;
  auto now = std::chrono::steady_clock::now();
  std::erase_if(self->state.loads, [&](const auto& l) { return now - l.second.first > load_lifetime; });
  for (const auto& [node, report] : self->state.loads)
    for (const auto& s : report.second.services)
      if (s.service == service) {
        out.rps += s.rps;
        out.open += s.open;
      }
  return out;
}

discovery_actor::behavior_type discovery(self_ptr self) {
  self->set_down_handler([self](caf::down_msg& msg) {
    std::erase_if(self->state.routers, [&](auto& r) { return r.address() == msg.source; });
    std::erase_if(self->state.watchers, [&](auto& w) { return w.sink.address() == msg.source; });
  });
  return {
      [self](p::service_endpoints& x) { on_published(self, x); },
      [self](p::get_atom, const std::string& service) { return get(self, service); },
      [self](p::watch_atom, const std::string& service, endpoints_sink_actor sink) {
        return watch(self, service, std::move(sink));
      },
      [self](p::register_atom, router_actor router) {
        return register_router(self, std::move(router));
      },
      [self](p::drain_atom, const std::string& replica, caf::timespan timeout) {
        return drain(self, replica, timeout);
      },
      [self](p::mesh_load& x) { on_load(self, x); },
      [self](p::load_atom, const std::string& service) { return load_of(self, service); },
  };
}

} // namespace

discovery_actor spawn_discovery(caf::actor_system& sys) {
  return sys.spawn(discovery);
}

} // namespace tutti::actors
