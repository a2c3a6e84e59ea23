// tutti-bench: drives real tuttid processes (or a simulated cluster), prints figures, ending
// with one line of key=value pairs for scripts.

#include "tools/bench/benches.hpp"

#include "actors/runtime/allocator_tuning.hpp"

int main(int argc, char** argv) {
  tutti::actors::tune_allocator(argv); // as tuttid: first, it may run us again
  CLI::App app{"tutti-bench: measure tutti against real processes and print the figures"};
  app.require_subcommand(1);
  tutti::bench::add_dev_bench(app);
  tutti::bench::add_autoscale_bench(app);
  tutti::bench::add_containers_bench(app);
  tutti::bench::add_objects_bench(app);
  tutti::bench::add_docker_bench(app);
  tutti::bench::add_containerd_bench(app);
  tutti::bench::add_mesh_bench(app);
  tutti::bench::add_sim_bench(app);
  tutti::bench::add_sim_nodes(app);
  tutti::bench::add_failover_bench(app);
  tutti::bench::add_ha_bench(app);
  tutti::bench::add_api_bench(app);
  CLI11_PARSE(app, argc, argv);
  return 0;
}
