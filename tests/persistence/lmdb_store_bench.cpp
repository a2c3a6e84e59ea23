// Durable throughput of lmdb_store: every put_specs / append_events call is one
// synced LMDB commit. Set TUTTI_BENCH_DIR to measure on a particular disk (the
// default is a fresh directory under /tmp); tmpfs makes the numbers meaningless.

#include "persistence/lmdb_store.hpp"
#include "tests/persistence/store_test_support.hpp"

#include <benchmark/benchmark.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <algorithm>
#include <chrono>
#include <filesystem>
#include <random>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include <unistd.h>

namespace {

using tutti::persistence::lmdb_store;
using tutti::persistence::test_support::open_store;

/// A fresh directory for one benchmark run, removed afterwards: under
/// TUTTI_BENCH_DIR when set.
class bench_dir : public tutti::persistence::test_support::temp_dir {
public:
  bench_dir()
    : temp_dir(std::getenv("TUTTI_BENCH_DIR") != nullptr ? std::getenv("TUTTI_BENCH_DIR")
                                                         : "/tmp") {}
};

/// One commit per iteration, one ~600-byte spec, rotating over 50 services so that
/// revision pruning runs as it would in a long-lived cluster.
void put_specs_durable(benchmark::State& state) {
  bench_dir dir;
  auto store = open_store(dir.path(), {});
  const std::string yaml(600, 'y');
  int64_t i = 0;
  for (auto _ : state) {
    auto put = store->put_specs({{"svc-" + std::to_string(i++ % 50), yaml}});
    if (!put) {
      state.SkipWithError(tutti::protocol::message_of(put.error()).c_str());
      break;
    }
  }
  state.SetItemsProcessed(state.iterations());
  state.counters["commits/s"] =
      benchmark::Counter(static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
}
BENCHMARK(put_specs_durable)->UseRealTime();

/// One commit per iteration of `range(0)` events, into a log already at its prune
/// limit so that every append also deletes the oldest ones.
void append_events_durable(benchmark::State& state) {
  bench_dir dir;
  tutti::persistence::store_options opts;
  opts.max_events = 10000;
  auto store = open_store(dir.path(), opts);
  auto batch_size = static_cast<size_t>(state.range(0));
  std::vector<tutti::protocol::event> batch(batch_size);
  for (size_t i = 0; i < batch_size; ++i)
    batch[i] = {0,
                0,
                "replica_started",
                "svc-" + std::to_string(i % 20),
                "svc-" + std::to_string(i % 20) + "-0",
                "started on node n1"};
  for (uint64_t filled = 0; filled < opts.max_events; filled += 1000) {
    auto prefilled = store->append_events(std::vector<tutti::protocol::event>(1000, batch[0]));
    if (!prefilled)
      throw std::runtime_error(tutti::protocol::message_of(prefilled.error()));
  }
  for (auto _ : state) {
    auto appended = store->append_events(batch);
    if (!appended) {
      state.SkipWithError(tutti::protocol::message_of(appended.error()).c_str());
      break;
    }
  }
  state.SetItemsProcessed(state.iterations() * static_cast<int64_t>(batch_size));
  state.counters["commits/s"] =
      benchmark::Counter(static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
}
BENCHMARK(append_events_durable)->Arg(1)->Arg(100)->UseRealTime();

/// A store with `n` assignments of 100 services, committed 10,000 at a time.
std::unique_ptr<lmdb_store> with_assignments(const std::string& dir, int64_t n,
                                             std::vector<tutti::persistence::assignment>& all) {
  tutti::persistence::store_options opts;
  opts.map_size = uint64_t{4} << 30;
  auto store = open_store(dir, opts);
  lmdb_store::write_batch batch;
  for (int64_t i = 0; i < n; ++i) {
    auto service = "svc-" + std::to_string(i % 100);
    all.push_back({service + "-" + std::to_string(i / 100), service,
                   "node-" + std::to_string(i % 5000), "0123456789abcdef", 1});
    batch.assignments.push_back({all.back(), false});
    if (batch.assignments.size() == 10000 || i + 1 == n) {
      if (auto done = store->commit(std::move(batch)); !done)
        throw std::runtime_error(tutti::protocol::message_of(done.error()));
      batch = {};
    }
  }
  return store;
}

/// 2,500 of `all` moved to random nodes: one commit of a reconvergence.
lmdb_store::write_batch random_moves(const std::vector<tutti::persistence::assignment>& all,
                                     std::mt19937& rng) {
  lmdb_store::write_batch batch;
  for (int k = 0; k < 2500; ++k) {
    auto x = all[rng() % all.size()];
    x.node = "node-" + std::to_string(rng() % 5000);
    batch.assignments.push_back({std::move(x), false});
  }
  return batch;
}

/// One commit of 2,500 replicas moved to other nodes per iteration, among
/// range(0) assignments: a commit of a reconvergence. They are appended to the
/// log; the items are moves.
void move_assignments(benchmark::State& state) {
  bench_dir dir;
  std::vector<tutti::persistence::assignment> all;
  auto store = with_assignments(dir.path(), state.range(0), all);
  std::mt19937 rng{1};
  for (auto _ : state) {
    if (auto done = store->commit(random_moves(all, rng)); !done) {
      state.SkipWithError(tutti::protocol::message_of(done.error()).c_str());
      break;
    }
    if (store->logged_assignments() > 100000) {
      state.PauseTiming();
      while (store->logged_assignments() > 0)
        if (auto err = store->fold_assignments())
          throw std::runtime_error(tutti::protocol::message_of(err));
      state.ResumeTiming();
    }
  }
  state.SetItemsProcessed(state.iterations() * 2500);
}
BENCHMARK(move_assignments)->Arg(1000000)->Unit(benchmark::kMillisecond)->UseRealTime();

/// Folds 100,000 logged moves among range(0) assignments into the tree, in
/// batches of range(1): the items are changes folded; a batch's time is what a
/// fold holds the store for.
void fold_assignments(benchmark::State& state) {
  bench_dir dir;
  std::vector<tutti::persistence::assignment> all;
  auto store = with_assignments(dir.path(), state.range(0), all);
  std::mt19937 rng{2};
  int64_t batches = 0;
  double total_ms = 0;
  double longest_ms = 0;
  for (auto _ : state) {
    state.PauseTiming();
    for (int c = 0; c < 40; ++c) {
      if (auto done = store->commit(random_moves(all, rng)); !done)
        throw std::runtime_error(tutti::protocol::message_of(done.error()));
    }
    state.ResumeTiming();
    while (store->logged_assignments() > 0) {
      auto start = std::chrono::steady_clock::now();
      if (auto err = store->fold_assignments(static_cast<size_t>(state.range(1)))) {
        state.SkipWithError(tutti::protocol::message_of(err).c_str());
        return;
      }
      std::chrono::duration<double, std::milli> took = std::chrono::steady_clock::now() - start;
      longest_ms = std::max(longest_ms, took.count());
      total_ms += took.count();
      ++batches;
    }
  }
  state.SetItemsProcessed(state.iterations() * 100000);
  state.counters["batch_ms"] = batches > 0 ? total_ms / static_cast<double>(batches) : 0;
  state.counters["longest_batch_ms"] = longest_ms;
}
BENCHMARK(fold_assignments)
    ->Args({1000000, 2048})
    ->Args({1000000, 8192})
    ->Args({1000000, 32768})
    ->Iterations(2)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

} // namespace

BENCHMARK_MAIN();
