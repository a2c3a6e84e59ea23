#pragma once

// A private containerd for the tests and benchmarks that need one: its own
// root, state directory and socket under a short temp dir, started by this
// object and stopped at the end, after every task, container and snapshot of
// the run is removed (also when a test failed). A busybox image archive (OCI
// layout, made from busybox-static) is written beside it; tests import it
// themselves, as users do. Tests keep one per test binary (a gtest
// Environment), not per test.

#include <sys/types.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

namespace tutti::harness {

class containerd_instance {
public:
  /// The image in the archive.
  static constexpr const char* image = "docker.io/tutti/busybox:1";

  /// Starts containerd and writes the archive. nullptr with `why` when that
  /// fails; `unavailable` then tells whether this machine lacks what it takes
  /// (not root, no containerd: tests skip) or containerd failed (tests fail).
  static std::unique_ptr<containerd_instance> start(std::string& why, bool& unavailable);

  /// A containerd that runs already, at `socket` (a namespace of this run's
  /// own, the archive in a temp dir); never stopped here. nullptr with `why`
  /// when it does not answer.
  static std::unique_ptr<containerd_instance> attach(const std::string& socket, std::string& why);

  /// Removes the run's tasks, containers, snapshots and images; stops
  /// containerd and the shims it started (not an attached one's); deletes the
  /// directory.
  ~containerd_instance();

  containerd_instance(const containerd_instance&) = delete;
  containerd_instance& operator=(const containerd_instance&) = delete;

  const std::string& socket() const { return socket_; }
  /// The containerd namespace this run uses ("tutti-t<pid>").
  const std::string& name_space() const { return namespace_; }
  /// The busybox OCI archive (holding `image`).
  const std::string& archive() const { return archive_; }
  /// A directory of this run for drivers' state (logs).
  std::string state_dir(const std::string& hint) const;

  /// A node name no other test of the run uses ("n<k>-<hint>").
  std::string node_name(const std::string& hint);

  /// `ctr --address SOCKET --namespace NS ARGS...`: its exit code and output.
  struct ctr_result {
    int exit_code = -1;
    std::string out;
  };
  ctr_result ctr(const std::vector<std::string>& args) const;

  /// containerd's pid (0 when stopped).
  pid_t pid() const { return pid_; }

  /// SIGTERM containerd and wait for it to end (tasks keep running).
  bool stop_containerd();

  /// Starts containerd again on the same directories; waits until it answers.
  bool start_containerd(std::string& why);

  /// Removes every task, container, snapshot and image of the namespace now.
  void remove_everything() const;

private:
  containerd_instance() = default;
  bool spawn(std::string& why);
  bool answers() const;

  std::string dir_;
  std::string socket_;
  std::string namespace_;
  std::string archive_;
  std::string containerd_;
  std::string ctr_;
  pid_t pid_ = 0;
  bool attached_ = false; // someone else's containerd
  int next_node_ = 0;
};

} // namespace tutti::harness
