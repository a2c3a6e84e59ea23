#pragma once

// Loopback networking for tests: free ports (bind port 0), a minimal HTTP/1.0
// GET, and raw bytes sent to a TCP port. Every call has a deadline.

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace tutti::tests::support {

/// A port the kernel says is free on 127.0.0.1 now (bind port 0, read, close).
/// Another process may take it before the caller binds it; callers that start
/// a server check that it started.
uint16_t free_port();

/// True when a server (SO_REUSEADDR) could bind 127.0.0.1:port now: nothing
/// listens on it; connections in TIME_WAIT do not count.
bool port_is_free(uint16_t port);

/// `count` consecutive ports between `low` and `high` (below the kernel's
/// ephemeral range by default, so clients' source ports do not take them) that
/// are free now and leased to this object alone among the test processes of the
/// machine: each block of 16 ports is flock()ed in /tmp/tutti-test-ports while
/// the lease lives, so tests run in parallel (ctest -j) never share a range.
class port_range_lease {
public:
  /// Picks and leases a range at random; throws std::runtime_error after many tries.
  explicit port_range_lease(uint16_t count, uint16_t low = 30000, uint16_t high = 32767);
  port_range_lease(port_range_lease&& other) noexcept;
  port_range_lease& operator=(port_range_lease&&) = delete;
  port_range_lease(const port_range_lease&) = delete;
  port_range_lease& operator=(const port_range_lease&) = delete;
  ~port_range_lease();

  uint16_t first() const { return first_; }
  uint16_t last() const { return last_; }

private:
  uint16_t first_ = 0;
  uint16_t last_ = 0;
  std::vector<int> lock_fds_;
};

struct http_response {
  int status = 0;      // 200, 404, ...
  std::string headers; // the raw header block
  std::string body;
  /// False when the answer ended before the Content-Length its headers gave:
  /// the server died in the middle of it.
  bool complete = true;
};

/// GET http://host:port/target with HTTP/1.0; nullopt when the connection fails,
/// the answer is not HTTP, or `timeout` passes.
std::optional<http_response> http_get(const std::string& host, uint16_t port,
                                      const std::string& target,
                                      std::chrono::milliseconds timeout = std::chrono::seconds{2});

/// Connects to host:port, writes `bytes`, closes. False when connecting failed.
bool send_raw(const std::string& host, uint16_t port, const std::string& bytes,
              std::chrono::milliseconds timeout = std::chrono::seconds{2});

/// A TCP connection left open on purpose (a stalled client); closed when the
/// object goes away.
class held_connection {
public:
  held_connection() = default;
  explicit held_connection(int fd) : fd_(fd) {}
  held_connection(held_connection&& other) noexcept : fd_(other.fd_) { other.fd_ = -1; }
  held_connection& operator=(held_connection&&) = delete;
  ~held_connection();
  bool connected() const { return fd_ >= 0; }

private:
  int fd_ = -1;
};

/// Connects to host:port, writes `bytes` and keeps the connection open.
held_connection hold_connection(const std::string& host, uint16_t port, const std::string& bytes,
                                std::chrono::milliseconds timeout = std::chrono::seconds{2});

/// A connected non-blocking TCP socket to host:port (the caller closes it), or -1.
int connect_tcp(const std::string& host, uint16_t port,
                std::chrono::milliseconds timeout = std::chrono::seconds{2});

/// Writes all of `bytes` to `fd` within `timeout`; false when the peer stopped
/// taking them (or the connection failed).
bool send_within(int fd, const std::string& bytes, std::chrono::milliseconds timeout);

/// `text` with every byte outside [A-Za-z0-9._~-] percent-encoded (URL queries).
std::string url_encode(const std::string& text);

} // namespace tutti::tests::support
