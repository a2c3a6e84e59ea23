#include "persistence/lmdb_store.hpp"

#include "persistence/records.hpp"
#include "persistence/store_impl.hpp"

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <filesystem>
#include <utility>

namespace tutti::persistence {

namespace {

using detail::decode_u64;
using detail::encode_u64;
using detail::has_name_prefix;
using detail::prefixed_key;
using protocol::error_code;
using protocol::make_error;

std::string human_size(uint64_t bytes) {
  constexpr uint64_t kib = 1024;
  constexpr uint64_t mib = kib * 1024;
  if (bytes >= mib && bytes % mib == 0)
    return std::to_string(bytes / mib) + " MiB";
  if (bytes >= kib && bytes % kib == 0)
    return std::to_string(bytes / kib) + " KiB";
  return std::to_string(bytes) + " bytes";
}

caf::error not_found(const std::string& name) {
  return make_error(error_code::not_found, "service " + name + " not found");
}

} // namespace

caf::error corrupt(const std::string& dir, const std::string& what) {
  return make_error(error_code::store_failure,
                    "corrupt store in " + dir + ": " + what +
                        "; the data directory is damaged, restore it from a backup");
}

// -- store_state --------------------------------------------------------------------

namespace {

/// LMDB maps its file and reads pages through the map: a page past the end of a
/// truncated file (a full disk, an incomplete copy) is a SIGBUS at the first read,
/// not an error. The meta page says how many pages the file holds; a shorter file
/// is refused before anything reads it.
caf::error check_file_size(const store_state& s, const MDB_envinfo& info) {
  MDB_stat stat;
  if (int rc = mdb_env_stat(s.env.get(), &stat); rc != 0)
    return corrupt(s.dir, std::string{"cannot read its header: "} + mdb_strerror(rc));
  auto file = std::filesystem::path{s.dir} / "data.mdb";
  std::error_code ec;
  auto actual = std::filesystem::file_size(file, ec);
  if (ec)
    return make_error(error_code::store_failure,
                      "cannot read the size of " + file.string() + ": " + ec.message());
  uint64_t needed = (uint64_t{info.me_last_pgno} + 1) * stat.ms_psize;
  if (actual >= needed)
    return {};
  return make_error(error_code::store_failure,
                    "store file " + file.string() + " is truncated: it has " +
                        std::to_string(actual) + " bytes but its pages reach " +
                        std::to_string(needed) +
                        " (a full disk or an incomplete copy); restore the data directory "
                        "from a backup, or move it away to start with an empty store");
}

caf::error create_env(store_state& s) {
  auto open_failed = [&s](int rc) {
    return make_error(error_code::store_failure,
                      "cannot open store in " + s.dir + ": " + mdb_strerror(rc));
  };
  MDB_env* raw = nullptr;
  if (int rc = mdb_env_create(&raw); rc != 0)
    return open_failed(rc);
  s.env.reset(raw);
  if (int rc = mdb_env_set_mapsize(raw, s.opts.map_size); rc != 0)
    return open_failed(rc);
  if (int rc = mdb_env_set_maxdbs(raw, 16); rc != 0)
    return open_failed(rc);
  // Durable: no MDB_NOSYNC / MDB_NOMETASYNC. MDB_NOTLS ties reader slots to
  // transactions, not threads, because the owning actor may move between threads.
  if (int rc = mdb_env_open(raw, s.dir.c_str(), MDB_NOTLS, 0644); rc != 0)
    return open_failed(rc);
  // A reader that died with kill -9 leaves its slot behind, which would keep its
  // snapshot's pages from being reused; the flock makes us the only process here.
  int stale = 0;
  if (int rc = mdb_reader_check(raw, &stale); rc != 0)
    return open_failed(rc);
  // LMDB keeps a larger existing map; messages should name the real size.
  MDB_envinfo info;
  if (int rc = mdb_env_info(raw, &info); rc != 0)
    return open_failed(rc);
  s.map_size = info.me_mapsize;
  return check_file_size(s, info);
}

caf::error open_databases(store_state& s) {
  auto& dbis = s.dbis;
  return s.write("create the databases", [&dbis](tx& t) -> caf::error {
    std::pair<const char*, MDB_dbi*> all[] = {
        {"specs", &dbis.specs},
        {"heads", &dbis.heads},
        {"lastrev", &dbis.lastrev},
        {"assignments", &dbis.assignments},
        {"assignment_log", &dbis.assignment_log},
        {"nodes", &dbis.nodes},
        {"events", &dbis.events},
        {"service_events", &dbis.service_events},
        {"objects", &dbis.objects},
        {"meta", &dbis.meta},
    };
    for (auto [name, dbi] : all)
      if (auto err = t.check(mdb_dbi_open(t.handle(), name, MDB_CREATE, dbi)))
        return err;
    return {};
  });
}

/// Seqs continue after the highest one kept, which pruning never removes.
caf::error load_last_seq(store_state& s) {
  return s.read("read the last event", [&s](tx& t) {
    auto last = [&s](std::string_view key, std::string_view) -> caf::expected<step> {
      if (key.size() != 8)
        return corrupt(s.dir, "an event key is not 8 bytes");
      s.last_seq = decode_u64(key);
      return step::stop;
    };
    return t.scan_back(s.dbis.events, {}, last);
  });
}

} // namespace

caf::error store_state::open_env() {
  if (auto err = create_env(*this))
    return err;
  if (auto err = open_databases(*this))
    return err;
  if (auto err = check_format(*this))
    return err;
  if (auto err = load_assignment_log(*this))
    return err;
  return load_last_seq(*this);
}

caf::error store_state::failure(int rc, std::string_view doing) const {
  if (rc == MDB_MAP_FULL)
    return make_error(error_code::store_full,
                      "store in " + dir + " is full (store.map_size is " + human_size(map_size) +
                          ") and could not " + std::string{doing} +
                          "; raise store.map_size and restart, or free space in it "
                          "(keep fewer events or revisions, delete unused services)");
  if (rc == ENOSPC)
    return make_error(error_code::store_full, "no space left on the disk of " + dir + " to " +
                                                  std::string{doing} + "; free disk space");
  return make_error(error_code::store_failure, "store in " + dir + " could not " +
                                                   std::string{doing} + ": " + mdb_strerror(rc));
}

caf::error store_state::check_name(std::string_view name, std::string_view what) const {
  auto invalid = [&](std::string_view why) {
    return make_error(error_code::invalid_argument,
                      std::string{what} + " name " + std::string{why});
  };
  if (name.empty())
    return invalid("must not be empty");
  if (name.find('\0') != std::string_view::npos)
    return invalid("must not contain NUL bytes");
  auto max = static_cast<size_t>(mdb_env_get_maxkeysize(env.get())) - 9;
  if (name.size() > max)
    return invalid("is longer than " + std::to_string(max) + " bytes");
  return {};
}

int64_t store_state::now_ms() const {
  if (opts.clock_ms)
    return opts.clock_ms();
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

// -- tx -----------------------------------------------------------------------------

caf::error tx::check(int rc) const {
  return rc == 0 ? caf::error{} : store_.failure(rc, doing_);
}

caf::error tx::put(MDB_dbi dbi, std::string_view key, std::string_view value) {
  auto k = detail::to_val(key);
  auto v = detail::to_val(value);
  return check(mdb_put(handle_, dbi, &k, &v, 0));
}

caf::expected<bool> tx::insert(MDB_dbi dbi, std::string_view key, std::string_view value) {
  auto k = detail::to_val(key);
  auto v = detail::to_val(value);
  int rc = mdb_put(handle_, dbi, &k, &v, MDB_NOOVERWRITE);
  if (rc == MDB_KEYEXIST)
    return false;
  if (rc != 0)
    return check(rc);
  return true;
}

caf::error tx::append(MDB_dbi dbi, std::string_view key, std::string_view value) {
  auto k = detail::to_val(key);
  auto v = detail::to_val(value);
  return check(mdb_put(handle_, dbi, &k, &v, MDB_APPEND));
}

caf::error tx::clear(MDB_dbi dbi) {
  return check(mdb_drop(handle_, dbi, 0));
}

caf::error tx::del(MDB_dbi dbi, std::string_view key) {
  auto k = detail::to_val(key);
  int rc = mdb_del(handle_, dbi, &k, nullptr);
  return rc == MDB_NOTFOUND ? caf::error{} : check(rc);
}

caf::expected<std::optional<std::string_view>> tx::get(MDB_dbi dbi, std::string_view key) {
  auto k = detail::to_val(key);
  MDB_val v{0, nullptr};
  int rc = mdb_get(handle_, dbi, &k, &v);
  if (rc == MDB_NOTFOUND)
    return std::optional<std::string_view>{};
  if (rc != 0)
    return check(rc);
  return std::optional<std::string_view>{detail::to_view(v)};
}

caf::expected<uint64_t> tx::get_u64(MDB_dbi dbi, std::string_view key) {
  auto value = get(dbi, key);
  if (!value)
    return std::move(value.error());
  if (!*value)
    return uint64_t{0};
  if ((*value)->size() != 8)
    return corrupt(store_.dir, "a revision record is not 8 bytes");
  return decode_u64(**value);
}

// -- lifecycle ----------------------------------------------------------------------

caf::expected<std::unique_ptr<lmdb_store>> lmdb_store::open(const std::string& dir,
                                                            store_options opts) {
  if (dir.empty())
    return make_error(error_code::invalid_argument, "the data directory must be named");
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec)
    return make_error(error_code::store_failure,
                      "cannot open store in " + dir + ": " + ec.message());
  auto lock = detail::dir_lock::acquire(dir);
  if (!lock)
    return std::move(lock.error());
  auto state = std::make_unique<impl>(dir, std::move(opts), std::move(*lock));
  if (auto err = state->open_env())
    return err;
  return std::unique_ptr<lmdb_store>{new lmdb_store(std::move(state))};
}

lmdb_store::lmdb_store(std::unique_ptr<impl> x) : impl_(std::move(x)) {}

lmdb_store::~lmdb_store() = default;

const std::string& lmdb_store::dir() const {
  return impl_->dir;
}

const std::string& lmdb_store::upgrade_backup() const {
  return impl_->upgrade_backup;
}

// -- specs --------------------------------------------------------------------------

namespace {

/// Drops the revisions of `name` that fall out of the kept window ending at `rev`.
caf::error prune_revisions(tx& t, const std::string& name, uint64_t rev) {
  auto keep = static_cast<uint64_t>(std::max<int64_t>(1, t.store().opts.max_revisions));
  if (rev <= keep)
    return {};
  auto floor = rev - keep;
  std::vector<std::string> doomed;
  auto err = t.scan(t.store().dbis.specs, prefixed_key(name, 0),
                    [&](std::string_view key, std::string_view) -> caf::expected<step> {
                      if (!has_name_prefix(key, name) || decode_u64(key) > floor)
                        return step::stop;
                      doomed.emplace_back(key);
                      return step::next;
                    });
  if (err)
    return err;
  for (const auto& key : doomed)
    if (auto err = t.del(t.store().dbis.specs, key))
      return err;
  return {};
}

caf::expected<stored_spec> put_spec(tx& t, const std::string& name, const std::string& yaml,
                                    int64_t now) {
  const auto& dbis = t.store().dbis;
  auto last = t.get_u64(dbis.lastrev, name);
  if (!last)
    return std::move(last.error());
  auto rev = *last + 1;
  stored_spec x{name, static_cast<int64_t>(rev), yaml, now};
  auto rev_bytes = encode_u64(rev);
  if (auto err = t.put(dbis.specs, prefixed_key(name, rev), detail::encode_spec_value(x)))
    return err;
  if (auto err = t.put(dbis.heads, name, rev_bytes))
    return err;
  if (auto err = t.put(dbis.lastrev, name, rev_bytes))
    return err;
  if (auto err = prune_revisions(t, name, rev))
    return err;
  return x;
}

caf::expected<stored_spec> decode_spec(std::string_view key, std::string_view value) {
  stored_spec x;
  x.name = std::string{key.substr(0, key.size() - 9)};
  x.revision = static_cast<int64_t>(decode_u64(key));
  if (auto err = detail::decode_spec_value(value, x))
    return err;
  return x;
}

/// The revision `rev` of `name`, which a head names and pruning therefore kept.
caf::expected<stored_spec> load_spec(tx& t, const std::string& name, uint64_t rev) {
  auto key = prefixed_key(name, rev);
  auto value = t.get(t.store().dbis.specs, key);
  if (!value)
    return std::move(value.error());
  if (!*value)
    return corrupt(t.store().dir,
                   "revision " + std::to_string(rev) + " of service " + name + " is missing");
  return decode_spec(key, **value);
}

} // namespace

caf::expected<std::vector<stored_spec>>
lmdb_store::put_specs(const std::vector<std::pair<std::string, std::string>>& name_and_yaml) {
  for (const auto& entry : name_and_yaml)
    if (auto err = impl_->check_name(entry.first, "service"))
      return err;
  std::vector<stored_spec> out;
  auto now = impl_->now_ms();
  auto err = impl_->write("store specs", [&](tx& t) -> caf::error {
    for (const auto& [name, yaml] : name_and_yaml) {
      auto stored = put_spec(t, name, yaml, now);
      if (!stored)
        return std::move(stored.error());
      out.push_back(std::move(*stored));
    }
    return {};
  });
  if (err)
    return err;
  return out;
}

caf::error lmdb_store::delete_service(const std::string& name) {
  if (auto err = impl_->check_name(name, "service"))
    return err;
  assignment_writes changes{*impl_};
  auto err = impl_->write("delete service " + name, [&](tx& t) -> caf::error {
    auto head = t.get(impl_->dbis.heads, name);
    if (!head)
      return std::move(head.error());
    if (!*head)
      return not_found(name);
    if (auto err = t.del(impl_->dbis.heads, name))
      return err;
    return changes.remove_service(t, name);
  });
  if (err)
    return err;
  changes.committed();
  return {};
}

caf::expected<std::optional<stored_spec>> lmdb_store::current_spec(const std::string& name) {
  if (auto err = impl_->check_name(name, "service"))
    return err;
  std::optional<stored_spec> out;
  auto err = impl_->read("read service " + name, [&](tx& t) -> caf::error {
    auto rev = t.get_u64(impl_->dbis.heads, name);
    if (!rev)
      return std::move(rev.error());
    if (*rev == 0)
      return {};
    auto spec = load_spec(t, name, *rev);
    if (!spec)
      return std::move(spec.error());
    out = std::move(*spec);
    return {};
  });
  if (err)
    return err;
  return out;
}

caf::expected<std::vector<stored_spec>> lmdb_store::current_specs() {
  std::vector<stored_spec> out;
  auto err = impl_->read("read the services", [&](tx& t) {
    return t.scan(impl_->dbis.heads, {},
                  [&](std::string_view key, std::string_view value) -> caf::expected<step> {
                    if (value.size() != 8)
                      return corrupt(impl_->dir, "a revision record is not 8 bytes");
                    auto spec = load_spec(t, std::string{key}, decode_u64(value));
                    if (!spec)
                      return std::move(spec.error());
                    out.push_back(std::move(*spec));
                    return step::next;
                  });
  });
  if (err)
    return err;
  return out;
}

caf::expected<std::vector<stored_spec>> lmdb_store::history(const std::string& name) {
  if (auto err = impl_->check_name(name, "service"))
    return err;
  std::vector<stored_spec> out;
  auto err = impl_->read("read the history of " + name, [&](tx& t) {
    return t.scan(impl_->dbis.specs, prefixed_key(name, 0),
                  [&](std::string_view key, std::string_view value) -> caf::expected<step> {
                    if (!has_name_prefix(key, name))
                      return step::stop;
                    auto spec = decode_spec(key, value);
                    if (!spec)
                      return std::move(spec.error());
                    out.push_back(std::move(*spec));
                    return step::next;
                  });
  });
  if (err)
    return err;
  return out;
}

// -- nodes --------------------------------------------------------------------------

caf::error lmdb_store::put_node(const protocol::node_status& x) {
  if (auto err = impl_->check_name(x.name, "node"))
    return err;
  return impl_->write("store node " + x.name, [&](tx& t) {
    return t.put(impl_->dbis.nodes, x.name, detail::encode_node(x));
  });
}

caf::expected<std::vector<protocol::node_status>> lmdb_store::nodes() {
  std::vector<protocol::node_status> out;
  auto err = impl_->read("read nodes", [&](tx& t) {
    return t.scan(impl_->dbis.nodes, {},
                  [&](std::string_view, std::string_view value) -> caf::expected<step> {
                    auto x = detail::decode_node(value);
                    if (!x)
                      return std::move(x.error());
                    out.push_back(std::move(*x));
                    return step::next;
                  });
  });
  if (err)
    return err;
  return out;
}

// -- objects ------------------------------------------------------------------------

namespace {

std::string object_key(protocol::object_kind kind, std::string_view name) {
  return protocol::to_string(kind) + std::string(1, '\0') + std::string{name};
}

} // namespace

caf::error lmdb_store::put_object(const protocol::stored_object& x) {
  if (auto err = impl_->check_name(x.name, protocol::to_string(x.kind)))
    return err;
  return impl_->write("store " + protocol::to_string(x.kind) + " " + x.name, [&](tx& t) {
    return t.put(impl_->dbis.objects, object_key(x.kind, x.name), x.value);
  });
}

caf::error lmdb_store::remove_object(protocol::object_kind kind, const std::string& name) {
  if (auto err = impl_->check_name(name, protocol::to_string(kind)))
    return err;
  return impl_->write("remove " + protocol::to_string(kind) + " " + name,
                      [&](tx& t) { return t.del(impl_->dbis.objects, object_key(kind, name)); });
}

caf::expected<uint64_t> lmdb_store::prune_objects(protocol::object_kind kind, uint64_t keep) {
  auto prefix = object_key(kind, {});
  uint64_t removed = 0;
  auto err = impl_->write("prune " + protocol::to_string(kind) + " records", [&](tx& t) -> caf::error {
    std::vector<std::string> keys;
    auto scanned = t.scan(impl_->dbis.objects, prefix,
                          [&](std::string_view key, std::string_view) -> caf::expected<step> {
                            if (key.substr(0, prefix.size()) != prefix)
                              return step::stop;
                            keys.emplace_back(key);
                            return step::next;
                          });
    if (scanned)
      return scanned;
    if (keys.size() <= keep)
      return {};
    for (size_t i = 0; i < keys.size() - keep; ++i)
      if (auto e = t.del(impl_->dbis.objects, keys[i]))
        return e;
    removed = keys.size() - keep;
    return {};
  });
  if (err)
    return err;
  return removed;
}

caf::expected<std::vector<protocol::stored_object>>
lmdb_store::objects(protocol::object_kind kind, const std::string& after, size_t limit) {
  std::vector<protocol::stored_object> out;
  auto prefix = object_key(kind, {});
  auto from = object_key(kind, after);
  auto err = impl_->read("read " + protocol::to_string(kind) + " records", [&](tx& t) {
    return t.scan(impl_->dbis.objects, from,
                  [&](std::string_view key, std::string_view value) -> caf::expected<step> {
                    if (key.substr(0, prefix.size()) != prefix || out.size() >= limit)
                      return step::stop;
                    if (!after.empty() && key == from)
                      return step::next;
                    out.push_back({kind, std::string{key.substr(prefix.size())}, std::string{value}});
                    return step::next;
                  });
  });
  if (err)
    return err;
  return out;
}

} // namespace tutti::persistence
