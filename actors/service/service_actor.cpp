#include "actors/service/service_actor.hpp"

#include "actors/service/place_queue.hpp"
#include "actors/node/replica_actor.hpp"
#include "actors/service/rollout.hpp"
#include "actors/service/service_state.hpp"
#include "metrics/recorder.hpp"
#include "protocol/errors.hpp"

#include <caf/all.hpp>

#include <algorithm>

#include <spdlog/spdlog.h>

namespace tutti::actors {

namespace service_impl {

/// Slots a service resyncs per resync interval, at most (on average).
constexpr size_t resync_slots = 1000;

void set_status(self_ptr self, slot_state& s, p::replica_status st) {
  self->state.restarts += st.restarts - s.status.restarts;
  s.status = packed_status{st};
}

/// Records the node of a slot (empty: none), keeping by_node in step.
void set_node(self_ptr self, int32_t slot, const std::string& node) {
  auto& s = self->state.slots[slot];
  if (s.node == node)
    return;
  auto& by_node = self->state.by_node;
  if (!s.node.empty())
    if (auto i = by_node.find(s.node); i != by_node.end()) {
      auto& xs = i->second;
      if (auto at = std::find(xs.begin(), xs.end(), slot); at != xs.end()) {
        *at = xs.back();
        xs.pop_back();
      }
      if (i->second.empty())
        by_node.erase(i);
    }
  s.node = node;
  if (!node.empty())
    by_node[node].push_back(slot);
}

/// The slot `slot` if it is still the incarnation that sent a request of `epoch`
/// (not stopped and made anew, not moved off a lost node since).
slot_state* slot_of(self_ptr self, int32_t slot, uint64_t epoch) {
  auto i = self->state.slots.find(slot);
  if (i == self->state.slots.end() || i->second.epoch != epoch)
    return nullptr;
  return &i->second;
}

/// A new slot (or a new incarnation of one): requests of earlier ones are void.
slot_state& new_epoch(self_ptr self, int32_t slot) {
  auto& s = self->state.slots[slot];
  s.epoch = ++self->state.epochs;
  return s;
}

/// One reconcile for a burst of changes (e.g. many nodes lost at once).
void queue_reconcile(self_ptr self) {
  if (self->state.reconcile_queued)
    return;
  self->state.reconcile_queued = true;
  self->send(self, p::reconcile_atom::value);
}

/// Running replicas of wanted slots that are not being stopped: where the mesh
/// may send new connections.
p::service_endpoints endpoints(self_ptr self) {
  const auto& spec = self->state.spec;
  p::service_endpoints out{spec.name, spec.ports, spec.balancing, {}, false};
  for (const auto& [slot, s] : self->state.slots) {
    if (s.stopping || s.node_lost || s.status.state != p::replica_state::running || !s.status.ready)
      continue;
    auto host =
        s.status.address().empty() ? std::string{"127.0.0.1"} : std::string{s.status.address()};
    for (const auto& b : s.status.ports)
      out.endpoints.push_back(
          {std::string{s.status.id()}, std::string{s.status.node()}, b.name, host, b.host_port});
  }
  return out;
}

void publish_endpoints(self_ptr self, bool removed) {
  if (!self->state.ctx.discovery)
    return;
  auto x = endpoints(self);
  x.removed = removed;
  if (self->state.published && *self->state.published == x)
    return;
  self->state.published = x;
  self->send(self->state.ctx.discovery, std::move(x));
}

/// Sends the flush reminder that does what queue_publish and queue_metrics
/// queued, once per burst.
void queue_flush(self_ptr self) {
  if (self->state.flush_queued)
    return;
  self->state.flush_queued = true;
  self->send(self, p::flush_atom::value);
}

/// One publication for a burst of status reports: building the endpoint set
/// visits every slot, so one per report made a service's start quadratic.
void queue_publish(self_ptr self) {
  if (self->state.publish_queued || !self->state.ctx.discovery)
    return;
  self->state.publish_queued = true;
  queue_flush(self);
}

/// Queues an event (ours or a replica's) for the next flush.
void queue_event(self_ptr self, p::event e) {
  auto& events = self->state.events;
  // Sized like the last burst: growing from one, a burst of hundreds (a lost
  // node's replicas) reallocated it at every power of two, and glibc serves
  // each large block only after sweeping its fast bins.
  if (events.empty())
    events.reserve(std::clamp<size_t>(self->state.last_burst, 4, 1024));
  events.push_back(std::move(e));
  queue_flush(self);
}

void emit(self_ptr self, std::string kind, std::string message, std::string replica) {
  p::event e;
  e.kind = std::move(kind);
  e.service = self->state.spec.name;
  e.replica = std::move(replica);
  e.message = std::move(message);
  queue_event(self, std::move(e));
}

void send_events(self_ptr self) {
  if (self->state.events.empty())
    return;
  self->state.last_burst = self->state.events.size();
  self->send(self->state.ctx.store, p::append_atom::value, std::exchange(self->state.events, {}));
}

/// A replacement for replicas on a draining node fits nowhere: they stay where
/// they are (availability first), and the event says why.
void drain_blocked(self_ptr self, const std::string& why) {
  auto& st = self->state;
  std::string nodes;
  int32_t stuck = 0;
  for (const auto& node : st.draining)
    if (auto i = st.by_node.find(node); i != st.by_node.end() && !i->second.empty()) {
      nodes += (nodes.empty() ? "" : ", ") + node;
      stuck += static_cast<int32_t>(i->second.size());
    }
  if (stuck == 0)
    return;
  auto text = "node " + nodes + ": " + std::to_string(stuck) + " replica" +
              (stuck == 1 ? "" : "s") + " of " + st.spec.name +
              " stay until a replacement fits elsewhere: " + why;
  if (text == st.drain_blocked)
    return;
  st.drain_blocked = text;
  spdlog::warn("service {}: {}", st.spec.name, text);
  emit(self, "node_drain_blocked", text);
}

/// A node started (or stopped) draining: its slots are replaced elsewhere.
void on_draining(self_ptr self, const std::string& node, bool draining) {
  auto& st = self->state;
  bool changed = draining ? st.draining.insert(node).second : st.draining.erase(node) > 0;
  if (!changed)
    return;
  st.drain_blocked.clear();
  st.unschedulable.clear(); // the replacements are new requests
  if (st.by_node.count(node))
    queue_reconcile(self);
}

/// The draining nodes, as placement knows them when this service (re)starts.
void load_draining(self_ptr self) {
  self->request(self->state.ctx.placement, std::chrono::seconds{30}, p::drain_atom::value)
      .then(
          [self](std::vector<std::string>& nodes) {
            for (auto& node : nodes)
              on_draining(self, node, true);
          },
          [self](caf::error& err) {
            spdlog::error("service {}: cannot learn which nodes drain: {}", self->state.spec.name,
                          p::message_of(err));
          });
}

/// Why slot `slot` is not running: shown on the slot (unless a replica already
/// reports for it) and, when new, logged and recorded as an event.
void problem(self_ptr self, int32_t slot, const caf::error& err, bool retry) {
  // Try again soon rather than at the next resync: after a node loss the first
  // attempt may race placement learning of it. (A replica that fits nowhere
  // waits for placement to say that capacity appeared.)
  if (retry && !self->state.retry_pending && p::code_of(err) != p::error_code::unschedulable) {
    self->state.retry_pending = true;
    self->delayed_send(self, std::chrono::milliseconds{50}, p::reconcile_atom::value);
  }
  auto i = self->state.slots.find(slot);
  if (i == self->state.slots.end())
    return; // stopped meanwhile
  auto text = p::message_of(err);
  auto replica = p::replica_id(self->state.spec.name, slot);
  auto& status = i->second.status;
  if (!status.reported() || status.state == p::replica_state::pending) {
    status.state = p::replica_state::pending;
    status.set_message(text);
  }
  if (p::code_of(err) == p::error_code::unschedulable)
    drain_blocked(self, text);
  auto& last = i->second.past_of().last_problem;
  if (text == last)
    return;
  last = text;
  spdlog::warn("service {}: {}", self->state.spec.name, text);
  emit(self,
       p::code_of(err) == p::error_code::unschedulable ? "replica_unschedulable"
                                                       : "reconcile_failed",
       text, replica);
}

bool leaving(self_ptr self, const slot_state& s) {
  const auto& draining = self->state.draining;
  return !draining.empty() && !s.node.empty() && draining.count(s.node) > 0;
}

/// Running and not on its way out: what `running` counts.
bool counts_as_running(const slot_state& s) {
  return s.status.state == p::replica_state::running && !s.stopping;
}

/// Kept up to date on every status change; recounted only when the spec changes,
/// so a service of 10,000 replicas does not count them on each report.
void recount_running(self_ptr self) {
  int32_t n = 0;
  int32_t ready = 0;
  for (auto& [slot, s] : self->state.slots) {
    if (counts_as_running(s))
      ++n;
    if (is_ready(s))
      ++ready;
  }
  self->state.running = n;
  self->state.ready = ready;
}

int32_t running_count(self_ptr self) {
  return self->state.running;
}

/// Counts for availability: running, ready, routed to, not on its way out.
bool is_ready(const slot_state& s) {
  return !s.stopping && !s.node_lost && s.status.state == p::replica_state::running &&
         s.status.ready;
}

/// The spec and revision a slot runs: the current one, or the older revision
/// of its template while a rollout replaces it.
std::pair<const p::service_spec*, int64_t> spec_of(self_ptr self, const slot_state& s) {
  if (s.tmpl != self->state.target) {
    auto i = self->state.templates.find(s.tmpl);
    if (i != self->state.templates.end())
      return {&i->second.spec, i->second.revision};
  }
  return {&self->state.spec, self->state.revision};
}

void update_metrics(self_ptr self) {
  self->state.metrics_queued = false;
  if (self->state.deleting)
    return; // its series are gone with it
  auto& m = *self->state.ctx.metrics;
  m.set_replicas_desired(self->state.spec.name, self->state.spec.replicas);
  m.set_replicas_running(self->state.spec.name, running_count(self));
  m.set_replicas_ready(self->state.spec.name, self->state.ready);
}

/// One metrics update for a burst of status reports: each is three labelled
/// series looked up, a cost per replica otherwise.
void queue_metrics(self_ptr self) {
  if (self->state.metrics_queued)
    return;
  self->state.metrics_queued = true;
  queue_flush(self);
}

void reconcile(self_ptr self) {
  auto start = clock::now();
  auto& st = self->state;
  if (st.deleting) {
    std::vector<int32_t> live;
    for (auto& [slot, s] : st.slots)
      if (!s.stopping)
        live.push_back(slot);
    stop_slots(self, live);
  } else {
    // Unplaced slots are placed; placed ones not yet asked for this incarnation
    // (or asked for an older revision of the same template) are asked again.
    for (auto& [slot, s] : st.slots) {
      if (s.in_flight || s.stopping)
        continue;
      // An unplaced slot, or one of an older revision of its template or of a
      // lost node: placement confirms (or re-reserves, or moves) its node, then
      // it runs.
      if (s.node.empty() || s.node_lost || s.requested_rev != spec_of(self, s).second)
        queue_place(self, slot);
    }
    // New slots where some are missing, stops where there are too many, the
    // rollout's replacements (they are placed by pump, within the window).
    step(self);
    pump(self);
    auto phase = st.rollout.phase;
    if (phase == p::rollout_state::progressing || phase == p::rollout_state::rolling_back)
      check_rollout_done(self, count_slots(self));
  }
  recount_running(self);
  update_metrics(self);
  std::chrono::duration<double> took = clock::now() - start;
  st.ctx.metrics->observe_reconcile(st.spec.name, took.count());
}

void on_status(self_ptr self, p::replica_status& st) {
  auto i = self->state.slots.find(st.slot);
  if (i == self->state.slots.end())
    return;
  auto& s = i->second;
  if (!st.node.empty() && st.node != s.node)
    return; // from a node the slot has left
  // The container a replica replaces in place reports until it is gone: not
  // what the slot runs, so it is neither ready nor a failure of the rollout.
  bool replaced = !st.template_hash.empty() && st.template_hash != s.tmpl;
  if (replaced)
    st.ready = false;
  auto was_running = counts_as_running(s);
  auto was_ready = is_ready(s);
  bool moved = s.status.address() != st.address || s.status.ports != st.ports;
  set_status(self, s, std::move(st));
  s.node_lost = false;
  if (!replaced)
    if (auto why = rollout_failure(self, s))
      fail_rollout(self, *why);
  auto now_running = counts_as_running(s);
  if (was_running != now_running)
    self->state.running += now_running ? 1 : -1;
  if (was_ready != is_ready(s))
    self->state.ready += was_ready ? -1 : 1;
  if (was_running != now_running || was_ready != is_ready(s))
    queue_metrics(self);
  if (was_ready != is_ready(s) || (is_ready(s) && moved))
    queue_publish(self); // its endpoints came, went or changed
  auto phase = self->state.rollout.phase;
  if (phase == p::rollout_state::progressing || phase == p::rollout_state::rolling_back)
    queue_reconcile(self); // a replica became ready or went away: the rollout may move on
}

/// Placement saw `node` go down, or come back as a new actor (it monitors the
/// nodes; services do not): its slots are placed again. False if none was there.
bool forget_node(self_ptr self, const std::string& node) {
  auto& st = self->state;
  st.nodes.erase(node);
  auto on_it = st.by_node.find(node);
  if (on_it == st.by_node.end())
    return false;
  // Its replicas may run on, but nothing tells us: stop routing to them and
  // place them again, under the same rules, preferring the node should it be
  // back. If it comes back, the cluster's sweep removes what it still runs of
  // them (their assignments point elsewhere by then).
  auto slots = on_it->second;            // set_node changes by_node
  std::sort(slots.begin(), slots.end()); // in slot order, as the events tell them
  auto why = "node " + node + " lost; placing it again";
  for (auto slot : slots) {
    auto i = st.slots.find(slot);
    if (i == st.slots.end())
      continue;
    auto& s = i->second;
    if (s.stopping) {
      finish_slot_stop(self, slot, s.epoch); // nothing left to stop there
      continue;
    }
    if (counts_as_running(s))
      --st.running;
    // A new epoch: what the lost node answers, if ever, is void.
    new_epoch(self, slot);
    s.past_of().last_node = s.node;
    set_node(self, slot, {});
    s.in_flight = false;
    s.requested_rev = 0;
    s.node_lost = false;
    auto id = p::replica_id(st.spec.name, slot);
    set_status(self, s, {});
    s.status.state = p::replica_state::pending;
    s.status.set_message(why);
    emit(self, "replica_rescheduled", why, id);
    queue_place(self, slot);
  }
  return true;
}

/// Nodes placement saw go down (a burst of them in one message).
void on_nodes_lost(self_ptr self, const std::vector<std::string>& nodes) {
  bool any = false;
  for (const auto& node : nodes)
    any = forget_node(self, node) || any;
  if (!any)
    return;
  auto& st = self->state;
  // Only these slots changed: they are placed again without a reconcile, which
  // visits every slot (500 nodes lost at once cost each service of 10,000
  // slots 500 such passes, and as many endpoint sets, one per lost node).
  queue_publish(self);
  queue_metrics(self);
  pump(self);
  auto phase = st.rollout.phase;
  if (st.deleting || phase == p::rollout_state::progressing ||
      phase == p::rollout_state::rolling_back)
    queue_reconcile(self); // they are to stop; or fewer ready: the rollout may wait
}

/// New `<SERVICE>_ADDR` variables: replicas get them when they next start.
void on_env(self_ptr self, std::map<std::string, std::string>& env) {
  if (env == self->state.ctx.discovery_env)
    return;
  self->state.ctx.discovery_env = std::move(env);
  for (auto& [slot, s] : self->state.slots)
    if (!s.node.empty() && !s.in_flight && !s.stopping &&
        s.requested_rev == spec_of(self, s).second)
      run_on_node(self, slot); // same revision: the replica only takes the new env
}

p::service_status status(self_ptr self) {
  p::service_status out;
  out.name = self->state.spec.name;
  out.revision = self->state.revision;
  out.desired = self->state.spec.replicas;
  out.running = running_count(self);
  out.driver = self->state.spec.driver;
  out.restarts = static_cast<int32_t>(self->state.restarts);
  for (const auto& [slot, s] : self->state.slots)
    out.ready += is_ready(s) ? 1 : 0;
  out.autoscale = autoscale_summary(self);
  out.autoscaled = self->state.last_autoscale;
  return out;
}

std::vector<p::replica_status> replicas(self_ptr self) {
  std::vector<p::replica_status> out;
  for (auto& [slot, s] : self->state.slots) {
    auto st = s.status.unpack();
    if (st.id.empty()) {
      st.id = p::replica_id(self->state.spec.name, slot);
      st.service = self->state.spec.name;
      st.slot = slot;
      st.node = s.node;
    }
    out.push_back(std::move(st));
  }
  return out;
}

void load_assignments(self_ptr self) {
  // await: reconcile must not place a slot before its stored node is known.
  self->request(self->state.ctx.store, std::chrono::seconds{30}, p::get_atom::value,
                p::assign_atom::value, self->state.spec.name)
      .await(
          [self](std::vector<p::assignment>& xs) {
            auto prefix = self->state.spec.name + "-";
            for (auto& a : xs) {
              if (a.replica.rfind(prefix, 0) != 0)
                continue;
              auto slot = std::stoi(a.replica.substr(prefix.size()));
              auto& s = new_epoch(self, slot);
              set_node(self, slot, a.node);
              // Records written before templates were kept: take them as current.
              s.tmpl = a.template_hash.empty() ? self->state.target : a.template_hash;
              s.assigned = a.epoch;
            }
            load_history(self);
          },
          [self](caf::error& err) {
            spdlog::error("service {}: cannot load assignments: {}", self->state.spec.name,
                          p::message_of(err));
            reconcile(self);
          });
}

/// A new revision of the spec: a change of what replicas run starts a rollout;
/// any other change (a scale, the routing) is reconciled in place.
void on_update(self_ptr self, p::service_spec& spec, int64_t revision) {
  if (revision <= self->state.revision)
    return;
  auto target = template_hash(spec);
  self->state.spec = std::move(spec);
  self->state.revision = revision;
  self->state.unschedulable.clear();
  remember(self, revision, self->state.spec);
  for (auto& [slot, s] : self->state.slots)
    if (s.past)
      s.past->last_problem.clear();
  bool changed = target != self->state.target;
  self->state.target = target;
  if (changed) {
    // Rollback revisions are marked by the answer to request_rollback.
    self->state.rollout.is_rollback = false;
    bool replacing = false;
    for (auto& [slot, s] : self->state.slots)
      replacing = replacing || (!s.stopping && s.tmpl != target);
    if (replacing)
      start_rollout(self);
    else
      self->state.rollout = {revision, p::rollout_state::complete, "", clock::now(), false};
  } else {
    self->state.rollout.revision = revision;
  }
  reconcile(self);
  publish_endpoints(self); // ports or balancing may have changed
}

/// The end of a burst: events, endpoints and metrics queued meanwhile go out once.
void on_flush(self_ptr self) {
  self->state.flush_queued = false;
  send_events(self);
  if (self->state.publish_queued) {
    self->state.publish_queued = false;
    publish_endpoints(self);
  }
  if (self->state.metrics_queued)
    update_metrics(self);
}

/// Both the coalesced reconcile and the retry after a failed place or run.
void on_reconcile(self_ptr self) {
  self->state.reconcile_queued = false;
  self->state.retry_pending = false;
  reconcile(self);
}

/// The resync: a full pass over the slots, for what no event caught. A service
/// of many slots resyncs less often (10,000 slots every 10 s), so that a hundred
/// large services cost little between changes; changes reconcile at once,
/// whatever the size.
void on_tick(self_ptr self) {
  auto stride = std::max<uint64_t>(1, self->state.slots.size() / resync_slots);
  bool resync = ++self->state.ticks % stride == 0;
  if (resync)
    reconcile(self);
  // Also the first publication of a service whose replicas report nothing yet.
  if (resync || !self->state.published)
    publish_endpoints(self);
  autoscale_tick(self);
  self->delayed_send(self, self->state.ctx.resync, p::tick_atom::value);
}

/// Stops every replica; answers (and ends the actor) once the last is gone.
caf::result<bool> on_delete(self_ptr self) {
  auto promise = self->make_response_promise<bool>();
  self->state.delete_promises.push_back(promise);
  self->state.deleting = true;
  self->state.ctx.metrics->forget_service(self->state.spec.name);
  if (self->state.slots.empty()) {
    publish_endpoints(self, true);
    for (auto& x : self->state.delete_promises)
      x.deliver(true);
    send_events(self);
    self->quit();
    return promise;
  }
  reconcile(self);
  return promise;
}

void start(self_ptr self, service_context ctx, p::service_spec spec, int64_t revision) {
  self->state.ctx = std::move(ctx);
  self->state.spec = std::move(spec);
  self->state.revision = revision;
  self->state.target = template_hash(self->state.spec);
  remember(self, revision, self->state.spec);
  self->state.rollout.revision = revision;
  load_assignments(self);
  load_draining(self);
  self->delayed_send(self, self->state.ctx.resync, p::tick_atom::value);
}

service_actor::behavior_type service(self_ptr self, service_context ctx, p::service_spec spec,
                                     int64_t revision) {
  start(self, std::move(ctx), std::move(spec), revision);
  return {
      [self](p::update_atom, p::service_spec& spec, int64_t revision) {
        on_update(self, spec, revision);
      },
      [self](p::env_atom, std::map<std::string, std::string>& env) { on_env(self, env); },
      [self](p::lost_atom, const std::vector<std::string>& nodes) { on_nodes_lost(self, nodes); },
      [self](p::flush_atom) { on_flush(self); },
      [self](p::drain_atom, const std::string& node, bool draining) {
        on_draining(self, node, draining);
      },
      [self](p::reconcile_atom) { on_reconcile(self); },
      [self](p::capacity_atom) {
        self->state.unschedulable.clear();
        reconcile(self);
      },
      [self](p::replica_status& st) { on_status(self, st); },
      [self](p::replica_status& st, p::event& e) { // a report with its event
        queue_event(self, std::move(e));
        on_status(self, st);
      },
      [self](p::append_atom, p::event& e) { queue_event(self, std::move(e)); }, // a replica's
      [self](p::tick_atom) { on_tick(self); },
      [self](p::status_atom) { return status(self); },
      [self](p::rollout_atom) { return rollout_view(self); },
      [self](p::get_atom) { return replicas(self); },
      [self](p::delete_atom) { return on_delete(self); },
  };
}

} // namespace service_impl

service_actor spawn_service(caf::actor_system& sys, service_context ctx, p::service_spec spec,
                            int64_t revision) {
  metrics::required(ctx.metrics, "service_context");
  return sys.spawn(service_impl::service, std::move(ctx), std::move(spec), revision);
}

} // namespace tutti::actors
