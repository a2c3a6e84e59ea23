#pragma once

// HTTP/1.1 to the Docker engine over its unix socket (libcurl with
// CURLOPT_UNIX_SOCKET_PATH), API version 1.41. Internal to runtime-drivers.

#include "runtime-drivers/curl_support.hpp"

#include <caf/expected.hpp>

#include <chrono>
#include <cstdio>
#include <functional>
#include <mutex>
#include <string>
#include <vector>

namespace tutti::runtime_drivers::docker {

/// Every path is sent under this prefix: the API of Docker 20.10, which newer
/// engines still serve.
inline constexpr const char* api_version = "/v1.41";

struct http_reply {
  long status = 0;
  std::string body;
};

using runtime_drivers::init_curl;
using runtime_drivers::url_escape;

/// The driver_failure message for an engine that does not answer:
/// "cannot reach the Docker engine at SOCKET: DETAIL; is dockerd running?".
std::string unreachable(const std::string& socket, const std::string& detail);

/// Synchronous requests. Thread-safe: concurrent calls each take an idle curl
/// handle (kept for its open connection) or make one.
///
/// Failures are driver_failure errors naming the socket: the engine cannot be
/// reached (see unreachable()), it did not answer within the timeout, or the
/// connection broke. An answer with any HTTP status is a reply, not an error.
class docker_client {
public:
  explicit docker_client(std::string socket_path);
  ~docker_client();

  docker_client(const docker_client&) = delete;
  docker_client& operator=(const docker_client&) = delete;

  const std::string& socket_path() const { return socket_path_; }

  /// METHOD api_version + `target` (path and query) with `body` (sent as JSON
  /// when not empty).
  caf::expected<http_reply> call(const char* method, const std::string& target,
                                 const std::string& body = {},
                                 std::chrono::milliseconds timeout = std::chrono::seconds{30});

  /// Like call(), but hands the body to `sink` as it arrives (for logs); the
  /// reply's body holds the answer only when the status is not 200.
  caf::expected<http_reply> call_streaming(const char* method, const std::string& target,
                                           const std::function<void(const char*, size_t)>& sink,
                                           std::chrono::milliseconds timeout,
                                           const std::string& body = {});

  /// POST api_version + `target` with the file at `path` as the body
  /// (application/x-tar), read as it is sent. A file that cannot be opened is
  /// an invalid_argument error naming it.
  caf::expected<http_reply> post_file(const std::string& target, const std::string& path,
                                      std::chrono::milliseconds timeout);

private:
  struct transfer;

  caf::expected<http_reply> perform(const char* method, const std::string& target,
                                    const std::string& body, std::chrono::milliseconds timeout,
                                    const std::function<void(const char*, size_t)>* sink,
                                    std::FILE* upload = nullptr);

  std::string socket_path_;
  curl_handles handles_;
};

} // namespace tutti::runtime_drivers::docker
