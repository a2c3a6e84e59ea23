#include "actors/cluster/cluster_nodes.hpp"

#include "protocol/errors.hpp"

#include <caf/all.hpp>

#include <algorithm>
#include <memory>
#include <tuple>

#include <spdlog/spdlog.h>

namespace tutti::actors::cluster_impl {

namespace {

/// How often a draining node is checked for being empty.
constexpr auto drain_check = std::chrono::milliseconds{250};

std::string event_of(p::node_state state) {
  switch (state) {
    case p::node_state::ready:
      return "node_uncordoned";
    case p::node_state::cordoned:
      return "node_cordoned";
    case p::node_state::draining:
      return "node_draining";
    case p::node_state::lost:
    case p::node_state::restarting:
      break;
  }
  return "node_lost";
}

using node_done = std::function<void(caf::expected<p::node_status>)>;

/// Sets the state in placement, stores it (durably, before `done` hears of it)
/// and records the event.
void set_node_state(self_ptr self, const std::string& name, p::node_state state, std::string why,
                    node_done done) {
  self->request(self->state.ctx.placement, ask_timeout, p::cordon_atom::value, name, state)
      .then(
          [self, state, why, done](p::node_status& node) {
            auto record = node;
            record.state = state; // a lost node takes this state when it joins again
            self->request(self->state.ctx.store, ask_timeout, p::put_atom::value, record)
                .then(
                    [self, node, state, why, done](bool) {
                      emit(self, event_of(state), {}, "node " + node.name + " " + why);
                      spdlog::info("cluster: node {} {}", node.name, why);
                      if (state == p::node_state::draining)
                        self->send(self, p::tick_atom::value, node.name);
                      done(node);
                    },
                    [done](caf::error& err) { done(std::move(err)); });
          },
          [done](caf::error& err) { done(std::move(err)); });
}

std::string why_of(p::node_state state) {
  switch (state) {
    case p::node_state::ready:
      return "uncordoned: new replicas may be placed here again";
    case p::node_state::cordoned:
      return "cordoned: no new replicas are placed here; running ones stay";
    case p::node_state::draining:
      return "draining: its replicas move to other nodes within their services' update limits";
    case p::node_state::lost:
    case p::node_state::restarting:
      break;
  }
  return "lost";
}

} // namespace

caf::result<p::node_status> set_node_state(self_ptr self, const std::string& name,
                                           p::node_state state) {
  auto promise = self->make_response_promise<p::node_status>();
  set_node_state(self, name, state, why_of(state),
                 [promise](caf::expected<p::node_status> x) mutable {
                   if (x)
                     promise.deliver(std::move(*x));
                   else
                     promise.deliver(x.error());
                 });
  return promise;
}

void check_drained(self_ptr self, const std::string& name) {
  self->request(self->state.ctx.placement, ask_timeout, p::nodes_atom::value)
      .then(
          [self, name](std::vector<p::node_status>& nodes) {
            for (auto& n : nodes) {
              if (n.name != name)
                continue;
              if (n.state == p::node_state::lost || n.state == p::node_state::restarting) {
                // Its replicas were placed elsewhere, or its agent restarts:
                // it drains again when it joins.
                self->delayed_send(self, drain_check, p::tick_atom::value, name);
                return;
              }
              if (n.state != p::node_state::draining)
                return; // uncordoned or cordoned meanwhile
              if (n.replicas > 0) {
                self->delayed_send(self, drain_check, p::tick_atom::value, name);
                return;
              }
              set_node_state(self, name, p::node_state::cordoned,
                             "is drained: it runs no replica; it stays cordoned",
                             [self, name](caf::expected<p::node_status> x) {
                               if (x)
                                 emit(self, "node_drained", {},
                                      "node " + name + " runs no replica any more");
                               else
                                 self->delayed_send(self, drain_check, p::tick_atom::value, name);
                             });
              return;
            }
          },
          [self, name](caf::error&) {
            self->delayed_send(self, drain_check, p::tick_atom::value, name);
          });
}

caf::result<std::vector<p::node_status>> nodes(self_ptr self) {
  return self->delegate(self->state.ctx.placement, p::nodes_atom::value);
}

void load_nodes(self_ptr self, std::function<void()> then) {
  self->request(self->state.ctx.store, std::chrono::seconds{60}, p::get_atom::value,
                p::nodes_atom::value)
      .await(
          [self, then](std::vector<p::node_status>& nodes) {
            self->send(self->state.ctx.placement, p::load_atom::value, nodes);
            for (auto& n : nodes)
              if (n.state == p::node_state::draining)
                self->send(self, p::tick_atom::value, n.name);
            then();
          },
          [self, then](caf::error& err) {
            spdlog::error("cluster: cannot load node states: {}", p::message_of(err));
            then();
          });
}

namespace {

/// Placement's error for node `name`, a not_found one saying what lists the nodes.
caf::error not_connected(caf::error err, const std::string& name, const char* listing) {
  if (p::code_of(err) != p::error_code::not_found)
    return err;
  return p::make_error(p::error_code::not_found,
                       "node " + name + " is not connected; " + listing);
}

} // namespace

caf::result<node_actor> node_agent(self_ptr self, const std::string& name) {
  auto promise = self->make_response_promise<node_actor>();
  self->request(self->state.ctx.placement, ask_timeout, p::get_atom::value, name)
      .then([promise](node_actor& node) mutable { promise.deliver(std::move(node)); },
            [promise, name](caf::error& err) mutable {
              promise.deliver(not_connected(std::move(err), name,
                                            "`tutti get nodes` lists the nodes and their states"));
            });
  return promise;
}

namespace {

/// The answers of a fan-out to the nodes, delivered once the last is in.
struct volume_gather {
  caf::typed_response_promise<std::vector<p::volume_info>> promise;
  std::vector<p::volume_info> out;
  size_t pending = 0;

  void one_done() {
    if (--pending > 0)
      return;
    std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) {
      return std::tie(a.node, a.replica, a.volume) < std::tie(b.node, b.replica, b.volume);
    });
    promise.deliver(std::move(out));
  }
};

void ask_volumes(self_ptr self, const std::string& name, std::shared_ptr<volume_gather> g) {
  self->request(self->state.ctx.placement, ask_timeout, p::get_atom::value, name)
      .then(
          [self, g](node_actor& node) {
            self->request(node, ask_timeout, p::volumes_atom::value)
                .then(
                    [g](std::vector<p::volume_info>& xs) {
                      g->out.insert(g->out.end(), xs.begin(), xs.end());
                      g->one_done();
                    },
                    [g](caf::error&) { g->one_done(); });
          },
          [g](caf::error&) { g->one_done(); }); // not connected now
}

} // namespace

caf::result<std::vector<p::volume_info>> volumes(self_ptr self) {
  auto g = std::make_shared<volume_gather>();
  g->promise = self->make_response_promise<std::vector<p::volume_info>>();
  self->request(self->state.ctx.placement, ask_timeout, p::nodes_atom::value)
      .then(
          [self, g](std::vector<p::node_status>& nodes) {
            g->pending = nodes.size() + 1; // + 1: delivered after the loop at the earliest
            for (const auto& n : nodes)
              ask_volumes(self, n.name, g);
            g->one_done();
          },
          [g](caf::error& err) { g->promise.deliver(std::move(err)); });
  return g->promise;
}

caf::result<bool> remove_volume(self_ptr self, const std::string& node, const std::string& replica,
                                const std::string& volume) {
  auto promise = self->make_response_promise<bool>();
  self->request(self->state.ctx.placement, ask_timeout, p::get_atom::value, node)
      .then(
          [self, promise, replica, volume](node_actor& agent) mutable {
            self->request(agent, ask_timeout, p::volumes_atom::value, p::delete_atom::value,
                          replica, volume)
                .then([promise](bool x) mutable { promise.deliver(x); },
                      [promise](caf::error& err) mutable { promise.deliver(std::move(err)); });
          },
          [promise, node](caf::error& err) mutable {
            promise.deliver(not_connected(std::move(err), node,
                                          "`tutti volume ls` lists the volumes of the connected "
                                          "nodes"));
          });
  return promise;
}

} // namespace tutti::actors::cluster_impl
