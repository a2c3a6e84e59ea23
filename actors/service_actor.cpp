#include "actors/service_actor.hpp"

#include "actors/replica_actor.hpp"
#include "config/spec_parser.hpp"
#include "metrics/catalogue.hpp"
#include "protocol/errors.hpp"

#include <caf/all.hpp>

#include <spdlog/spdlog.h>

#include <chrono>
#include <map>
#include <optional>
#include <set>

namespace tutti::actors {

namespace {

using clock = std::chrono::steady_clock;

struct slot_state {
  std::string node;          // empty until placed
  std::string last_node;     // where it ran before its node was lost: preferred again
  std::string tmpl;          // template hash of what it runs (or is to run)
  int64_t requested_rev = 0; // revision last sent to the node
  bool in_flight = false;    // a place/run/stop exchange is pending
  bool stopping = false;
  bool node_lost = false; // its node's actor went down; not routed to
  p::replica_status status;
  std::string last_problem; // not repeated in the event log
};

/// A revision whose template replicas may still run.
struct known_revision {
  int64_t revision = 0;
  p::service_spec spec;
};

enum class rollout_phase { progressing, complete, paused, rolling_back };

std::string to_string(rollout_phase x) {
  switch (x) {
    case rollout_phase::progressing:
      return "progressing";
    case rollout_phase::complete:
      return "complete";
    case rollout_phase::paused:
      return "paused";
    case rollout_phase::rolling_back:
      return "rolling_back";
  }
  return "unknown";
}

struct rollout_state {
  int64_t revision = 0;
  rollout_phase phase = rollout_phase::complete;
  std::string message;
  clock::time_point completed_at;
  bool is_rollback = false; // an automatic rollback: if it fails too, it pauses
};

struct service_state {
  service_context ctx;
  p::service_spec spec;
  int64_t revision = 0;
  std::string target;                              // template hash of spec
  std::map<std::string, known_revision> templates; // by template hash
  rollout_state rollout;
  std::map<int32_t, slot_state> slots;
  std::map<std::string, node_actor> nodes;       // cache of placement's answers
  std::optional<p::service_endpoints> published; // last sent to discovery
  bool deleting = false;
  bool retry_pending = false; // a reconcile soon after a failed place or run
  std::vector<caf::typed_response_promise<bool>> delete_promises;
  static inline const char* name = "service";
};

using self_ptr = service_actor::stateful_pointer<service_state>;

void reconcile(self_ptr self);

/// Running replicas of wanted slots that are not being stopped: where the mesh
/// may send new connections.
p::service_endpoints endpoints(self_ptr self) {
  const auto& spec = self->state.spec;
  p::service_endpoints out{spec.name, spec.ports, spec.balancing, {}, false};
  for (const auto& [slot, s] : self->state.slots) {
    if (s.stopping || s.node_lost || s.status.state != p::replica_state::running || !s.status.ready)
      continue;
    auto host = s.status.address.empty() ? std::string{"127.0.0.1"} : s.status.address;
    for (const auto& b : s.status.ports)
      out.endpoints.push_back({s.status.id, s.status.node, b.name, host, b.host_port});
  }
  return out;
}

void publish_endpoints(self_ptr self, bool removed = false) {
  if (!self->state.ctx.discovery)
    return;
  auto x = endpoints(self);
  x.removed = removed;
  if (self->state.published && *self->state.published == x)
    return;
  self->state.published = x;
  self->send(self->state.ctx.discovery, std::move(x));
}

void emit(self_ptr self, std::string kind, std::string message, std::string replica = {}) {
  p::event e;
  e.kind = std::move(kind);
  e.service = self->state.spec.name;
  e.replica = std::move(replica);
  e.message = std::move(message);
  self->send(self->state.ctx.store, p::append_atom::value, std::move(e));
}

/// Why slot `slot` is not running: shown on the slot (unless a replica already
/// reports for it) and, when new, logged and recorded as an event.
void problem(self_ptr self, int32_t slot, const caf::error& err) {
  // Try again soon rather than at the next resync: after a node loss the first
  // attempt may race placement learning of it.
  if (!self->state.retry_pending) {
    self->state.retry_pending = true;
    self->delayed_send(self, std::chrono::milliseconds{50}, p::place_atom::value);
  }
  auto text = p::message_of(err);
  auto replica = p::replica_id(self->state.spec.name, slot);
  auto& status = self->state.slots[slot].status;
  if (status.id.empty() || status.state == p::replica_state::pending) {
    status.state = p::replica_state::pending;
    status.message = text;
  }
  auto& last = self->state.slots[slot].last_problem;
  if (text == last)
    return;
  last = text;
  spdlog::warn("service {}: {}", self->state.spec.name, text);
  emit(self,
       p::code_of(err) == p::error_code::unschedulable ? "replica_unschedulable"
                                                       : "reconcile_failed",
       text, replica);
}

int32_t running_count(self_ptr self) {
  int32_t n = 0;
  for (auto& [slot, s] : self->state.slots)
    if (s.status.state == p::replica_state::running && !s.stopping)
      ++n;
  return n;
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
  if (self->state.deleting)
    return; // its series are gone with it
  if (auto* m = self->state.ctx.metrics) {
    m->set_replicas_desired(self->state.spec.name, self->state.spec.replicas);
    m->set_replicas_running(self->state.spec.name, running_count(self));
    int32_t ready = 0;
    for (auto& [slot, s] : self->state.slots)
      ready += is_ready(s) ? 1 : 0;
    m->set_replicas_ready(self->state.spec.name, ready);
  }
}

template <class F>
void with_node(self_ptr self, const std::string& node, F f, std::function<void(caf::error&)> fail) {
  auto i = self->state.nodes.find(node);
  if (i != self->state.nodes.end()) {
    f(i->second);
    return;
  }
  self->request(self->state.ctx.placement, std::chrono::seconds{10}, p::get_atom::value, node)
      .then(
          [self, node, f](node_actor& handle) {
            self->monitor(handle);
            self->state.nodes[node] = handle;
            f(handle);
          },
          [fail](caf::error& err) mutable { fail(err); });
}

void run_on_node(self_ptr self, int32_t slot) {
  auto& s = self->state.slots[slot];
  s.in_flight = true;
  auto [spec, rev] = spec_of(self, s);
  p::replica_request req{self->state.spec.name, slot, rev, *spec, self->state.ctx.discovery_env};
  auto fail = [self, slot](caf::error& err) {
    self->state.slots[slot].in_flight = false;
    self->state.nodes.erase(self->state.slots[slot].node);
    problem(self, slot, err);
  };
  with_node(
      self, s.node,
      [self, slot, rev, req, fail](node_actor& node) {
        self->request(node, std::chrono::seconds{30}, p::run_atom::value, req)
            .then(
                [self, slot, rev](p::replica_status& st) {
                  auto& s = self->state.slots[slot];
                  s.in_flight = false;
                  s.requested_rev = rev;
                  if (s.status.id.empty())
                    s.status = std::move(st);
                },
                fail);
      },
      fail);
}

void place_slot(self_ptr self, int32_t slot) {
  auto& s = self->state.slots[slot];
  s.in_flight = true;
  const auto& spec = *spec_of(self, s).first;
  p::placement_request req{
      p::replica_id(spec.name, slot),        spec.name,  spec.resources, spec.placement,
      s.node.empty() ? s.last_node : s.node, spec.driver};
  self->request(self->state.ctx.placement, std::chrono::seconds{10}, p::place_atom::value, req)
      .then(
          [self, slot](p::placement_decision& d) {
            auto& s = self->state.slots[slot];
            bool moved = s.node != d.node;
            s.node = d.node;
            if (!moved) {
              run_on_node(self, slot);
              return;
            }
            // The assignment is durable before the replica starts, so a restarted
            // control plane finds it on the same node.
            p::assignment a{d.replica, self->state.spec.name, d.node, s.tmpl};
            self->request(self->state.ctx.store, caf::infinite, p::assign_atom::value, a)
                .then([self, slot](bool) { run_on_node(self, slot); },
                      [self, slot](caf::error& err) {
                        self->state.slots[slot].in_flight = false;
                        problem(self, slot, err);
                      });
          },
          [self, slot](caf::error& err) {
            self->state.slots[slot].in_flight = false;
            problem(self, slot, err);
          });
}

void finish_slot_stop(self_ptr self, int32_t slot) {
  auto id = p::replica_id(self->state.spec.name, slot);
  self->send(self->state.ctx.placement, p::release_atom::value, id);
  self->request(self->state.ctx.store, caf::infinite, p::unassign_atom::value, id)
      .then([](bool) {}, [](caf::error&) {});
  self->state.slots.erase(slot);
  update_metrics(self);
  if (self->state.deleting && self->state.slots.empty()) {
    publish_endpoints(self, true);
    for (auto& promise : self->state.delete_promises)
      promise.deliver(true);
    self->quit();
  }
}

void stop_on_node(self_ptr self, int32_t slot) {
  auto id = p::replica_id(self->state.spec.name, slot);
  auto fail = [self, slot](caf::error& err) {
    // The node is gone: nothing left to stop there.
    finish_slot_stop(self, slot);
  };
  with_node(
      self, self->state.slots[slot].node,
      [self, slot, id, fail](node_actor& node) {
        self->request(node, caf::infinite, p::stop_atom::value, id)
            .then([self, slot](bool) { finish_slot_stop(self, slot); }, fail);
      },
      fail);
}

void stop_slot(self_ptr self, int32_t slot) {
  auto& s = self->state.slots[slot];
  bool routed = s.status.state == p::replica_state::running && !s.node_lost;
  s.stopping = true;
  s.in_flight = true;
  if (s.node.empty()) {
    finish_slot_stop(self, slot);
    return;
  }
  // Out of the endpoint set first; then, for a published service, the routers
  // let the connections they hold to it finish before it gets its SIGTERM.
  publish_endpoints(self);
  const auto& spec = self->state.spec;
  if (!routed || !p::has_published_ports(spec) || !self->state.ctx.discovery) {
    stop_on_node(self, slot);
    return;
  }
  auto grace = spec.stop_grace;
  auto limit = grace + std::chrono::duration_cast<caf::timespan>(std::chrono::seconds{2});
  self->request(self->state.ctx.discovery, limit, p::drain_atom::value,
                p::replica_id(spec.name, slot), grace)
      .then([self, slot](bool) { stop_on_node(self, slot); },
            [self, slot](caf::error&) { stop_on_node(self, slot); });
}

int32_t free_slot(self_ptr self) {
  int32_t slot = 0;
  while (self->state.slots.count(slot))
    ++slot;
  return slot;
}

struct census {
  std::vector<int32_t> current; // live slots of the target template, ascending
  std::vector<int32_t> old;     // live slots of other templates
  int32_t current_unready = 0;
  int32_t ready = 0;
};

census count_slots(self_ptr self) {
  census c;
  for (auto& [slot, s] : self->state.slots) {
    if (s.stopping)
      continue;
    bool current = s.tmpl == self->state.target;
    (current ? c.current : c.old).push_back(slot);
    if (is_ready(s))
      ++c.ready;
    else if (current)
      ++c.current_unready;
  }
  return c;
}

void emit(self_ptr self, std::string kind, std::string message, std::string replica);

void check_rollout_done(self_ptr self, const census& c) {
  auto& r = self->state.rollout;
  if (r.phase != rollout_phase::progressing && r.phase != rollout_phase::rolling_back)
    return;
  if (!c.old.empty() || c.current_unready > 0 ||
      static_cast<int32_t>(c.current.size()) < self->state.spec.replicas)
    return;
  r.phase = rollout_phase::complete;
  r.completed_at = clock::now();
  r.message = "all " + std::to_string(c.current.size()) + " replicas run revision " +
              std::to_string(r.revision);
  emit(self, "rollout_completed", "revision " + std::to_string(r.revision) + ": " + r.message, {});
}

/// The next step of the desired state: new replicas where some are missing,
/// stops where there are too many, old replicas replaced within the update's
/// limits (k8s' rolling-update arithmetic, with ready replicas as available).
void step(self_ptr self) {
  auto& st = self->state;
  const auto& u = st.spec.update;
  auto n = st.spec.replicas;
  auto c = count_slots(self);
  bool rolling = !c.old.empty();
  bool frozen = rolling && st.rollout.phase == rollout_phase::paused;
  auto total = static_cast<int32_t>(c.current.size() + c.old.size());
  // Start new replicas.
  auto want = n - static_cast<int32_t>(c.current.size());
  auto room = n + (rolling ? u.max_surge : 0) - total;
  if (rolling)
    room = std::min(room, u.parallelism - c.current_unready);
  for (int32_t k = 0; !frozen && k < std::min(want, room); ++k) {
    auto slot = free_slot(self);
    st.slots[slot].tmpl = st.target;
    place_slot(self, slot);
    ++total;
    ++c.current_unready;
  }
  // Too many of the current template: the newest go.
  for (auto i = static_cast<int32_t>(c.current.size()) - 1; i >= n; --i) {
    stop_slot(self, c.current[i]);
    --total;
  }
  if (!rolling || frozen)
    return;
  // Old replicas go as far as availability allows: those not ready first (they
  // count for nothing), then ready ones while enough others stay ready.
  auto min_available = n - u.max_unavailable;
  auto budget = total - min_available - c.current_unready;
  auto available = c.ready;
  for (bool ready_ones : {false, true})
    for (auto slot : c.old) {
      auto i = st.slots.find(slot);
      if (i == st.slots.end() || budget <= 0 || i->second.stopping ||
          is_ready(i->second) != ready_ones)
        continue;
      if (ready_ones && available - 1 < min_available)
        continue;
      stop_slot(self, slot);
      --budget;
      if (ready_ones)
        --available;
    }
}

void reconcile(self_ptr self) {
  auto start = clock::now();
  auto& st = self->state;
  if (st.deleting) {
    std::vector<int32_t> live;
    for (auto& [slot, s] : st.slots)
      if (!s.stopping)
        live.push_back(slot);
    for (auto slot : live)
      stop_slot(self, slot);
  } else {
    // Unplaced slots are placed; placed ones not yet asked for this incarnation
    // (or asked for an older revision of the same template) are asked again.
    for (auto& [slot, s] : st.slots) {
      if (s.in_flight || s.stopping)
        continue;
      auto rev = spec_of(self, s).second;
      if (s.node.empty() || s.requested_rev != rev)
        place_slot(self, slot);
    }
    step(self);
    check_rollout_done(self, count_slots(self));
  }
  update_metrics(self);
  if (st.ctx.metrics != nullptr) {
    std::chrono::duration<double> took = clock::now() - start;
    st.ctx.metrics->observe_reconcile(st.spec.name, took.count());
  }
}

/// A replica of the template being rolled out crashed or failed its probes while
/// the rollout ran, or within update.monitor after it completed.
std::optional<std::string> rollout_failure(self_ptr self, const slot_state& s) {
  const auto& st = self->state;
  const auto& r = st.rollout;
  if (s.tmpl != st.target || s.stopping)
    return std::nullopt;
  bool watching = r.phase == rollout_phase::progressing ||
                  (r.phase == rollout_phase::complete &&
                   clock::now() - r.completed_at < st.spec.update.monitor &&
                   r.revision == st.revision && r.revision > 0);
  if (!watching)
    return std::nullopt;
  const auto& x = s.status;
  switch (x.state) {
    case p::replica_state::backoff:
    case p::replica_state::failed:
    case p::replica_state::exited:
      return x.id + " " + (x.message.empty() ? p::to_string(x.state) : x.message);
    default:
      break;
  }
  if (x.unhealthy)
    return x.id + " failed its health probe: " + x.health;
  return std::nullopt;
}

void request_rollback(self_ptr self, const std::string& why) {
  auto& r = self->state.rollout;
  r.phase = rollout_phase::rolling_back;
  r.message = why;
  auto name = self->state.spec.name;
  auto failed = r.revision;
  self->request(self->state.ctx.cluster, std::chrono::seconds{30}, p::rollback_atom::value, name,
                int64_t{0}, "revision " + std::to_string(failed) + " failed: " + why)
      .then(
          [self](int64_t revision) {
            if (self->state.rollout.revision == revision)
              self->state.rollout.is_rollback = true;
          },
          [self, why](caf::error& err) {
            auto& r = self->state.rollout;
            r.phase = rollout_phase::paused;
            r.message = why + "; cannot roll back: " + p::message_of(err);
            emit(self, "rollout_paused", r.message, {});
          });
}

void fail_rollout(self_ptr self, const std::string& why) {
  auto& r = self->state.rollout;
  auto action = self->state.spec.update.on_failure;
  auto head = "revision " + std::to_string(r.revision) + " failed: " + why;
  if (action == p::failure_action::resume) {
    emit(self, "rollout_failure_ignored", head + "; failure_action continue goes on", {});
    return;
  }
  if (action == p::failure_action::rollback && !r.is_rollback && self->state.ctx.cluster) {
    emit(self, "rollout_failed", head + "; rolling back", {});
    request_rollback(self, why);
    return;
  }
  r.phase = rollout_phase::paused;
  r.message = why;
  emit(self, "rollout_paused",
       head + (r.is_rollback ? "; this was a rollback already: paused"
                             : "; paused (apply a fixed spec or `tutti rollout undo`)"),
       {});
}

void on_status(self_ptr self, p::replica_status& st) {
  auto i = self->state.slots.find(st.slot);
  if (i == self->state.slots.end())
    return;
  auto was_running = i->second.status.state == p::replica_state::running;
  auto was_ready = is_ready(i->second);
  i->second.status = std::move(st);
  i->second.node_lost = false;
  if (auto why = rollout_failure(self, i->second))
    fail_rollout(self, *why);
  if (was_running != (i->second.status.state == p::replica_state::running) ||
      was_ready != is_ready(i->second))
    update_metrics(self);
  publish_endpoints(self);
  auto phase = self->state.rollout.phase;
  if (phase == rollout_phase::progressing || phase == rollout_phase::rolling_back)
    reconcile(self); // a replica became ready or went away: the rollout may move on
}

void on_node_down(self_ptr self, const caf::down_msg& msg) {
  for (auto i = self->state.nodes.begin(); i != self->state.nodes.end(); ++i) {
    if (i->second.address() != msg.source)
      continue;
    // Its replicas may run on, but nothing tells us: stop routing to them and
    // place them again. If the node comes back, the cluster's sweep removes
    // what it still runs of them (their assignments point elsewhere by then).
    auto lost = i->first;
    self->state.nodes.erase(i);
    for (auto& [slot, s] : self->state.slots) {
      if (s.node != lost || s.stopping)
        continue;
      s.last_node = s.node;
      s.node.clear();
      s.in_flight = false;
      s.requested_rev = 0;
      s.node_lost = false;
      auto id = p::replica_id(self->state.spec.name, slot);
      s.status = {};
      s.status.state = p::replica_state::pending;
      s.status.message = "node " + lost + " lost; placing it again";
      emit(self, "replica_rescheduled",
           "node " + lost + " lost (" + p::message_of(msg.reason) + "); placing it again", id);
    }
    publish_endpoints(self);
    reconcile(self);
    return;
  }
}

/// New `<SERVICE>_ADDR` variables: replicas get them when they next start.
void on_env(self_ptr self, std::map<std::string, std::string>& env) {
  if (env == self->state.ctx.discovery_env)
    return;
  self->state.ctx.discovery_env = std::move(env);
  for (auto& [slot, s] : self->state.slots)
    if (!s.node.empty() && !s.in_flight && !s.stopping && s.requested_rev == self->state.revision)
      run_on_node(self, slot); // same revision: the replica only takes the new env
}

p::service_status status(self_ptr self) {
  p::service_status out;
  out.name = self->state.spec.name;
  out.revision = self->state.revision;
  out.desired = self->state.spec.replicas;
  out.running = running_count(self);
  out.driver = self->state.spec.driver;
  for (auto& [slot, s] : self->state.slots)
    out.restarts += s.status.restarts;
  return out;
}

p::rollout_status rollout_view(self_ptr self) {
  const auto& r = self->state.rollout;
  auto c = count_slots(self);
  p::rollout_status out;
  out.service = self->state.spec.name;
  out.revision = r.revision;
  out.state = to_string(r.phase);
  out.desired = self->state.spec.replicas;
  out.updated = static_cast<int32_t>(c.current.size());
  out.ready = out.updated - c.current_unready;
  out.available = c.ready;
  out.old = static_cast<int32_t>(c.old.size());
  out.message = r.message;
  return out;
}

std::vector<p::replica_status> replicas(self_ptr self) {
  std::vector<p::replica_status> out;
  for (auto& [slot, s] : self->state.slots) {
    auto st = s.status;
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

void remember(self_ptr self, int64_t revision, const p::service_spec& spec) {
  auto& known = self->state.templates[template_hash(spec)];
  if (revision >= known.revision)
    known = {revision, spec};
}

void start_rollout(self_ptr self) {
  auto& r = self->state.rollout;
  r = rollout_state{self->state.revision, rollout_phase::progressing, {}, {}, r.is_rollback};
  const auto& u = self->state.spec.update;
  r.message = "replacing replicas of earlier revisions (parallelism " +
              std::to_string(u.parallelism) + ", max_surge " + std::to_string(u.max_surge) +
              ", max_unavailable " + std::to_string(u.max_unavailable) + ")";
  emit(self, "rollout_started", "revision " + std::to_string(r.revision) + ": " + r.message, {});
}

/// Slots of older templates need those templates' specs (to adopt them on their
/// nodes while the rollout replaces them): from the revision history.
void load_history(self_ptr self) {
  bool old = false;
  for (auto& [slot, s] : self->state.slots)
    old = old || s.tmpl != self->state.target;
  if (!old) {
    reconcile(self);
    return;
  }
  self->request(self->state.ctx.store, std::chrono::seconds{30}, p::history_atom::value,
                self->state.spec.name)
      .await(
          [self](std::vector<p::spec_record>& records) {
            for (auto& rec : records) {
              auto parsed =
                  config::parse_specs(rec.yaml, "revision " + std::to_string(rec.revision));
              if (parsed.ok() && parsed.specs.size() == 1)
                remember(self, rec.revision, parsed.specs.front());
            }
            remember(self, self->state.revision, self->state.spec);
            start_rollout(self); // it goes on where the previous incarnation was
            reconcile(self);
          },
          [self](caf::error& err) {
            spdlog::error("service {}: cannot load its revision history: {}", self->state.spec.name,
                          p::message_of(err));
            reconcile(self);
          });
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
              auto& s = self->state.slots[slot];
              s.node = a.node;
              // Records written before templates were kept: take them as current.
              s.tmpl = a.template_hash.empty() ? self->state.target : a.template_hash;
            }
            load_history(self);
          },
          [self](caf::error& err) {
            spdlog::error("service {}: cannot load assignments: {}", self->state.spec.name,
                          p::message_of(err));
            reconcile(self);
          });
}

service_actor::behavior_type service(self_ptr self, service_context ctx, p::service_spec spec,
                                     int64_t revision) {
  self->state.ctx = std::move(ctx);
  self->state.spec = std::move(spec);
  self->state.revision = revision;
  self->state.target = template_hash(self->state.spec);
  remember(self, revision, self->state.spec);
  self->state.rollout.revision = revision;
  self->set_down_handler([self](caf::down_msg& msg) { on_node_down(self, msg); });
  load_assignments(self);
  self->delayed_send(self, self->state.ctx.resync, p::tick_atom::value);
  return {
      [self](p::update_atom, p::service_spec& spec, int64_t revision) {
        if (revision <= self->state.revision)
          return;
        auto target = template_hash(spec);
        self->state.spec = std::move(spec);
        self->state.revision = revision;
        remember(self, revision, self->state.spec);
        for (auto& [slot, s] : self->state.slots)
          s.last_problem.clear();
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
            self->state.rollout = {revision, rollout_phase::complete, "", clock::now(), false};
        } else {
          self->state.rollout.revision = revision;
        }
        reconcile(self);
        publish_endpoints(self); // ports or balancing may have changed
      },
      [self](p::env_atom, std::map<std::string, std::string>& env) { on_env(self, env); },
      [self](p::place_atom) {
        self->state.retry_pending = false;
        reconcile(self);
      },
      [self](p::replica_status& st) { on_status(self, st); },
      [self](p::tick_atom) {
        reconcile(self);
        // Also the first publication of a service whose replicas report nothing yet.
        publish_endpoints(self);
        self->delayed_send(self, self->state.ctx.resync, p::tick_atom::value);
      },
      [self](p::status_atom) { return status(self); },
      [self](p::rollout_atom) { return rollout_view(self); },
      [self](p::get_atom) { return replicas(self); },
      [self](p::delete_atom) -> caf::result<bool> {
        auto promise = self->make_response_promise<bool>();
        self->state.delete_promises.push_back(promise);
        self->state.deleting = true;
        if (self->state.ctx.metrics != nullptr)
          self->state.ctx.metrics->forget_service(self->state.spec.name);
        if (self->state.slots.empty()) {
          publish_endpoints(self, true);
          for (auto& x : self->state.delete_promises)
            x.deliver(true);
          self->quit();
          return promise;
        }
        reconcile(self);
        return promise;
      },
  };
}

} // namespace

service_actor spawn_service(caf::actor_system& sys, service_context ctx, p::service_spec spec,
                            int64_t revision) {
  return sys.spawn(service, std::move(ctx), std::move(spec), revision);
}

} // namespace tutti::actors
