#pragma once

// What every tutti-bench subcommand needs: timing, percentiles, a connected client.

#include "tools/harness/daemon_process.hpp"
#include "tools/tutti/client.hpp"

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

namespace tutti::bench {

using harness::daemon_process;
using harness::free_port;

/// Milliseconds since `t` on the steady clock.
double ms_since(std::chrono::steady_clock::time_point t);

/// The q-quantile (0..1) of `xs`, nearest rank; 0 when empty.
double percentile(std::vector<double> xs, double q);

/// A figure of /proc/PID/status in bytes ("VmRSS", "VmHWM"); 0 when unknown.
double proc_status_bytes(int pid, const std::string& key);

/// CPU seconds (user + system) process `pid` used so far; 0 when unknown.
double proc_cpu_seconds(int pid);

/// A client of `daemon` once it answers `version`, or nullptr after 10 s.
std::unique_ptr<cli::client> connect_client(const daemon_process& daemon);

/// Milliseconds since the epoch (the clock of replicas' since_ms).
int64_t wall_ms();

/// Applies `text`, retrying for up to 10 s while the control plane answers
/// `unavailable` (its API listens before its cluster actor is up); prints the
/// reason of a failure. True when stored without errors.
bool apply_when_ready(cli::client& c, const std::string& file, const std::string& text);

/// One GET of /index.html on 127.0.0.1:`port` over a fresh connection,
/// answered with 200 within `timeout_s` seconds.
bool http_ok(uint16_t port, int timeout_s = 1);

/// Running, with a container or process behind it.
bool is_running(const protocol::replica_status& r);

/// When replica `id` entered its state (wall ms), from its status; 0 if absent.
int64_t running_since(const std::vector<protocol::replica_status>& rs, const std::string& id);

/// Kills a replica of `service` `kills` times, in turn, with `kill` (the
/// runtime's own way, behind tutti's back), each after it ran for a second (so
/// it restarts after the initial back-off), and appends to `heals` the time from
/// the kill to it running again (its status's since_ms). Prints each; false with
/// the reason printed when a kill fails or a replica is not replaced in 60 s.
bool measure_heals(cli::client& c, const std::string& service, int kills,
                   const std::function<bool(const protocol::replica_status&)>& kill,
                   std::vector<double>& heals);

/// Scales `service` from `replicas` to one more and back, `samples` times; before
/// each, `baseline(i)` times the runtime's own start of one container (ms; <= 0
/// fails). Appends the new replica's scale -> running times to `singles` and the
/// baselines to `baselines`; `settle(replica)` waits until the runtime no longer
/// holds the replica that was scaled away.
bool measure_singles(cli::client& c, const std::string& service, int replicas, int samples,
                     const std::function<double(int)>& baseline,
                     const std::function<void(const std::string&)>& settle,
                     std::vector<double>& singles, std::vector<double>& baselines);

/// Polls the replicas of `service` until `pred` holds, or 60 s pass. Every
/// 10 ms: figures come from the replicas' own status times (since_ms), so the
/// poll only has to notice, and faster polling would take CPU from the runtime.
template <class Pred> bool wait_replicas(cli::client& c, const std::string& service, Pred pred) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds{60};
  while (std::chrono::steady_clock::now() < deadline) {
    auto rs = c.get_replicas(service);
    if (rs && pred(*rs))
      return true;
    std::this_thread::sleep_for(std::chrono::milliseconds{10});
  }
  return false;
}

} // namespace tutti::bench
