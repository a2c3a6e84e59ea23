#include "actors/cluster/cluster_sweep.hpp"

#include "protocol/errors.hpp"

#include <caf/all.hpp>

#include <algorithm>
#include <limits>
#include <map>
#include <memory>

namespace tutti::actors::cluster_impl {

namespace {

void sweep_node(self_ptr self, const std::string& node_name, std::vector<std::string> keep,
                int64_t snapshot) {
  self->request(self->state.ctx.placement, ask_timeout, p::get_atom::value, node_name)
      .then(
          [self, keep, snapshot](node_actor& node) {
            self->request(node, std::chrono::seconds{60}, p::sweep_atom::value, keep, snapshot)
                .then(
                    [self](std::vector<std::string>& removed) {
                      for (auto& id : removed) {
                        p::event e{0,  0,  "replica_orphan_removed",
                                   "", id, "not assigned to this node (any more)"};
                        self->send(self->state.ctx.store, p::append_atom::value, std::move(e));
                      }
                    },
                    [](caf::error&) {});
          },
          [](caf::error&) {});
}

} // namespace

/// Removes, on every node (or on those of `only` when given), the containers
/// that no stored assignment puts there: replicas of deleted services, and
/// replicas that were moved elsewhere while their node was lost.
void sweep_orphans(self_ptr self, std::set<std::string> only) {
  auto names = service_names(self);
  // Also a read of no service: the store's epoch even when there is no service.
  names.emplace_back();
  auto keep = std::make_shared<std::map<std::string, std::vector<std::string>>>();
  auto pending = std::make_shared<size_t>(names.size());
  auto read = std::make_shared<size_t>(0);
  // The store's epoch of the first read: every assignment it did not return
  // (the later reads may) was committed after it, with a greater epoch.
  auto snapshot = std::make_shared<int64_t>(std::numeric_limits<int64_t>::max());
  auto finish = [self, keep, pending, read, only, snapshot] {
    if (--*pending != 0)
      return;
    if (only.empty())
      self->state.assignments_swept = *read;
    self->request(self->state.ctx.placement, ask_timeout, p::nodes_atom::value)
        .then(
            [self, keep, only, snapshot](std::vector<p::node_status>& nodes) {
              for (auto& n : nodes)
                if (only.empty() || only.count(n.name))
                  sweep_node(self, n.name, (*keep)[n.name], *snapshot);
            },
            [](caf::error&) {});
  };
  for (auto& name : names)
    self->request(self->state.ctx.store, ask_timeout, p::sweep_atom::value, name)
        .then(
            [keep, finish, read, only, snapshot](std::vector<p::assignment>& xs, int64_t epoch) {
              *snapshot = std::min(*snapshot, epoch);
              *read += xs.size();
              for (auto& a : xs)
                if (only.empty() || only.count(a.node))
                  (*keep)[a.node].push_back(std::move(a.replica));
              finish();
            },
            [pending](caf::error&) {
              ++*pending; // an unknown set: sweep nothing rather than the wrong things
            });
}

/// When the next periodic sweep is due: sweep_interval, or later in a cluster
/// of many assignments (as many as last read, or as the services want, when
/// they grow: a cluster on its way to a million replicas is swept as one).
caf::timespan next_sweep(self_ptr self) {
  size_t wanted = 0;
  for (const auto& [name, entry] : self->state.services)
    wanted += static_cast<size_t>(std::max(0, entry.spec.replicas));
  auto n = std::max(self->state.assignments_swept, wanted);
  auto scaled = std::chrono::seconds{n / sweep_assignments_per_s};
  return std::chrono::duration_cast<caf::timespan>(std::max<std::chrono::seconds>(
      std::chrono::duration_cast<std::chrono::seconds>(sweep_interval), scaled));
}

void sweep_all(self_ptr self) {
  sweep_orphans(self);
  self->delayed_send(self, next_sweep(self), p::sweep_atom::value, std::string{});
}

void sweep(self_ptr self, const std::string& node) {
  if (node.empty()) {
    sweep_all(self);
    return;
  }
  if (self->state.joined.empty())
    self->delayed_send(self, join_sweep_window, p::flush_atom::value);
  self->state.joined.insert(node);
}

void sweep_joined(self_ptr self) {
  auto nodes = std::move(self->state.joined);
  self->state.joined.clear();
  if (!nodes.empty())
    sweep_orphans(self, std::move(nodes));
}

} // namespace tutti::actors::cluster_impl
