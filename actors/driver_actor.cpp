#include "actors/driver_actor.hpp"

#include <caf/all.hpp>

namespace tutti::actors {

namespace {

struct driver_state {
  std::shared_ptr<rd::driver> driver;
  static inline const char* name = "driver";
};

using self_ptr = driver_actor::stateful_pointer<driver_state>;

template <class T>
caf::result<T> lift(caf::expected<T>&& x) {
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
      // Runs on the driver's own thread: only post a message.
      auto on_exit = [replica, runtime_id](const std::string& id, int32_t code) {
        caf::anon_send(replica, p::replica_exited{id, runtime_id, code});
      };
      return lift(self->state.driver->watch(name, std::move(on_exit)));
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
  };
}

} // namespace

driver_actor spawn_driver(caf::actor_system& sys, std::shared_ptr<rd::driver> driver) {
  if (driver->blocking())
    return sys.spawn<caf::detached>(driver_behavior, std::move(driver));
  return sys.spawn(driver_behavior, std::move(driver));
}

} // namespace tutti::actors
