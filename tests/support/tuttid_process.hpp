#pragma once

// A real `tuttid dev` for integration tests: its own temporary data directory,
// free API and metrics ports, a replica port range nobody else uses, and its
// stderr in a log file. The destructor SIGKILLs the daemon if it still runs and
// every replica process it left behind (identified by pid *and* start time, so a
// reused pid is never hit), also when the test failed.

#include "tests/support/child_process.hpp"
#include "tests/support/net.hpp"
#include "tests/support/temp_dir.hpp"

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

namespace tutti::tests::support {

struct tuttid_options {
  /// dev, control (no node; --api) or node (joins; no API: ready once its log
  /// says it joined).
  std::string mode = "dev";
  std::string tuttid_binary; // required
  std::string tutti_binary;  // required (start() waits on `tutti version`)
  std::string data_dir;      // "" = <own temp dir>/data
  bool pass_data_dir = true; // false: let the config file set it
  std::string config_file;   // -c FILE when set
  bool stop_replicas_on_exit = false;
  std::string log_level = "info";
  std::string host = "127.0.0.1"; // of --api and --metrics (loopback: 127.0.0.0/8)
  uint16_t port_count = 64;         // size of --port-range
  std::vector<std::string> wrapper; // argv prefix, e.g. setpriv ...
  std::vector<std::string> extra_args;
  /// --admin-token-file (dev and control); empty: a file in its own temp dir.
  /// Control processes of one cluster share one, so a client reaches any.
  std::string admin_token_file;
  /// control: --api-plaintext (the API as plain TCP on loopback).
  bool api_plaintext = true;
  /// control: --listen on a free port it picks (listen_port()), picked anew
  /// with the others when another process took it before tuttid bound it.
  bool pick_listen_port = false;
  /// More environment of every `tutti` it runs (TUTTI_CA ... for a TLS API).
  env_map tutti_env;
  /// When set, start() waits for this text in the log instead of an answer of
  /// `tutti version`.
  std::string ready_line;
};

/// A replica record of the process driver (DATA/process/NAME.json).
struct replica_record {
  std::string name;
  pid_t pid = 0;
  std::string state;
  std::vector<std::string> command;
};

class tuttid_process {
public:
  explicit tuttid_process(tuttid_options opts);
  ~tuttid_process();

  tuttid_process(const tuttid_process&) = delete;
  tuttid_process& operator=(const tuttid_process&) = delete;

  /// Starts tuttid and waits until `tutti version` answers. False when tuttid
  /// ended or did not answer within `timeout`; log() tells why. When another
  /// process took the API or metrics port meanwhile, it picks new ones and tries
  /// again (the replica port range stays).
  bool start(std::chrono::milliseconds timeout = std::chrono::seconds{15});

  /// SIGKILL and reap: a crash, as far as the replicas can tell.
  void kill9();

  /// SIGTERM, then waits for the exit; its code, or nullopt when tuttid did not
  /// end within `timeout` (it still runs then).
  std::optional<int> terminate(std::chrono::milliseconds timeout = std::chrono::seconds{10});

  /// Stops a running daemon (SIGTERM, SIGKILL after 10 s) and starts it again
  /// with the same data directory, ports and current options().
  bool restart(std::chrono::milliseconds timeout = std::chrono::seconds{15});

  /// Started and not reaped.
  bool running();

  /// Waits for tuttid to end by itself; its exit code or nullopt.
  std::optional<int> wait_for_exit(std::chrono::milliseconds timeout);

  pid_t pid() const { return child_.pid(); }

  /// Runs the `tutti` client against this daemon (--api given).
  command_result tutti(std::vector<std::string> args,
                       std::chrono::milliseconds timeout = std::chrono::seconds{30}) const;

  std::string api() const { return opts_.host + ":" + std::to_string(api_port_); }
  const std::string& host() const { return opts_.host; }
  uint16_t api_port() const { return api_port_; }
  /// Where node agents join (with pick_listen_port).
  uint16_t listen_port() const { return listen_port_; }
  /// The same, as HOST:PORT.
  std::string listen() const { return opts_.host + ":" + std::to_string(listen_port_); }
  uint16_t metrics_port() const { return metrics_port_; }
  std::pair<uint16_t, uint16_t> port_range() const { return {ports_.first(), ports_.last()}; }
  const std::string& data_dir() const { return data_dir_; }
  /// --secrets-dir of dev and node: a folder of its own on /dev/shm, removed
  /// with this object.
  const std::string& secrets_dir() const { return secrets_dir_; }
  /// The admin token file it was given (tuttid makes it at first start).
  const std::string& admin_token_file() const { return admin_token_file_; }
  /// The test's own scratch directory (removed at the end).
  const temp_dir& scratch() const { return *scratch_; }
  tuttid_options& options() { return opts_; }

  /// Everything tuttid wrote to stderr, over all its starts.
  std::string log() const;

  /// The process driver's replica records, sorted by name; every pid seen here
  /// is remembered for the final cleanup.
  std::vector<replica_record> replica_records();

  /// Remembers a pid (from `get replicas -o json`, say) for the final cleanup.
  void track(pid_t pid);

  /// SIGKILLs the process group of every remembered replica that still runs
  /// (same pid and start time as when it was seen).
  void kill_replicas();

private:
  std::vector<std::string> command_line() const;
  void pick_service_ports();
  bool start_once(std::chrono::milliseconds timeout, bool& port_taken);

  tuttid_options opts_;
  std::unique_ptr<temp_dir> scratch_;
  std::string data_dir_;
  std::string secrets_dir_;
  std::string admin_token_file_;
  std::string log_file_;
  uint16_t api_port_ = 0;
  uint16_t listen_port_ = 0;
  uint16_t metrics_port_ = 0;
  port_range_lease ports_;
  child_process child_;
  std::set<std::pair<pid_t, unsigned long long>> seen_; // pid, start ticks
};

/// The start time of a process in clock ticks since boot (field 22 of
/// /proc/PID/stat); nullopt when there is no such process.
std::optional<unsigned long long> process_start_ticks(pid_t pid);

/// /proc/PID/cmdline split at the NULs; empty when there is no such process.
std::vector<std::string> process_cmdline(pid_t pid);

/// The process exists and is not a zombie.
bool process_alive(pid_t pid);

} // namespace tutti::tests::support
