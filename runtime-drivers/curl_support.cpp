#include "runtime-drivers/curl_support.hpp"

#include <curl/curl.h>

#include <cctype>
#include <mutex>

namespace tutti::runtime_drivers {

void init_curl() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

namespace {

/// Handles kept idle: as many as the requests a driver makes at once.
constexpr size_t max_idle_handles = 8;

} // namespace

curl_handles::curl_handles() {
  init_curl();
}

curl_handles::~curl_handles() {
  for (auto* handle : idle_)
    curl_easy_cleanup(static_cast<CURL*>(handle));
}

void* curl_handles::take() {
  {
    std::lock_guard<std::mutex> guard{mutex_};
    if (!idle_.empty()) {
      auto* handle = idle_.back();
      idle_.pop_back();
      return handle;
    }
  }
  return curl_easy_init();
}

void curl_handles::give_back(void* handle) {
  std::lock_guard<std::mutex> guard{mutex_};
  if (idle_.size() < max_idle_handles)
    idle_.push_back(handle);
  else
    curl_easy_cleanup(static_cast<CURL*>(handle));
}

std::string url_escape(const std::string& text) {
  static const char* hex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : text) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out;
}

} // namespace tutti::runtime_drivers
