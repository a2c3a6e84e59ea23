#include "actors/cluster/cluster_reads.hpp"

#include "protocol/errors.hpp"
#include "runtime-drivers/pod_driver.hpp"

#include <caf/all.hpp>

#include <functional>
#include <memory>
#include <optional>

namespace tutti::actors::cluster_impl {

namespace {

/// Sends `msg` to every live service and collects the answers (in name order);
/// services that fail to answer are left out.
template <class T, class... Ts>
void gather(self_ptr self, std::vector<std::string> names, std::function<void(std::vector<T>)> done,
            Ts... xs) {
  auto results = std::make_shared<std::vector<std::optional<T>>>(names.size());
  auto pending = std::make_shared<size_t>(names.size());
  auto finish = [results, done] {
    std::vector<T> out;
    for (auto& x : *results)
      if (x)
        out.push_back(std::move(*x));
    done(std::move(out));
  };
  if (names.empty()) {
    finish();
    return;
  }
  for (size_t i = 0; i < names.size(); ++i) {
    auto handle = service_of(self, names[i]);
    self->request(handle, ask_timeout, xs...)
        .then(
            [results, pending, finish, i](T& x) {
              (*results)[i] = std::move(x);
              if (--*pending == 0)
                finish();
            },
            [pending, finish](caf::error&) {
              if (--*pending == 0)
                finish();
            });
  }
}

/// invalid_argument unless `container` is empty or names one of the spec's.
caf::error check_container(const p::service_spec& spec, const std::string& container) {
  if (container.empty())
    return {};
  std::string names;
  for (const auto& c : spec.containers) {
    if (c.name == container)
      return {};
    names += (names.empty() ? "" : ", ") + c.name;
  }
  return p::make_error(p::error_code::invalid_argument,
                       "service " + spec.name + " has no container '" + container + "' (" +
                           (names.empty() ? std::string{"it runs one container: leave out "
                                                        "--container"}
                                          : "its containers: " + names) +
                           ")");
}

} // namespace

caf::result<std::vector<p::service_status>> get_services(self_ptr self) {
  auto promise = self->make_response_promise<std::vector<p::service_status>>();
  gather<p::service_status>(
      self, service_names(self),
      [self, promise](std::vector<p::service_status> xs) mutable {
        for (auto& x : xs)
          if (auto i = self->state.services.find(x.name); i != self->state.services.end())
            x.updated_ms = i->second.updated_ms;
        promise.deliver(std::move(xs));
      },
      p::status_atom::value);
  return promise;
}

caf::result<std::vector<p::replica_status>> get_replicas(self_ptr self, const std::string& name) {
  std::vector<std::string> names;
  if (name.empty())
    names = service_names(self);
  else if (self->state.services.count(name))
    names.push_back(name);
  else
    return unknown_service(name);
  auto promise = self->make_response_promise<std::vector<p::replica_status>>();
  gather<std::vector<p::replica_status>>(
      self, names,
      [promise](std::vector<std::vector<p::replica_status>> xs) mutable {
        std::vector<p::replica_status> out;
        for (auto& x : xs)
          out.insert(out.end(), x.begin(), x.end());
        promise.deliver(std::move(out));
      },
      p::get_atom::value);
  return promise;
}

caf::result<p::rollout_status> rollout_of(self_ptr self, const std::string& name) {
  auto svc = service_of(self, name);
  if (!svc)
    return unknown_service(name);
  return self->delegate(svc, p::rollout_atom::value);
}

caf::result<std::vector<p::spec_record>> history_of(self_ptr self, const std::string& name) {
  if (!self->state.services.count(name))
    return unknown_service(name);
  return self->delegate(self->state.ctx.store, p::history_atom::value, name);
}

caf::result<p::service_detail> describe(self_ptr self, const std::string& name,
                                        uint32_t event_limit) {
  auto i = self->state.services.find(name);
  if (i == self->state.services.end())
    return unknown_service(name);
  auto detail = std::make_shared<p::service_detail>();
  detail->spec_yaml = i->second.yaml;
  auto promise = self->make_response_promise<p::service_detail>();
  auto svc = service_of(self, name);
  self->request(svc, ask_timeout, p::status_atom::value)
      .then(
          [self, svc, name, detail, promise, event_limit](p::service_status& st) mutable {
            detail->status = std::move(st);
            if (auto i = self->state.services.find(name); i != self->state.services.end())
              detail->status.updated_ms = i->second.updated_ms;
            self->request(svc, ask_timeout, p::get_atom::value)
                .then(
                    [self, name, detail, promise,
                     event_limit](std::vector<p::replica_status>& rs) mutable {
                      detail->replicas = std::move(rs);
                      self->request(self->state.ctx.store, ask_timeout, p::events_atom::value,
                                    uint64_t{0}, event_limit, name)
                          .then(
                              [detail, promise](std::vector<p::event>& es) mutable {
                                detail->events = std::move(es);
                                promise.deliver(std::move(*detail));
                              },
                              [promise](caf::error& err) mutable { promise.deliver(err); });
                    },
                    [promise](caf::error& err) mutable { promise.deliver(err); });
          },
          [promise](caf::error& err) mutable { promise.deliver(err); });
  return promise;
}

caf::result<std::vector<p::event>> events(self_ptr self, uint64_t after, uint32_t limit,
                                          const std::string& service) {
  return self->delegate(self->state.ctx.store, p::events_atom::value, after, limit, service);
}

caf::result<bool> follow(self_ptr self, uint64_t after, const std::string& service,
                         event_sink_actor sink) {
  return self->delegate(self->state.ctx.store, p::follow_atom::value, after, service,
                        std::move(sink));
}

caf::result<std::string, std::string> logs(self_ptr self, const std::string& name, int32_t slot,
                                           const std::string& container, uint64_t max_bytes) {
  auto service = self->state.services.find(name);
  if (service == self->state.services.end())
    return unknown_service(name);
  if (auto err = check_container(service->second.spec, container))
    return err;
  auto promise = self->make_response_promise<std::string, std::string>();
  auto fail = [promise](caf::error& err) mutable { promise.deliver(err); };
  self->request(service_of(self, name), ask_timeout, p::get_atom::value)
      .then(
          [self, name, slot, container, max_bytes, promise,
           fail](std::vector<p::replica_status>& rs) mutable {
            const p::replica_status* chosen = nullptr;
            for (auto& r : rs)
              if ((slot < 0 || r.slot == slot) && (chosen == nullptr || r.slot < chosen->slot))
                chosen = &r;
            if (chosen == nullptr || chosen->node.empty()) {
              promise.deliver(p::make_error(
                  p::error_code::not_found,
                  "service " + name + " has no replica" +
                      (slot >= 0 ? " in slot " + std::to_string(slot) : std::string{}) +
                      " placed on a node; `tutti get replicas " + name + "` lists them"));
              return;
            }
            // One container of several: the driver knows it by its own name.
            auto id = container.empty() ? chosen->id : rd::part_name(chosen->id, container);
            self->request(self->state.ctx.placement, ask_timeout, p::get_atom::value, chosen->node)
                .then(
                    [self, id, max_bytes, promise, fail](node_actor& node) mutable {
                      self->request(node, ask_timeout, p::logs_atom::value, id, max_bytes)
                          .then(
                              [id, promise](std::string& text) mutable {
                                promise.deliver(id, std::move(text));
                              },
                              fail);
                    },
                    fail);
          },
          fail);
  return promise;
}

caf::result<std::vector<p::service_endpoints>> get_endpoints(self_ptr self,
                                                             const std::string& name) {
  if (!name.empty() && !self->state.services.count(name))
    return unknown_service(name);
  auto placeholders = [self, name] {
    std::vector<p::service_endpoints> out;
    for (const auto& [service, entry] : self->state.services)
      if (name.empty() || service == name)
        out.push_back({service, entry.spec.ports, entry.spec.balancing, {}, false});
    return out;
  };
  if (!self->state.ctx.discovery)
    return placeholders();
  auto promise = self->make_response_promise<std::vector<p::service_endpoints>>();
  self->request(self->state.ctx.discovery, ask_timeout, p::get_atom::value, name)
      .then(
          [promise, placeholders](std::vector<p::service_endpoints>& known) mutable {
            auto out = placeholders(); // the services that exist, in name order
            for (auto& x : out)
              for (auto& k : known)
                if (k.service == x.service)
                  x = std::move(k);
            promise.deliver(std::move(out));
          },
          [promise](caf::error& err) mutable { promise.deliver(err); });
  return promise;
}

caf::result<bool> watch_endpoints(self_ptr self, const std::string& name,
                                  endpoints_sink_actor sink) {
  if (!name.empty() && !self->state.services.count(name))
    return unknown_service(name);
  if (!self->state.ctx.discovery)
    return p::make_error(p::error_code::unavailable, "this tuttid runs no service discovery");
  return self->delegate(self->state.ctx.discovery, p::watch_atom::value, name, std::move(sink));
}

} // namespace tutti::actors::cluster_impl
