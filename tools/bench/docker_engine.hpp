#pragma once

// The Docker engine a benchmark runs against: the host's (when one answers on
// /var/run/docker.sock, or the socket given) or a private dockerd started here
// and stopped, with its data, when the object goes away. API calls go through
// libcurl on the unix socket; the `docker` CLI is run for what a user would type.

#include "runtime-drivers/curl_support.hpp"

#include <nlohmann/json.hpp>

#include <sys/types.h>

#include <chrono>
#include <string>
#include <vector>

namespace tutti::bench {

struct api_reply {
  long status = 0; // 0: no answer
  std::string body;
};

class docker_engine {
public:
  /// The image every benchmark container runs (busybox-static, imported).
  static constexpr const char* image = "local/tutti-busybox:1";

  /// Uses `socket` when given, else the host's engine when it answers, else
  /// starts a private dockerd. Imports the image when missing. Throws
  /// std::runtime_error with the reason when there is no engine to use.
  explicit docker_engine(const std::string& socket = {});

  /// Stops a private dockerd and removes its directory.
  ~docker_engine();

  docker_engine(const docker_engine&) = delete;
  docker_engine& operator=(const docker_engine&) = delete;

  const std::string& socket() const { return socket_; }
  bool is_private() const { return !dir_.empty(); }

  api_reply call(const std::string& method, const std::string& target, const std::string& body = {},
                 std::chrono::milliseconds timeout = std::chrono::seconds{60}) const;

  /// Containers (all states) matching one label filter ("key=value" or "key").
  std::vector<nlohmann::json> containers(const std::string& label) const;

  /// Force-removes every container matching `label`; returns how many.
  size_t remove_all(const std::string& label) const;

  /// Runs the docker CLI against this engine; its exit code, stdout in `out`.
  int cli(const std::vector<std::string>& args, std::string* out = nullptr) const;

private:
  void start_private();
  void import_image();
  void cleanup();

  std::string socket_;
  std::string dir_;
  std::string docker_cli_;
  pid_t dockerd_ = 0;
};

using runtime_drivers::url_escape; // percent-encoding for query strings

} // namespace tutti::bench
