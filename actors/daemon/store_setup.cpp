#include "actors/daemon/store_setup.hpp"

#include "persistence/etcd_store.hpp"
#include "persistence/lmdb_store.hpp"

#include <spdlog/spdlog.h>
#include "protocol/errors.hpp"

#include <fstream>
#include <sstream>

namespace tutti::actors {

namespace {

namespace p = tutti::protocol;

std::string lmdb_dir(const config::daemon_config& cfg) {
  return cfg.store.dir.empty() ? cfg.data_dir + "/store" : cfg.store.dir;
}

/// The first line of `path`, without its newline.
caf::expected<std::string> read_password(const std::string& path) {
  std::ifstream in{path};
  std::string line;
  if (!in || !std::getline(in, line))
    return p::make_error(p::error_code::invalid_argument,
                         "store.etcd.password_file '" + path +
                             "' cannot be read: give a file holding etcd's password");
  return line;
}

caf::expected<persistence::etcd::client_options> etcd_options(const config::etcd_config& c) {
  persistence::etcd::client_options opts;
  auto scheme = c.ca.empty() ? "http://" : "https://";
  for (const auto& ep : c.endpoints)
    opts.endpoints.push_back(scheme + ep.to_string());
  opts.timeout = std::chrono::duration_cast<std::chrono::milliseconds>(c.timeout);
  opts.ca = c.ca;
  opts.certificate = c.certificate;
  opts.key = c.key;
  opts.user = c.user;
  if (!c.password_file.empty()) {
    auto password = read_password(c.password_file);
    if (!password)
      return std::move(password.error());
    opts.password = std::move(*password);
  }
  return opts;
}

} // namespace

caf::expected<std::shared_ptr<persistence::etcd::client>>
make_etcd_client(const config::etcd_config& cfg) {
  auto copts = etcd_options(cfg);
  if (!copts)
    return std::move(copts.error());
  auto client = persistence::etcd::client::make(std::move(*copts));
  if (!client)
    return std::move(client.error());
  return std::shared_ptr<persistence::etcd::client>(std::move(*client));
}

caf::expected<opened_store>
open_configured_store(const config::daemon_config& cfg,
                      std::optional<persistence::write_fence> fence,
                      std::shared_ptr<persistence::etcd::reader> reads) {
  persistence::store_options opts;
  opts.map_size = cfg.store.map_size;
  if (cfg.store.backend == config::store_backend::lmdb) {
    auto db = persistence::lmdb_store::open(lmdb_dir(cfg), opts);
    if (!db)
      return std::move(db.error());
    if (!(*db)->upgrade_backup().empty())
      spdlog::warn("store: upgraded {} to format {}; the store as it was is kept in {}",
                   lmdb_dir(cfg), persistence::lmdb_store::format, (*db)->upgrade_backup());
    return opened_store{std::shared_ptr<persistence::store>(std::move(*db)), nullptr};
  }
  auto client = make_etcd_client(cfg.store.etcd);
  if (!client)
    return std::move(client.error());
  auto shared = std::move(*client);
  persistence::etcd_store_options eopts;
  eopts.prefix = cfg.store.etcd.prefix;
  eopts.max_txn_ops = cfg.store.etcd.max_txn_ops;
  auto db = persistence::etcd_store::open(shared, opts, eopts, std::move(reads));
  if (!db)
    return std::move(db.error());
  (*db)->set_fence(std::move(fence));
  return opened_store{std::shared_ptr<persistence::store>(std::move(*db)), shared};
}

std::string describe_store(const config::daemon_config& cfg) {
  if (cfg.store.backend == config::store_backend::lmdb)
    return "lmdb:" + lmdb_dir(cfg);
  std::string out = "etcd://";
  for (size_t i = 0; i < cfg.store.etcd.endpoints.size(); ++i)
    out += (i ? "," : "") + cfg.store.etcd.endpoints[i].to_string();
  return out + cfg.store.etcd.prefix;
}

} // namespace tutti::actors
