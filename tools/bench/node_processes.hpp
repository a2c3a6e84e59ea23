#pragma once

// The child processes of `tutti-bench sim --processes K`: each runs
// `tutti-bench sim-nodes` (sim_nodes.cpp) with its share of the nodes, takes
// commands on its stdin and answers on its stdout. Every child is ended by its
// pid when this object goes away (also when the bench fails); a child ends by
// itself when this process dies (its stdin closes, the gateway connection
// drops).

#include <sys/types.h>

#include <caf/error.hpp>
#include <caf/expected.hpp>

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace tutti::bench {

struct node_processes_options {
  std::string gateway; // HOST:PORT
  std::string join_token;
  int32_t processes = 2;
  int32_t nodes = 0; // spread evenly, node i in child i * processes / nodes
  int32_t zones = 3;
  bool sharing = false;
};

class node_processes {
public:
  using time_point = std::chrono::steady_clock::time_point;

  /// Starts the children (this binary, `sim-nodes`) and waits until each has
  /// connected to the gateway, or the deadline.
  static caf::expected<std::unique_ptr<node_processes>> start(const node_processes_options& opts,
                                                              time_point deadline);
  ~node_processes();
  node_processes(const node_processes&) = delete;
  node_processes& operator=(const node_processes&) = delete;

  /// Each child joins and spawns its nodes; returns once all say so.
  caf::error spawn_nodes(time_point deadline);

  /// Has the child that runs node `index` kill it.
  caf::error kill_node(int32_t index);

  /// Sum over the children of a /proc/PID/status figure in bytes ("VmRSS",
  /// "VmHWM").
  double status_bytes(const std::string& key) const;

  /// CPU seconds (user + system) the children used so far.
  double cpu_seconds() const;

  /// Why a child ended before stop(); empty while all run.
  std::string exited();

  /// Closes their stdin (they exit), waits a moment, kills what is left (by
  /// pid) and reaps them all.
  void stop();

private:
  struct child {
    pid_t pid = -1;
    int in = -1;  // its stdin
    int out = -1; // its stdout
    std::string buffered;
    int32_t first = 0;
    int32_t count = 0;
  };

  node_processes() = default;
  caf::error send(child& c, const std::string& line);
  caf::error expect_all(const std::string& line, time_point deadline);

  std::vector<child> children_;
};

} // namespace tutti::bench
