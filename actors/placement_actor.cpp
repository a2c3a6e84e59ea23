#include "actors/placement_actor.hpp"

#include "metrics/catalogue.hpp"
#include "protocol/errors.hpp"

#include <caf/all.hpp>

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <functional>
#include <map>
#include <unordered_map>

namespace tutti::actors {

namespace {

using node_id = placement_view::node_id;

enum class misfit : uint8_t {
  none,
  state,
  no_driver,
  driver_unhealthy,
  constraint,
  anti_affinity,
  max_per_node,
  cpu,
  memory,
  ports,
};

struct compiled_constraint {
  int32_t key = -1;
  p::constraint_op op = p::constraint_op::equals;
  std::vector<int32_t> values;
};

/// A request with its strings resolved to the view's ids, once per decision, so
/// that the loop over nodes compares integers.
struct compiled_request {
  int32_t service = -1;
  uint32_t driver = 0;
  std::vector<compiled_constraint> constraints;
  std::vector<int32_t> avoid; // services of anti_affinity, -1 when never placed
  int32_t spread_key = -1;    // -1: spread over nodes only
  bool spread_over_label = false;
  // Replicas per value of spread_key, looked up once per value and decision:
  // a handful of zones, hundreds of candidate nodes.
  mutable std::vector<std::pair<int32_t, int32_t>> domains;
};

int32_t domain_of(const placement_view& view, const compiled_request& cr, int32_t value) {
  for (const auto& [v, n] : cr.domains)
    if (v == value)
      return n;
  auto n = view.domain_count(cr.service, cr.spread_key, value);
  cr.domains.emplace_back(value, n);
  return n;
}

compiled_request compile(const placement_view& view, const p::placement_request& req) {
  compiled_request out;
  out.service = view.service_id(req.service);
  out.driver = driver_bit(req.driver);
  for (const auto& c : req.placement.constraints) {
    compiled_constraint cc;
    cc.key = view.key_id(c.key);
    cc.op = c.op;
    for (const auto& v : c.values)
      cc.values.push_back(view.value_id(v));
    if (cc.values.empty())
      cc.values.push_back(-1);
    out.constraints.push_back(std::move(cc));
  }
  for (const auto& name : req.placement.anti_affinity)
    out.avoid.push_back(view.service_id(name));
  if (req.placement.strategy == p::placement_strategy::spread &&
      !req.placement.spread_over.empty()) {
    out.spread_over_label = true;
    out.spread_key = view.key_id(req.placement.spread_over);
  }
  return out;
}

bool holds(const placement_view& view, node_id id, const compiled_constraint& c) {
  auto v = c.key < 0 ? -1 : view.label(id, c.key);
  switch (c.op) {
    case p::constraint_op::equals:
      return v >= 0 && v == c.values.front();
    case p::constraint_op::not_equals:
      return v < 0 || v != c.values.front();
    case p::constraint_op::in:
      return v >= 0 && std::find(c.values.begin(), c.values.end(), v) != c.values.end();
    case p::constraint_op::exists:
      return v >= 0;
  }
  return false;
}

struct verdict {
  misfit why = misfit::none;
  size_t index = 0; // of the constraint or anti-affinity that failed
};

/// `assigned`: the replica is assigned to this node already, so a cordoned or
/// draining node may keep it (only a lost one may not).
verdict check(const placement_view& view, node_id id, const compiled_request& cr,
              const p::placement_request& req, bool assigned = false) {
  const auto& n = view.at(id);
  if (n.state == p::node_state::lost || (n.state != p::node_state::ready && !assigned))
    return {misfit::state};
  if ((n.drivers & cr.driver) == 0)
    return {misfit::no_driver};
  if ((n.unhealthy & cr.driver) != 0)
    return {misfit::driver_unhealthy};
  for (size_t i = 0; i < cr.constraints.size(); ++i)
    if (!holds(view, id, cr.constraints[i]))
      return {misfit::constraint, i};
  for (size_t i = 0; i < cr.avoid.size(); ++i)
    if (view.count(cr.avoid[i], id) > 0)
      return {misfit::anti_affinity, i};
  if (req.placement.max_per_node > 0 && view.count(cr.service, id) >= req.placement.max_per_node)
    return {misfit::max_per_node};
  if (req.resources.cpu > 0 && req.resources.cpu > n.cpu_capacity - n.cpu_allocated + 1e-9)
    return {misfit::cpu};
  if (req.resources.memory > 0 && req.resources.memory > n.memory_capacity - n.memory_allocated)
    return {misfit::memory};
  if (req.host_ports > 0 && req.host_ports > n.ports_capacity - n.ports_allocated)
    return {misfit::ports};
  return {};
}

/// Why a node does not fit, in words that are the same for every node with the
/// same problem, so that they can be counted.
std::string reason(const placement_view& view, node_id id, const verdict& v,
                   const p::placement_request& req) {
  const auto& n = view.at(id);
  auto driver = p::to_string(req.driver);
  switch (v.why) {
    case misfit::none:
      return "fits";
    case misfit::state:
      return "node " + p::to_string(n.state);
    case misfit::no_driver:
      return "no " + driver + " driver";
    case misfit::driver_unhealthy: {
      auto i = n.reported.driver_errors.find(driver);
      return driver + " driver unhealthy" +
             (i == n.reported.driver_errors.end() ? std::string{} : ": " + i->second);
    }
    case misfit::constraint:
      return "constraint " + p::to_string(req.placement.constraints[v.index]);
    case misfit::anti_affinity:
      return "anti-affinity with " + req.placement.anti_affinity[v.index];
    case misfit::max_per_node:
      return "max_per_node " + std::to_string(req.placement.max_per_node) + " reached";
    case misfit::cpu:
      return "insufficient cpu";
    case misfit::memory:
      return "insufficient memory";
    case misfit::ports:
      return "insufficient host ports";
  }
  return "unknown";
}

/// Lower is better, compared in order.
struct score {
  double a = 0;
  double b = 0;
  double c = 0;
  double d = 0;
  bool operator<(const score& x) const {
    if (a != x.a)
      return a < x.a;
    if (b != x.b)
      return b < x.b;
    if (c != x.c)
      return c < x.c;
    return d < x.d;
  }
};

double load_of(const placement_view::node& n) {
  double cpu = n.cpu_capacity > 0 ? n.cpu_allocated / n.cpu_capacity : 0;
  double mem = n.memory_capacity > 0 ? static_cast<double>(n.memory_allocated) /
                                           static_cast<double>(n.memory_capacity)
                                     : 0;
  return std::max(cpu, mem);
}

score score_of(const placement_view& view, node_id id, const compiled_request& cr,
               const p::placement_request& req) {
  const auto& n = view.at(id);
  auto load = load_of(n);
  if (req.placement.strategy == p::placement_strategy::binpack)
    return {-load, -static_cast<double>(n.replicas), 0, 0};
  score s;
  if (cr.spread_over_label) {
    auto value = view.label(id, cr.spread_key);
    // Nodes without the label come last: the label is what the user spreads over.
    s.a = value < 0 ? 1e18 : domain_of(view, cr, value);
  }
  s.b = view.count(cr.service, id);
  s.c = load;
  s.d = n.replicas;
  return s;
}

caf::error unschedulable(const placement_view& view, const compiled_request& cr,
                         const p::placement_request& req, const std::vector<node_id>& refused) {
  std::map<std::string, size_t> counts;
  for (node_id id = 0; id < view.size(); ++id) {
    if (std::find(refused.begin(), refused.end(), id) != refused.end()) {
      ++counts["refused the reservation"];
      continue;
    }
    ++counts[reason(view, id, check(view, id, cr, req), req)];
  }
  std::vector<std::pair<std::string, size_t>> sorted{counts.begin(), counts.end()};
  std::stable_sort(sorted.begin(), sorted.end(),
                   [](const auto& x, const auto& y) { return x.second > y.second; });
  std::string text = "0/" + std::to_string(view.size()) + " nodes";
  for (size_t i = 0; i < sorted.size(); ++i)
    text += (i == 0 ? ": " : ", ") + std::to_string(sorted[i].second) + " " + sorted[i].first;
  return p::make_error(p::error_code::unschedulable, std::move(text));
}

/// How many fitting nodes a decision scores before it picks: all of a small
/// cluster, 5% (at least 100) of a large one.
size_t enough_candidates(size_t nodes) {
  return nodes <= 100 ? nodes : std::max<size_t>(100, nodes / 20);
}

} // namespace

caf::expected<node_id> choose_node(const placement_view& view, const p::placement_request& req,
                                   const std::vector<node_id>& refused) {
  auto cr = compile(view, req);
  auto is_refused = [&refused](node_id id) {
    return std::find(refused.begin(), refused.end(), id) != refused.end();
  };
  if (!req.preferred_node.empty()) {
    auto id = view.find(req.preferred_node);
    if (id != placement_view::no_node && !is_refused(id) &&
        check(view, id, cr, req, req.assigned).why == misfit::none)
      return id;
  }
  auto n = view.size();
  if (n == 0)
    return p::make_error(p::error_code::unschedulable, "0/0 nodes: no node has joined");
  auto want = enough_candidates(n);
  auto start = std::hash<std::string>{}(req.replica) % n;
  node_id best = placement_view::no_node;
  score best_score;
  size_t fitting = 0;
  for (size_t k = 0; k < n && fitting < want; ++k) {
    auto id = static_cast<node_id>((start + k) % n);
    if (check(view, id, cr, req).why != misfit::none || is_refused(id))
      continue;
    ++fitting;
    auto s = score_of(view, id, cr, req);
    if (best == placement_view::no_node || s < best_score) {
      best = id;
      best_score = s;
    }
  }
  if (best != placement_view::no_node)
    return best;
  return unschedulable(view, cr, req, refused);
}

namespace {

using clock = std::chrono::steady_clock;

using decision_promise = caf::typed_response_promise<p::placement_decision, node_actor>;

struct pending_offer {
  p::placement_request req;
  node_id node = placement_view::no_node;
  decision_promise promise;
  std::vector<node_id> refused;
  service_actor asker;
};

/// Placement's record of one replica.
struct placed {
  node_id node = placement_view::no_node;
  std::string service;
  p::resource_spec resources;
  int32_t host_ports = 0;
  uint64_t attempt = 0;   // tells a stale node answer from the current one
  bool confirmed = false; // the node accepted the reservation
};

struct placement_state {
  metrics::catalogue* metrics = nullptr;
  placement_view view;
  std::vector<node_actor> handles; // by node id; null while the node is lost
  std::map<caf::actor_addr, node_id> by_addr;
  std::unordered_map<std::string, placed> replicas;
  std::map<std::string, service_actor> waiting;  // services with replicas that fit nowhere
  std::map<std::string, service_actor> services; // every service that asked, by name
  // Scheduling states set by `tutti node cordon|drain` (never ready or lost), by
  // node name: kept for nodes that have not joined (yet), and applied when they do.
  std::map<std::string, p::node_state> admin;
  bool capacity_queued = false;
  uint64_t attempts = 0;
  clock::time_point started = clock::now();
  // Offers a node has not answered yet, by attempt: when the node goes down
  // they are declined here, since a request to a node cut off (no RST) may
  // never be answered, not even with an error.
  std::unordered_map<uint64_t, pending_offer> offers;
  static inline const char* name = "placement";
};

using self_ptr = placement_actor::stateful_pointer<placement_state>;

/// Offers to wake the waiting services, once per burst of changes.
void capacity_appeared(self_ptr self) {
  if (self->state.waiting.empty() || self->state.capacity_queued)
    return;
  self->state.capacity_queued = true;
  self->send(self, p::capacity_atom::value);
}

void notify_waiting(self_ptr self) {
  self->state.capacity_queued = false;
  auto waiting = std::move(self->state.waiting);
  self->state.waiting.clear();
  for (auto& [service, handle] : waiting)
    self->send(handle, p::capacity_atom::value);
}

void count(self_ptr self, metrics::placement_result result) {
  if (self->state.metrics != nullptr)
    self->state.metrics->count_placement(result);
}

void release(self_ptr self, const std::string& replica) {
  auto& st = self->state;
  auto i = st.replicas.find(replica);
  if (i == st.replicas.end())
    return;
  auto& x = i->second;
  st.view.release(x.node, x.service, x.resources, x.host_ports);
  // An unconfirmed offer is given back when its answer comes.
  if (x.confirmed && x.node < st.handles.size() && st.handles[x.node])
    self->send(st.handles[x.node], p::release_atom::value, replica);
  st.replicas.erase(i);
  capacity_appeared(self);
}

void attempt(self_ptr self, p::placement_request req, decision_promise promise,
             std::vector<node_id> refused, service_actor asker);

/// The node declined (or did not answer): forget the offer and pick again.
void on_declined(self_ptr self, const p::placement_request& req, uint64_t attempt_id, node_id id,
                 decision_promise promise, std::vector<node_id> refused, service_actor asker) {
  auto& st = self->state;
  count(self, metrics::placement_result::refused);
  auto i = st.replicas.find(req.replica);
  if (i != st.replicas.end() && i->second.attempt == attempt_id) {
    st.view.release(id, req.service, req.resources, req.host_ports);
    st.replicas.erase(i);
  }
  refused.push_back(id);
  attempt(self, req, std::move(promise), std::move(refused), std::move(asker));
}

void attempt(self_ptr self, p::placement_request req, decision_promise promise,
             std::vector<node_id> refused, service_actor asker) {
  auto& st = self->state;
  auto start = clock::now();
  auto chosen = choose_node(st.view, req, refused);
  if (st.metrics != nullptr)
    st.metrics->observe_placement(std::chrono::duration<double>(clock::now() - start).count());
  if (!chosen) {
    count(self, metrics::placement_result::unschedulable);
    if (asker)
      st.waiting[req.service] = asker;
    promise.deliver(chosen.error());
    return;
  }
  auto id = *chosen;
  auto attempt_id = ++st.attempts;
  // Held before the node answers, so decisions made meanwhile see it.
  st.view.reserve(id, req.service, req.resources, req.host_ports);
  st.replicas[req.replica] =
      placed{id, req.service, req.resources, req.host_ports, attempt_id, false};
  auto node = st.handles[id];
  st.offers.emplace(attempt_id, pending_offer{req, id, promise, refused, asker});
  p::reservation offer{req.replica, req.service, req.resources, req.host_ports};
  // No timer per offer (a million of them cost more than the decisions): a node
  // that ends bounces the request, and one that is cut off is declared down by
  // its monitor, which fails what it never answered.
  self->request(node, caf::infinite, p::reserve_atom::value, std::move(offer))
      .then(
          [self, req, attempt_id, id, promise, refused, asker,
           node](p::reservation_reply& reply) mutable {
            auto& st = self->state;
            if (st.offers.erase(attempt_id) == 0) {
              // Declined already, when the node went down: give back what it holds.
              if (reply.accepted)
                self->send(node, p::release_atom::value, req.replica);
              return;
            }
            auto i = st.replicas.find(req.replica);
            bool current = i != st.replicas.end() && i->second.attempt == attempt_id;
            if (reply.accepted && current) {
              i->second.confirmed = true;
              count(self, metrics::placement_result::placed);
              promise.deliver(p::placement_decision{req.replica, st.view.at(id).name}, node);
              return;
            }
            if (reply.accepted) {
              // Released while the node was answering: give it back.
              self->send(node, p::release_atom::value, req.replica);
              promise.deliver(p::make_error(p::error_code::unavailable,
                                            "placement of " + req.replica + " was cancelled"));
              return;
            }
            if (current) {
              // The node knows what it holds; our picture of it was stale.
              st.view.release(id, req.service, req.resources, req.host_ports);
              st.replicas.erase(i);
              st.view.correct(id, reply);
              // Erased here already: on_declined must not release it again.
              attempt_id = 0;
            }
            on_declined(self, req, attempt_id, id, std::move(promise), std::move(refused),
                        std::move(asker));
          },
          [self, req, attempt_id, id, promise, refused, asker](caf::error&) mutable {
            if (self->state.offers.erase(attempt_id) == 0)
              return; // declined already, when the node went down
            on_declined(self, req, attempt_id, id, std::move(promise), std::move(refused),
                        std::move(asker));
          });
}

/// How long after its start placement keeps a replica for the node it is
/// assigned to when that node has not joined yet: nodes join a restarted control
/// plane within their back-off (at most 2 s), and a replica placed elsewhere
/// meanwhile would be started twice and its original swept.
constexpr auto join_grace = std::chrono::seconds{5};

caf::result<p::placement_decision, node_actor> place(self_ptr self,
                                                     const p::placement_request& req) {
  auto& st = self->state;
  if (req.assigned && !req.preferred_node.empty() &&
      st.view.find(req.preferred_node) == placement_view::no_node &&
      clock::now() - st.started < join_grace)
    return p::make_error(p::error_code::unavailable,
                         "node " + req.preferred_node +
                             " has not joined since the control plane started; its replicas "
                             "wait for it (5 s at most) before they are placed elsewhere");
  auto known = st.replicas.find(req.replica);
  if (known != st.replicas.end()) {
    const auto& x = known->second;
    bool same = x.resources == req.resources && x.host_ports == req.host_ports;
    // A cordoned or draining node keeps what it runs: its services move them.
    if (same && x.confirmed && st.view.at(x.node).state != p::node_state::lost &&
        x.node < st.handles.size() && st.handles[x.node])
      return {p::placement_decision{req.replica, st.view.at(x.node).name}, st.handles[x.node]};
    // Resources changed, its node is gone, or a retry of an unanswered offer.
    release(self, req.replica);
  }
  // Before the promise: making it takes the sender out of the current message.
  auto asker = caf::actor_cast<service_actor>(self->current_sender());
  if (asker)
    st.services[req.service] = asker;
  auto promise = self->make_response_promise<p::placement_decision, node_actor>();
  attempt(self, req, promise, {}, std::move(asker));
  return promise;
}

/// Tells each service with replicas on node `id` that the node lost them.
void tell_lost(self_ptr self, node_id id) {
  auto& s = self->state;
  const auto& name = s.view.at(id).name;
  size_t told = 0;
  for (auto& [service, handle] : s.services)
    if (s.view.count(s.view.service_id(service), id) > 0) {
      self->send(handle, p::lost_atom::value, name);
      ++told;
    }
  spdlog::warn("placement: node {} lost; {} services to place its replicas again", name, told);
}

bool register_node(self_ptr self, p::node_status st, node_actor handle) {
  auto& s = self->state;
  bool known = s.view.find(st.name) != placement_view::no_node;
  auto admin = s.admin.find(st.name);
  st.state = admin == s.admin.end() ? p::node_state::ready : admin->second;
  auto id = s.view.upsert(st);
  if (!known) {
    // A placement that (re)started learns from the node what it already holds.
    p::reservation_reply truth{true, {}, st.allocated, st.ports_allocated, st.replicas};
    s.view.correct(id, truth);
  }
  if (s.handles.size() <= id)
    s.handles.resize(id + 1);
  if (s.handles[id] != handle) {
    if (s.handles[id]) {
      // The node came back with a new actor before we saw the old one go (a
      // short cut, a restarted agent). The old actor and what it ran are gone:
      // the services with replicas there hear it now and ask again (the old
      // handle's down message, should it come, is no longer ours to act on).
      s.by_addr.erase(s.handles[id].address());
      tell_lost(self, id);
    }
    s.handles[id] = handle;
    s.by_addr[handle.address()] = id;
    self->monitor(handle);
  }
  capacity_appeared(self);
  return true;
}

void on_node_down(self_ptr self, const caf::down_msg& msg) {
  auto& s = self->state;
  auto i = s.by_addr.find(msg.source);
  if (i == s.by_addr.end())
    return;
  // Its replicas stay recorded on it until their services place them again.
  // One monitor here instead of one per service and node: the services with
  // replicas on it hear it from us.
  auto id = i->second;
  s.view.set_state(id, p::node_state::lost);
  std::vector<std::pair<uint64_t, pending_offer>> unanswered;
  for (auto j = s.offers.begin(); j != s.offers.end();)
    if (j->second.node == id) {
      unanswered.emplace_back(j->first, std::move(j->second));
      j = s.offers.erase(j);
    } else {
      ++j;
    }
  for (auto& [attempt_id, x] : unanswered)
    on_declined(self, x.req, attempt_id, id, std::move(x.promise), std::move(x.refused),
                std::move(x.asker));
  tell_lost(self, id);
  s.handles[id] = nullptr;
  s.by_addr.erase(i);
}

std::vector<p::node_status> all_nodes(self_ptr self) {
  std::vector<p::node_status> out;
  for (node_id id = 0; id < self->state.view.size(); ++id)
    out.push_back(self->state.view.status(id));
  std::sort(out.begin(), out.end(), [](const auto& x, const auto& y) { return x.name < y.name; });
  return out;
}

/// Tells every service whether `node` drains, so that it moves its replicas off.
void tell_draining(self_ptr self, const std::string& node, bool draining) {
  for (auto& [service, handle] : self->state.services)
    self->send(handle, p::drain_atom::value, node, draining);
}

/// Records the scheduling state of `name` (ready, cordoned or draining). A node
/// that is lost takes it when it joins again.
void set_admin_state(self_ptr self, const std::string& name, p::node_state state) {
  auto& s = self->state;
  auto before = s.admin.count(name) ? s.admin[name] : p::node_state::ready;
  if (state == p::node_state::ready)
    s.admin.erase(name);
  else
    s.admin[name] = state;
  auto id = s.view.find(name);
  if (id != placement_view::no_node && s.view.at(id).state != p::node_state::lost)
    s.view.set_state(id, state);
  if ((before == p::node_state::draining) != (state == p::node_state::draining))
    tell_draining(self, name, state == p::node_state::draining);
  if (state == p::node_state::ready)
    capacity_appeared(self); // pending replicas may fit there now
}

caf::result<p::node_status> cordon(self_ptr self, const std::string& name, p::node_state state) {
  auto& s = self->state;
  if (state == p::node_state::lost)
    return p::make_error(p::error_code::invalid_argument,
                         "a node's state can be set to ready, cordoned or draining, not lost");
  auto id = s.view.find(name);
  if (id == placement_view::no_node) {
    std::string known;
    for (node_id i = 0; i < s.view.size(); ++i)
      known += (known.empty() ? "" : ", ") + s.view.at(i).name;
    return p::make_error(p::error_code::not_found,
                         "node " + name + " not found; known nodes: " +
                             (known.empty() ? std::string{"none (no node has joined)"} : known));
  }
  set_admin_state(self, name, state);
  return s.view.status(id);
}

/// Stored states, at the start of the control plane (before nodes join).
void load_states(self_ptr self, const std::vector<p::node_status>& nodes) {
  for (const auto& n : nodes)
    if (n.state == p::node_state::cordoned || n.state == p::node_state::draining)
      set_admin_state(self, n.name, n.state);
}

std::vector<std::string> draining_nodes(self_ptr self) {
  std::vector<std::string> out;
  for (const auto& [name, state] : self->state.admin)
    if (state == p::node_state::draining)
      out.push_back(name);
  return out;
}

placement_actor::behavior_type placement(self_ptr self, metrics::catalogue* metrics) {
  self->state.metrics = metrics;
  self->set_down_handler([self](caf::down_msg& msg) { on_node_down(self, msg); });
  return {
      [self](p::register_atom, p::node_status& st, node_actor handle) {
        return register_node(self, std::move(st), std::move(handle));
      },
      [self](p::place_atom, const p::placement_request& req) { return place(self, req); },
      [self](p::release_atom, const std::string& replica) { release(self, replica); },
      [self](p::get_atom, const std::string& node) -> caf::result<node_actor> {
        auto id = self->state.view.find(node);
        if (id == placement_view::no_node || id >= self->state.handles.size() ||
            !self->state.handles[id])
          return p::make_error(p::error_code::not_found, "node " + node + " is not connected");
        return self->state.handles[id];
      },
      [self](p::nodes_atom) { return all_nodes(self); },
      [self](p::capacity_atom) { notify_waiting(self); },
      [self](p::cordon_atom, const std::string& name, p::node_state state) {
        return cordon(self, name, state);
      },
      [self](p::load_atom, const std::vector<p::node_status>& nodes) { load_states(self, nodes); },
      [self](p::drain_atom) { return draining_nodes(self); },
  };
}

} // namespace

placement_actor spawn_placement(caf::actor_system& sys, metrics::catalogue* metrics) {
  return sys.spawn(placement, metrics);
}

} // namespace tutti::actors
