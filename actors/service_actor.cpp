#include "actors/service_actor.hpp"

#include "metrics/catalogue.hpp"
#include "protocol/errors.hpp"

#include <caf/all.hpp>

#include <spdlog/spdlog.h>

#include <chrono>
#include <deque>
#include <map>
#include <optional>
#include <set>
#include <unordered_map>

namespace tutti::actors {

namespace {

using clock = std::chrono::steady_clock;

/// Place requests one service keeps in flight: enough to keep placement busy,
/// few enough that a service of 10,000 replicas that fits nowhere asks a few
/// times, not 10,000. Measured: 100 services x 256 in flight (25,600 chains of
/// place, reserve, assign, run) made 100k replicas converge 3.5x slower than 32
/// each, from mailboxes and memory that no longer fit the caches.
constexpr int32_t place_window = 32;

struct slot_state {
  std::string node;          // empty until placed
  int64_t requested_rev = 0; // revision last sent to the node
  bool in_flight = false;    // a place/run/stop exchange is pending
  bool stopping = false;
  bool node_lost = false; // its node's actor went down; not routed to
  bool queued = false;    // waits in the service's place queue
  p::replica_status status;
  std::string last_problem; // not repeated in the event log
};

struct service_state {
  service_context ctx;
  p::service_spec spec;
  int64_t revision = 0;
  std::map<int32_t, slot_state> slots;
  std::map<std::string, node_actor> nodes;       // cache of placement's answers
  std::optional<p::service_endpoints> published; // last sent to discovery
  bool deleting = false;
  std::vector<caf::typed_response_promise<bool>> delete_promises;
  int32_t running = 0;          // wanted slots whose replica runs
  std::deque<int32_t> to_place; // slots waiting for a place request
  int32_t placing = 0;          // place requests in flight
  std::string unschedulable;    // non-empty: placement found no node; wait for capacity
  // Slots by node, so that a lost node costs its own slots, not all of them.
  std::unordered_map<std::string, std::set<int32_t>> by_node;
  bool reconcile_queued = false; // a reconcile_atom is in our mailbox
  static inline const char* name = "service";
};

using self_ptr = service_actor::stateful_pointer<service_state>;

void reconcile(self_ptr self);

/// Records the node of a slot (empty: none), keeping by_node in step.
void set_node(self_ptr self, int32_t slot, const std::string& node) {
  auto& s = self->state.slots[slot];
  if (s.node == node)
    return;
  auto& by_node = self->state.by_node;
  if (!s.node.empty())
    if (auto i = by_node.find(s.node); i != by_node.end()) {
      i->second.erase(slot);
      if (i->second.empty())
        by_node.erase(i);
    }
  s.node = node;
  if (!node.empty())
    by_node[node].insert(slot);
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
    if (slot >= spec.replicas || s.stopping || s.node_lost ||
        s.status.state != p::replica_state::running)
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

bool counts_as_running(self_ptr self, int32_t slot, const slot_state& s) {
  return s.status.state == p::replica_state::running && slot < self->state.spec.replicas;
}

/// Kept up to date on every status change; recounted only when the spec changes,
/// so a service of 10,000 replicas does not count them on each report.
void recount_running(self_ptr self) {
  int32_t n = 0;
  for (auto& [slot, s] : self->state.slots)
    if (counts_as_running(self, slot, s))
      ++n;
  self->state.running = n;
}

int32_t running_count(self_ptr self) {
  return self->state.running;
}

void update_metrics(self_ptr self) {
  if (self->state.deleting)
    return; // its series are gone with it
  if (auto* m = self->state.ctx.metrics) {
    m->set_replicas_desired(self->state.spec.name, self->state.spec.replicas);
    m->set_replicas_running(self->state.spec.name, running_count(self));
  }
}

template <class F>
void with_node(self_ptr self, const std::string& node, F f, std::function<void(caf::error&)> fail) {
  auto i = self->state.nodes.find(node);
  if (i != self->state.nodes.end()) {
    f(i->second);
    return;
  }
  // No timer: placement is local and answers at once; a service of a big
  // cluster asks this once per node.
  self->request(self->state.ctx.placement, caf::infinite, p::get_atom::value, node)
      .then(
          [self, node, f](node_actor& handle) {
            self->state.nodes[node] = handle;
            f(handle);
          },
          [fail](caf::error& err) mutable { fail(err); });
}

void run_on_node(self_ptr self, int32_t slot) {
  auto& s = self->state.slots[slot];
  s.in_flight = true;
  auto rev = self->state.revision;
  p::replica_request req{self->state.spec.name, slot, rev, self->state.spec,
                         self->state.ctx.discovery_env};
  auto fail = [self, slot](caf::error& err) {
    auto& s = self->state.slots[slot];
    s.in_flight = false;
    // Not run there: the next reconcile asks placement again, which keeps the
    // node if it is still there and fits, or moves the slot.
    s.requested_rev = 0;
    self->state.nodes.erase(s.node);
    problem(self, slot, err);
    if (s.node_lost) // the node went down under the request: place again now
      queue_reconcile(self);
  };
  with_node(
      self, s.node,
      [self, slot, rev, req, fail](node_actor& node) {
        // Like place: no timer per replica; a node that ends or is cut off fails
        // the request (bounced, or its monitor says it is down).
        self->request(node, caf::infinite, p::run_atom::value, req)
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

void pump(self_ptr self);

void place_slot(self_ptr self, int32_t slot) {
  auto& s = self->state.slots[slot];
  s.in_flight = true;
  ++self->state.placing;
  const auto& spec = self->state.spec;
  p::placement_request req{p::replica_id(spec.name, slot),
                           spec.name,
                           spec.resources,
                           spec.placement,
                           s.node_lost ? std::string{} : s.node,
                           spec.driver,
                           static_cast<int32_t>(spec.ports.size())};
  // No timeout: placement is in this process and answers every request (a
  // placement that ends bounces it); a timer per request would cost more than
  // the decision at a million replicas.
  self->request(self->state.ctx.placement, caf::infinite, p::place_atom::value, req)
      .then(
          [self, slot](p::placement_decision& d, node_actor& handle) {
            if (handle)
              self->state.nodes[d.node] = handle;
            --self->state.placing;
            pump(self);
            auto& s = self->state.slots[slot];
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
            p::assignment a{d.replica, self->state.spec.name, d.node};
            self->request(self->state.ctx.store, caf::infinite, p::assign_atom::value, a)
                .then([self, slot](bool) { run_on_node(self, slot); },
                      [self, slot](caf::error& err) {
                        self->state.slots[slot].in_flight = false;
                        problem(self, slot, err);
                      });
          },
          [self, slot](caf::error& err) {
            --self->state.placing;
            self->state.slots[slot].in_flight = false;
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
    if (s.in_flight || s.stopping || slot >= st.spec.replicas || st.deleting)
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

void finish_slot_stop(self_ptr self, int32_t slot) {
  auto id = p::replica_id(self->state.spec.name, slot);
  self->send(self->state.ctx.placement, p::release_atom::value, id);
  self->request(self->state.ctx.store, caf::infinite, p::unassign_atom::value, id)
      .then([](bool) {}, [](caf::error&) {});
  if (auto i = self->state.slots.find(slot); i != self->state.slots.end())
    if (counts_as_running(self, slot, i->second))
      --self->state.running;
  set_node(self, slot, {});
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

void reconcile(self_ptr self) {
  auto start = clock::now();
  auto& st = self->state;
  if (!st.deleting) {
    for (int32_t slot = 0; slot < st.spec.replicas; ++slot) {
      auto& s = st.slots[slot];
      if (s.in_flight || s.stopping)
        continue;
      // An unplaced slot, or one of an older revision or a lost node: placement
      // confirms (or re-reserves, or moves) its node, then it runs.
      if (s.node.empty() || s.node_lost || s.requested_rev != st.revision)
        queue_place(self, slot);
    }
    pump(self);
  }
  std::vector<int32_t> extra;
  for (auto& [slot, s] : st.slots)
    if ((slot >= st.spec.replicas || st.deleting) && !s.stopping)
      extra.push_back(slot);
  // Newest first: the highest slots were added last.
  for (auto i = extra.rbegin(); i != extra.rend(); ++i)
    stop_slot(self, *i);
  recount_running(self);
  update_metrics(self);
  if (st.ctx.metrics != nullptr) {
    std::chrono::duration<double> took = clock::now() - start;
    st.ctx.metrics->observe_reconcile(st.spec.name, took.count());
  }
}

void on_status(self_ptr self, p::replica_status& st) {
  auto i = self->state.slots.find(st.slot);
  if (i == self->state.slots.end())
    return;
  auto& s = i->second;
  if (!st.node.empty() && st.node != s.node)
    return; // from a node the slot has left
  auto was_running = counts_as_running(self, st.slot, s);
  s.status = std::move(st);
  s.node_lost = false;
  auto now_running = counts_as_running(self, s.status.slot, s);
  if (was_running != now_running) {
    self->state.running += now_running ? 1 : -1;
    update_metrics(self);
  }
  publish_endpoints(self);
}

/// Placement saw `node` go down (it monitors the nodes; services do not).
void on_node_lost(self_ptr self, const std::string& node) {
  self->state.nodes.erase(node);
  // Its replicas may run on, but nothing tells us: stop routing to them and
  // place them again, under the same rules, on the nodes that are left.
  auto on_it = self->state.by_node.find(node);
  if (on_it == self->state.by_node.end())
    return;
  for (auto slot : on_it->second) {
    auto& s = self->state.slots[slot];
    if (counts_as_running(self, slot, s))
      --self->state.running;
    s.node_lost = true;
    s.status.state = p::replica_state::pending;
    s.status.message = "node " + node + " lost; placing the replica again";
    s.status.pid = 0;
  }
  publish_endpoints(self);
  update_metrics(self);
  queue_reconcile(self);
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
              set_node(self, slot, a.node);
            }
            reconcile(self);
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
  load_assignments(self);
  self->delayed_send(self, self->state.ctx.resync, p::tick_atom::value);
  return {
      [self](p::update_atom, p::service_spec& spec, int64_t revision) {
        if (revision <= self->state.revision)
          return;
        self->state.spec = std::move(spec);
        self->state.revision = revision;
        self->state.unschedulable.clear();
        for (auto& [slot, s] : self->state.slots)
          s.last_problem.clear();
        reconcile(self);
        publish_endpoints(self); // ports or balancing may have changed
      },
      [self](p::env_atom, std::map<std::string, std::string>& env) { on_env(self, env); },
      [self](p::lost_atom, const std::string& node) { on_node_lost(self, node); },
      [self](p::reconcile_atom) {
        self->state.reconcile_queued = false;
        reconcile(self);
      },
      [self](p::capacity_atom) {
        self->state.unschedulable.clear();
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
