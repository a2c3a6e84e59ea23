#include "actors/node/prober_actor.hpp"

#include <caf/all.hpp>

namespace tutti::actors {

namespace {

using drivers_map = std::map<p::driver_kind, std::shared_ptr<rd::driver>>;

prober_actor::behavior_type worker(prober_actor::pointer, drivers_map drivers) {
  return {
      [drivers](p::probe_atom, p::driver_kind kind, const p::probe_spec& probe,
                const rd::probe_target& target) -> caf::result<rd::probe_outcome> {
        auto d = drivers.find(kind);
        if (d == drivers.end())
          return rd::probe_outcome{false, "node has no " + p::to_string(kind) + " driver"};
        return rd::run_probe(*d->second, probe, target);
      },
  };
}

struct front_state {
  std::vector<prober_actor> workers;
  size_t next = 0;
  static inline const char* name = "prober";
};

prober_actor::behavior_type front(prober_actor::stateful_pointer<front_state> self,
                                  std::vector<prober_actor> workers) {
  self->state.workers = std::move(workers);
  for (auto& w : self->state.workers)
    self->link_to(w); // a failed worker restarts the whole prober
  self->attach_functor([ws = self->state.workers](const caf::error&) {
    for (auto& w : ws)
      caf::anon_send_exit(w, caf::exit_reason::user_shutdown);
  });
  return {
      [self](p::probe_atom a, p::driver_kind kind, const p::probe_spec& probe,
             const rd::probe_target& target) -> caf::result<rd::probe_outcome> {
        auto& ws = self->state.workers;
        return self->delegate(ws[self->state.next++ % ws.size()], a, kind, probe, target);
      },
  };
}

} // namespace

prober_actor spawn_prober(caf::actor_system& sys, drivers_map drivers, size_t workers) {
  std::vector<prober_actor> ws;
  for (size_t i = 0; i < std::max<size_t>(workers, 1); ++i)
    ws.push_back(sys.spawn<caf::detached>(worker, drivers));
  return sys.spawn(front, std::move(ws));
}

} // namespace tutti::actors
