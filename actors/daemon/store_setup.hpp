#pragma once

// The store a control process keeps its state in, as its config says:
// LMDB in a directory (the default: DATA_DIR/store) or etcd.

#include "config/daemon_config.hpp"
#include "persistence/etcd_client.hpp"
#include "persistence/etcd_store.hpp"
#include "persistence/store.hpp"

#include <caf/expected.hpp>

#include <memory>
#include <optional>

namespace tutti::actors {

struct opened_store {
  std::shared_ptr<persistence::store> store;
  std::shared_ptr<persistence::etcd::client> etcd; // null for LMDB
};

/// Opens the configured store; an etcd store's writes are fenced by `fence`
/// (the leadership of this control process). Errors name what to fix: a
/// locked or damaged directory, an etcd that does not answer, an unreadable
/// password file.
/// `reads`: where an etcd store's reads go when not to etcd itself (a
/// standby's copy, persistence/etcd_mirror.hpp).
caf::expected<opened_store>
open_configured_store(const config::daemon_config& cfg,
                      std::optional<persistence::write_fence> fence = std::nullopt,
                      std::shared_ptr<persistence::etcd::reader> reads = nullptr);

/// A client of the configured etcd (the store's endpoints, TLS and user).
caf::expected<std::shared_ptr<persistence::etcd::client>>
make_etcd_client(const config::etcd_config& cfg);

/// "lmdb:DIR" or "etcd://HOST:PORT,..." for logs and `tutti version`.
std::string describe_store(const config::daemon_config& cfg);

} // namespace tutti::actors
