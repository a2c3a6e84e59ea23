#include "actors/placement_actor.hpp"

#include "metrics/catalogue.hpp"
#include "protocol/errors.hpp"

#include <caf/all.hpp>

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>
#include <limits>

namespace tutti::actors {

namespace {

std::optional<std::string> misfit(const node_view& node, const p::placement_request& req) {
  const auto& st = node.status;
  if (st.state != p::node_state::ready)
    return "node is " + p::to_string(st.state);
  auto driver = p::to_string(req.driver);
  if (std::find(st.drivers.begin(), st.drivers.end(), driver) == st.drivers.end())
    return "no " + driver + " driver";
  if (auto sick = st.driver_errors.find(driver); sick != st.driver_errors.end())
    return driver + " driver unhealthy: " + sick->second;
  for (const auto& c : req.placement.constraints) {
    auto value = c.key == "node.name"     ? std::optional<std::string>{st.name}
                 : st.labels.count(c.key) ? std::optional<std::string>{st.labels.at(c.key)}
                                          : std::nullopt;
    bool holds = c.equals ? value == c.value : value != c.value;
    if (!holds)
      return "constraint " + p::to_string(c) + " does not hold";
  }
  auto count = node.per_service.count(req.service) ? node.per_service.at(req.service) : 0;
  if (req.placement.max_per_node > 0 && count >= req.placement.max_per_node)
    return "max_per_node " + std::to_string(req.placement.max_per_node) + " reached";
  auto free_cpu = st.capacity.cpu - st.allocated.cpu;
  if (req.resources.cpu > 0 && req.resources.cpu > free_cpu + 1e-9)
    return "insufficient cpu (requested " + std::to_string(req.resources.cpu) + ", free " +
           std::to_string(free_cpu) + ")";
  auto free_mem = st.capacity.memory - st.allocated.memory;
  if (req.resources.memory > free_mem)
    return "insufficient memory (requested " + std::to_string(req.resources.memory) +
           " bytes, free " + std::to_string(free_mem) + ")";
  return std::nullopt;
}

double load_of(const node_view& node) {
  const auto& st = node.status;
  double cpu = st.capacity.cpu > 0 ? st.allocated.cpu / st.capacity.cpu : 0;
  double mem =
      st.capacity.memory > 0 ? static_cast<double>(st.allocated.memory) / st.capacity.memory : 0;
  return std::max(cpu, mem);
}

} // namespace

caf::expected<std::string> choose_node(const std::map<std::string, node_view>& nodes,
                                       const p::placement_request& req) {
  if (!req.preferred_node.empty()) {
    auto i = nodes.find(req.preferred_node);
    if (i != nodes.end() && !misfit(i->second, req))
      return req.preferred_node;
  }
  std::string best;
  double best_score = std::numeric_limits<double>::infinity();
  std::string reasons;
  for (const auto& [name, node] : nodes) {
    if (auto why = misfit(node, req)) {
      reasons += "; " + name + ": " + *why;
      continue;
    }
    auto same = node.per_service.count(req.service) ? node.per_service.at(req.service) : 0;
    double score = req.placement.strategy == p::placement_strategy::spread
                       ? same * 1000.0 + load_of(node) * 100 + node.status.replicas
                       : -load_of(node) * 100 - node.status.replicas;
    if (score < best_score) {
      best_score = score;
      best = name;
    }
  }
  if (!best.empty())
    return best;
  return p::make_error(p::error_code::unschedulable, "no node fits replica " + req.replica +
                                                         " (0/" + std::to_string(nodes.size()) +
                                                         " nodes" + reasons + ")");
}

namespace {

struct placed {
  std::string node;
  std::string service;
  p::resource_spec resources;
};

struct placement_state {
  std::map<std::string, node_view> nodes;
  std::map<std::string, node_actor> handles;
  std::map<std::string, placed> replicas;
  static inline const char* name = "placement";
};

using self_ptr = placement_actor::stateful_pointer<placement_state>;

void reserve(self_ptr self, const std::string& replica, const placed& x) {
  auto& node = self->state.nodes.at(x.node);
  node.allocations[replica] = x.resources;
  node.per_service[x.service] += 1;
  node.status.allocated.cpu += x.resources.cpu;
  node.status.allocated.memory += x.resources.memory;
  node.status.replicas += 1;
  self->state.replicas[replica] = x;
}

void release(self_ptr self, const std::string& replica) {
  auto i = self->state.replicas.find(replica);
  if (i == self->state.replicas.end())
    return;
  auto n = self->state.nodes.find(i->second.node);
  if (n != self->state.nodes.end()) {
    auto& node = n->second;
    node.allocations.erase(replica);
    if (--node.per_service[i->second.service] <= 0)
      node.per_service.erase(i->second.service);
    node.status.allocated.cpu -= i->second.resources.cpu;
    node.status.allocated.memory -= i->second.resources.memory;
    node.status.replicas -= 1;
  }
  self->state.replicas.erase(i);
}

caf::result<p::placement_decision> place(self_ptr self, const p::placement_request& req) {
  auto known = self->state.replicas.find(req.replica);
  if (known != self->state.replicas.end()) {
    auto node = self->state.nodes.find(known->second.node);
    bool usable =
        node != self->state.nodes.end() && node->second.status.state == p::node_state::ready;
    if (usable && known->second.resources == req.resources)
      return p::placement_decision{req.replica, known->second.node};
    release(self, req.replica); // resources changed or its node is gone: place again
  }
  auto node = choose_node(self->state.nodes, req);
  if (!node)
    return std::move(node.error());
  reserve(self, req.replica, placed{*node, req.service, req.resources});
  return p::placement_decision{req.replica, *node};
}

bool register_node(self_ptr self, p::node_status st, node_actor handle) {
  auto name = st.name;
  auto& view = self->state.nodes[name];
  // A node that comes back keeps the allocations placement made on it.
  st.allocated = {};
  st.replicas = 0;
  for (auto& [replica, res] : view.allocations) {
    st.allocated.cpu += res.cpu;
    st.allocated.memory += res.memory;
    st.replicas += 1;
  }
  st.state = p::node_state::ready;
  view.status = std::move(st);
  auto old = self->state.handles.find(name);
  if (old != self->state.handles.end() && old->second != handle) {
    // The node came back with a new actor before we saw the old one go (a short
    // cut). A message to the old one makes its node answer that it is gone, so
    // everyone monitoring it gets the down message and re-asks the new one.
    caf::anon_send(old->second, p::status_atom::value);
  }
  self->state.handles[name] = handle;
  self->monitor(handle);
  return true;
}

std::vector<p::node_status> all_nodes(self_ptr self) {
  std::vector<p::node_status> out;
  for (auto& [name, view] : self->state.nodes)
    out.push_back(view.status);
  return out;
}

placement_actor::behavior_type placement(self_ptr self) {
  self->set_down_handler([self](caf::down_msg& msg) {
    for (auto& [name, handle] : self->state.handles)
      if (handle.address() == msg.source) {
        // Its replicas are placed again elsewhere by their services; what it
        // reserved is free, should it come back.
        auto lost = name;
        self->state.nodes[lost].status.state = p::node_state::lost;
        self->state.handles.erase(lost);
        std::vector<std::string> placed_there;
        for (auto& [replica, x] : self->state.replicas)
          if (x.node == lost)
            placed_there.push_back(replica);
        for (auto& replica : placed_there)
          release(self, replica);
        spdlog::warn("placement: node {} lost ({}); {} replicas to place again", lost,
                     p::message_of(msg.reason), placed_there.size());
        return;
      }
  });
  return {
      [self](p::register_atom, p::node_status& st, node_actor handle) {
        return register_node(self, std::move(st), std::move(handle));
      },
      [self](p::place_atom, const p::placement_request& req) { return place(self, req); },
      [self](p::release_atom, const std::string& replica) { release(self, replica); },
      [self](p::get_atom, const std::string& node) -> caf::result<node_actor> {
        auto i = self->state.handles.find(node);
        if (i == self->state.handles.end())
          return p::make_error(p::error_code::not_found, "node " + node + " is not connected");
        return i->second;
      },
      [self](p::nodes_atom) { return all_nodes(self); },
  };
}

} // namespace

placement_actor spawn_placement(caf::actor_system& sys) {
  return sys.spawn(placement);
}

} // namespace tutti::actors
