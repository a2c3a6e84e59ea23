#include "actors/node/driver_actor.hpp"

#include "protocol/errors.hpp"

#include <caf/all.hpp>

#include <functional>
#include <vector>

namespace tutti::actors {

namespace {

struct driver_state {
  std::shared_ptr<rd::driver> driver;
  static inline const char* name = "driver";
};

using self_ptr = driver_actor::stateful_pointer<driver_state>;

template <class T> caf::result<T> lift(caf::expected<T>&& x) {
  if (!x)
    return std::move(x.error());
  return std::move(*x);
}

caf::result<bool> lift(caf::error&& err) {
  if (err)
    return std::move(err);
  return true;
}

driver_actor::behavior_type driver_behavior(self_ptr self, std::shared_ptr<rd::driver> d) {
  self->state.driver = std::move(d);
  return {
      [self](p::create_atom, const rd::container_spec& spec) {
        return lift(self->state.driver->create(spec));
      },
      [self](p::start_atom, const std::string& name) {
        return lift(self->state.driver->start(name));
      },
      [self](p::run_atom, rd::container_spec& spec,
             replica_actor replica) -> caf::result<rd::container_info> {
        auto ran = self->state.driver->run(std::move(spec), [&](const rd::container_info& info) {
          return exit_notice(replica, info.runtime_id);
        });
        if (!ran)
          return std::move(ran.error());
        return std::move(*ran);
      },
      [self](p::stop_atom, const std::string& name, caf::timespan grace) {
        return lift(self->state.driver->stop(name, grace));
      },
      [self](p::remove_atom, const std::string& name, bool force) {
        return lift(self->state.driver->remove(name, force));
      },
      [self](p::inspect_atom, const std::string& name) {
        return lift(self->state.driver->inspect(name));
      },
      [self](p::watch_atom, const std::string& name, const std::string& runtime_id,
             replica_actor replica) {
        return lift(self->state.driver->watch(name, exit_notice(replica, runtime_id)));
      },
      [self](p::logs_atom, const std::string& name, uint64_t max_bytes) {
        return lift(self->state.driver->logs(name, max_bytes));
      },
      [self](p::stats_atom, const std::string& name) {
        return lift(self->state.driver->stats(name));
      },
      [self](p::list_atom, const std::string& node) {
        return lift(self->state.driver->list_owned(node));
      },
      [self](p::sweep_atom, const std::string& node) {
        return lift(self->state.driver->names_owned(node));
      },
      [self](p::health_atom) { return lift(self->state.driver->health()); },
  };
}

struct router_state {
  std::vector<driver_actor> workers;
  size_t next_probe = 0;
  static inline const char* name = "driver-router";
};

using router_ptr = driver_actor::stateful_pointer<router_state>;

/// Fans calls out to detached workers, one per concurrent call the driver
/// allows. A container's calls always go to the same worker, so they stay in
/// the order they were made.
driver_actor::behavior_type router_behavior(router_ptr self, std::vector<driver_actor> workers) {
  self->state.workers = std::move(workers);
  for (auto& w : self->state.workers)
    self->link_to(w); // a worker that fails takes the router down: a restart
  // Workers end with the router, also when it ends normally (links do not pass that on).
  self->attach_functor([ws = self->state.workers](const caf::error&) {
    for (auto& w : ws)
      caf::anon_send_exit(w, caf::exit_reason::user_shutdown);
  });
  auto pick = [self](const std::string& name) {
    auto& ws = self->state.workers;
    return ws[std::hash<std::string>{}(name) % ws.size()];
  };
  return {
      [self, pick](p::create_atom a, const rd::container_spec& spec)
          -> caf::result<rd::container_info> { return self->delegate(pick(spec.name), a, spec); },
      [self, pick](p::start_atom a, const std::string& name) -> caf::result<rd::container_info> {
        return self->delegate(pick(name), a, name);
      },
      [self, pick](p::run_atom a, const rd::container_spec& spec,
                   replica_actor replica) -> caf::result<rd::container_info> {
        return self->delegate(pick(spec.name), a, spec, replica);
      },
      [self, pick](p::stop_atom a, const std::string& name, caf::timespan grace)
          -> caf::result<bool> { return self->delegate(pick(name), a, name, grace); },
      [self, pick](p::remove_atom a, const std::string& name, bool force) -> caf::result<bool> {
        return self->delegate(pick(name), a, name, force);
      },
      [self, pick](p::inspect_atom a, const std::string& name) -> caf::result<rd::container_info> {
        return self->delegate(pick(name), a, name);
      },
      [self, pick](p::watch_atom a, const std::string& name, const std::string& runtime_id,
                   replica_actor replica) -> caf::result<bool> {
        return self->delegate(pick(name), a, name, runtime_id, replica);
      },
      [self, pick](p::logs_atom a, const std::string& name, uint64_t max_bytes)
          -> caf::result<std::string> { return self->delegate(pick(name), a, name, max_bytes); },
      [self, pick](p::stats_atom a, const std::string& name) -> caf::result<rd::container_stats> {
        return self->delegate(pick(name), a, name);
      },
      [self, pick](p::list_atom a,
                   const std::string& node) -> caf::result<std::vector<rd::container_info>> {
        return self->delegate(pick(node), a, node);
      },
      [self, pick](p::sweep_atom a, const std::string& node)
          -> caf::result<std::vector<std::string>> { return self->delegate(pick(node), a, node); },
      [self](p::health_atom a) -> caf::result<bool> {
        // Round robin: a worker stuck on a slow call delays one probe, not all.
        auto& ws = self->state.workers;
        return self->delegate(ws[self->state.next_probe++ % ws.size()], a);
      },
  };
}

} // namespace

rd::exit_callback exit_notice(replica_actor replica, std::string runtime_id) {
  return [replica, runtime_id](const std::string& id, int32_t code) {
    caf::anon_send(replica, p::replica_exited{id, runtime_id, code});
  };
}

driver_actor spawn_driver(caf::actor_system& sys, std::shared_ptr<rd::driver> driver) {
  if (!driver->blocking())
    return sys.spawn(driver_behavior, std::move(driver));
  auto n = driver->concurrency();
  if (n <= 1)
    return sys.spawn<caf::detached>(driver_behavior, std::move(driver));
  std::vector<driver_actor> workers;
  for (size_t i = 0; i < n; ++i)
    workers.push_back(sys.spawn<caf::detached>(driver_behavior, driver));
  return sys.spawn(router_behavior, std::move(workers));
}

} // namespace tutti::actors
