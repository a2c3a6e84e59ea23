#pragma once

// The HTTP GETs of the registry client (registry_client.hpp) with libcurl:
// one request, no redirect followed (the client decides where the token may
// go), the headers a registry's answer is read by, a body kept in memory up
// to a bound or streamed to a sink. Internal to runtime-drivers.

#include "runtime-drivers/curl_support.hpp"

#include <chrono>
#include <cstddef>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace tutti::runtime_drivers::containerd {

/// What the body of an answer other than 200 is kept to: enough for a
/// registry's error message, which is all it is read for.
inline constexpr size_t max_error_body = 64 << 10;

struct http_request {
  std::string url;
  std::vector<std::string> headers; // "Name: value"
  /// A 200 answer's body longer than this fails the transfer (too_big).
  size_t max_body = max_error_body;
  /// Takes a 200 answer's body in libcurl's chunks instead of memory; a false
  /// stops the transfer (sink_refused).
  const std::function<bool(const char* data, size_t size)>* sink = nullptr;
  /// The transfer's deadline; without one, only a stall of `stall_timeout`
  /// (no byte arriving, or no connection made) ends it.
  std::optional<std::chrono::steady_clock::time_point> deadline;
  std::chrono::milliseconds stall_timeout{30000};
};

struct http_response {
  long status = 0;
  std::string body; // bounded; empty when a sink took it
  std::string content_type;
  std::string docker_digest;
  std::vector<std::string> authenticate; // every WWW-Authenticate value
  std::string redirect_url;              // absolute, for a 3xx with a Location

  /// The transfer failed: a CURLcode other than CURLE_OK, and curl's words.
  int curl_code = 0;
  std::string error;
  bool too_big = false;
  bool sink_refused = false;
};

/// Makes the requests with curl handles kept idle between them, for their
/// open connections. Thread-safe.
class http_pool {
public:
  http_pool();
  ~http_pool();
  http_pool(const http_pool&) = delete;
  http_pool& operator=(const http_pool&) = delete;

  /// GET over http or https only (a redirect elsewhere is the caller's to follow).
  http_response get(const http_request& req);

private:
  curl_handles handles_;
};

} // namespace tutti::runtime_drivers::containerd
