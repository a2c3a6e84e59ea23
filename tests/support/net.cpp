#include "tests/support/net.hpp"

#include "runtime-drivers/curl_support.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <random>
#include <stdexcept>

namespace tutti::tests::support {

namespace {

using clock = std::chrono::steady_clock;

/// Closes the descriptor when it goes out of scope.
struct fd_guard {
  int fd = -1;
  ~fd_guard() {
    if (fd >= 0)
      ::close(fd);
  }
};

int remaining_ms(clock::time_point deadline) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - clock::now());
  return left.count() < 0 ? 0 : static_cast<int>(left.count());
}

std::optional<sockaddr_in> loopback_address(const std::string& host, uint16_t port) {
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  if (::inet_pton(AF_INET, host == "localhost" ? "127.0.0.1" : host.c_str(), &addr.sin_addr) != 1)
    return std::nullopt;
  return addr;
}

/// A connected non-blocking socket, or -1.
int connect_with_deadline(const std::string& host, uint16_t port, clock::time_point deadline) {
  auto addr = loopback_address(host, port);
  if (!addr)
    return -1;
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0)
    return -1;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&*addr), sizeof(*addr)) == 0)
    return fd;
  if (errno != EINPROGRESS) {
    ::close(fd);
    return -1;
  }
  pollfd p{fd, POLLOUT, 0};
  int err = 0;
  socklen_t len = sizeof(err);
  if (::poll(&p, 1, remaining_ms(deadline)) != 1 ||
      ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0 || err != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

bool write_all(int fd, const std::string& data, clock::time_point deadline) {
  size_t done = 0;
  while (done < data.size()) {
    auto n = ::send(fd, data.data() + done, data.size() - done, MSG_NOSIGNAL);
    if (n > 0) {
      done += static_cast<size_t>(n);
      continue;
    }
    if (n < 0 && errno != EAGAIN && errno != EINTR)
      return false;
    pollfd p{fd, POLLOUT, 0};
    if (::poll(&p, 1, remaining_ms(deadline)) != 1)
      return false;
  }
  return true;
}

} // namespace

int connect_tcp(const std::string& host, uint16_t port, std::chrono::milliseconds timeout) {
  return connect_with_deadline(host, port, clock::now() + timeout);
}

bool send_within(int fd, const std::string& bytes, std::chrono::milliseconds timeout) {
  return write_all(fd, bytes, clock::now() + timeout);
}

bool port_is_free(uint16_t port) {
  fd_guard s{::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)};
  if (s.fd < 0)
    return false;
  // As servers bind: closed connections of the port that linger in TIME_WAIT
  // (many, after a test sent traffic through it) do not make it taken.
  int one = 1;
  ::setsockopt(s.fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  auto addr = loopback_address("127.0.0.1", port);
  return ::bind(s.fd, reinterpret_cast<sockaddr*>(&*addr), sizeof(*addr)) == 0;
}

uint16_t free_port() {
  fd_guard s{::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)};
  if (s.fd < 0)
    throw std::runtime_error(std::string{"socket: "} + std::strerror(errno));
  auto addr = loopback_address("127.0.0.1", 0);
  if (::bind(s.fd, reinterpret_cast<sockaddr*>(&*addr), sizeof(*addr)) != 0)
    throw std::runtime_error(std::string{"bind 127.0.0.1:0: "} + std::strerror(errno));
  socklen_t len = sizeof(*addr);
  if (::getsockname(s.fd, reinterpret_cast<sockaddr*>(&*addr), &len) != 0)
    throw std::runtime_error(std::string{"getsockname: "} + std::strerror(errno));
  return ntohs(addr->sin_port);
}

namespace {

constexpr uint16_t lease_block = 16;
constexpr const char* lease_dir = "/tmp/tutti-test-ports";

/// A held flock on the block's file, or -1 when another process holds it.
int lock_block(uint16_t first) {
  if (::mkdir(lease_dir, 01777) == 0)
    ::chmod(lease_dir, 01777); // the umask took bits; every user's tests share it
  auto path = std::string{lease_dir} + "/block-" + std::to_string(first) + ".lock";
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0666);
  if (fd < 0)
    return -1;
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

} // namespace

port_range_lease::port_range_lease(uint16_t count, uint16_t low, uint16_t high) {
  uint16_t blocks = static_cast<uint16_t>((count + lease_block - 1) / lease_block);
  uint16_t first_block = static_cast<uint16_t>((low + lease_block - 1) / lease_block);
  uint16_t last_block = static_cast<uint16_t>((high + 1) / lease_block - blocks);
  if (blocks == 0 || last_block < first_block)
    throw std::runtime_error("port_range_lease: no room for " + std::to_string(count) + " ports");
  std::random_device seed;
  std::mt19937 gen{seed()};
  std::uniform_int_distribution<int> pick{first_block, last_block};
  for (int attempt = 0; attempt < 500; ++attempt) {
    auto block = static_cast<uint16_t>(pick(gen));
    std::vector<int> fds;
    bool ok = true;
    for (uint16_t b = 0; b < blocks && ok; ++b) {
      int fd = lock_block(static_cast<uint16_t>((block + b) * lease_block));
      ok = fd >= 0;
      if (ok)
        fds.push_back(fd);
    }
    auto first = static_cast<uint16_t>(block * lease_block);
    for (uint16_t i = 0; i < count && ok; ++i)
      ok = port_is_free(static_cast<uint16_t>(first + i));
    if (ok) {
      first_ = first;
      last_ = static_cast<uint16_t>(first + count - 1);
      lock_fds_ = std::move(fds);
      return;
    }
    for (int fd : fds)
      ::close(fd);
  }
  throw std::runtime_error("no " + std::to_string(count) + " consecutive free ports between " +
                           std::to_string(low) + " and " + std::to_string(high));
}

port_range_lease::port_range_lease(port_range_lease&& other) noexcept
  : first_(other.first_), last_(other.last_), lock_fds_(std::move(other.lock_fds_)) {
  other.lock_fds_.clear();
}

port_range_lease::~port_range_lease() {
  for (int fd : lock_fds_)
    ::close(fd); // releases the flock
}

std::optional<http_response> http_get(const std::string& host, uint16_t port,
                                      const std::string& target,
                                      std::chrono::milliseconds timeout) {
  auto deadline = clock::now() + timeout;
  fd_guard s{connect_with_deadline(host, port, deadline)};
  if (s.fd < 0)
    return std::nullopt;
  std::string request = "GET " + target + " HTTP/1.0\r\nHost: " + host + ":" +
                        std::to_string(port) + "\r\nConnection: close\r\n\r\n";
  if (!write_all(s.fd, request, deadline))
    return std::nullopt;
  std::string raw;
  char buf[8192];
  for (;;) {
    auto n = ::recv(s.fd, buf, sizeof(buf), 0);
    if (n > 0) {
      raw.append(buf, static_cast<size_t>(n));
      continue;
    }
    if (n == 0)
      break;
    if (errno == EINTR)
      continue;
    if (errno != EAGAIN)
      return std::nullopt;
    pollfd p{s.fd, POLLIN, 0};
    if (::poll(&p, 1, remaining_ms(deadline)) != 1)
      return std::nullopt;
  }
  auto end_of_headers = raw.find("\r\n\r\n");
  int status = 0;
  if (end_of_headers == std::string::npos ||
      std::sscanf(raw.c_str(), "HTTP/%*d.%*d %d", &status) != 1)
    return std::nullopt;
  http_response out;
  out.status = status;
  out.headers = raw.substr(0, end_of_headers);
  out.body = raw.substr(end_of_headers + 4);
  unsigned long long length = 0;
  auto at = out.headers.find("\r\nContent-Length:");
  if (at != std::string::npos &&
      std::sscanf(out.headers.c_str() + at, "\r\nContent-Length: %llu", &length) == 1)
    out.complete = out.body.size() >= length;
  return out;
}

bool send_raw(const std::string& host, uint16_t port, const std::string& bytes,
              std::chrono::milliseconds timeout) {
  auto deadline = clock::now() + timeout;
  fd_guard s{connect_with_deadline(host, port, deadline)};
  if (s.fd < 0)
    return false;
  write_all(s.fd, bytes, deadline); // the peer may hang up early; that is its right
  return true;
}

held_connection::~held_connection() {
  if (fd_ >= 0)
    ::close(fd_);
}

held_connection hold_connection(const std::string& host, uint16_t port, const std::string& bytes,
                                std::chrono::milliseconds timeout) {
  auto deadline = clock::now() + timeout;
  int fd = connect_with_deadline(host, port, deadline);
  if (fd >= 0)
    write_all(fd, bytes, deadline);
  return held_connection{fd};
}

std::string url_encode(const std::string& text) {
  return runtime_drivers::url_escape(text);
}

} // namespace tutti::tests::support
