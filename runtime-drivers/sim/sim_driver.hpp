#pragma once

// An in-memory driver for tests and benchmarks of thousands of simulated nodes:
// nothing runs, containers are map entries. Runs repeat exactly for a given seed
// and call order.

#include "runtime-drivers/driver.hpp"

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

namespace tutti::runtime_drivers {

class task_thread;

struct sim_options {
  /// How long start() takes; start() blocks for it (blocking() is then true).
  caf::timespan start_delay{0};
  /// Probability (0..1) that a start fails with driver_failure.
  double failure_rate = 0;
  /// Probability (0..1) that a started container later crashes on its own with
  /// exit code 1, at a uniformly random time within `crash_within`.
  double crash_rate = 0;
  caf::timespan crash_within = std::chrono::duration_cast<caf::timespan>(std::chrono::seconds{1});
  /// Seed of the random draws (std::mt19937_64).
  uint64_t seed = 0;
  /// The thread that runs exit callbacks and crash timers; null: one of the
  /// driver's own. Thousands of simulated nodes share one (make_sim_events).
  std::shared_ptr<task_thread> events;
};

/// A callback thread for several sim drivers. Destroy it (or let the last
/// driver go) only after every driver that uses it.
std::shared_ptr<task_thread> make_sim_events();

/// Thread: the methods may be called from any one thread at a time. Exit
/// callbacks run on one internal thread, never inline from a public call, like a
/// real driver's. One thread per driver, none per container.
///
/// Behaviour: pids are fake increasing numbers; each start or exit appends a
/// line to the container's log; stop() ends the container at once with 143 (as
/// SIGTERM would) and reports it through the callback; remove() cancels the
/// watch; stats() reports the reserved resources (cpu: reserved cores times
/// seconds running).
class sim_driver final : public driver {
public:
  explicit sim_driver(sim_options options = {});
  ~sim_driver() override;

  protocol::driver_kind kind() const override;
  bool blocking() const override;
  /// True unless start() is slowed down (start_delay): every call takes the
  /// driver's one lock and returns at once.
  bool inline_calls() const override;
  caf::expected<container_info> create(const container_spec& spec) override;
  caf::expected<container_info> start(const std::string& name) override;
  caf::expected<container_info>
  run(container_spec spec,
      const std::function<exit_callback(const container_info&)>& watcher) override;
  caf::error stop(const std::string& name, caf::timespan grace) override;
  caf::error remove(const std::string& name, bool force) override;
  caf::expected<container_info> inspect(const std::string& name) override;
  caf::error watch(const std::string& name, exit_callback on_exit) override;
  caf::expected<std::string> logs(const std::string& name, size_t max_bytes) override;
  caf::expected<container_stats> stats(const std::string& name) override;
  caf::expected<std::vector<container_info>> list_owned(const std::string& node) override;
  caf::expected<std::vector<std::string>> names_owned(const std::string& node) override;
  caf::expected<exec_result> exec(const std::string& name, const std::vector<std::string>& command,
                                  caf::timespan timeout) override;
  caf::error health() override;

  /// Test hook: what exec() answers for a running container (default: exit 0).
  void set_exec_exit_code(int32_t code);

  /// Test hook: health() fails with driver_failure `why` (empty: healthy again).
  void set_unhealthy(std::string why);

  /// Test hook: every container is gone at once and none reports an exit, as
  /// when the host dies with its runtime. How many were there.
  size_t drop_all();

  /// Test hook: a running container exits with `exit_code` and its callback
  /// fires (asynchronously). not_found when absent, invalid_argument when it is
  /// not running.
  caf::error crash(const std::string& name, int32_t exit_code);

private:
  /// What is kept of a container: what info_of, stats and list_owned report
  /// (its name is its key; the image and command mean nothing here). Labels and
  /// environment are packed into one string each (pack_pairs): a map spends a
  /// node of ~110 bytes on each pair, and a million simulated containers hold
  /// seven pairs each.
  struct container {
    std::string labels;
    std::string env;
    protocol::resource_spec resources;
    container_state state = container_state::created;
    int64_t pid = 0;
    int32_t exit_code = 0;
    int64_t started_at_ms = 0;
    std::chrono::steady_clock::time_point started;
    uint64_t run = 0; // counts starts; tells a stale crash timer from a live one
    std::string log;
    exit_callback on_exit;
  };

  // Hashed: a container is found on every start and stop, and a node of a
  // simulated million holds 200 of them (a tree walk was ~8 cache misses).
  using container_map = std::unordered_map<std::string, container>;
  using entry = container_map::value_type;

  caf::expected<entry*> find(const std::string& name);
  caf::expected<entry*> add(const container_spec& spec);
  /// `with_pairs`: with labels and env (false: the caller has them).
  caf::expected<container_info> start(entry& x, bool with_pairs = true);
  container_info info_of(const entry& x, bool with_pairs = true) const;
  double draw();
  void schedule_crash(const entry& x);
  void finish(entry& x, int32_t exit_code);

  sim_options options_;
  std::mutex mutex_; // guards everything below
  std::mt19937_64 rng_;
  int64_t next_pid_ = 1000;
  container_map containers_;
  std::shared_ptr<task_thread> worker_;
  std::string unhealthy_;
  int32_t exec_exit_code_ = 0;
};

} // namespace tutti::runtime_drivers
