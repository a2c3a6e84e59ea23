#pragma once

// What the containerd driver needs beside containerd's API: reading a
// container's spec back, the user an image runs as (from its /etc/passwd),
// log tails, signal names, ids, and running a command in a task (Exec).
// Internal to runtime-drivers.

#include "runtime-drivers/containerd/oci_spec.hpp"
#include "runtime-drivers/driver.hpp"

#include <caf/expected.hpp>

#include <chrono>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace tutti::runtime_drivers::containerd {

class containerd_client;
struct unpacked_image;

/// process.env of a runtime spec (JSON text) as a map; empty when unreadable.
std::map<std::string, std::string> env_of_spec(const std::string& spec_json);

/// When process `pid` started, in ms since the epoch; 0 when it is gone.
int64_t process_started_ms(int64_t pid);

/// This host's name (host networking shares it with containers).
std::string host_name();

/// A signal's number from its name ("SIGTERM", "TERM", "15"); SIGTERM for ""
/// and for names it does not know.
int signal_number(const std::string& name);

/// The tutti name in a container id made as PREFIX + NAME [+ "_" + NODE]. Given
/// the node, a name may hold one '_' (one container of a replica's several).
std::optional<std::string> replica_of_id(const std::string& id, const std::string& prefix,
                                         const std::string& node);

/// The last `max_bytes` of the file at `path`; "" when it does not exist yet.
caf::expected<std::string> read_tail(const std::string& path, size_t max_bytes);

/// The user an image runs as, with its groups: resolved against the image's
/// own /etc/passwd and /etc/group, read through a read-only view of its
/// snapshot mounted for the moment. Cached per image snapshot and user.
class image_users {
public:
  image_users(const containerd_client& client, std::string snapshotter,
              std::chrono::milliseconds call_timeout);

  caf::expected<resolved_user> resolve(const unpacked_image& image);

private:
  struct files {
    std::string passwd;
    std::string group;
  };
  caf::expected<files> read_files(const std::string& snapshot);

  const containerd_client& client_;
  std::string snapshotter_;
  std::chrono::milliseconds call_timeout_;
  std::mutex mutex_;
  std::map<std::string, files> cache_; // by snapshot
};

/// A command to run in a running task.
struct exec_request {
  std::string container_id;
  std::vector<std::string> command;
  std::string spec_json;  // the container's runtime spec: env, user, cwd
  std::string output_dir; // where its output file goes for the moment
  std::string log_binary; // the log copier (containerd_options::log_binary); "" for file://
  std::chrono::milliseconds timeout;
  std::chrono::milliseconds call_timeout;
};

/// Runs the command with containerd's Exec and waits at most the timeout;
/// kills it and fails with timeout when it runs longer. The output is its
/// stdout and stderr as the log copier saw them arrive, at most 4 KiB (the end).
caf::expected<exec_result> run_exec(const containerd_client& client, const exec_request& request);

} // namespace tutti::runtime_drivers::containerd
