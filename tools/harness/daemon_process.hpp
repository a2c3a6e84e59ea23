#pragma once

// A tuttid child process for benchmarks and the chaos tool: temp data dir, free
// ports, stopped (with its replicas) when the object goes away.

#include <cstdint>
#include <string>
#include <vector>

namespace tutti::harness {

class daemon_process {
public:
  /// Starts tuttid with `extra` flags; throws std::runtime_error when it fails.
  explicit daemon_process(const std::string& port_range, std::vector<std::string> extra = {});

  /// `tuttid MODE` (control or node) with `args` plus its data dir, metrics and
  /// log level; a control plane also gets --api (plain TCP on loopback) and
  /// the admin token file.
  struct mode {
    std::string name;          // control or node
    bool api_plaintext = true; // control: --api-plaintext (else TLS, by its args)
  };
  daemon_process(mode m, std::vector<std::string> args);
  ~daemon_process();
  daemon_process(const daemon_process&) = delete;
  daemon_process& operator=(const daemon_process&) = delete;

  const std::string& api() const { return api_; }
  const std::string& data_dir() const { return dir_; }
  int pid() const { return pid_; }
  bool running() const { return pid_ > 0; }

  /// Resident set size of tuttid in bytes, from /proc.
  int64_t rss_bytes() const;

  /// SIGTERM (tuttid stops its replicas) and wait.
  void stop();

  /// SIGKILL and wait: replicas keep running.
  void kill9();

  /// Starts it again with the same command line (and data directory).
  void restart();

  /// When it ended by itself: its exit status (128 + signal when killed),
  /// and it is not running any more. -1 while it runs (or was not started).
  int ended();

private:
  void spawn();

  std::vector<std::string> args_;
  std::string dir_;
  std::string api_;
  int pid_ = -1;
};

/// A port nobody listens on right now.
uint16_t free_port();

/// The tuttid that tools start: the one this build made, else (an installed
/// tutti-bench or tutti-chaos) the tuttid beside the running program.
std::string tuttid_binary();

/// The admin token every daemon_process of this program is given
/// (--admin-token-file): one for all, so that a client reaches any control
/// process of a cluster with it. Made once, in a temp dir removed at exit.
const std::string& admin_token_file();
const std::string& admin_token();

} // namespace tutti::harness
