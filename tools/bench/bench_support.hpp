#pragma once

// What every tutti-bench subcommand needs: timing, percentiles, a connected client.

#include "tools/harness/daemon_process.hpp"
#include "tools/tutti/client.hpp"

#include <chrono>
#include <memory>
#include <string>
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

} // namespace tutti::bench
