#pragma once

// Reads what the process driver needs from /proc. Internal to runtime-drivers.

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace tutti::runtime_drivers {

/// The fields of /proc/PID/stat the driver uses; times in clock ticks.
struct proc_stat {
  char state = '?';
  uint64_t utime = 0;
  uint64_t stime = 0;
  /// Field 22: ticks after boot. With the pid it names one process for the
  /// lifetime of the machine, which protects against pid reuse.
  uint64_t start_ticks = 0;
};

/// nullopt when the process does not exist (or /proc cannot be read).
std::optional<proc_stat> read_proc_stat(pid_t pid);

/// Resident set size in bytes from /proc/PID/statm; nullopt when gone.
std::optional<int64_t> read_rss_bytes(pid_t pid);

/// True when `pid` exists and started at `start_ticks` (zombies included: they
/// still hold their pid).
bool is_same_process(pid_t pid, uint64_t start_ticks);

/// Pids of the processes whose environment holds `entry` ("NAME=VALUE"), with
/// their process group.
struct marked_process {
  pid_t pid = 0;
  pid_t pgid = 0;
};
std::vector<marked_process> processes_with_env(const std::string& entry);

/// Clock ticks per second (sysconf(_SC_CLK_TCK)).
double clock_ticks_per_second();

} // namespace tutti::runtime_drivers
