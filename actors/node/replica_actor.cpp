#include "actors/node/replica_actor.hpp"

#include "actors/node/replica_state.hpp"
#include "actors/node/replica_lifecycle.hpp"
#include "actors/node/replica_probes.hpp"
#include "actors/node/replica_restart.hpp"

#include "metrics/recorder.hpp"

#include <caf/all.hpp>

namespace tutti::actors {

namespace replica_impl {

namespace {

int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

void send_event(self_ptr self, p::event e) {
  if (self->state.ctx.service)
    self->send(self->state.ctx.service, p::append_atom::value, std::move(e));
  else
    self->send(self->state.ctx.store, p::append_atom::value, std::move(e));
}

} // namespace

void send_status(self_ptr self) {
  if (self->state.ctx.service)
    self->send(self->state.ctx.service, self->state.status.unpack());
  else
    self->send(self->state.ctx.parent, self->state.status.unpack());
}

p::event event_of(self_ptr self, std::string kind, std::string message) {
  p::event e;
  e.kind = std::move(kind);
  e.service = self->state.req->service;
  e.replica = self->state.status.id();
  e.message = std::move(message);
  return e;
}

void emit(self_ptr self, std::string kind, std::string message) {
  send_event(self, event_of(self, std::move(kind), std::move(message)));
}

void report(self_ptr self, p::replica_state state, std::string message, std::optional<p::event> e) {
  auto& st = self->state.status;
  st.state = state;
  st.set_message(message);
  st.since_ms = now_ms();
  if (state != p::replica_state::running) {
    st.pid = 0;
    st.ready = false;
    ++self->state.probe_generation; // probes of the old incarnation are void
  }
  if (e && self->state.ctx.service) {
    self->send(self->state.ctx.service, st.unpack(), std::move(*e));
    return;
  }
  send_status(self);
  if (e)
    send_event(self, std::move(*e));
}

namespace {

/// Keeps what the node gives it, with its first status, and adopts or runs its
/// container.
void start(self_ptr self, replica_context ctx, std::shared_ptr<const p::replica_request> req) {
  self->state.ctx = std::move(ctx.links);
  self->state.req = std::move(req);
  p::replica_status st;
  st.service = self->state.req->service;
  st.slot = self->state.req->slot;
  st.id = p::replica_id(st.service, st.slot);
  st.node = std::move(ctx.node);
  st.revision = self->state.req->revision;
  st.ports = std::move(ctx.ports);
  st.address = std::move(ctx.address);
  st.template_hash = template_hash(self->state.req->spec);
  self->state.status = packed_status{st};
  if (self->state.ctx.fresh)
    create_and_start(self);
  else
    recover(self);
}

/// The service actor that now asks for this replica: its reports go there.
void route_to(self_ptr self, service_actor service) {
  self->state.ctx.service = std::move(service);
}

} // namespace

replica_actor::behavior_type replica(self_ptr self, replica_context ctx,
                                     std::shared_ptr<const p::replica_request> req) {
  start(self, std::move(ctx), std::move(req));
  return {
      [self](p::replica_request& r) { on_update(self, r); },
      [self](p::route_atom, service_actor& service) { route_to(self, std::move(service)); },
      [self](p::replica_exited& msg) { on_exit(self, msg); },
      [self](p::restart_atom, const std::string& token) { on_restart_timer(self, token); },
      [self](p::probe_atom, int32_t index, uint64_t generation) {
        run_probe(self, index, generation);
      },
      [self](p::stop_atom) { return on_stop(self); },
      [self](p::status_atom) { return self->state.status.unpack(); },
  };
}

} // namespace replica_impl

replica_actor spawn_replica(caf::actor_system& sys, replica_context ctx,
                            std::shared_ptr<const p::replica_request> req) {
  metrics::required(ctx.links.metrics, "replica_links");
  return sys.spawn(replica_impl::replica, std::move(ctx), std::move(req));
}

} // namespace tutti::actors
