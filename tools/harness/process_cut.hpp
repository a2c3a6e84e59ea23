#pragma once

// A process cut from some services on loopback, as a cut cable cuts a host:
// the packets it sends to their ports vanish, on connections it has and on
// those it tries to make (which hang, as they would, rather than fail at
// once). New connections are told apart by the process's cgroup (cgroup v2:
// the process is moved into one of its own, which iptables' cgroup match
// names), established ones by their local ports. Everything is undone when
// the object goes away.

#include <cstdint>
#include <string>
#include <vector>

namespace tutti::harness {

/// True when this process may cut processes: root, iptables with the cgroup
/// match, a writable cgroup v2 hierarchy.
bool can_cut_processes();

class process_cut {
public:
  /// Cuts process `pid` from 127.0.0.1:`ports`.
  process_cut(int pid, std::vector<uint16_t> ports);
  ~process_cut(); // heals: removes every rule, moves the process back, removes its cgroup
  process_cut(const process_cut&) = delete;
  process_cut& operator=(const process_cut&) = delete;

  /// False when a rule could not be added or the process not moved.
  bool ok() const { return ok_; }

private:
  int pid_;
  std::string cgroup_;             // its path under the cgroup v2 mount
  std::vector<std::string> rules_; // "TABLE CHAIN RULE", as added
  bool ok_ = false;
};

/// iptables rules of process cuts still in place (for leak checks).
int process_cut_rules();

} // namespace tutti::harness
