// tutti-chaos: fault injection against a tutti cluster, with a verdict.

#include "tools/chaos/chaos_run.hpp"

#include <CLI/CLI.hpp>

int main(int argc, char** argv) {
  tutti::chaos::chaos_options opts;
  CLI::App app{
      "tutti-chaos: for --duration seconds, repeatedly kills a random actor (through the admin "
      "RPC),\nkill -9s a random replica, kill -9s a node agent or the control plane and restarts "
      "it,\nor cuts a node's link (iptables DROP on lo) and heals it (with --ha also the faults "
      "of\na highly available control plane), while a client keeps applying\nand scaling specs. Then it waits for convergence and checks that every "
      "acknowledged spec\nis stored, running == desired for every service, no replica runs "
      "twice, and no process\nor iptables rule is left over.",
      "tutti-chaos"};
  app.add_option("--seed", opts.seed, "Seed of the random choices (the same seed, the same sequence of choices)")
      ->capture_default_str();
  app.add_option("--duration", opts.duration_s, "Seconds of chaos")
      ->check(CLI::Range(1.0, 86400.0))
      ->capture_default_str();
  app.add_option("--cluster", opts.cluster,
                 "API (HOST:PORT) of a running control plane started with --enable-chaos. Only "
                 "actors and replicas are killed then. Default: start 1 control plane and "
                 "--nodes agents on 127.0.0.1-N");
  app.add_option("--nodes", opts.nodes, "Node agents of the cluster it starts")
      ->check(CLI::Range(1, 200))
      ->capture_default_str();
  app.add_option("--services", opts.services, "Services the client applies and scales")
      ->check(CLI::Range(1, 50))
      ->capture_default_str();
  app.add_flag("!--no-cut", opts.cut, "Do not cut links (cutting needs root and iptables)");
  app.add_flag("--ha", opts.ha,
               "Start 3 control processes on a 3-member etcd cluster (Debian etcd-server) "
               "instead of 1 on LMDB, and add to the faults: kill -9 or SIGSTOP the leader, "
               "kill an etcd member, cut the leader from etcd (needs root, iptables' cgroup "
               "match and cgroup v2)")
      ->excludes("--cluster");
  app.add_option("--converge-timeout", opts.converge_s, "Seconds to wait for convergence")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.footer("Ends with one line: actions=N acknowledged=N lost=N duplicates=N leaked=N "
             "converge_s=X.\nExit codes: 0 nothing lost, 1 something lost, duplicated, leaked "
             "or not converged,\n2 usage error. TUTTI_KEEP=1 keeps the daemons' data and logs.\n"
             "Example: tutti-chaos --seed 42 --duration 60");
  CLI11_PARSE(app, argc, argv);
  return tutti::chaos::run_chaos(opts);
}
