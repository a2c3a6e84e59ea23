#pragma once

// A replica of several containers, run by any driver as one container: what
// the node and the replica actor see is one container named for the replica,
// whatever runs it.
//
// Each part is a container of the inner driver named `<replica>_<part>` ('_'
// never appears in a replica's name) and labelled with its name and order.
// The parts start in order; when one exits, the others are stopped (with the
// spec's stop_grace) and the whole exits once none runs, with the code of the
// first. Names holding '_' go to the inner driver as they are: the replica
// runs its init containers that way, and they are stopped and removed with it.
//
// Threading: like the inner driver's, plus one thread of its own that stops a
// part's siblings after it exits (exit callbacks must not block); it calls the
// inner driver at the same time as the node does, for other containers, which
// every driver it wraps allows (their calls lock what they share).

#include "runtime-drivers/driver.hpp"
#include "runtime-drivers/task_thread.hpp"

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace tutti::runtime_drivers {

/// The name of part `part` of replica `replica`.
std::string part_name(const std::string& replica, const std::string& part);

/// The replica a part's name belongs to; nullopt for a name without '_'.
std::optional<std::string> replica_of_part(const std::string& name);

class pod_driver final : public driver {
public:
  /// `node`: the node the inner driver runs containers for (to find the parts
  /// of replicas started before this process).
  pod_driver(std::unique_ptr<driver> inner, std::string node);

  /// Ends its thread, then the inner driver (whose exit callbacks post to it).
  ~pod_driver() override;

  protocol::driver_kind kind() const override;
  bool blocking() const override;
  bool inline_calls() const override;
  size_t concurrency() const override;
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
  caf::error health() override;
  caf::expected<std::vector<std::string>> import_images(const std::string& archive_path) override;
  caf::expected<exec_result> exec(const std::string& name, const std::vector<std::string>& command,
                                  caf::timespan timeout) override;

private:
  struct pod {
    std::vector<std::string> parts; // the running ones, in order
    std::set<std::string> others;   // init containers: stopped and removed with it
    caf::timespan grace = std::chrono::seconds{10};
    // The incarnation being watched: its exits count, earlier ones do not.
    uint64_t generation = 0;
    std::set<std::string> waiting; // parts not yet exited
    bool ending = false;
    int32_t exit_code = -1; // of the part that exited first
    exit_callback on_exit;
  };

  /// The parts of `name` in order when it is a replica of several; none when
  /// it is a plain container (or unknown); unavailable while the containers
  /// made before this process cannot be listed.
  caf::expected<std::optional<std::vector<std::string>>> parts_of(const std::string& name);

  /// Every container of the replica, its init containers too.
  caf::expected<std::vector<std::string>> all_parts_of(const std::string& name);

  /// One container made alone: a replica's init container (named for a part)
  /// is remembered with it; one of the replica's own name replaces what ran as
  /// several.
  void note_single(const std::string& name);

  /// Creates the parts: at once when the inner driver takes concurrent calls.
  std::vector<caf::expected<container_info>> create_parts(const std::vector<container_spec>& parts);

  /// Creates one part, replacing a leftover of the same name.
  caf::expected<container_info> create_one(const container_spec& spec);

  /// Learns the replicas of several containers from the inner driver's list.
  void learn(const std::vector<container_info>& owned);

  /// Loads what the inner driver runs, once: parts made before this process.
  /// Retried at most every second while the runtime does not answer.
  caf::error discover();

  /// Runs `task` on the thread (at `when`); dropped once the driver is ending.
  void post(std::function<void()> task);
  void post_at(std::chrono::steady_clock::time_point when, std::function<void()> task);

  void part_exited(const std::string& replica, const std::string& part, int32_t code,
                   uint64_t generation);

  /// Stops a part whose sibling exited; a stop the runtime does not take is
  /// asked again, then given up for done.
  void stop_sibling(const std::string& replica, const std::string& part, caf::timespan grace,
                    uint64_t generation, int attempt);

  /// Reports the whole once it is ending and none of its parts runs.
  void report_if_ended(const std::string& replica, uint64_t generation);

  std::unique_ptr<driver> inner_;
  std::string node_;
  std::mutex mutex_; // guards pods_ and discovered_
  std::map<std::string, pod> pods_;
  bool discovered_ = false;
  uint64_t generations_ = 0; // never reused: a pod made again is a new incarnation
  std::mutex discovery_mutex_; // one discovery at a time; guards the two below
  caf::error discovery_error_;
  std::chrono::steady_clock::time_point next_discovery_;
  std::mutex thread_mutex_; // guards thread_
  std::unique_ptr<task_thread> thread_ = std::make_unique<task_thread>();
};

/// The replica of several containers as one container: running when every
/// part runs, exited when one has. `parts` in order; none may be missing.
container_info combine_parts(const std::string& replica, const std::vector<container_info>& parts);

} // namespace tutti::runtime_drivers
