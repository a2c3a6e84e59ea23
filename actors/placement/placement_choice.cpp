#include "actors/placement/placement_choice.hpp"

#include "protocol/errors.hpp"

#include <algorithm>
#include <array>
#include <functional>
#include <map>
#include <string>

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
  disk,
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
  // a handful of zones, hundreds of candidate nodes. The first few in place (a
  // decision is made a hundred thousand times a second), the rest beside them.
  static constexpr size_t inline_domains = 8;
  mutable std::array<std::pair<int32_t, int32_t>, inline_domains> first_domains{};
  mutable size_t known_domains = 0;
  mutable std::vector<std::pair<int32_t, int32_t>> more_domains;
};

int32_t domain_of(const placement_view& view, const compiled_request& cr, int32_t value) {
  auto in_place = std::min(cr.known_domains, compiled_request::inline_domains);
  for (size_t i = 0; i < in_place; ++i)
    if (cr.first_domains[i].first == value)
      return cr.first_domains[i].second;
  for (const auto& [v, n] : cr.more_domains)
    if (v == value)
      return n;
  auto n = view.domain_count(cr.service, cr.spread_key, value);
  if (cr.known_domains < compiled_request::inline_domains)
    cr.first_domains[cr.known_domains] = {value, n};
  else
    cr.more_domains.emplace_back(value, n);
  ++cr.known_domains;
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
/// draining node may keep it (a lost one may not, nor one whose agent restarts:
/// it cannot take an offer now).
verdict check(const placement_view& view, node_id id, const compiled_request& cr,
              const p::placement_request& req, bool assigned = false) {
  const auto& n = view.at(id);
  if (n.state == p::node_state::lost || n.state == p::node_state::restarting ||
      (n.state != p::node_state::ready && !assigned))
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
  if (req.resources.disk > 0 && n.disk_capacity > 0 &&
      req.resources.disk > n.disk_capacity - n.disk_allocated)
    return {misfit::disk};
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
      auto i = n.reported.driver_errors.find(req.driver);
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
    case misfit::disk:
      return "insufficient disk for volumes";
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
  } else if (auto id = view.volume_holder(req.replica); id != placement_view::no_node) {
    // A slot goes back to the node that keeps its persistent volumes (its
    // data), when that node fits it like any other.
    if (!is_refused(id) && check(view, id, cr, req).why == misfit::none)
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

} // namespace tutti::actors
