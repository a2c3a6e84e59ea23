// One placement decision (choose_node) against clusters of 100, 1,000 and 5,000
// nodes that already hold replicas of 100 services. Google Benchmark; built with
// the tree, run by hand (not by ctest):
//   build/tools/bench/placement_bench --benchmark_counters_tabular=true

#include "actors/placement/placement_actor.hpp"

#include <benchmark/benchmark.h>

namespace {

using namespace tutti::actors;
namespace p = tutti::protocol;

constexpr int services = 100;

/// `nodes` nodes in 3 zones, with `per_node` replicas each of services spread
/// round-robin, as a cluster in the middle of its life.
placement_view cluster(int nodes, int per_node) {
  placement_view view;
  for (int i = 0; i < nodes; ++i) {
    p::node_status st;
    st.name = "node-" + std::to_string(i);
    st.capacity = {64, int64_t{256} << 30};
    st.labels = {{"zone", "z" + std::to_string(i % 3)}, {"disk", i % 2 == 0 ? "ssd" : "hdd"}};
    st.drivers = {p::driver_kind::sim, p::driver_kind::process};
    st.ports_capacity = 10000;
    auto id = view.upsert(st);
    for (int k = 0; k < per_node; ++k)
      view.reserve(id, "svc-" + std::to_string((i + k) % services), {0.01, 16 << 20}, 0);
  }
  return view;
}

p::placement_request request() {
  p::placement_request req;
  req.service = "svc-7";
  req.resources = {0.01, 16 << 20};
  req.driver = p::driver_kind::sim;
  return req;
}

void run(benchmark::State& state, p::placement_request req) {
  auto view = cluster(static_cast<int>(state.range(0)), 20);
  int64_t i = 0;
  for (auto _ : state) {
    req.replica = "svc-7-" + std::to_string(i++ % 10000);
    auto id = choose_node(view, req);
    benchmark::DoNotOptimize(id);
  }
  state.counters["decisions_per_s"] =
      benchmark::Counter(static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
}

void BM_SpreadDecision(benchmark::State& state) {
  run(state, request());
}

void BM_SpreadOverZoneWithConstraint(benchmark::State& state) {
  auto req = request();
  req.placement.spread_over = "zone";
  req.placement.constraints = {{"disk", p::constraint_op::equals, {"ssd"}}};
  req.placement.anti_affinity = {"svc-8"};
  run(state, req);
}

void BM_BinpackDecision(benchmark::State& state) {
  auto req = request();
  req.placement.strategy = p::placement_strategy::binpack;
  run(state, req);
}

/// The path of a replica that fits nowhere: every node is checked and the
/// reasons are counted.
void BM_UnschedulableDecision(benchmark::State& state) {
  auto req = request();
  req.resources.memory = int64_t{1} << 40;
  run(state, req);
}

BENCHMARK(BM_SpreadDecision)->Arg(100)->Arg(1000)->Arg(5000);
BENCHMARK(BM_SpreadOverZoneWithConstraint)->Arg(100)->Arg(1000)->Arg(5000);
BENCHMARK(BM_BinpackDecision)->Arg(100)->Arg(1000)->Arg(5000);
BENCHMARK(BM_UnschedulableDecision)->Arg(100)->Arg(1000)->Arg(5000);

} // namespace

BENCHMARK_MAIN();
