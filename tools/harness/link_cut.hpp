#pragma once

// A cut network link between a node agent and its control plane, on loopback:
// iptables DROP rules on lo for the agent's connections (a cut cable sends no
// RST), removed again when the object goes away.

#include <cstdint>
#include <string>
#include <vector>

namespace tutti::harness {

/// True when this process may add iptables rules (root, iptables present).
bool can_cut_links();

class link_cut {
public:
  /// Drops the connections of process `pid` to 127.0.0.1:`listen` and, as a cut
  /// cable would, its attempts to connect again (new connections to the listen
  /// port; other nodes' established ones go on).
  link_cut(int pid, uint16_t listen);
  ~link_cut(); // heals: removes every rule it added
  link_cut(const link_cut&) = delete;
  link_cut& operator=(const link_cut&) = delete;

  /// False when the process had no connection or a rule could not be added.
  bool ok() const { return ok_; }

private:
  std::vector<std::string> ports_;
  std::string syn_;
  bool ok_ = false;
};

/// Local ports of `pid`'s established TCP connections to `port` on loopback.
std::vector<std::string> connection_ports(int pid, uint16_t port);

/// How many iptables rules on INPUT mention `port` (for leak checks).
int rules_mentioning(uint16_t port);

} // namespace tutti::harness
