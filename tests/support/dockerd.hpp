#pragma once

// A Docker engine for the tests that need one: the host's engine when one
// answers on /var/run/docker.sock, else a private dockerd (no bridge, no
// iptables, data under a short temp dir) that this object starts and stops.
// Either way a busybox image (busybox-static, imported: no registry is
// reachable) is present, and every container made for one of this run's node
// names is removed at the end, also when a test failed. One per test binary
// (a gtest Environment), not per test: an engine takes a second or two to start.

#include <nlohmann/json.hpp>

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace tutti::tests::support {

struct docker_reply {
  long status = 0; // 0 when the engine did not answer
  std::string body;
  std::string error; // why there is no answer
};

class docker_engine {
public:
  /// The image every test runs: a rootfs with /bin/busybox and links for sh,
  /// sleep, httpd, echo, true, false, cat, env.
  static constexpr const char* image = "local/tutti-busybox:1";

  /// Finds or starts an engine and imports the image. nullptr with `why` when
  /// that fails; `unavailable` then tells whether this machine lacks what it
  /// takes (not root, no dockerd: tests skip) or the engine failed (tests fail).
  static std::unique_ptr<docker_engine> start(std::string& why, bool& unavailable);

  /// Removes this run's containers; stops a private engine and deletes its
  /// directory.
  ~docker_engine();

  docker_engine(const docker_engine&) = delete;
  docker_engine& operator=(const docker_engine&) = delete;

  const std::string& socket() const { return socket_; }

  /// A private dockerd of ours (which tests may stop and start).
  bool is_private() const { return !dir_.empty(); }

  /// A node name no other test run uses ("tt<pid>-<n>-<hint>"); containers
  /// labelled with it are removed at the end.
  std::string node_name(const std::string& hint);

  /// METHOD /v1.41TARGET with a JSON body.
  docker_reply call(const std::string& method, const std::string& target,
                    const std::string& body = {},
                    std::chrono::milliseconds timeout = std::chrono::seconds{30}) const;

  /// GET /containers/{ref}/json, or nullopt when absent.
  std::optional<nlohmann::json> inspect(const std::string& ref) const;

  /// The containers (all states) labelled tutti.node=NODE, as GET /containers/json lists them.
  std::vector<nlohmann::json> containers(const std::string& node) const;

  /// POST /containers/{ref}/kill (docker kill); true when the engine did it.
  bool kill(const std::string& ref, const std::string& signal = "SIGKILL") const;

  /// DELETE /containers/{ref}?force=1 (docker rm -f); true when removed.
  bool remove(const std::string& ref) const;

  /// The engine answers /_ping.
  bool ping() const;

  /// Private engine only: SIGTERM dockerd and wait for it to end.
  bool stop_engine();

  /// Private engine only: start dockerd again on the same data; waits for /_ping.
  bool start_engine(std::string& why);

  /// Removes every container of this run's node names now.
  void remove_run_containers() const;

private:
  docker_engine() = default;
  bool import_image(std::string& why);
  bool spawn_dockerd(std::string& why);

  std::string socket_;
  std::string dir_; // private engine: its temp dir
  std::string dockerd_;
  pid_t dockerd_pid_ = 0;
  std::string run_prefix_;
  int next_node_ = 0;
};

} // namespace tutti::tests::support
