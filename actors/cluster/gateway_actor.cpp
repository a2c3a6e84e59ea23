#include "actors/cluster/gateway_actor.hpp"

#include "protocol/errors.hpp"
#include "protocol/versions.hpp"

#include <caf/all.hpp>

#include <spdlog/spdlog.h>

#include <memory>

namespace tutti::actors {

namespace {

constexpr auto ask_timeout = std::chrono::seconds{10};

/// After this, a joined node has registered with placement and can be swept.
constexpr auto sweep_delay = join_sweep_delay;

struct gateway_state {
  caf::actor root;
  std::string token;
  static inline const char* name = "gateway";
};

using self_ptr = gateway_actor::stateful_pointer<gateway_state>;
using grant = caf::typed_response_promise<caf::actor, caf::actor, caf::actor>;

/// Asks the root for its children `names` in order; `done` gets them all (or the
/// first failure).
void children_of(self_ptr self, std::shared_ptr<std::vector<std::string>> names,
                 std::shared_ptr<std::vector<caf::actor>> found,
                 std::function<void(caf::error)> done) {
  if (found->size() == names->size()) {
    done(caf::none);
    return;
  }
  auto name = (*names)[found->size()];
  self->request(self->state.root, ask_timeout, p::child_atom::value, name)
      .then(
          [self, names, found, done, name](caf::actor& child) {
            if (!child) {
              done(p::make_error(p::error_code::unavailable,
                                 "the control plane's " + name + " is restarting; try again"));
              return;
            }
            found->push_back(child);
            children_of(self, names, found, done);
          },
          [done](caf::error& err) { done(err); });
}

caf::result<caf::actor, caf::actor, caf::actor> join(self_ptr self, const std::string& token,
                                                     const std::string& node) {
  if (token != self->state.token) {
    spdlog::warn("gateway: refused node {}: wrong join token", node);
    return p::make_error(p::error_code::invalid_argument,
                         "the control plane refused the join token of node " + node +
                             "; start the node with the control plane's cluster.join_token");
  }
  auto promise = self->make_response_promise<caf::actor, caf::actor, caf::actor>();
  auto names = std::make_shared<std::vector<std::string>>(
      std::vector<std::string>{"store", "placement", "discovery", "cluster"});
  auto found = std::make_shared<std::vector<caf::actor>>();
  children_of(self, names, found, [self, promise, found, node](caf::error err) mutable {
    if (err) {
      promise.deliver(err);
      return;
    }
    spdlog::info("gateway: node {} joined", node);
    auto cluster = caf::actor_cast<cluster_actor>((*found)[3]);
    self->delayed_send(cluster, sweep_delay, p::sweep_atom::value, node);
    promise.deliver((*found)[0], (*found)[1], (*found)[2]);
  });
  return promise;
}

gateway_actor::behavior_type gateway(self_ptr self, caf::actor root, std::string token) {
  self->state.root = std::move(root);
  self->state.token = std::move(token);
  return {
      [self](p::join_atom, const std::string& token, const std::string& node,
             const std::string& version) -> caf::result<caf::actor, caf::actor, caf::actor> {
        if (auto refused = p::join_refusal(p::tuttid_version(), version, node)) {
          spdlog::warn("gateway: refused node {}: {}", node, p::message_of(refused));
          return refused;
        }
        return join(self, token, node);
      },
      [](p::join_atom, const std::string&,
         const std::string& node) -> caf::result<caf::actor, caf::actor, caf::actor> {
        return p::make_error(p::error_code::invalid_argument,
                             "node " + node + " runs a tuttid older than this control plane's " +
                                 p::tuttid_version() + " by more than it joins with; upgrade it");
      },
  };
}

} // namespace

gateway_actor spawn_gateway(caf::actor_system& sys, caf::actor root, std::string join_token) {
  return sys.spawn(gateway, std::move(root), std::move(join_token));
}

} // namespace tutti::actors
