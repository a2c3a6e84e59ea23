#pragma once

// Each benchmark adds its subcommand to tutti-bench here.

#include <CLI/CLI.hpp>

namespace tutti::bench {

/// `tutti-bench dev`: the single-host cluster with the process driver.
void add_dev_bench(CLI::App& app);

/// `tutti-bench autoscale`: a step of load to replicas ready and back.
void add_autoscale_bench(CLI::App& app);

/// `tutti-bench containers`: a replica of two containers' start against two single ones.
void add_containers_bench(CLI::App& app);

/// `tutti-bench objects`: what a config change's rollout costs.
void add_objects_bench(CLI::App& app);

/// `tutti-bench docker`: docker replicas against `docker run -d` and swarm mode.
void add_docker_bench(CLI::App& app);

/// `tutti-bench containerd`: containerd replicas against containerd's own
/// create+start, and the docker driver in the same run.
void add_containerd_bench(CLI::App& app);

/// `tutti-bench mesh`: wrk through the routing mesh and straight at one replica.
void add_mesh_bench(CLI::App& app);

/// `tutti-bench sim`: a control plane and N simulated nodes (here or in K processes).
void add_sim_bench(CLI::App& app);

/// `tutti-bench sim-nodes` (hidden): a child process of `sim --processes K`.
void add_sim_nodes(CLI::App& app);
/// `tutti-bench failover`: node loss to rescheduled and running, over the network.
void add_failover_bench(CLI::App& app);
void add_ha_bench(CLI::App& app);

/// `tutti-bench api`: what TLS and authorization cost a connected client.
void add_api_bench(CLI::App& app);

} // namespace tutti::bench
