#pragma once

// The sending end of `tutti backup create`: the store's copy, streamed from a
// file to the client's BackupSink.

#include "protocol/api.capnp.h"

#include <caf/expected.hpp>

#include <kj/async.h>

#include <cstdint>
#include <string>

namespace tutti::actors {

struct backup_sent {
  uint64_t bytes = 0;
  std::string sha256; // hex
};

/// A fresh file name in `dir` (created, mode 0700) for the store to copy
/// itself into.
caf::expected<std::string> backup_file(const std::string& dir);

/// Makes `dir` (mode 0700) and removes the copies a previous run of tuttid
/// left there (it ended mid-send). At start.
void clear_backup_files(const std::string& dir);

/// Streams the file at `path` to `sink` in pieces (each acknowledged, so the
/// client's stream window bounds what is in flight), and removes the file
/// however it ends. A client that goes away ends it with the reason.
kj::Promise<caf::expected<backup_sent>> send_backup(std::string path,
                                                   protocol::rpc::BackupSink::Client sink);

} // namespace tutti::actors
