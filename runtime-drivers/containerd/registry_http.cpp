#include "runtime-drivers/containerd/registry_http.hpp"

#include "runtime-drivers/curl_support.hpp"

#include <curl/curl.h>

#include <algorithm>
#include <cctype>

namespace tutti::runtime_drivers::containerd {

namespace {

using steady = std::chrono::steady_clock;

/// Idle handles kept for their connections; more concurrent calls make more.

std::string trim(const std::string& text) {
  auto first = text.find_first_not_of(" \t\r\n");
  if (first == std::string::npos)
    return {};
  return text.substr(first, text.find_last_not_of(" \t\r\n") - first + 1);
}

std::string lower(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return text;
}

struct transfer {
  CURL* handle = nullptr;
  const http_request* req = nullptr;
  http_response* out = nullptr;

  static size_t on_data(char* data, size_t size, size_t count, void* self) {
    auto* t = static_cast<transfer*>(self);
    auto n = size * count;
    long status = 0;
    curl_easy_getinfo(t->handle, CURLINFO_RESPONSE_CODE, &status);
    if (status == 200 && t->req->sink != nullptr) {
      if ((*t->req->sink)(data, n))
        return n;
      t->out->sink_refused = true;
      return 0; // aborts the transfer
    }
    auto limit = status == 200 ? t->req->max_body : max_error_body;
    auto room = limit - std::min(limit, t->out->body.size());
    if (n > room && status == 200) {
      t->out->too_big = true;
      return 0;
    }
    t->out->body.append(data, std::min(n, room)); // an error's message: its start will do
    return n;
  }

  static size_t on_header(char* data, size_t size, size_t count, void* self) {
    auto* t = static_cast<transfer*>(self);
    std::string line(data, size * count);
    if (line.rfind("HTTP/", 0) == 0) { // a new answer (after a 100 Continue, say)
      *t->out = http_response{};
      return size * count;
    }
    auto colon = line.find(':');
    if (colon == std::string::npos)
      return size * count;
    auto name = lower(line.substr(0, colon));
    auto value = trim(line.substr(colon + 1));
    if (name == "content-type")
      t->out->content_type = value;
    else if (name == "docker-content-digest")
      t->out->docker_digest = value;
    else if (name == "www-authenticate")
      t->out->authenticate.push_back(value);
    return size * count;
  }
};

void set_timeouts(CURL* curl, const http_request& req) {
  if (req.deadline) {
    auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(*req.deadline - steady::now());
    curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS,
                     static_cast<long>(std::max<int64_t>(1, left.count())));
    return;
  }
  // A layer of a few GiB may take long; one that stops arriving has failed.
  auto seconds = std::chrono::duration_cast<std::chrono::seconds>(req.stall_timeout).count();
  curl_easy_setopt(curl, CURLOPT_LOW_SPEED_LIMIT, 1L);
  curl_easy_setopt(curl, CURLOPT_LOW_SPEED_TIME, static_cast<long>(std::max<int64_t>(1, seconds)));
  curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(req.stall_timeout.count()));
}

} // namespace

http_pool::http_pool() = default;

http_pool::~http_pool() = default;

http_response http_pool::get(const http_request& req) {
  http_response out;
  auto* curl = static_cast<CURL*>(handles_.take());
  if (curl == nullptr) {
    out.curl_code = CURLE_FAILED_INIT;
    out.error = "cannot make a libcurl handle";
    return out;
  }
  transfer t{curl, &req, &out};
  char error_text[CURL_ERROR_SIZE] = {};
  curl_easy_reset(curl); // keeps the connection cache
  curl_easy_setopt(curl, CURLOPT_URL, req.url.c_str());
  curl_easy_setopt(curl, CURLOPT_HTTPGET, 1L);
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(curl, CURLOPT_USERAGENT, "tutti");
  curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, error_text);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, &transfer::on_data);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &t);
  curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, &transfer::on_header);
  curl_easy_setopt(curl, CURLOPT_HEADERDATA, &t);
  set_timeouts(curl, req);
  curl_slist* headers = nullptr;
  for (const auto& header : req.headers)
    headers = curl_slist_append(headers, header.c_str());
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
  auto rc = curl_easy_perform(curl);
  curl_slist_free_all(headers);
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &out.status);
  char* location = nullptr;
  if (curl_easy_getinfo(curl, CURLINFO_REDIRECT_URL, &location) == CURLE_OK && location != nullptr)
    out.redirect_url = location;
  curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, nullptr);
  handles_.give_back(curl);
  if (rc != CURLE_OK) {
    out.curl_code = rc;
    out.error = error_text[0] != '\0' ? error_text : curl_easy_strerror(rc);
  }
  return out;
}

} // namespace tutti::runtime_drivers::containerd
