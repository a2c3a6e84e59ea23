// The routing mesh's data path over real loopback TCP: connections are spread
// over the upstreams, a refusing upstream is retried on another one, idle
// connections are closed, and a port that cannot be bound is reported.

#include "actors/mesh/mesh_proxy.hpp"
#include "metrics/recorder.hpp"
#include "tests/support/net.hpp"
#include "tests/support/wait.hpp"

#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <map>
#include <mutex>
#include <thread>

namespace {

using namespace tutti::actors;
using namespace std::chrono_literals;
namespace s = tutti::tests::support;
namespace p = tutti::protocol;

int listen_on(uint16_t port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(port);
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof(sa)) != 0 || ::listen(fd, 64) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

uint16_t port_of(int fd) {
  sockaddr_in sa{};
  socklen_t len = sizeof(sa);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&sa), &len);
  return ntohs(sa.sin_port);
}

/// A server that answers each connection with its name and closes it, or (silent)
/// holds it open without a word.
class name_server {
public:
  explicit name_server(std::string name, bool silent = false)
    : name_(std::move(name)), silent_(silent), fd_(listen_on(0)) {
    port_ = port_of(fd_);
    thread_ = std::thread([this] { serve(); });
  }
  ~name_server() {
    stop_ = true;
    ::shutdown(fd_, SHUT_RDWR);
    thread_.join();
    ::close(fd_);
    for (int fd : held_)
      ::close(fd);
  }
  uint16_t port() const { return port_; }
  upstream as_upstream() const { return {name_, "127.0.0.1", port_}; }

private:
  void serve() {
    while (!stop_) {
      int c = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (c < 0)
        return;
      if (silent_) {
        held_.push_back(c);
        continue;
      }
      auto text = name_ + "\n";
      (void)!::write(c, text.data(), text.size());
      ::close(c);
    }
  }

  std::string name_;
  bool silent_;
  int fd_;
  uint16_t port_ = 0;
  std::atomic<bool> stop_{false};
  std::vector<int> held_;
  std::thread thread_;
};

/// Connects to 127.0.0.1:port and reads until EOF; nullopt when the connect
/// fails or `timeout` passes.
std::optional<std::string> fetch(uint16_t port, std::chrono::milliseconds timeout = 3s) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(port);
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof(sa)) != 0) {
    ::close(fd);
    return std::nullopt;
  }
  std::string out;
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    pollfd pfd{fd, POLLIN, 0};
    if (left.count() <= 0 || ::poll(&pfd, 1, static_cast<int>(left.count())) <= 0) {
      ::close(fd);
      return std::nullopt;
    }
    char buf[256];
    auto n = ::read(fd, buf, sizeof(buf));
    if (n <= 0)
      break;
    out.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  return out;
}

/// A port nothing listens on: bound and closed, so a connect is refused.
upstream refusing(const std::string& name) {
  return {name, "127.0.0.1", s::free_port()};
}

struct proxy_fixture : ::testing::Test {
  mesh_proxy::options options() {
    mesh_proxy::options opts;
    opts.connect_timeout = 500ms;
    opts.on_listen_error = [this](const std::string& service, uint16_t port,
                                  const std::string& why) {
      std::lock_guard<std::mutex> guard{mtx};
      listen_errors.push_back(service + ":" + std::to_string(port) + ": " + why);
    };
    return opts;
  }

  /// Updates the table and waits until the loop applied it and listens.
  void route(mesh_proxy& proxy, std::vector<mesh_route> routes) {
    auto gen = proxy.update(std::move(routes));
    ASSERT_TRUE(s::wait_until([&] { return proxy.applied() >= gen; }, 5s));
  }

  tutti::metrics::null_recorder metrics;
  std::mutex mtx;
  std::vector<std::string> listen_errors;
};

TEST_F(proxy_fixture, SpreadsConnectionsRoundRobin) {
  name_server a{"a"}, b{"b"}, c{"c"};
  mesh_proxy proxy{options(), metrics};
  proxy.start();
  auto port = s::free_port();
  route(proxy, {{"web",
                 port,
                 p::load_balancing::round_robin,
                 {a.as_upstream(), b.as_upstream(), c.as_upstream()}}});
  EXPECT_EQ(proxy.listening(), std::vector<uint16_t>{port});
  std::map<std::string, int> seen;
  for (int i = 0; i < 9; ++i) {
    auto answer = fetch(port);
    ASSERT_TRUE(answer) << "request " << i;
    ++seen[*answer];
  }
  EXPECT_EQ(seen, (std::map<std::string, int>{{"a\n", 3}, {"b\n", 3}, {"c\n", 3}}));
}

TEST_F(proxy_fixture, RetriesARefusingReplicaOnAnother) {
  name_server a{"a"};
  mesh_proxy proxy{options(), metrics};
  proxy.start();
  auto port = s::free_port();
  // Two of three refuse (a killed replica, whose port nobody listens on).
  route(proxy, {{"web",
                 port,
                 p::load_balancing::round_robin,
                 {refusing("dead-0"), a.as_upstream(), refusing("dead-2")}}});
  for (int i = 0; i < 10; ++i) {
    auto answer = fetch(port);
    ASSERT_TRUE(answer) << "request " << i;
    EXPECT_EQ(*answer, "a\n") << "request " << i << " saw a refusal";
  }
  // The proxy closes its side once the client has closed its own.
  EXPECT_TRUE(s::wait_until([&] { return proxy.active("a") == 0; }, 2s));
}

TEST_F(proxy_fixture, ClosesTheClientWhenNoReplicaAnswers) {
  mesh_proxy proxy{options(), metrics};
  proxy.start();
  auto port = s::free_port();
  route(proxy, {{"web", port, p::load_balancing::round_robin, {refusing("dead-0")}}});
  EXPECT_EQ(fetch(port), std::string{}) << "EOF without a byte";
  route(proxy, {{"web", port, p::load_balancing::round_robin, {}}});
  EXPECT_EQ(fetch(port), std::string{});
}

TEST_F(proxy_fixture, FollowsTheEndpointSetLive) {
  name_server a{"a"}, b{"b"};
  mesh_proxy proxy{options(), metrics};
  proxy.start();
  auto port = s::free_port();
  route(proxy, {{"web", port, p::load_balancing::least_connections, {a.as_upstream()}}});
  EXPECT_EQ(fetch(port), std::string{"a\n"});
  route(proxy, {{"web", port, p::load_balancing::least_connections, {b.as_upstream()}}});
  for (int i = 0; i < 4; ++i)
    EXPECT_EQ(fetch(port), std::string{"b\n"}) << "a left the set";
  route(proxy, {});
  EXPECT_TRUE(proxy.listening().empty());
  EXPECT_TRUE(s::wait_until([&] { return !fetch(port, 500ms).has_value(); }, 2s))
      << "an unpublished port stops accepting";
}

TEST_F(proxy_fixture, CountsOpenConnectionsAndClosesIdleOnes) {
  name_server quiet{"quiet", true};
  auto opts = options();
  opts.idle_timeout = 300ms;
  mesh_proxy proxy{opts, metrics};
  proxy.start();
  auto port = s::free_port();
  route(proxy, {{"web", port, p::load_balancing::round_robin, {quiet.as_upstream()}}});
  std::optional<std::string> answer;
  std::thread client([&] { answer = fetch(port, 5s); });
  EXPECT_TRUE(s::wait_until([&] { return proxy.active("quiet") == 1; }, 2s));
  auto start = std::chrono::steady_clock::now();
  client.join();
  EXPECT_EQ(answer, std::string{}) << "closed by the idle timeout, not by the client's";
  EXPECT_LT(s::elapsed_ms(start), 2500);
  EXPECT_TRUE(s::wait_until([&] { return proxy.active("quiet") == 0; }, 2s));
}

TEST_F(proxy_fixture, ReportsAPortItCannotBind) {
  int taken = listen_on(0);
  auto port = port_of(taken);
  mesh_proxy proxy{options(), metrics};
  proxy.start();
  route(proxy, {{"web", port, p::load_balancing::round_robin, {}}});
  EXPECT_TRUE(proxy.listening().empty());
  std::lock_guard<std::mutex> guard{mtx};
  ASSERT_EQ(listen_errors.size(), 1u);
  EXPECT_EQ(listen_errors[0].rfind("web:" + std::to_string(port) + ": ", 0), 0u)
      << listen_errors[0];
  ::close(taken);
}

} // namespace
