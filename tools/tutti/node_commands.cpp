// tutti node cordon|uncordon|drain: a node's scheduling state, and waiting
// for a drain to empty it.

#include "tools/tutti/command_support.hpp"
#include "tools/tutti/commands.hpp"
#include "tools/tutti/views.hpp"

#include <chrono>
#include <thread>

namespace tutti::cli {

namespace {

const char* const list_nodes_hint = "run `tutti get nodes` to see which nodes exist";

std::optional<protocol::node_status> find_node(const std::vector<protocol::node_status>& xs,
                                               const std::string& name) {
  for (const auto& n : xs)
    if (n.name == name)
      return n;
  return std::nullopt;
}

/// Waits until node `name` runs no replica: prints the count of replicas left on
/// each change and, once each, why a replica cannot move (node_drain_blocked
/// events since `after`). 0 when empty; 1 on timeout or when the drain was
/// stopped (uncordoned) meanwhile.
int wait_drained(client& c, const streams& io, const node_options& o, uint64_t after) {
  auto deadline = std::chrono::steady_clock::now() +
                  std::chrono::milliseconds{static_cast<int64_t>(o.timeout_s * 1000)};
  int32_t shown = -1;
  for (;;) {
    auto nodes = c.get_nodes();
    if (!nodes)
      return report(io, nodes.error());
    auto node = find_node(*nodes, o.name);
    if (!node)
      return report(io, {protocol::error_code::not_found, "node " + o.name + " is gone"},
                    list_nodes_hint);
    if (node->replicas != shown) {
      shown = node->replicas;
      io.out << "node/" << o.name << ": " << shown << " replica" << (shown == 1 ? "" : "s")
             << " left\n"
             << std::flush;
    }
    if (node->replicas == 0) {
      io.out << "node/" << o.name << " drained\n";
      return exit_code::ok;
    }
    if (node->state == protocol::node_state::ready) {
      io.err << "node " << o.name << " was uncordoned while it drained; " << node->replicas
             << " replicas stay on it\n";
      return exit_code::failed;
    }
    auto events = c.events(after, 1000, "");
    if (!events)
      return report(io, events.error());
    for (const auto& e : *events) {
      after = std::max(after, e.seq);
      if (e.kind == "node_drain_blocked" && e.message.find(o.name) != std::string::npos)
        io.out << "waiting: " << e.message << "\n" << std::flush;
    }
    if (std::chrono::steady_clock::now() > deadline) {
      io.err << "timed out after " << o.timeout_s << " s: " << node->replicas << " replica"
             << (node->replicas == 1 ? "" : "s") << " left on node " << o.name
             << "; it goes on draining (`tutti get nodes` shows it; run `tutti node drain "
             << o.name << "` again to wait)\n";
      return exit_code::failed;
    }
    // Polls, like rollout status: a fifth of a second is live enough.
    std::this_thread::sleep_for(std::chrono::milliseconds{200});
  }
}

} // namespace

int run_node(const global_options& g, const streams& io, const node_options& o) {
  auto c = connect_to_tuttid(g);
  if (!c)
    return report(io, c.error());
  auto state = o.action == node_action::uncordon ? protocol::node_state::ready
               : o.action == node_action::cordon ? protocol::node_state::cordoned
                                                 : protocol::node_state::draining;
  uint64_t after = 0; // the events that come after the drain started
  if (o.action == node_action::drain && o.wait) {
    auto tail = last_events(**c, "", 0, [](const protocol::event&) { return true; });
    if (!tail)
      return report(io, tail.error());
    after = tail->last_seq;
  }
  auto node = (*c)->set_node_state(o.name, state);
  if (!node)
    return report(io, node.error(), list_nodes_hint);
  switch (o.action) {
    case node_action::cordon:
      io.out << "node/" << o.name << " cordoned\n";
      return exit_code::ok;
    case node_action::uncordon:
      io.out << "node/" << o.name << " uncordoned\n";
      return exit_code::ok;
    case node_action::drain:
      io.out << "node/" << o.name << " cordoned and draining (" << node->replicas << " replica"
             << (node->replicas == 1 ? "" : "s") << " on it)\n"
             << std::flush;
      if (!o.wait) {
        io.out << "follow it with `tutti get nodes` or `tutti events`\n";
        return exit_code::ok;
      }
      return wait_drained(**c, io, o, after);
  }
  return exit_code::usage;
}

} // namespace tutti::cli
