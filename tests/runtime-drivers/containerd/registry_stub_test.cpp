// The registry client against a tiny HTTP server of the test's own, for what
// a plain docker-registry does not do: the anonymous bearer-token flow, a
// redirect to a "CDN" on another host (which must not get the token), Basic
// auth, and registries that serve bytes other than the digest they name.

#include "runtime-drivers/containerd/registry_client.hpp"

#include "protocol/errors.hpp"
#include "tools/harness/tar_writer.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <functional>
#include <mutex>
#include <thread>

namespace tutti::runtime_drivers::containerd {
namespace {

using harness::sha256_digest;
using nlohmann::json;
using protocol::code_of;
using protocol::error_code;
using protocol::message_of;

constexpr const char* oci_manifest = "application/vnd.oci.image.manifest.v1+json";

struct seen_request {
  std::string target;  // "/v2/x/manifests/1"
  std::string headers; // the raw header block, lowercase
};

/// A one-thread HTTP/1.1 server on 127.0.0.1: answers each request (one per
/// connection) with what `answer` returns and records it.
class stub_server {
public:
  using handler = std::function<std::string(const seen_request&)>;

  explicit stub_server(handler answer) : answer_(std::move(answer)) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    if (::bind(fd_, reinterpret_cast<sockaddr*>(&addr), len) != 0 || ::listen(fd_, 16) != 0 ||
        ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len) != 0)
      throw std::runtime_error("cannot listen on 127.0.0.1");
    port_ = ntohs(addr.sin_port);
    thread_ = std::thread{[this] { serve(); }};
  }

  ~stub_server() {
    stop_ = true;
    thread_.join();
    ::close(fd_);
  }

  uint16_t port() const { return port_; }
  std::string host() const { return "127.0.0.1:" + std::to_string(port_); }

  std::vector<seen_request> requests() const {
    std::lock_guard<std::mutex> guard{mutex_};
    return requests_;
  }

private:
  void serve() {
    while (!stop_) {
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, 50) != 1)
        continue;
      int client = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (client < 0)
        continue;
      answer_one(client);
      ::close(client);
    }
  }

  void answer_one(int client) {
    std::string in;
    char buffer[4096];
    while (in.find("\r\n\r\n") == std::string::npos) {
      pollfd p{client, POLLIN, 0};
      if (::poll(&p, 1, 2000) != 1)
        return;
      auto n = ::read(client, buffer, sizeof buffer);
      if (n <= 0)
        return;
      in.append(buffer, static_cast<size_t>(n));
    }
    seen_request r;
    auto line_end = in.find("\r\n");
    auto first_space = in.find(' ');
    r.target = in.substr(first_space + 1, in.find(' ', first_space + 1) - first_space - 1);
    r.headers = in.substr(line_end + 2);
    for (auto& c : r.headers)
      c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    {
      std::lock_guard<std::mutex> guard{mutex_};
      requests_.push_back(r);
    }
    auto out = answer_(r);
    for (size_t done = 0; done < out.size();) {
      // send, not write: a client that gave up must not SIGPIPE the test.
      auto n = ::send(client, out.data() + done, out.size() - done, MSG_NOSIGNAL);
      if (n <= 0)
        return;
      done += static_cast<size_t>(n);
    }
  }

  handler answer_;
  int fd_ = -1;
  uint16_t port_ = 0;
  std::atomic<bool> stop_{false};
  std::thread thread_;
  mutable std::mutex mutex_;
  std::vector<seen_request> requests_;
};

std::string http(int status, const std::string& body, const std::string& headers = {}) {
  return "HTTP/1.1 " + std::to_string(status) +
         " X\r\nConnection: close\r\nContent-Length: " + std::to_string(body.size()) + "\r\n" +
         headers + "\r\n" + body;
}

bool starts_with(const std::string& text, const std::string& prefix) {
  return text.rfind(prefix, 0) == 0;
}

/// A manifest naming one config and one layer whose bytes the stub serves.
struct tiny_image {
  std::string config = R"({"architecture":"amd64","os":"linux","rootfs":{"type":"layers"}})";
  std::string layer = std::string(100000, 'x');
  std::string manifest;

  tiny_image() {
    auto entry = [](const char* type, const std::string& bytes) {
      return json{{"mediaType", type}, {"digest", sha256_digest(bytes)}, {"size", bytes.size()}};
    };
    manifest = json{{"schemaVersion", 2},
                    {"mediaType", oci_manifest},
                    {"config", entry("application/vnd.oci.image.config.v1+json", config)},
                    {"layers", {entry("application/vnd.oci.image.layer.v1.tar", layer)}}}
                   .dump();
  }

  std::string manifest_answer(const std::string& extra_headers = {}) const {
    return http(200, manifest,
                std::string{"Content-Type: "} + oci_manifest + "\r\n" + extra_headers);
  }
};

bool has_token(const seen_request& r, const std::string& token) {
  return r.headers.find("authorization: bearer " + token + "\r\n") != std::string::npos;
}

TEST(registry_stub, anonymous_bearer_token_is_fetched_cached_and_kept_from_other_hosts) {
  tiny_image image;
  std::string self; // "127.0.0.1:PORT", set once the server listens
  stub_server server{[&](const seen_request& r) {
    if (starts_with(r.target, "/token?"))
      return http(200, R"({"token":"tok1","expires_in":300})");
    if (starts_with(r.target, "/cdn/")) // "another host": only reached as localhost
      return http(200, image.layer);
    if (!has_token(r, "tok1"))
      return http(401,
                  R"({"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]})",
                  "WWW-Authenticate: Bearer realm=\"http://" + self +
                      "/token\",service=\"stub\",scope=\"repository:x/y:pull\"\r\n");
    if (starts_with(r.target, "/v2/x/y/manifests/"))
      return image.manifest_answer();
    if (starts_with(r.target, "/v2/x/y/blobs/"))
      return http(307, "",
                  "Location: http://localhost:" + self.substr(self.find(':') + 1) +
                      "/cdn/blob\r\n");
    return http(404, "");
  }};
  self = server.host();
  registry_client client;
  auto name = self + "/x/y:1";
  auto r = client.resolve(name);
  ASSERT_TRUE(r) << message_of(r.error());
  EXPECT_EQ(r->manifest.digest, sha256_digest(image.manifest));
  ASSERT_EQ(r->layers.size(), 1u);
  std::string bytes;
  auto err = client.fetch_blob(name, r->layers[0], [&](const char* data, size_t n) {
    bytes.append(data, n);
    return true;
  });
  ASSERT_FALSE(err) << message_of(err);
  EXPECT_EQ(bytes, image.layer);
  ASSERT_TRUE(client.resolve(name));

  auto seen = server.requests();
  size_t tokens = 0;
  for (const auto& s : seen) {
    if (starts_with(s.target, "/token?")) {
      ++tokens;
      EXPECT_EQ(s.target, "/token?service=stub&scope=repository%3Ax%2Fy%3Apull");
    }
    if (starts_with(s.target, "/cdn/")) {
      EXPECT_EQ(s.headers.find("authorization"), std::string::npos) << s.headers;
    }
  }
  EXPECT_EQ(tokens, 1u) << "the token is cached for the next requests";
  // 401, token, manifest; blob (with the token), cdn; manifest.
  ASSERT_EQ(seen.size(), 6u);
  EXPECT_TRUE(has_token(seen[3], "tok1"));
  EXPECT_TRUE(starts_with(seen[4].target, "/cdn/"));
}

TEST(registry_stub, basic_auth_is_not_supported_yet_and_says_so) {
  stub_server server{[](const seen_request&) {
    return http(401, "", "WWW-Authenticate: Basic realm=\"Registry Realm\"\r\n");
  }};
  registry_client client;
  auto r = client.resolve(server.host() + "/x/y:1");
  ASSERT_FALSE(r);
  EXPECT_EQ(code_of(r.error()), error_code::driver_failure);
  EXPECT_NE(message_of(r.error()).find("not supported yet"), std::string::npos)
      << message_of(r.error());
  EXPECT_NE(message_of(r.error()).find(server.host()), std::string::npos);
}

TEST(registry_stub, a_token_that_does_not_open_the_door_is_a_refusal) {
  std::string self;
  stub_server server{[&](const seen_request& r) {
    if (starts_with(r.target, "/token"))
      return http(200, R"({"access_token":"useless"})");
    return http(401, R"({"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]})",
                "WWW-Authenticate: Bearer realm=\"http://" + self + "/token\"\r\n");
  }};
  self = server.host();
  registry_client client;
  auto r = client.resolve(self + "/private/thing:1");
  ASSERT_FALSE(r);
  EXPECT_EQ(code_of(r.error()), error_code::driver_failure);
  EXPECT_NE(message_of(r.error()).find("refused anonymous access"), std::string::npos)
      << message_of(r.error());
  EXPECT_EQ(server.requests().size(), 3u);
}

TEST(registry_stub, bytes_of_another_digest_than_the_reference_are_refused) {
  tiny_image image;
  stub_server server{[&](const seen_request&) { return image.manifest_answer(); }};
  registry_client client;
  auto wanted = sha256_digest("another manifest");
  auto r = client.resolve(server.host() + "/x/y@" + wanted);
  ASSERT_FALSE(r);
  EXPECT_EQ(code_of(r.error()), error_code::invalid_argument);
  EXPECT_NE(message_of(r.error()).find(sha256_digest(image.manifest)), std::string::npos)
      << message_of(r.error());
}

TEST(registry_stub, a_docker_content_digest_that_lies_is_refused) {
  tiny_image image;
  auto lie = sha256_digest("not these bytes");
  stub_server server{[&](const seen_request&) {
    return image.manifest_answer("Docker-Content-Digest: " + lie + "\r\n");
  }};
  registry_client client;
  auto r = client.resolve(server.host() + "/x/y:1");
  ASSERT_FALSE(r);
  EXPECT_EQ(code_of(r.error()), error_code::invalid_argument);
  EXPECT_NE(message_of(r.error()).find(lie), std::string::npos) << message_of(r.error());
}

TEST(registry_stub, a_blob_with_other_bytes_is_refused) {
  tiny_image image;
  stub_server server{[&](const seen_request&) { return http(200, std::string(100000, 'y')); }};
  registry_client client;
  descriptor layer{"application/vnd.oci.image.layer.v1.tar", sha256_digest(image.layer), 100000};
  auto err =
      client.fetch_blob(server.host() + "/x/y:1", layer, [](const char*, size_t) { return true; });
  ASSERT_TRUE(err);
  EXPECT_EQ(code_of(err), error_code::invalid_argument);
  EXPECT_NE(message_of(err).find(layer.digest), std::string::npos) << message_of(err);
}

TEST(registry_stub, a_manifest_over_4_mib_is_refused) {
  stub_server server{[&](const seen_request&) {
    return http(200, std::string((4 << 20) + 1, ' '),
                std::string{"Content-Type: "} + oci_manifest + "\r\n");
  }};
  registry_client client;
  auto r = client.resolve(server.host() + "/x/y:1");
  ASSERT_FALSE(r);
  EXPECT_EQ(code_of(r.error()), error_code::invalid_argument);
  EXPECT_NE(message_of(r.error()).find("too big"), std::string::npos) << message_of(r.error());
}

TEST(registry_stub, a_schema_1_manifest_is_not_supported) {
  stub_server server{[&](const seen_request&) {
    return http(200, R"({"schemaVersion":1,"fsLayers":[]})",
                "Content-Type: application/vnd.docker.distribution.manifest.v1+prettyjws\r\n");
  }};
  registry_client client;
  auto r = client.resolve(server.host() + "/x/y:1");
  ASSERT_FALSE(r);
  EXPECT_EQ(code_of(r.error()), error_code::invalid_argument);
  EXPECT_NE(message_of(r.error()).find("schema 1"), std::string::npos) << message_of(r.error());
}

TEST(registry_stub, a_registry_that_does_not_answer_in_time_is_a_driver_failure) {
  std::atomic<bool> release{false};
  stub_server server{[&](const seen_request&) {
    while (!release) // holds the one connection until the client gave up
      std::this_thread::sleep_for(std::chrono::milliseconds{10}); // -- allowed: stub's wait
    return http(500, "");
  }};
  registry_options options;
  options.resolve_timeout = std::chrono::milliseconds{300};
  registry_client client{options};
  auto r = client.resolve(server.host() + "/x/y:1");
  release = true;
  ASSERT_FALSE(r);
  EXPECT_EQ(code_of(r.error()), error_code::driver_failure);
  EXPECT_NE(message_of(r.error()).find("did not answer"), std::string::npos)
      << message_of(r.error());
}

TEST(registry_stub, a_host_that_does_not_resolve_is_a_driver_failure_saying_what_to_do) {
  // .invalid never resolves (RFC 6761), online or not; it is reached over HTTPS.
  registry_client client;
  auto r = client.resolve("registry.invalid/x/y:1");
  ASSERT_FALSE(r);
  EXPECT_EQ(code_of(r.error()), error_code::driver_failure);
  auto message = message_of(r.error());
  EXPECT_NE(message.find("cannot reach registry registry.invalid for registry.invalid/x/y:1"),
            std::string::npos)
      << message;
  EXPECT_NE(message.find("image_archive"), std::string::npos) << message;
  std::printf("%s\n", message.c_str());
}

} // namespace
} // namespace tutti::runtime_drivers::containerd
