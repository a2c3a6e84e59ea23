#pragma once

// The placement actor's picture of every node, laid out for choose_node: nodes in
// a vector indexed by a dense id, label keys and values, services interned to
// small integers, and per service a count of its replicas on every node. A
// decision then reads integers and doubles only: no string is hashed or compared
// per node per decision, which is what makes 5,000 nodes affordable.
//
// Plain data, no actors: one owner (the placement actor, or a test) uses it.

#include "protocol/messages.hpp"
#include "protocol/status.hpp"

#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

namespace tutti::actors {

namespace p = tutti::protocol;

class placement_view {
public:
  using node_id = uint32_t;
  static constexpr node_id no_node = UINT32_MAX;
  /// Key id of the pseudo label `node.name`, whose value is each node's name.
  static constexpr int32_t name_key = 0;

  struct node {
    std::string name;
    p::node_state state = p::node_state::ready;
    double cpu_capacity = 0;
    double cpu_allocated = 0;
    int64_t memory_capacity = 0;
    int64_t memory_allocated = 0;
    int64_t disk_capacity = 0; // 0: the node did not say (then no disk is counted)
    int64_t disk_allocated = 0;
    int32_t ports_capacity = 0;
    int32_t ports_allocated = 0;
    int32_t replicas = 0;
    uint32_t drivers = 0;        // bit per driver_kind the node offers
    uint32_t unhealthy = 0;      // bit per driver_kind whose probe fails
    std::vector<int32_t> labels; // key id -> value id, -1 when absent
    p::node_status reported;     // as the node last described itself
  };

  placement_view();

  /// Adds a node or refreshes what it reports of itself (capacity, labels,
  /// drivers and their health, state). Allocations made here stay: they are
  /// placement's own knowledge.
  node_id upsert(const p::node_status& st);

  /// The id of a node, or no_node.
  node_id find(const std::string& name) const;

  void set_state(node_id id, p::node_state state);

  /// Holds (or gives back) the resources of one replica of `service` on a node.
  void reserve(node_id id, const std::string& service, const p::resource_spec& res,
               int32_t host_ports);
  void release(node_id id, const std::string& service, const p::resource_spec& res,
               int32_t host_ports);

  /// Takes the node's own totals after it refused a reservation: it knows better.
  void correct(node_id id, const p::reservation_reply& truth);

  size_t size() const { return nodes_.size(); }
  const node& at(node_id id) const { return nodes_[id]; }

  /// The node as `get nodes` shows it, with placement's allocations.
  p::node_status status(node_id id) const;

  /// The slots (replica ids) whose persistent volumes node `id` keeps, as it
  /// last said: replaces what it said before.
  void set_volumes(node_id id, const std::vector<std::string>& replicas);

  /// The node that keeps a persistent volume of slot `replica`, or no_node.
  node_id volume_holder(const std::string& replica) const {
    auto i = volume_holders_.find(replica);
    return i == volume_holders_.end() ? no_node : i->second;
  }

  // -- lookups for choose_node; -1 means "never seen" ---------------------------

  int32_t service_id(const std::string& name) const { return lookup(services_, name); }
  int32_t key_id(const std::string& key) const { return lookup(keys_, key); }
  int32_t value_id(const std::string& value) const { return lookup(values_, value); }

  int32_t label(node_id id, int32_t key) const {
    const auto& labels = nodes_[id].labels;
    return key >= 0 && static_cast<size_t>(key) < labels.size() ? labels[key] : -1;
  }

  /// Replicas of a service on a node.
  int32_t count(int32_t service, node_id id) const {
    if (service < 0)
      return 0;
    const auto& per_node = per_service_[service];
    return id < per_node.size() ? per_node[id] : 0;
  }

  /// Replicas of a service on all nodes whose label `key` has `value`.
  int32_t domain_count(int32_t service, int32_t key, int32_t value) const;

private:
  static int32_t lookup(const std::unordered_map<std::string, int32_t>& ids, const std::string& x) {
    auto i = ids.find(x);
    return i == ids.end() ? -1 : i->second;
  }
  static int32_t intern(std::unordered_map<std::string, int32_t>& ids, const std::string& x);
  static uint64_t domain_key(int32_t service, int32_t key, int32_t value);
  void count_domains(node_id id, int32_t service, int32_t delta);

  std::vector<node> nodes_;
  std::unordered_map<std::string, node_id> by_name_;
  std::unordered_map<std::string, int32_t> services_;
  std::unordered_map<std::string, int32_t> keys_;
  std::unordered_map<std::string, int32_t> values_;
  std::vector<std::vector<int32_t>> per_service_; // service -> node -> replicas
  std::unordered_map<uint64_t, int32_t> domains_; // (service, key, value) -> replicas
  std::unordered_map<std::string, node_id> volume_holders_; // slot -> node with its volumes
};

/// Driver kinds as the bits of placement_view::node::drivers.
inline uint32_t driver_bit(p::driver_kind kind) {
  return uint32_t{1} << static_cast<uint32_t>(kind);
}

} // namespace tutti::actors
