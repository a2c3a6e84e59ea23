#pragma once

// The cluster tutti-chaos starts when it is given none: a control plane on
// 127.0.0.1 (with --enable-chaos) and node agents on 127.0.0.2, .3, ... that it
// can kill -9, restart, and cut off.

#include "tools/harness/daemon_process.hpp"
#include "tools/harness/link_cut.hpp"

#include <memory>
#include <string>
#include <vector>

namespace tutti::chaos {

class own_cluster {
public:
  /// Starts the control plane and `nodes` agents (not yet waiting for them).
  explicit own_cluster(int nodes);
  ~own_cluster(); // nodes first (they stop their replicas), then the control plane

  const std::string& api() const { return control_->api(); }
  int nodes() const { return static_cast<int>(nodes_.size()); }
  static std::string node_name(int i) { return "n" + std::to_string(i + 1); }

  bool control_up() const { return control_->running(); }
  void kill_control() { control_->kill9(); }
  void restart_control() { control_->restart(); }

  bool node_up(int i) const { return nodes_[i]->running(); }
  void kill_node(int i) { nodes_[i]->kill9(); }
  void restart_node(int i) { nodes_[i]->restart(); }

  bool node_cut(int i) const { return cuts_[i] != nullptr; }
  /// Cuts node i's link to the control plane; false when iptables failed.
  bool cut_node(int i);
  void heal_node(int i) { cuts_[i].reset(); }

  /// iptables rules left that mention the control plane's listen port.
  int leftover_rules() const { return harness::rules_mentioning(listen_); }

  /// SIGTERM to every agent, then the control plane.
  void stop();

private:
  uint16_t listen_;
  std::unique_ptr<harness::daemon_process> control_;
  std::vector<std::unique_ptr<harness::daemon_process>> nodes_;
  std::vector<std::unique_ptr<harness::link_cut>> cuts_;
};

} // namespace tutti::chaos
