#pragma once

// What the drivers that speak HTTP through libcurl share (docker's engine API,
// containerd's image registries). Internal to runtime-drivers.

#include <string>

namespace tutti::runtime_drivers {

/// Initialises libcurl once per process (curl_global_init is not thread-safe).
void init_curl();

/// `text` percent-encoded for a query string.
std::string url_escape(const std::string& text);

} // namespace tutti::runtime_drivers
