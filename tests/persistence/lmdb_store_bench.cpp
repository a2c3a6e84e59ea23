// Durable throughput of lmdb_store: every put_specs / append_events call is one
// synced LMDB commit. Set TUTTI_BENCH_DIR to measure on a particular disk (the
// default is a fresh directory under /tmp); tmpfs makes the numbers meaningless.

#include "persistence/lmdb_store.hpp"

#include <benchmark/benchmark.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include <unistd.h>

namespace {

using tutti::persistence::lmdb_store;

/// A fresh directory for one benchmark run, removed afterwards.
class bench_dir {
public:
  bench_dir() {
    const char* base = std::getenv("TUTTI_BENCH_DIR");
    std::string tmpl =
        std::string{base != nullptr ? base : "/tmp"} + "/tutti-persistence-bench-XXXXXX";
    if (::mkdtemp(tmpl.data()) == nullptr)
      throw std::runtime_error(std::string{"mkdtemp: "} + std::strerror(errno));
    path_ = tmpl;
  }
  bench_dir(const bench_dir&) = delete;
  bench_dir& operator=(const bench_dir&) = delete;
  ~bench_dir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
    if (ec)
      std::fprintf(stderr, "warning: could not remove %s: %s\n", path_.c_str(),
                   ec.message().c_str());
  }
  const std::string& path() const { return path_; }

private:
  std::string path_;
};

std::unique_ptr<lmdb_store> open_or_throw(const std::string& dir,
                                          tutti::persistence::store_options opts = {}) {
  auto store = lmdb_store::open(dir, std::move(opts));
  if (!store)
    throw std::runtime_error(tutti::protocol::message_of(store.error()));
  return std::move(*store);
}

/// One commit per iteration, one ~600-byte spec, rotating over 50 services so that
/// revision pruning runs as it would in a long-lived cluster.
void put_specs_durable(benchmark::State& state) {
  bench_dir dir;
  auto store = open_or_throw(dir.path());
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
  auto store = open_or_throw(dir.path(), opts);
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

} // namespace

BENCHMARK_MAIN();
