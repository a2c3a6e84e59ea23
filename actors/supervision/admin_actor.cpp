#include "actors/supervision/admin_actor.hpp"

#include "protocol/errors.hpp"

#include <caf/all.hpp>

#include <spdlog/spdlog.h>

#include <algorithm>
#include <memory>

namespace tutti::actors {

namespace {

constexpr auto ask_timeout = std::chrono::seconds{2};
const std::string nodes_prefix = "/nodes/";

struct admin_state {
  admin_context ctx;
  static inline const char* name = "admin";
};

using self_ptr = supervising_actor::stateful_pointer<admin_state>;
using tree = std::vector<p::actor_info>;

/// One answer of the tree, filled in by several replies; delivered when the last
/// of them arrives.
struct tree_reply {
  caf::typed_response_promise<tree> rp;
  tree entries;
  int pending = 1;

  void done() {
    if (--pending > 0)
      return;
    std::sort(entries.begin(), entries.end(),
              [](const auto& a, const auto& b) { return a.path < b.path; });
    rp.deliver(std::move(entries));
  }
};

p::actor_info info(std::string path, std::string kind, p::actor_state state, uint64_t id) {
  p::actor_info x;
  x.path = std::move(path);
  x.kind = std::move(kind);
  x.state = state;
  x.id = id;
  return x;
}

void add_node_tree(self_ptr self, std::shared_ptr<tree_reply> reply, const p::node_status& node,
                   node_actor handle) {
  auto at = nodes_prefix + node.name;
  reply->entries.push_back(info(at, "node", p::actor_state_of(node.state), handle.id()));
  auto index = reply->entries.size() - 1;
  ++reply->pending;
  self->request(handle, ask_timeout, p::tree_atom::value)
      .then(
          [reply, at](tree& xs) {
            for (auto& x : xs) {
              x.path = at + x.path;
              reply->entries.push_back(std::move(x));
            }
            reply->done();
          },
          [reply, index](caf::error&) {
            reply->entries[index].state = p::actor_state::unreachable;
            reply->done();
          });
}

/// The remote nodes, each with its own tree, as placement knows them.
void add_nodes(self_ptr self, std::shared_ptr<tree_reply> reply, placement_actor placement) {
  ++reply->pending;
  self->request(placement, ask_timeout, p::nodes_atom::value)
      .then(
          [self, reply, placement](std::vector<p::node_status>& nodes) {
            for (auto& node : nodes) {
              if (node.state == p::node_state::lost) {
                reply->entries.push_back(
                    info(nodes_prefix + node.name, "node", p::actor_state::lost, 0));
                continue;
              }
              ++reply->pending;
              self->request(placement, ask_timeout, p::get_atom::value, node.name)
                  .then(
                      [self, reply, node](node_actor& handle) {
                        add_node_tree(self, reply, node, handle);
                        reply->done();
                      },
                      [reply, node](caf::error&) {
                        reply->entries.push_back(
                            info(nodes_prefix + node.name, "node", p::actor_state::unreachable, 0));
                        reply->done();
                      });
            }
            reply->done();
          },
          [reply](caf::error&) { reply->done(); });
}

caf::result<tree> whole_tree(self_ptr self) {
  auto reply = std::make_shared<tree_reply>();
  reply->rp = self->make_response_promise<tree>();
  const auto& root = self->state.ctx.root;
  reply->entries.push_back(info("/", "supervisor", p::actor_state::running, root.id()));
  ++reply->pending;
  self->request(caf::actor_cast<supervising_actor>(root), ask_timeout, p::tree_atom::value)
      .then(
          [reply](tree& xs) {
            for (auto& x : xs)
              reply->entries.push_back(std::move(x));
            reply->done();
          },
          [reply](caf::error&) {
            reply->entries.front().state = p::actor_state::unreachable;
            reply->done();
          });
  if (self->state.ctx.remote_nodes) {
    ++reply->pending;
    self->request(root, ask_timeout, p::child_atom::value, std::string{"placement"})
        .then(
            [self, reply](caf::actor& placement) {
              if (placement)
                add_nodes(self, reply, caf::actor_cast<placement_actor>(placement));
              reply->done();
            },
            [reply](caf::error&) { reply->done(); });
  }
  reply->done(); // the one pending from the start
  return reply->rp;
}

/// Kills a remote node's actor, or passes the rest of the path on to it.
caf::result<std::string> kill_on_node(self_ptr self, const std::string& path,
                                      const std::string& reason) {
  auto rest = path.substr(nodes_prefix.size());
  auto slash = rest.find('/');
  auto name = rest.substr(0, slash);
  auto below = slash == std::string::npos ? std::string{} : rest.substr(slash);
  auto rp = self->make_response_promise<std::string>();
  self->request(self->state.ctx.root, ask_timeout, p::child_atom::value, std::string{"placement"})
      .then(
          [self, rp, name, below, path, reason](caf::actor& placement) mutable {
            self->request(caf::actor_cast<placement_actor>(placement), ask_timeout,
                          p::get_atom::value, name)
                .then(
                    [self, rp, below, path, reason](node_actor& node) mutable {
                      if (!below.empty()) {
                        self->request(caf::actor_cast<supervising_actor>(node), ask_timeout,
                                      p::kill_atom::value, below, reason)
                            .then([rp, path](const std::string&) mutable { rp.deliver(path); },
                                  [rp](caf::error& err) mutable { rp.deliver(std::move(err)); });
                        return;
                      }
                      spdlog::warn("admin: killing node actor {} on request", path);
                      self->send_exit(node, reason.empty() || reason == "kill"
                                                ? caf::error{caf::exit_reason::kill}
                                                : p::make_error(p::error_code::internal, reason));
                      rp.deliver(path);
                    },
                    [rp](caf::error& err) mutable { rp.deliver(std::move(err)); });
          },
          [rp](caf::error& err) mutable { rp.deliver(std::move(err)); });
  return rp;
}

caf::result<std::string> kill(self_ptr self, const std::string& path, const std::string& reason) {
  if (!self->state.ctx.chaos)
    return p::make_error(p::error_code::forbidden,
                         "killing actors is off; start tuttid with --enable-chaos to allow it");
  if (path.empty() || path[0] != '/')
    return p::make_error(p::error_code::invalid_argument,
                         "an actor path starts with / (e.g. /cluster/service/web); `tutti tree` "
                         "lists them");
  if (path == "/")
    return p::make_error(p::error_code::invalid_argument,
                         "the root supervisor has no supervisor to restart it; stop tuttid "
                         "instead");
  if (self->state.ctx.remote_nodes && path.rfind(nodes_prefix, 0) == 0 &&
      path.size() > nodes_prefix.size())
    return kill_on_node(self, path, reason);
  // Asked rather than delegated: supervisors answer with the path below them.
  auto rp = self->make_response_promise<std::string>();
  self->request(caf::actor_cast<supervising_actor>(self->state.ctx.root), ask_timeout,
                p::kill_atom::value, path, reason)
      .then([rp, path](const std::string&) mutable { rp.deliver(path); },
            [rp](caf::error& err) mutable { rp.deliver(std::move(err)); });
  return rp;
}

supervising_actor::behavior_type admin(self_ptr self, admin_context ctx) {
  self->state.ctx = std::move(ctx);
  return {
      [self](p::tree_atom) { return whole_tree(self); },
      [self](p::kill_atom, const std::string& path, const std::string& reason) {
        return kill(self, path, reason);
      },
  };
}

} // namespace

supervising_actor spawn_admin(caf::actor_system& sys, admin_context ctx) {
  return sys.spawn(admin, std::move(ctx));
}

} // namespace tutti::actors
