#include "runtime-drivers/docker/docker_http.hpp"

#include "protocol/errors.hpp"

#include <curl/curl.h>

#include <cctype>
#include <cerrno>
#include <cstring>
#include <memory>

namespace tutti::runtime_drivers::docker {

namespace {

using protocol::error_code;
using protocol::make_error;

/// Idle handles kept for their connections; more concurrent calls make more.

} // namespace

struct docker_client::transfer {
  CURL* handle = nullptr;
  std::string body;
  const std::function<void(const char*, size_t)>* sink = nullptr;

  static size_t on_data(char* data, size_t size, size_t count, void* self) {
    auto* t = static_cast<transfer*>(self);
    auto n = size * count;
    long status = 0;
    curl_easy_getinfo(t->handle, CURLINFO_RESPONSE_CODE, &status);
    if (t->sink != nullptr && status == 200)
      (*t->sink)(data, n);
    else
      t->body.append(data, n);
    return n;
  }
};

std::string unreachable(const std::string& socket, const std::string& detail) {
  return "cannot reach the Docker engine at " + socket + ": " + detail + "; is dockerd running?";
}

docker_client::docker_client(std::string socket_path) : socket_path_(std::move(socket_path)) {}

docker_client::~docker_client() = default;

caf::expected<http_reply> docker_client::call(const char* method, const std::string& target,
                                              const std::string& body,
                                              std::chrono::milliseconds timeout) {
  return perform(method, target, body, timeout, nullptr);
}

caf::expected<http_reply>
docker_client::call_streaming(const char* method, const std::string& target,
                              const std::function<void(const char*, size_t)>& sink,
                              std::chrono::milliseconds timeout, const std::string& body) {
  return perform(method, target, body, timeout, &sink);
}

caf::expected<http_reply> docker_client::post_file(const std::string& target,
                                                   const std::string& path,
                                                   std::chrono::milliseconds timeout) {
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> file{std::fopen(path.c_str(), "rb"), &std::fclose};
  if (!file)
    return make_error(error_code::invalid_argument,
                      "cannot read " + path + ": " + std::strerror(errno));
  return perform("POST", target, {}, timeout, nullptr, file.get());
}

caf::expected<http_reply>
docker_client::perform(const char* method, const std::string& target, const std::string& body,
                       std::chrono::milliseconds timeout,
                       const std::function<void(const char*, size_t)>* sink, std::FILE* upload) {
  auto* curl = static_cast<CURL*>(handles_.take());
  if (curl == nullptr)
    return make_error(error_code::driver_failure, "cannot make a libcurl handle");
  transfer t;
  t.handle = curl;
  t.sink = sink;
  char error_text[CURL_ERROR_SIZE] = {};
  auto url = std::string{"http://docker"} + api_version + target;
  curl_easy_reset(curl); // keeps the connection cache
  curl_easy_setopt(curl, CURLOPT_UNIX_SOCKET_PATH, socket_path_.c_str());
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method);
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, static_cast<long>(timeout.count()));
  curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, 5000L);
  curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, error_text);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, &transfer::on_data);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &t);
  curl_slist* headers = nullptr;
  if (upload != nullptr) {
    std::fseek(upload, 0, SEEK_END);
    auto size = static_cast<curl_off_t>(std::ftell(upload));
    std::rewind(upload);
    headers = curl_slist_append(headers, "Content-Type: application/x-tar");
    curl_easy_setopt(curl, CURLOPT_POST, 1L);
    curl_easy_setopt(curl, CURLOPT_READDATA, upload); // curl's default reader: fread

    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, size);
  } else if (std::strcmp(method, "POST") == 0 || !body.empty()) {
    headers = curl_slist_append(headers, "Content-Type: application/json");
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body.c_str());
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE, static_cast<long>(body.size()));
  } else if (std::strcmp(method, "GET") == 0) {
    curl_easy_setopt(curl, CURLOPT_HTTPGET, 1L);
  }
  // curl's default "Expect: 100-continue" for bodies over 1 KiB costs a round
  // trip (or a 1 s wait) the engine does not need.
  headers = curl_slist_append(headers, "Expect:");
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
  auto rc = curl_easy_perform(curl);
  curl_slist_free_all(headers);
  http_reply reply;
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &reply.status);
  long os_errno = 0;
  curl_easy_getinfo(curl, CURLINFO_OS_ERRNO, &os_errno);
  curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, nullptr);
  handles_.give_back(curl);
  if (rc == CURLE_OK) {
    reply.body = std::move(t.body);
    return reply;
  }
  std::string detail = error_text[0] != '\0' ? error_text : curl_easy_strerror(rc);
  std::string what = std::string{method} + " " + target;
  switch (rc) {
    case CURLE_COULDNT_CONNECT:
    case CURLE_COULDNT_RESOLVE_HOST:
      return make_error(
          error_code::driver_failure,
          unreachable(socket_path_, os_errno != 0 ? std::strerror(os_errno) : detail));
    case CURLE_OPERATION_TIMEDOUT:
      return make_error(error_code::driver_failure, "the Docker engine at " + socket_path_ +
                                                        " did not answer " + what + " within " +
                                                        std::to_string(timeout.count()) + " ms");
    default:
      return make_error(error_code::driver_failure, "lost the connection to the Docker engine at " +
                                                        socket_path_ + " during " + what + ": " +
                                                        detail + "; is dockerd running?");
  }
}

} // namespace tutti::runtime_drivers::docker
