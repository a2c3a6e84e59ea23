#include "runtime-drivers/containerd/log_copier.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/stat.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>

namespace tutti::runtime_drivers::containerd {

namespace {

constexpr int stdout_fd = 3;
constexpr int stderr_fd = 4;
constexpr int ready_fd = 5;
constexpr int poll_interval_ms = 100;

volatile std::sig_atomic_t terminating = 0;

void on_term(int) {
  terminating = 1;
}

bool write_all(int fd, const char* data, size_t size) {
  while (size > 0) {
    auto n = ::write(fd, data, size);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      return false;
    data += n;
    size -= static_cast<size_t>(n);
  }
  return true;
}

/// One read of `fd` into the log; false at its end (or an error).
bool copy_once(int from, int to) {
  char buffer[65536];
  auto n = ::read(from, buffer, sizeof buffer);
  if (n < 0 && (errno == EINTR || errno == EAGAIN))
    return true;
  if (n <= 0)
    return false;
  write_all(to, buffer, static_cast<size_t>(n));
  return true;
}

void drain(int from, int to) {
  ::fcntl(from, F_SETFL, ::fcntl(from, F_GETFL) | O_NONBLOCK);
  char buffer[65536];
  for (;;) {
    auto n = ::read(from, buffer, sizeof buffer);
    if (n <= 0)
      return;
    write_all(to, buffer, static_cast<size_t>(n));
  }
}

std::string escape_query(const std::string& text) {
  static const char* hex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : text) {
    bool plain = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                 c == '-' || c == '_' || c == '.' || c == '~' || c == '/';
    if (plain) {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out;
}

} // namespace

int run_log_copier(const std::string& path) {
  struct sigaction action {};
  action.sa_handler = on_term;
  ::sigaction(SIGTERM, &action, nullptr);
  auto slash = path.rfind('/');
  if (slash != std::string::npos && slash > 0)
    ::mkdir(path.substr(0, slash).c_str(), 0755); // the log directory, removed since
  int log = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
  if (log < 0) {
    // Reading on keeps the task alive: with no reader left its next write
    // would end it with SIGPIPE. Its output is lost, not the task.
    std::fprintf(stderr, "tutti-log-copier: cannot open %s: %s; discarding the output\n",
                 path.c_str(), std::strerror(errno));
    log = ::open("/dev/null", O_WRONLY | O_CLOEXEC);
    if (log < 0)
      return 1;
  }
  ::close(ready_fd); // the shim waits for this before it starts the task
  pollfd fds[2] = {{stdout_fd, POLLIN, 0}, {stderr_fd, POLLIN, 0}};
  int open_streams = 2;
  while (open_streams > 0 && !terminating) {
    if (::poll(fds, 2, poll_interval_ms) < 0 && errno != EINTR)
      break;
    for (auto& f : fds) {
      if (f.fd < 0 || (f.revents & (POLLIN | POLLHUP | POLLERR | POLLNVAL)) == 0)
        continue;
      // POLLNVAL: not an open fd (run by hand, not by a shim): nothing to copy.
      if ((f.revents & POLLNVAL) != 0 || !copy_once(f.fd, log)) {
        ::close(f.fd);
        f.fd = -1; // poll ignores negative fds
        --open_streams;
      }
    }
  }
  for (auto& f : fds)
    if (f.fd >= 0)
      drain(f.fd, log);
  ::close(log);
  return 0;
}

std::string log_copier_uri(const std::string& binary, const std::string& log_path) {
  return "binary://" + escape_query(binary) + "?" + log_copier_command + "=" +
         escape_query(log_path);
}

} // namespace tutti::runtime_drivers::containerd
