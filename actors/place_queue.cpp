#include "actors/place_queue.hpp"

#include "protocol/errors.hpp"

#include <caf/all.hpp>

namespace tutti::actors::service_impl {

void place_slot(self_ptr self, int32_t slot) {
  auto& s = self->state.slots[slot];
  s.in_flight = true;
  ++self->state.placing;
  auto epoch = s.epoch;
  const auto& spec = *spec_of(self, s).first;
  p::placement_request req{p::replica_id(spec.name, slot),
                           spec.name,
                           spec.resources,
                           spec.placement,
                           s.node.empty() ? s.last_node : s.node,
                           spec.driver,
                           static_cast<int32_t>(spec.ports.size()),
                           !s.node.empty()};
  // No timeout: placement is in this process and answers every request (a
  // placement that ends bounces it); a timer per request would cost more than
  // the decision at a million replicas.
  self->request(self->state.ctx.placement, caf::infinite, p::place_atom::value, req)
      .then(
          [self, slot, epoch](p::placement_decision& d, node_actor& handle) {
            if (handle)
              self->state.nodes[d.node] = handle;
            --self->state.placing;
            pump(self);
            auto* sp = slot_of(self, slot, epoch);
            if (sp == nullptr || sp->stopping)
              return; // stopped (its stop released it), or moved off a lost node
            auto& s = *sp;
            bool moved = s.node != d.node;
            set_node(self, slot, d.node);
            if (moved)
              s.requested_rev = 0; // nothing runs there yet
            s.node_lost = false;
            if (!moved) {
              run_on_node(self, slot);
              return;
            }
            // The assignment is durable before the replica starts, so a restarted
            // control plane finds it on the same node.
            s.assigned = p::fencing_epoch();
            p::assignment a{d.replica, self->state.spec.name, d.node, s.tmpl, s.assigned};
            self->request(self->state.ctx.store, caf::infinite, p::assign_atom::value, a)
                .then(
                    [self, slot, epoch](bool) {
                      if (auto* s = slot_of(self, slot, epoch); s != nullptr && !s->stopping)
                        run_on_node(self, slot);
                    },
                    [self, slot, epoch](caf::error& err) {
                      auto* s = slot_of(self, slot, epoch);
                      if (s == nullptr || s->stopping)
                        return;
                      s->in_flight = false;
                      problem(self, slot, err);
                    });
          },
          [self, slot, epoch](caf::error& err) {
            --self->state.placing;
            auto* s = slot_of(self, slot, epoch);
            if (s == nullptr || s->stopping) {
              pump(self);
              return;
            }
            s->in_flight = false;
            if (p::code_of(err) == p::error_code::unschedulable) {
              // Every slot of this revision asks the same: wait for capacity
              // (placement says when) instead of asking for each of them.
              self->state.unschedulable = p::message_of(err);
            }
            problem(self, slot, err);
            pump(self);
          });
}

/// Sends place requests for queued slots, at most place_window at a time.
void pump(self_ptr self) {
  auto& st = self->state;
  while (!st.to_place.empty()) {
    auto slot = st.to_place.front();
    auto i = st.slots.find(slot);
    if (i == st.slots.end() || !i->second.queued) {
      st.to_place.pop_front();
      continue;
    }
    auto& s = i->second;
    if (!st.unschedulable.empty()) {
      // Shown on the slot without an event each: one event per service says it.
      if (s.status.id.empty() || s.status.state == p::replica_state::pending) {
        s.status.state = p::replica_state::pending;
        s.status.message = st.unschedulable;
      }
      return;
    }
    if (st.placing >= place_window)
      return;
    st.to_place.pop_front();
    s.queued = false;
    if (s.in_flight || s.stopping || st.deleting)
      continue;
    place_slot(self, slot);
  }
}

void queue_place(self_ptr self, int32_t slot) {
  auto& s = self->state.slots[slot];
  if (s.queued)
    return;
  s.queued = true;
  self->state.to_place.push_back(slot);
}

} // namespace tutti::actors::service_impl
