#include "tools/chaos/own_cluster.hpp"

namespace tutti::chaos {

namespace {
const std::string token = "chaos-token";
}

own_cluster::own_cluster(int nodes) : listen_(harness::free_port()) {
  auto listen = "127.0.0.1:" + std::to_string(listen_);
  control_ = std::make_unique<harness::daemon_process>(
      harness::daemon_process::mode{"control"},
      std::vector<std::string>{"--listen", listen, "--join-token", token, "--enable-chaos"});
  for (int i = 0; i < nodes; ++i) {
    auto first = 43000 + 200 * i;
    nodes_.push_back(std::make_unique<harness::daemon_process>(
        harness::daemon_process::mode{"node"},
        std::vector<std::string>{"--join", listen, "--join-token", token, "--node-name",
                                 node_name(i), "--address", "127.0.0." + std::to_string(i + 2),
                                 "--port-range",
                                 std::to_string(first) + "-" + std::to_string(first + 199),
                                 "--no-docker", "--stop-replicas-on-exit"}));
    cuts_.emplace_back();
  }
}

own_cluster::~own_cluster() {
  stop();
}

bool own_cluster::cut_node(int i) {
  auto cut = std::make_unique<harness::link_cut>(nodes_[i]->pid(), listen_);
  if (!cut->ok())
    return false;
  cuts_[i] = std::move(cut);
  return true;
}

void own_cluster::stop() {
  for (auto& c : cuts_)
    c.reset();
  for (auto& n : nodes_)
    n->stop();
  control_->stop();
}

} // namespace tutti::chaos
