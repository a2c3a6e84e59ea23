#include "actors/cluster/cluster_nodes.hpp"

#include "protocol/errors.hpp"

#include <caf/all.hpp>

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
              if (n.state == p::node_state::lost) {
                // Its replicas were placed elsewhere; it drains again when it joins.
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

caf::result<node_actor> node_agent(self_ptr self, const std::string& name) {
  auto promise = self->make_response_promise<node_actor>();
  self->request(self->state.ctx.placement, ask_timeout, p::get_atom::value, name)
      .then([promise](node_actor& node) mutable { promise.deliver(std::move(node)); },
            [promise, name](caf::error& err) mutable {
              if (p::code_of(err) == p::error_code::not_found)
                err = p::make_error(p::error_code::not_found,
                                    "node " + name +
                                        " is not connected; `tutti get nodes` lists the nodes "
                                        "and their states");
              promise.deliver(std::move(err));
            });
  return promise;
}

} // namespace tutti::actors::cluster_impl
