#pragma once

// The cluster tutti-chaos starts when it is given none: node agents on
// 127.0.0.2, .3, ... and either one control plane on 127.0.0.1 (LMDB) or, with
// --ha, three control processes on a three-member etcd cluster (members on
// 127.0.0.1-3). Every control process runs with --enable-chaos. tutti-chaos can
// kill -9, freeze, restart and cut off each of them.

#include "tools/harness/daemon_process.hpp"
#include "tools/harness/etcd_members.hpp"
#include "tools/harness/link_cut.hpp"
#include "tools/harness/process_cut.hpp"

#include <memory>
#include <string>
#include <vector>

namespace tutti::chaos {

class own_cluster {
public:
  /// Starts the control processes and `nodes` agents (not yet waiting for
  /// them); throws std::runtime_error naming what failed.
  own_cluster(int nodes, bool ha);
  ~own_cluster(); // nodes first (they stop their replicas), then the control plane

  /// Every control process's API address: the client finds the leader.
  std::vector<std::string> apis() const;
  int nodes() const { return static_cast<int>(nodes_.size()); }
  static std::string node_name(int i) { return "n" + std::to_string(i + 1); }

  int controls() const { return static_cast<int>(controls_.size()); }
  bool control_up(int i) const { return controls_[i]->running() && !frozen_[i]; }
  void kill_control(int i) { controls_[i]->kill9(); }
  void restart_control(int i) { controls_[i]->restart(); }
  /// Starts again, as systemd's Restart=on-failure would, every control
  /// process that ended by itself; returns "control N (status S)" for each.
  std::vector<std::string> restart_ended_controls();
  /// SIGSTOP / SIGCONT.
  void freeze_control(int i);
  void thaw_control(int i);
  bool control_cut(int i) const { return etcd_cuts_[i] != nullptr; }
  /// Drops control process i's packets to etcd; false when that failed.
  bool cut_control(int i);
  void heal_control(int i) { etcd_cuts_[i].reset(); }

  /// The etcd members (none without --ha).
  harness::etcd_members* etcd() { return etcd_.get(); }

  bool node_up(int i) const { return nodes_[i]->running(); }
  void kill_node(int i) { nodes_[i]->kill9(); }
  void restart_node(int i) { nodes_[i]->restart(); }

  bool node_cut(int i) const { return cuts_[i] != nullptr; }
  /// Cuts node i's link to the control plane; false when iptables failed.
  bool cut_node(int i);
  void heal_node(int i) { cuts_[i].reset(); }

  /// iptables rules left: of cut links (mentioning a listen port) and of
  /// process cuts.
  int leftover_rules() const;

  /// SIGTERM to every agent, then the control processes.
  void stop();

private:
  std::string config_; // the control processes' and nodes' config file (--ha)
  std::unique_ptr<harness::etcd_members> etcd_;
  std::vector<uint16_t> listens_;
  std::vector<std::unique_ptr<harness::daemon_process>> controls_;
  std::vector<bool> frozen_;
  std::vector<std::unique_ptr<harness::process_cut>> etcd_cuts_;
  std::vector<std::unique_ptr<harness::daemon_process>> nodes_;
  std::vector<std::unique_ptr<harness::link_cut>> cuts_;
};

} // namespace tutti::chaos
