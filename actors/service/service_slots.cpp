// The slots of a service on their nodes: run requests (with the epoch they were
// asked in, so a late answer of an earlier incarnation is ignored), stops, and
// the lowest free slot number. Part of the service actor (service_state.hpp).

#include "actors/service/service_state.hpp"

#include "actors/node/replica_actor.hpp"
#include "protocol/errors.hpp"

#include <caf/all.hpp>

#include <spdlog/spdlog.h>

namespace tutti::actors::service_impl {

/// Calls `f` with the actor of `node` (at once when known, else once placement
/// names it) or `fail` with why there is none. `f` is called once, so it may
/// move what it holds.
template <class F, class G> void with_node(self_ptr self, const std::string& node, F f, G fail) {
  auto i = self->state.nodes.find(node);
  if (i != self->state.nodes.end()) {
    f(i->second);
    return;
  }
  // No timer: placement is local and answers at once; a service of a big
  // cluster asks this once per node.
  self->request(self->state.ctx.placement, caf::infinite, p::get_atom::value, node)
      .then(
          [self, node, f](node_actor& handle) mutable {
            self->state.nodes[node] = handle;
            f(handle);
          },
          [fail](caf::error& err) mutable { fail(err); });
}

/// The spec of revision `rev` as its run requests carry it: one object for all
/// of its replicas, on the nodes too. A revision has one spec (updates of an
/// older or the same revision are ignored), so the revision finds it.
p::shared_spec shared_of(self_ptr self, const p::service_spec& spec, int64_t rev) {
  auto& cache = self->state.shared_specs;
  if (auto i = cache.find(rev); i != cache.end())
    return i->second;
  if (cache.size() >= 8) // a rollout needs two; older ones are rarely asked for again
    cache.clear();
  return cache[rev] = p::shared_spec{spec};
}

/// Calls `f` with the data of the configs and secrets revision `rev`'s spec
/// names (at once when it names none or they are held), or `fail` with why
/// there is none. The cluster answers once per revision; slots that ask
/// meanwhile wait for that answer.
void with_payloads(self_ptr self, const p::service_spec& spec, int64_t rev,
                   payload_continuation f) {
  if (spec.configs.empty() && spec.secrets.empty()) {
    f(p::shared_payloads{});
    return;
  }
  auto& st = self->state;
  if (auto i = st.payloads.find(rev); i != st.payloads.end()) {
    f(i->second);
    return;
  }
  auto& waiting = st.payload_waiters[rev];
  waiting.push_back(std::move(f));
  if (waiting.size() > 1)
    return;
  if (!st.ctx.cluster) {
    auto err = p::make_error(p::error_code::unavailable,
                             "no cluster actor to ask for the configs and secrets of the spec");
    auto queued = std::move(st.payload_waiters[rev]);
    st.payload_waiters.erase(rev);
    for (auto& g : queued)
      g(err);
    return;
  }
  self->request(st.ctx.cluster, caf::infinite, p::payload_atom::value, spec)
      .then(
          [self, rev](p::shared_payloads& x) {
            auto& cache = self->state.payloads;
            if (cache.size() >= 8) // like shared_specs: a rollout needs two
              cache.clear();
            cache[rev] = x;
            auto waiting = std::move(self->state.payload_waiters[rev]);
            self->state.payload_waiters.erase(rev);
            for (auto& g : waiting)
              g(x);
          },
          [self, rev](caf::error& err) {
            auto waiting = std::move(self->state.payload_waiters[rev]);
            self->state.payload_waiters.erase(rev);
            for (auto& g : waiting)
              g(err);
          });
}

/// The data a slot's replica needs is missing (an object that does not exist
/// yet, a version no longer kept): it waits, with the reason, for a new
/// revision (which creating the object makes) rather than asking again.
void not_given(self_ptr self, int32_t slot, uint64_t epoch, const caf::error& err) {
  auto* s = slot_of(self, slot, epoch);
  if (s == nullptr || s->stopping)
    return;
  s->in_flight = false;
  s->requested_rev = 0;
  problem(self, slot, err, false);
}

/// A run request of `epoch` failed: the next reconcile asks placement again,
/// which keeps the node if it is still there and fits, or moves the slot.
void not_run(self_ptr self, int32_t slot, uint64_t epoch, caf::error& err) {
  auto* s = slot_of(self, slot, epoch);
  if (s == nullptr || s->stopping)
    return; // moved off a lost node, or stopped, meanwhile
  s->in_flight = false;
  s->requested_rev = 0;
  self->state.nodes.erase(s->node);
  problem(self, slot, err);
}

/// The run request of slot `slot` to its node, with the epoch it was asked in.
void ask_node(self_ptr self, const node_actor& node, int32_t slot, int64_t rev, uint64_t epoch,
              p::replica_request req) {
  // Like place: no timer per replica; a node that ends fails the request; one
  // that is cut off is reported lost by placement, which starts a new epoch of
  // the slot.
  self->request(node, caf::infinite, p::run_atom::value, std::move(req))
      .then(
          [self, slot, rev, epoch](bool) {
            // Its replica actor reports how it runs, to this actor.
            auto* sp = slot_of(self, slot, epoch);
            if (sp == nullptr || sp->stopping)
              return;
            sp->in_flight = false;
            sp->requested_rev = rev;
          },
          [self, slot, epoch](caf::error& err) { not_run(self, slot, epoch, err); });
}

void run_on_node(self_ptr self, int32_t slot) {
  auto& s = self->state.slots[slot];
  s.in_flight = true;
  auto epoch = s.epoch;
  auto [spec, rev] = spec_of(self, s);
  p::replica_request req{self->state.spec.name,         slot,      rev, shared_of(self, *spec, rev),
                         self->state.ctx.discovery_env, s.assigned};
  with_payloads(self, *spec, rev,
                [self, slot, rev = rev, epoch, node = s.node,
                 req = std::move(req)](caf::expected<p::shared_payloads> objects) mutable {
                  if (!objects) {
                    not_given(self, slot, epoch, objects.error());
                    return;
                  }
                  // Stopped, or moved off a lost node, while the cluster answered.
                  auto* s = slot_of(self, slot, epoch);
                  if (s == nullptr || s->stopping)
                    return;
                  req.objects = std::move(*objects);
                  with_node(
                      self, node,
                      [self, slot, rev, epoch, req = std::move(req)](node_actor& handle) mutable {
                        ask_node(self, handle, slot, rev, epoch, std::move(req));
                      },
                      [self, slot, epoch](caf::error& err) { not_run(self, slot, epoch, err); });
                });
}

/// Ends slot `slot` (the incarnation of `epoch`; an older one's answer comes
/// too late and is ignored).
void finish_slot_stop(self_ptr self, int32_t slot, uint64_t epoch) {
  auto* s = slot_of(self, slot, epoch);
  if (s == nullptr)
    return;
  auto id = p::replica_id(self->state.spec.name, slot);
  self->send(self->state.ctx.placement, p::release_atom::value, id);
  self->request(self->state.ctx.store, caf::infinite, p::unassign_atom::value, id)
      .then([](bool) {}, [](caf::error&) {});
  if (counts_as_running(*s))
    --self->state.running;
  set_node(self, slot, {});
  self->state.restarts -= s->status.restarts;
  self->state.slots.erase(slot);
  queue_metrics(self);
  if (self->state.deleting && self->state.slots.empty()) {
    publish_endpoints(self, true);
    for (auto& promise : self->state.delete_promises)
      promise.deliver(true);
    send_events(self);
    self->quit();
  }
}

void stop_on_node(self_ptr self, int32_t slot, uint64_t epoch) {
  auto* s = slot_of(self, slot, epoch);
  if (s == nullptr)
    return;
  auto id = p::replica_id(self->state.spec.name, slot);
  auto fail = [self, slot, epoch](caf::error&) {
    // The node is gone: nothing left to stop there.
    finish_slot_stop(self, slot, epoch);
  };
  with_node(
      self, s->node,
      [self, slot, id, fail, epoch](node_actor& node) {
        self->request(node, caf::infinite, p::stop_atom::value, id)
            .then([self, slot, epoch](bool) { finish_slot_stop(self, slot, epoch); }, fail);
      },
      fail);
}

void stop_slots(self_ptr self, const std::vector<int32_t>& slots) {
  struct going {
    int32_t slot;
    uint64_t epoch;
    bool routed;
  };
  std::vector<going> on_nodes;
  for (auto slot : slots) {
    auto& s = self->state.slots[slot];
    auto epoch = s.epoch;
    bool routed = s.status.state == p::replica_state::running && !s.node_lost;
    if (counts_as_running(s))
      --self->state.running;
    s.stopping = true;
    s.in_flight = true;
    if (s.node.empty())
      finish_slot_stop(self, slot, epoch);
    else
      on_nodes.push_back({slot, epoch, routed});
  }
  if (on_nodes.empty())
    return;
  // Out of the endpoint set first, all of them in one publication (one per slot
  // made a large scale-down quadratic); then, for a published service, the
  // routers let the connections they hold to each finish before it gets its
  // SIGTERM (discovery gets the drains after the publication: one sender).
  publish_endpoints(self);
  const auto& spec = self->state.spec;
  bool drain = p::has_published_ports(spec) && self->state.ctx.discovery;
  auto grace = spec.stop_grace;
  auto limit = grace + std::chrono::duration_cast<caf::timespan>(std::chrono::seconds{2});
  for (const auto& x : on_nodes) {
    auto slot = x.slot;
    auto epoch = x.epoch;
    if (!x.routed || !drain) {
      stop_on_node(self, slot, epoch);
      continue;
    }
    self->request(self->state.ctx.discovery, limit, p::drain_atom::value,
                  p::replica_id(spec.name, slot), grace)
        .then([self, slot, epoch](bool) { stop_on_node(self, slot, epoch); },
              [self, slot, epoch](caf::error&) { stop_on_node(self, slot, epoch); });
  }
}

/// The lowest free slot number from `from` on.
int32_t free_slot(self_ptr self, int32_t from) {
  int32_t slot = from;
  while (self->state.slots.count(slot))
    ++slot;
  return slot;
}

} // namespace tutti::actors::service_impl
