#pragma once

// What the drivers that speak HTTP through libcurl share (docker's engine API,
// containerd's image registries). Internal to runtime-drivers.

#include <mutex>
#include <string>
#include <vector>

namespace tutti::runtime_drivers {

/// Initialises libcurl once per process (curl_global_init is not thread-safe).
void init_curl();

/// `text` percent-encoded for a query string.
std::string url_escape(const std::string& text);

/// curl easy handles kept idle between requests, for their open connections.
/// Thread-safe; initialises libcurl.
class curl_handles {
public:
  curl_handles();
  ~curl_handles();
  curl_handles(const curl_handles&) = delete;
  curl_handles& operator=(const curl_handles&) = delete;

  /// An idle handle (CURL*), or a new one.
  void* take();
  /// Keeps `handle` for the next request (a few at most; the rest are freed).
  void give_back(void* handle);

private:
  std::mutex mutex_;        // guards idle_
  std::vector<void*> idle_; // CURL* handles between requests
};

} // namespace tutti::runtime_drivers
