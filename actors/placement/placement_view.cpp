#include "actors/placement/placement_view.hpp"

namespace tutti::actors {

placement_view::placement_view() {
  intern(keys_, "node.name"); // name_key
}

int32_t placement_view::intern(std::unordered_map<std::string, int32_t>& ids,
                               const std::string& x) {
  // try_emplace: emplace would build (and allocate) the entry before finding
  // that the name is known, as it is for all but the first replica of a service.
  return ids.try_emplace(x, static_cast<int32_t>(ids.size())).first->second;
}

uint64_t placement_view::domain_key(int32_t service, int32_t key, int32_t value) {
  // 24 bits of service, 16 of label key, 24 of label value: far beyond any cluster.
  return (static_cast<uint64_t>(service) << 40) | (static_cast<uint64_t>(key) << 24) |
         static_cast<uint64_t>(value);
}

placement_view::node_id placement_view::upsert(const p::node_status& st) {
  auto [i, added] = by_name_.emplace(st.name, static_cast<node_id>(nodes_.size()));
  auto id = i->second;
  if (added) {
    nodes_.emplace_back();
    nodes_.back().name = st.name;
  }
  auto& n = nodes_[id];
  // Label changes move the node between spread domains: take its replicas out of
  // the old domains and put them into the new ones.
  for (int32_t s = 0; s < static_cast<int32_t>(per_service_.size()); ++s)
    if (auto c = count(s, id); c != 0)
      count_domains(id, s, -c);
  n.labels.assign(keys_.size(), -1);
  n.labels[name_key] = intern(values_, st.name);
  for (const auto& [key, value] : st.labels) {
    auto k = intern(keys_, key);
    if (static_cast<size_t>(k) >= n.labels.size())
      n.labels.resize(k + 1, -1);
    n.labels[k] = intern(values_, value);
  }
  for (int32_t s = 0; s < static_cast<int32_t>(per_service_.size()); ++s)
    if (auto c = count(s, id); c != 0)
      count_domains(id, s, c);
  n.state = st.state;
  n.cpu_capacity = st.capacity.cpu;
  n.memory_capacity = st.capacity.memory;
  n.disk_capacity = st.capacity.disk;
  n.ports_capacity = st.ports_capacity;
  n.drivers = 0;
  n.unhealthy = 0;
  for (auto kind : st.drivers)
    n.drivers |= driver_bit(kind);
  for (const auto& [kind, why] : st.driver_errors)
    n.unhealthy |= driver_bit(kind);
  n.reported = st;
  return id;
}

placement_view::node_id placement_view::find(const std::string& name) const {
  auto i = by_name_.find(name);
  return i == by_name_.end() ? no_node : i->second;
}

void placement_view::set_volumes(node_id id, const std::vector<std::string>& replicas) {
  for (auto i = volume_holders_.begin(); i != volume_holders_.end();)
    i = i->second == id ? volume_holders_.erase(i) : std::next(i);
  for (const auto& r : replicas)
    volume_holders_[r] = id; // two nodes with one slot's volume: the last to say wins
}

void placement_view::set_state(node_id id, p::node_state state) {
  nodes_[id].state = state;
}

void placement_view::count_domains(node_id id, int32_t service, int32_t delta) {
  const auto& labels = nodes_[id].labels;
  // name_key is skipped: spreading over node names is plain spread.
  for (int32_t k = 1; k < static_cast<int32_t>(labels.size()); ++k)
    if (labels[k] >= 0)
      domains_[domain_key(service, k, labels[k])] += delta;
}

void placement_view::reserve(node_id id, const std::string& service, const p::resource_spec& res,
                             int32_t host_ports) {
  auto s = intern(services_, service);
  if (static_cast<size_t>(s) >= per_service_.size())
    per_service_.resize(s + 1);
  auto& per_node = per_service_[s];
  if (per_node.size() < nodes_.size())
    per_node.resize(nodes_.size(), 0);
  per_node[id] += 1;
  count_domains(id, s, 1);
  auto& n = nodes_[id];
  n.cpu_allocated += res.cpu;
  n.memory_allocated += res.memory;
  n.disk_allocated += res.disk;
  n.ports_allocated += host_ports;
  n.replicas += 1;
}

void placement_view::release(node_id id, const std::string& service, const p::resource_spec& res,
                             int32_t host_ports) {
  auto s = service_id(service);
  if (s >= 0 && id < per_service_[s].size() && per_service_[s][id] > 0) {
    per_service_[s][id] -= 1;
    count_domains(id, s, -1);
  }
  auto& n = nodes_[id];
  n.cpu_allocated -= res.cpu;
  n.memory_allocated -= res.memory;
  n.disk_allocated -= res.disk;
  n.ports_allocated -= host_ports;
  n.replicas -= 1;
}

void placement_view::correct(node_id id, const p::reservation_reply& truth) {
  auto& n = nodes_[id];
  n.cpu_allocated = truth.allocated.cpu;
  n.memory_allocated = truth.allocated.memory;
  n.disk_allocated = truth.allocated.disk;
  n.ports_allocated = truth.ports_allocated;
  n.replicas = truth.replicas;
}

p::node_status placement_view::status(node_id id) const {
  const auto& n = nodes_[id];
  auto out = n.reported;
  out.state = n.state;
  out.allocated = {n.cpu_allocated, n.memory_allocated, n.disk_allocated};
  out.ports_allocated = n.ports_allocated;
  out.replicas = n.replicas;
  return out;
}

int32_t placement_view::domain_count(int32_t service, int32_t key, int32_t value) const {
  if (service < 0 || key < 0 || value < 0)
    return 0;
  auto i = domains_.find(domain_key(service, key, value));
  return i == domains_.end() ? 0 : i->second;
}

} // namespace tutti::actors
