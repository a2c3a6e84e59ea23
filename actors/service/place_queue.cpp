#include "actors/service/place_queue.hpp"

#include "protocol/errors.hpp"

#include <caf/all.hpp>

namespace tutti::actors::service_impl {

namespace {

/// A slot of a batch, as it was when asked for: answers for an older epoch are void.
struct asked {
  int32_t slot = 0;
  uint64_t epoch = 0;
};

/// The slot of `x` if still live and not being stopped.
slot_state* live(self_ptr self, const asked& x) {
  auto* s = slot_of(self, x.slot, x.epoch);
  return s != nullptr && !s->stopping ? s : nullptr;
}

void not_placed(self_ptr self, const asked& x, const caf::error& err) {
  auto* s = live(self, x);
  if (s == nullptr)
    return;
  s->in_flight = false;
  if (p::code_of(err) == p::error_code::unschedulable) {
    // Every slot of this revision asks the same: wait for capacity (placement
    // says when) instead of asking for each of them.
    self->state.unschedulable = p::message_of(err);
  }
  problem(self, x.slot, err);
}

/// The assignments of the slots that moved are durable: run them there (a
/// restarted control plane finds them on the same node).
void store_then_run(self_ptr self, std::vector<p::assignment> xs, std::vector<asked> slots) {
  self->request(self->state.ctx.store, caf::infinite, p::assign_atom::value, std::move(xs))
      .then(
          [self, slots](int64_t epoch) {
            for (const auto& x : slots)
              if (auto* s = live(self, x)) {
                s->assigned = epoch;
                run_on_node(self, x.slot);
              }
          },
          [self, slots](caf::error& err) {
            for (const auto& x : slots)
              if (auto* s = live(self, x)) {
                s->in_flight = false;
                problem(self, x.slot, err);
              }
          });
}

/// Placement's answer for one batch: slots that keep their node run at once,
/// those that moved run once their assignments are stored.
void on_placed(self_ptr self, const std::vector<asked>& slots,
               std::vector<p::placement_outcome>& outcomes, std::vector<node_actor>& handles) {
  std::vector<p::assignment> moved;
  std::vector<asked> moved_slots;
  for (size_t k = 0; k < slots.size(); ++k) {
    if (k >= outcomes.size()) {
      not_placed(self, slots[k],
                 p::make_error(p::error_code::internal, "placement answered too few replicas"));
      continue;
    }
    auto& out = outcomes[k];
    if (out.node.empty()) {
      not_placed(self, slots[k], out.error);
      continue;
    }
    if (k < handles.size() && handles[k])
      self->state.nodes[out.node] = handles[k];
    auto* sp = live(self, slots[k]);
    if (sp == nullptr)
      continue; // stopped (its stop released it), or moved off a lost node
    auto& s = *sp;
    auto slot = slots[k].slot;
    bool same_node = s.node == out.node;
    set_node(self, slot, out.node);
    s.node_lost = false;
    if (same_node) {
      run_on_node(self, slot);
      continue;
    }
    s.requested_rev = 0; // nothing runs there yet
    moved.push_back({out.replica, self->state.spec.name, out.node, s.tmpl, 0});
    moved_slots.push_back(slots[k]);
  }
  if (!moved.empty())
    store_then_run(self, std::move(moved), std::move(moved_slots));
}

/// Asks placement for a node for each of `slots` (all of one template), keeping
/// a slot's node when it still fits.
void place_batch(self_ptr self, const std::vector<int32_t>& batch) {
  auto& st = self->state;
  const auto& spec = *spec_of(self, st.slots[batch.front()]).first;
  auto resources = spec.resources;
  resources.disk = p::volume_bytes(spec);
  p::placement_batch req{spec.name,   resources, spec.placement,
                         spec.driver, static_cast<int32_t>(spec.ports.size()), {}};
  std::vector<asked> slots;
  req.asks.reserve(batch.size());
  slots.reserve(batch.size());
  for (auto slot : batch) {
    auto& s = st.slots[slot];
    s.in_flight = true;
    req.asks.push_back(
        {p::replica_id(spec.name, slot), s.node.empty() ? s.last_node() : s.node, !s.node.empty()});
    slots.push_back({slot, s.epoch});
  }
  ++st.placing;
  // No timeout: placement is in this process and answers every request (a
  // placement that ends bounces it).
  self->request(st.ctx.placement, caf::infinite, p::place_atom::value, std::move(req))
      .then(
          [self, slots](std::vector<p::placement_outcome>& outcomes,
                        std::vector<node_actor>& handles) {
            --self->state.placing;
            on_placed(self, slots, outcomes, handles);
            pump(self);
          },
          [self, slots](caf::error& err) {
            --self->state.placing;
            for (const auto& x : slots)
              not_placed(self, x, err);
            pump(self);
          });
}

/// The next queued slots to place, all of one template, at most a batch.
std::vector<int32_t> next_batch(self_ptr self) {
  auto& st = self->state;
  std::vector<int32_t> out;
  const std::string* tmpl = nullptr;
  while (!st.to_place.empty() && out.size() < static_cast<size_t>(place_batch_size)) {
    auto slot = st.to_place.front();
    auto i = st.slots.find(slot);
    if (i == st.slots.end() || !i->second.queued) {
      st.to_place.pop_front();
      continue;
    }
    auto& s = i->second;
    if (tmpl != nullptr && s.tmpl != *tmpl)
      break; // the next batch takes it
    st.to_place.pop_front();
    s.queued = false;
    if (s.in_flight || s.stopping || st.deleting)
      continue;
    tmpl = &s.tmpl;
    out.push_back(slot);
  }
  return out;
}

} // namespace

void rerun_in_place(self_ptr self, int32_t slot) {
  auto& s = self->state.slots[slot];
  s.in_flight = true;
  s.requested_rev = 0;
  p::assignment a{p::replica_id(self->state.spec.name, slot), self->state.spec.name, s.node,
                  s.tmpl, 0};
  store_then_run(self, {std::move(a)}, {{slot, s.epoch}});
}

void pump(self_ptr self) {
  auto& st = self->state;
  while (!st.to_place.empty()) {
    auto i = st.slots.find(st.to_place.front());
    if (i == st.slots.end() || !i->second.queued) {
      st.to_place.pop_front();
      continue;
    }
    if (!st.unschedulable.empty()) {
      // Shown on the slot without an event each: one event per service says it.
      auto& s = i->second;
      if (!s.status.reported() || s.status.state == p::replica_state::pending) {
        s.status.state = p::replica_state::pending;
        s.status.set_message(st.unschedulable);
      }
      return;
    }
    if (st.placing >= place_window)
      return;
    auto batch = next_batch(self);
    if (!batch.empty())
      place_batch(self, batch);
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
