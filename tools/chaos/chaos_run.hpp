#pragma once

// One chaos round: a seeded sequence of faults while a client applies and scales
// specs, then a wait for convergence and the checks (nothing acknowledged lost,
// no duplicate replica, nothing leaked).

#include <cstdint>
#include <string>

namespace tutti::chaos {

struct chaos_options {
  uint64_t seed = 1;
  double duration_s = 30;
  std::string cluster;      // API of a running control plane; empty: start our own
  int nodes = 3;            // of our own cluster
  int services = 3;         // the client applies and scales these
  bool cut = true;          // cut links (needs root and iptables)
  bool ha = false;          // our own cluster: 3 control processes on 3 etcd members
  double converge_s = 120;  // give up waiting for convergence after this long
};

/// Runs the round, printing each action and a summary; returns the exit code
/// (0: converged with nothing lost, duplicated or leaked).
int run_chaos(const chaos_options& opts);

} // namespace tutti::chaos
