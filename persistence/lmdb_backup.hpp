#pragma once

// Restoring a backup that `tutti backup create` took (lmdb_store::write_backup):
// offline, into the store directory of a stopped control plane, on this
// machine or a new one.

#include <caf/expected.hpp>

#include <cstdint>
#include <string>

namespace tutti::persistence {

/// What a restored store holds, and where the one it replaced went.
struct restore_report {
  std::string store_dir;
  std::string kept; // the replaced data.mdb, moved aside; empty when there was none
  uint64_t bytes = 0;
  size_t services = 0;
  size_t assignments = 0;
  size_t nodes = 0;
  size_t tokens = 0;
};

/// Checks that `file` is a tutti store (opening a copy of it: its size, its
/// databases, its format, upgraded when older), then makes it the store of
/// `store_dir` (created when missing). The store it replaces is kept beside
/// it as data.mdb.before-restore-TIME. Fails, changing nothing, when a tuttid
/// holds `store_dir` (data_dir_locked, naming its pid) or `file` is no store.
caf::expected<restore_report> restore_backup(const std::string& file,
                                             const std::string& store_dir);

} // namespace tutti::persistence
