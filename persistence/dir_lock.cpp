#include "persistence/dir_lock.hpp"

#include "protocol/errors.hpp"

#include <cerrno>
#include <cstring>
#include <string_view>
#include <utility>

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

namespace tutti::persistence::detail {

namespace {

using protocol::error_code;

caf::error os_failure(const std::string& dir, int err) {
  return protocol::make_error(error_code::store_failure,
                              "cannot open store in " + dir + ": " + std::strerror(err));
}

/// The pid the holder wrote, or "unknown" when it has not written it yet.
std::string read_holder_pid(int fd) {
  char buf[32] = {};
  auto n = ::pread(fd, buf, sizeof(buf) - 1, 0);
  std::string_view text{buf, n > 0 ? static_cast<size_t>(n) : 0};
  while (!text.empty() && (text.back() == '\n' || text.back() == ' '))
    text.remove_suffix(1);
  return text.empty() ? std::string{"unknown"} : std::string{text};
}

/// Returns 0 or the errno of the failure.
int write_pid(int fd) {
  auto text = std::to_string(::getpid()) + "\n";
  if (::ftruncate(fd, 0) != 0)
    return errno;
  auto n = ::pwrite(fd, text.data(), text.size(), 0);
  if (n < 0)
    return errno;
  return static_cast<size_t>(n) == text.size() ? 0 : EIO;
}

} // namespace

caf::expected<dir_lock> dir_lock::acquire(const std::string& dir) {
  auto path = dir + "/tuttid.lock";
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0)
    return os_failure(dir, errno);
  dir_lock lock{fd}; // closes fd on every early return below
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    if (errno != EWOULDBLOCK)
      return os_failure(dir, errno);
    return protocol::make_error(error_code::data_dir_locked,
                                "data directory " + dir + " is in use by another tuttid (pid " +
                                    read_holder_pid(fd) +
                                    "); stop it or choose another --data-dir");
  }
  if (int err = write_pid(fd); err != 0)
    return os_failure(dir, err);
  return lock;
}

dir_lock::dir_lock(dir_lock&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}

dir_lock& dir_lock::operator=(dir_lock&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0)
      ::close(fd_);
    fd_ = std::exchange(other.fd_, -1);
  }
  return *this;
}

dir_lock::~dir_lock() {
  // Closing the last descriptor of the open file description releases the flock.
  if (fd_ >= 0)
    ::close(fd_);
}

} // namespace tutti::persistence::detail
