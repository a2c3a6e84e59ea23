#pragma once

// Private to persistence/: the exclusive lock that makes one tuttid the owner of a
// data directory.

#include <caf/expected.hpp>

#include <string>

namespace tutti::persistence::detail {

/// Holds an flock(LOCK_EX) on `dir/tuttid.lock`, which contains the owner's pid.
/// The kernel drops the lock when the owner dies, even by kill -9, so a stale file
/// never blocks a restart. The descriptor is close-on-exec: replicas spawned by the
/// process driver must not inherit the lock and outlive us holding it.
class dir_lock {
public:
  /// Fails with data_dir_locked naming the holder's pid when another open file
  /// description holds the lock (another process, or another store in this one);
  /// store_failure when the file cannot be created or written.
  static caf::expected<dir_lock> acquire(const std::string& dir);

  dir_lock(dir_lock&& other) noexcept;
  dir_lock& operator=(dir_lock&& other) noexcept;
  dir_lock(const dir_lock&) = delete;
  dir_lock& operator=(const dir_lock&) = delete;
  ~dir_lock();

private:
  explicit dir_lock(int fd) noexcept : fd_(fd) {}
  int fd_ = -1;
};

} // namespace tutti::persistence::detail
