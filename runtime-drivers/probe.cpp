#include "runtime-drivers/probe.hpp"

#include "protocol/errors.hpp"
#include "protocol/utf8.hpp"
#include "runtime-drivers/unique_fd.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>

namespace tutti::runtime_drivers {

namespace {

using clock = std::chrono::steady_clock;

int ms_left(clock::time_point deadline) {
  auto left =
      std::chrono::duration_cast<std::chrono::milliseconds>(deadline - clock::now()).count();
  return static_cast<int>(std::max<int64_t>(left, 0));
}

/// Waits for `events` on `fd` until the deadline: 1 ready, 0 timed out, -1 error.
int wait_for(int fd, short events, clock::time_point deadline) {
  for (;;) {
    pollfd p{fd, events, 0};
    int n = ::poll(&p, 1, ms_left(deadline));
    if (n >= 0 || errno != EINTR)
      return n > 0 ? 1 : n;
  }
}

struct connected {
  unique_fd fd;
  std::string error; // empty when connected
};

connected connect_to(const std::string& address, uint16_t port, clock::time_point deadline) {
  connected out;
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) {
    out.error = std::string{"socket: "} + std::strerror(errno);
    return out;
  }
  out.fd = unique_fd{fd};
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(port);
  if (::inet_pton(AF_INET, address.c_str(), &sa.sin_addr) != 1) {
    out.error = "bad address " + address;
    return out;
  }
  auto where = address + ":" + std::to_string(port);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof(sa)) != 0) {
    if (errno != EINPROGRESS) {
      out.error = "connect to " + where + ": " + std::strerror(errno);
      return out;
    }
    if (wait_for(fd, POLLOUT, deadline) <= 0) {
      out.error = "connect to " + where + ": timed out";
      return out;
    }
    int err = 0;
    socklen_t len = sizeof(err);
    ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
    if (err != 0) {
      out.error = "connect to " + where + ": " + std::strerror(err);
      return out;
    }
  }
  return out;
}

probe_outcome fail(std::string why) {
  return {false, std::move(why)};
}

const protocol::port_binding* find_port(const probe_target& target, const std::string& name) {
  for (const auto& b : target.ports)
    if (b.name == name)
      return &b;
  return nullptr;
}

probe_outcome tcp_probe(const protocol::probe_spec& probe, const probe_target& target,
                        clock::time_point deadline) {
  auto port = find_port(target, probe.port);
  if (!port)
    return fail("the replica has no port named " + probe.port);
  auto c = connect_to(target.address, port->host_port, deadline);
  if (!c.error.empty())
    return fail(c.error);
  return {true, "connected to port " + std::to_string(port->host_port)};
}

bool send_all(int fd, const std::string& data, clock::time_point deadline) {
  size_t sent = 0;
  while (sent < data.size()) {
    auto n = ::send(fd, data.data() + sent, data.size() - sent, MSG_NOSIGNAL);
    if (n > 0) {
      sent += static_cast<size_t>(n);
      continue;
    }
    if (n < 0 && errno != EAGAIN && errno != EINTR)
      return false;
    if (wait_for(fd, POLLOUT, deadline) <= 0)
      return false;
  }
  return true;
}

/// Reads until the status line is complete; returns it (without CRLF).
std::optional<std::string> read_status_line(int fd, clock::time_point deadline) {
  std::string buffer;
  char chunk[512];
  while (buffer.find("\r\n") == std::string::npos && buffer.size() < 4096) {
    if (wait_for(fd, POLLIN, deadline) <= 0)
      return std::nullopt;
    auto n = ::recv(fd, chunk, sizeof(chunk), 0);
    if (n == 0)
      break;
    if (n < 0) {
      if (errno == EAGAIN || errno == EINTR)
        continue;
      return std::nullopt;
    }
    buffer.append(chunk, static_cast<size_t>(n));
  }
  auto end = buffer.find("\r\n");
  if (end == std::string::npos)
    return std::nullopt;
  return buffer.substr(0, end);
}

probe_outcome http_probe(const protocol::probe_spec& probe, const probe_target& target,
                         clock::time_point deadline) {
  auto port = find_port(target, probe.port);
  if (!port)
    return fail("the replica has no port named " + probe.port);
  auto c = connect_to(target.address, port->host_port, deadline);
  if (!c.error.empty())
    return fail(c.error);
  auto request = "GET " + probe.path + " HTTP/1.0\r\nHost: " + target.address + ":" +
                 std::to_string(port->host_port) +
                 "\r\nUser-Agent: tutti-probe\r\nConnection: close\r\n\r\n";
  if (!send_all(c.fd.get(), request, deadline))
    return fail("GET " + probe.path + ": cannot send the request");
  auto line = read_status_line(c.fd.get(), deadline);
  if (!line)
    return fail("GET " + probe.path + ": no answer within the timeout");
  // "HTTP/1.1 200 OK"
  auto space = line->find(' ');
  int status = space == std::string::npos ? 0 : std::atoi(line->c_str() + space + 1);
  if (status < 100)
    return fail("GET " + probe.path +
                ": not an HTTP answer: " + protocol::sanitize_utf8(line->substr(0, 80)));
  bool ok = status >= 200 && status < 400;
  return {ok, "GET " + probe.path + ": HTTP " + std::to_string(status)};
}

probe_outcome exec_probe(driver& d, const protocol::probe_spec& probe, const probe_target& target) {
  auto result = d.exec(target.container, probe.command, probe.timeout);
  if (!result)
    return fail(protocol::message_of(result.error()));
  // What the replica printed is anyone's bytes; the outcome goes to clients.
  std::string output = protocol::sanitize_utf8(result->output.substr(0, 200));
  while (!output.empty() && (output.back() == '\n' || output.back() == '\r'))
    output.pop_back();
  auto text = "exit code " + std::to_string(result->exit_code) +
              (output.empty() ? std::string{} : ": " + output);
  return {result->exit_code == 0, text};
}

} // namespace

probe_outcome run_probe(driver& d, const protocol::probe_spec& probe, const probe_target& target) {
  auto deadline = clock::now() + probe.timeout;
  switch (probe.kind) {
    case protocol::probe_kind::exec:
      return exec_probe(d, probe, target);
    case protocol::probe_kind::http:
      return http_probe(probe, target, deadline);
    case protocol::probe_kind::tcp:
      return tcp_probe(probe, target, deadline);
    case protocol::probe_kind::none:
      break;
  }
  return {true, "no probe"};
}

} // namespace tutti::runtime_drivers
