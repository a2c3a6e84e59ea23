// tutti-bench sim-nodes (hidden): one child process of `tutti-bench sim
// --processes K`. It joins the bench's control plane over CAF's network and runs
// its share of the simulated nodes, driven by lines on stdin:
//   spawn     join and spawn nodes FIRST .. FIRST+COUNT-1, then print "spawned"
//   kill I    end node I at once, with its containers (a host that died)
// It prints "ready" once connected. It ends when stdin closes (the bench ended,
// or died) and when the connection to the control plane goes down.

#include "tools/bench/benches.hpp"

#include "simulation/sim_node_host.hpp"
#include "protocol/errors.hpp"

#include <spdlog/spdlog.h>

#include <cstdio>
#include <iostream>
#include <sstream>
#include <string>
#include <thread>

namespace tutti::bench {

namespace {

namespace p = tutti::protocol;

struct sim_nodes_options {
  std::string join; // HOST:PORT of the gateway
  std::string join_token;
  int32_t first = 0;
  int32_t count = 0;
  int32_t zones = 3;
  bool sharing = false;
};

int run_sim_nodes(const sim_nodes_options& opts) {
  spdlog::set_level(spdlog::level::warn);
  auto colon = opts.join.rfind(':');
  if (colon == std::string::npos)
    return std::fprintf(stderr, "sim-nodes: --join: expected HOST:PORT, got '%s'\n",
                        opts.join.c_str()),
           2;
  simulation::sim_node_host_options ho;
  ho.host = opts.join.substr(0, colon);
  ho.port = static_cast<uint16_t>(std::stoi(opts.join.substr(colon + 1)));
  ho.join_token = opts.join_token;
  ho.sharing_scheduler = opts.sharing;
  auto host = simulation::sim_node_host::connect(ho);
  if (!host)
    return std::fprintf(stderr, "sim-nodes: %s\n", p::message_of(host.error()).c_str()), 1;
  // Nothing of this process outlives the control plane: a bench that died
  // leaves no nodes behind. Its figures are out by then, so no teardown.
  std::thread{[h = host->get()] {
    auto why = h->wait_disconnected();
    std::fprintf(stderr, "sim-nodes: lost the control plane (%s); exiting\n",
                 p::message_of(why).c_str());
    std::_Exit(3);
  }}.detach();
  std::printf("ready\n");
  std::fflush(stdout);
  std::string line;
  while (std::getline(std::cin, line)) {
    std::istringstream in{line};
    std::string verb;
    in >> verb;
    if (verb == "spawn") {
      for (int32_t i = opts.first; i < opts.first + opts.count; ++i)
        if (auto err = (*host)->add_node(i, {{"zone", "z" + std::to_string(i % opts.zones)}}))
          return std::fprintf(stderr, "sim-nodes: %s\n", p::message_of(err).c_str()), 1;
      std::printf("spawned\n");
      std::fflush(stdout);
    } else if (verb == "kill") {
      int32_t index = -1;
      if (in >> index)
        (*host)->kill_node(index);
    } else {
      std::fprintf(stderr, "sim-nodes: unknown command '%s'\n", line.c_str());
    }
  }
  // stdin closed: the bench is done (or gone). Tearing down thousands of actors
  // one by one would only delay it.
  std::_Exit(0);
}

} // namespace

void add_sim_nodes(CLI::App& app) {
  auto opts = std::make_shared<sim_nodes_options>();
  auto* cmd = app.add_subcommand("sim-nodes", "simulated nodes of `tutti-bench sim --processes K` "
                                              "(started by it, driven over stdin)");
  cmd->group(""); // hidden: not something to run by hand
  cmd->add_option("--join", opts->join, "The control plane's gateway, HOST:PORT")->required();
  cmd->add_option("--join-token", opts->join_token, "Its join token")->required();
  cmd->add_option("--first", opts->first, "Index of the first node")->required();
  cmd->add_option("--count", opts->count, "Nodes to run")->required();
  cmd->add_option("--zones", opts->zones, "Zone labels the nodes are spread over");
  cmd->add_flag("--sharing", opts->sharing, "CAF's sharing scheduler instead of work stealing");
  cmd->callback([opts] { std::exit(run_sim_nodes(*opts)); });
}

} // namespace tutti::bench
