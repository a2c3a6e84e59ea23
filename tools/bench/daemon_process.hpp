#pragma once

// A `tuttid dev` child process for benchmarks: temp data dir, free ports, stopped
// (with its replicas) when the object goes away.

#include <cstdint>
#include <string>
#include <vector>

namespace tutti::bench {

class daemon_process {
public:
  /// Starts tuttid with `extra` flags; throws std::runtime_error when it fails.
  explicit daemon_process(const std::string& port_range, std::vector<std::string> extra = {});
  ~daemon_process();
  daemon_process(const daemon_process&) = delete;
  daemon_process& operator=(const daemon_process&) = delete;

  const std::string& api() const { return api_; }
  const std::string& data_dir() const { return dir_; }
  int pid() const { return pid_; }

  /// Resident set size of tuttid in bytes, from /proc.
  int64_t rss_bytes() const;

  /// SIGTERM (tuttid stops its replicas) and wait.
  void stop();

private:
  std::string dir_;
  std::string api_;
  int pid_ = -1;
};

/// A port nobody listens on right now.
uint16_t free_port();

} // namespace tutti::bench
