#include "runtime-drivers/probe.hpp"

#include "runtime-drivers/process/process_driver.hpp"
#include "runtime-drivers/sim/sim_driver.hpp"
#include "tests/runtime-drivers/test_support.hpp"

#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <atomic>
#include <thread>

namespace tutti::runtime_drivers {
namespace {

using namespace test;
using protocol::probe_kind;
using protocol::probe_spec;

/// A listening socket on 127.0.0.1 with a free port; answers each connection
/// with `reply` (nothing when empty) after reading the request.
class listener {
public:
  explicit listener(std::string reply) : reply_(std::move(reply)) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::bind(fd_, reinterpret_cast<sockaddr*>(&sa), sizeof(sa)) != 0 || ::listen(fd_, 8) != 0)
      throw std::runtime_error("cannot listen");
    socklen_t len = sizeof(sa);
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&sa), &len);
    port_ = ntohs(sa.sin_port);
    thread_ = std::thread{[this] { serve(); }};
  }
  ~listener() {
    stop_ = true;
    ::shutdown(fd_, SHUT_RDWR);
    thread_.join();
    ::close(fd_);
  }
  uint16_t port() const { return port_; }
  std::string last_request() {
    std::lock_guard<std::mutex> guard{mutex_};
    return request_;
  }

private:
  void serve() {
    while (!stop_) {
      int c = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (c < 0)
        return;
      char buf[1024];
      auto n = ::recv(c, buf, sizeof(buf), 0);
      {
        std::lock_guard<std::mutex> guard{mutex_};
        request_.assign(buf, n > 0 ? static_cast<size_t>(n) : 0);
      }
      if (!reply_.empty())
        ::send(c, reply_.data(), reply_.size(), MSG_NOSIGNAL);
      else
        while (!stop_ && ::recv(c, buf, sizeof(buf), 0) > 0) {
        }
      ::close(c);
    }
  }

  std::string reply_;
  int fd_ = -1;
  uint16_t port_ = 0;
  std::atomic<bool> stop_{false};
  std::mutex mutex_;
  std::string request_;
  std::thread thread_;
};

uint16_t closed_port() {
  listener l{"x"};
  return l.port(); // closed once l is gone
}

probe_spec http(const std::string& path = "/healthz") {
  probe_spec p;
  p.kind = probe_kind::http;
  p.port = "http";
  p.path = path;
  p.timeout = std::chrono::milliseconds{300};
  return p;
}

probe_target target_at(uint16_t port, const std::string& container = "x-0") {
  return {container, "127.0.0.1", {{"http", port}}};
}

TEST(probe, http_2xx_and_3xx_are_healthy_others_not) {
  sim_driver d;
  listener ok{"HTTP/1.1 204 No Content\r\n\r\n"};
  auto r = run_probe(d, http(), target_at(ok.port()));
  EXPECT_TRUE(r.healthy) << r.message;
  EXPECT_EQ(r.message, "GET /healthz: HTTP 204");
  EXPECT_EQ(ok.last_request().rfind("GET /healthz HTTP/1.0\r\n", 0), 0u) << ok.last_request();

  listener moved{"HTTP/1.0 302 Found\r\nLocation: /\r\n\r\n"};
  EXPECT_TRUE(run_probe(d, http(), target_at(moved.port())).healthy);

  listener broken{"HTTP/1.1 503 Service Unavailable\r\n\r\n"};
  r = run_probe(d, http(), target_at(broken.port()));
  EXPECT_FALSE(r.healthy);
  EXPECT_EQ(r.message, "GET /healthz: HTTP 503");

  listener garbage{"SSH-2.0-OpenSSH\r\n"};
  r = run_probe(d, http(), target_at(garbage.port()));
  EXPECT_FALSE(r.healthy);
  EXPECT_NE(r.message.find("not an HTTP answer"), std::string::npos) << r.message;

  listener binary{"\xFF\xFE garbage \xC3\r\n"};
  r = run_probe(d, http(), target_at(binary.port()));
  EXPECT_FALSE(r.healthy);
  EXPECT_NE(r.message.find("\\xFF\\xFE garbage \\xC3"), std::string::npos) << r.message;
}

TEST(probe, http_that_never_answers_times_out) {
  sim_driver d;
  listener silent{""};
  auto started = std::chrono::steady_clock::now();
  auto r = run_probe(d, http(), target_at(silent.port()));
  EXPECT_FALSE(r.healthy);
  EXPECT_EQ(r.message, "GET /healthz: no answer within the timeout");
  EXPECT_LT(std::chrono::steady_clock::now() - started, deadline);
}

TEST(probe, tcp_connects_or_says_why_not) {
  sim_driver d;
  probe_spec tcp;
  tcp.kind = probe_kind::tcp;
  tcp.port = "http";
  listener open{"x"};
  auto r = run_probe(d, tcp, target_at(open.port()));
  EXPECT_TRUE(r.healthy) << r.message;
  auto port = closed_port();
  r = run_probe(d, tcp, target_at(port));
  EXPECT_FALSE(r.healthy);
  EXPECT_EQ(r.message, "connect to 127.0.0.1:" + std::to_string(port) + ": Connection refused");
  tcp.port = "admin";
  r = run_probe(d, tcp, target_at(open.port()));
  EXPECT_FALSE(r.healthy);
  EXPECT_EQ(r.message, "the replica has no port named admin");
}

class exec_probe : public ::testing::Test {
protected:
  void SetUp() override {
    auto made = process_driver::make(dir_.path() + "/process");
    ASSERT_TRUE(made) << message(made.error());
    driver_ = std::move(*made);
    auto spec = make_spec("web-0", {"/bin/busybox", "sleep", "100"}, "node-a");
    spec.env["GREETING"] = "hi";
    ASSERT_TRUE(driver_->create(spec));
    auto started = driver_->start("web-0");
    ASSERT_TRUE(started) << message(started.error());
    guard_.add(started->pid);
  }

  probe_spec exec(const std::string& script) {
    probe_spec p;
    p.kind = probe_kind::exec;
    p.command = {"/bin/busybox", "sh", "-c", script};
    p.timeout = std::chrono::milliseconds{500};
    return p;
  }

  temp_dir dir_;
  process_guard guard_;
  std::unique_ptr<process_driver> driver_;
};

TEST_F(exec_probe, runs_in_the_replicas_environment) {
  auto r = run_probe(*driver_, exec("test \"$GREETING\" = hi && echo fine"), {"web-0"});
  EXPECT_TRUE(r.healthy) << r.message;
  EXPECT_EQ(r.message, "exit code 0: fine");
}

TEST_F(exec_probe, non_zero_exit_is_unhealthy_with_its_output) {
  auto r = run_probe(*driver_, exec("echo broken >&2; exit 3"), {"web-0"});
  EXPECT_FALSE(r.healthy);
  EXPECT_EQ(r.message, "exit code 3: broken");
}

TEST_F(exec_probe, output_that_is_not_utf8_is_shown_escaped) {
  auto r = run_probe(*driver_, exec("printf 'bad \\377 byte'; exit 1"), {"web-0"});
  EXPECT_FALSE(r.healthy);
  EXPECT_EQ(r.message, "exit code 1: bad \\xFF byte");
}

TEST_F(exec_probe, a_command_that_hangs_is_killed_at_the_timeout) {
  auto started = std::chrono::steady_clock::now();
  auto r = run_probe(*driver_, exec("sleep 30"), {"web-0"});
  EXPECT_FALSE(r.healthy);
  EXPECT_EQ(r.message, "command did not finish within 500ms");
  EXPECT_LT(std::chrono::steady_clock::now() - started, deadline);
}

TEST_F(exec_probe, of_a_replica_that_does_not_run_fails) {
  auto r = run_probe(*driver_, exec("true"), {"web-9"});
  EXPECT_FALSE(r.healthy);
  EXPECT_NE(r.message.find("web-9"), std::string::npos) << r.message;
}

} // namespace
} // namespace tutti::runtime_drivers
