#include "persistence/etcd_store.hpp"

#include "persistence/records.hpp"
#include "protocol/errors.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <functional>
#include <limits>
#include <map>
#include <set>
#include <utility>

namespace tutti::persistence {

namespace {

using protocol::error_code;
using protocol::make_error;

// LMDB's limit (its key size less the revision suffix), kept for etcd so that a
// name either backend takes, the other takes too.
constexpr size_t max_name_bytes = 502;

// Keys per range request: a page of assignments stays a few MB of JSON.
constexpr int64_t page_size = 4096;

// Attempts of a spec write whose heads another writer changed meanwhile.
constexpr int conflict_attempts = 3;

std::string number_key(uint64_t n) {
  char buf[21];
  std::snprintf(buf, sizeof buf, "%020llu", static_cast<unsigned long long>(n));
  return buf;
}

/// The number after the last NUL of `key` (or the whole key), 0 when malformed.
uint64_t number_of(const std::string& key) {
  auto start = key.rfind('\0');
  auto digits = key.substr(start == std::string::npos ? 0 : start + 1);
  uint64_t n = 0;
  for (char c : digits) {
    if (c < '0' || c > '9')
      return 0;
    n = n * 10 + static_cast<uint64_t>(c - '0');
  }
  return n;
}

/// A replica id is "SERVICE-SLOT".
std::string service_of_replica(const std::string& replica) {
  auto dash = replica.rfind('-');
  return dash == std::string::npos ? std::string{} : replica.substr(0, dash);
}

caf::error check_name(const std::string& name, std::string_view what) {
  auto invalid = [&](std::string_view why) {
    return make_error(error_code::invalid_argument,
                      std::string{what} + " name " + std::string{why});
  };
  if (name.empty())
    return invalid("must not be empty");
  if (name.find('\0') != std::string::npos)
    return invalid("must not contain NUL bytes");
  if (name.size() > max_name_bytes)
    return invalid("is longer than " + std::to_string(max_name_bytes) + " bytes");
  return {};
}

caf::expected<std::vector<protocol::event>> decode_events(const etcd::range_result& r) {
  std::vector<protocol::event> out;
  for (const auto& kv : r.kvs) {
    auto x = detail::decode_event(kv.value);
    if (!x)
      return std::move(x.error());
    out.push_back(std::move(*x));
  }
  return out;
}

caf::error not_found(const std::string& name) {
  return make_error(error_code::not_found, "service " + name + " not found");
}

caf::error corrupt(const std::string& key, const std::string& what) {
  return make_error(error_code::store_failure,
                    "corrupt record " + key + " in etcd: " + what +
                        "; restore etcd from a snapshot (etcdctl snapshot restore)");
}

struct head {
  uint64_t current = 0; // 0: deleted
  uint64_t last = 0;
  int64_t mod_revision = 0; // 0: no head yet
};

std::string encode_head(const head& h) {
  return nlohmann::json{{"current", h.current}, {"last", h.last}}.dump();
}

caf::expected<head> decode_head(const etcd::key_value& kv) {
  auto j = nlohmann::json::parse(kv.value, nullptr, false);
  if (!j.is_object() || !j.value("current", nlohmann::json{}).is_number_unsigned() ||
      !j.value("last", nlohmann::json{}).is_number_unsigned())
    return corrupt(kv.key, "a head is not {\"current\": N, \"last\": N}");
  return head{j["current"].get<uint64_t>(), j["last"].get<uint64_t>(), kv.mod_revision};
}

} // namespace

// -- impl -------------------------------------------------------------------------

struct etcd_store::impl {
  std::shared_ptr<etcd::client> db;
  std::shared_ptr<etcd::reader> reads; // db, or a copy of it kept current
  store_options opts;
  etcd_store_options eopts;
  std::optional<write_fence> fence;
  uint64_t last_seq = 0;
  int64_t seq_mod_revision = 0; // of the "seq" key as this store last wrote or read it

  std::string key(std::string_view kind, std::string_view name = {}) const {
    return eopts.prefix + std::string{kind} + std::string{name};
  }
  std::string head_key(const std::string& name) const { return key("head/", name); }
  std::string spec_prefix(const std::string& name) const {
    return key("spec/", name) + std::string(1, '\0');
  }
  std::string assign_prefix(const std::string& service) const {
    return key("assign/", service) + std::string(1, '\0');
  }
  std::string assign_key(const std::string& replica) const {
    return assign_prefix(service_of_replica(replica)) + replica;
  }
  std::string event_key(uint64_t seq) const { return key("event/") + number_key(seq); }
  std::string service_event_prefix(const std::string& service) const {
    return key("service_event/", service) + std::string(1, '\0');
  }
  std::string seq_key() const { return key("seq"); }

  int64_t now_ms() const {
    if (opts.clock_ms)
      return opts.clock_ms();
    using namespace std::chrono;
    return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
  }

  /// Events at or below this seq are pruned (or about to be).
  uint64_t event_floor() const {
    auto keep = std::max<uint64_t>(1, opts.max_events);
    return last_seq > keep ? last_seq - keep : 0;
  }

  /// Every key in [begin, end), in pages read at one revision of the store.
  caf::error scan(const std::string& begin, const std::string& end,
                  const std::function<caf::error(const etcd::key_value&)>& each) const {
    auto from = begin;
    int64_t revision = 0;
    for (;;) {
      auto r = reads->range(from, end, page_size, revision);
      if (!r)
        return std::move(r.error());
      for (const auto& kv : r->kvs)
        if (auto err = each(kv))
          return err;
      if (!r->more || r->kvs.empty())
        return {};
      from = r->kvs.back().key + std::string(1, '\0');
      revision = r->revision;
    }
  }

  caf::error scan_prefix(const std::string& prefix,
                         const std::function<caf::error(const etcd::key_value&)>& each) const {
    return scan(prefix, etcd::prefix_end(prefix), each);
  }

  /// Every value under `prefix`, decoded by `decode` (a key_value to an expected T).
  template <class T, class Decode>
  caf::expected<std::vector<T>> collect(const std::string& prefix, Decode decode) const {
    std::vector<T> out;
    auto err = scan_prefix(prefix, [&](const etcd::key_value& kv) -> caf::error {
      auto x = decode(kv);
      if (!x)
        return std::move(x.error());
      out.push_back(std::move(*x));
      return {};
    });
    if (err)
      return err;
    return out;
  }

  caf::expected<head> read_head(const std::string& name) const {
    auto r = reads->range(head_key(name));
    if (!r)
      return std::move(r.error());
    if (r->kvs.empty())
      return head{};
    return decode_head(r->kvs.front());
  }

  caf::expected<stored_spec> read_spec(const std::string& name, uint64_t rev) const {
    auto k = spec_prefix(name) + number_key(rev);
    auto r = reads->range(k);
    if (!r)
      return std::move(r.error());
    if (r->kvs.empty())
      return corrupt(k, "revision " + std::to_string(rev) + " of service " + name +
                            " is missing though its head names it");
    return decode_spec(name, r->kvs.front());
  }

  static caf::expected<stored_spec> decode_spec(const std::string& name,
                                                const etcd::key_value& kv) {
    stored_spec x;
    x.name = name;
    x.revision = static_cast<int64_t>(number_of(kv.key));
    if (auto err = detail::decode_spec_value(kv.value, x))
      return err;
    return x;
  }

  caf::error too_many_ops(size_t needed, std::string_view what) const {
    return make_error(error_code::invalid_argument,
                      std::string{what} + " needs " + std::to_string(needed) +
                          " operations in one etcd transaction, more than its limit of " +
                          std::to_string(eopts.max_txn_ops) +
                          " (etcd's --max-txn-ops): split it, or raise both etcd's "
                          "--max-txn-ops and store.etcd.max_txn_ops");
  }

  /// Runs `ops` in one transaction if `compares` (and the fence) hold: the
  /// store's revision after it, or 0 when a compare failed (nothing written). A
  /// failed fence is not_leader.
  caf::expected<int64_t> write(std::vector<etcd::compare> compares,
                               std::vector<etcd::operation> ops) {
    std::vector<etcd::operation> on_failure;
    if (fence) {
      compares.push_back({fence->key, etcd::compare_target::create_revision,
                          etcd::compare_result::equal, fence->create_revision, {}});
      on_failure.push_back(etcd::range_op{fence->key, {}});
    }
    auto r = db->txn(compares, ops, on_failure);
    if (!r)
      return std::move(r.error());
    if (r->succeeded)
      return r->revision;
    if (fence && !fence_holds(*r))
      return make_error(error_code::not_leader,
                        "this control process no longer leads (its election key " + fence->key +
                            " is gone or another's): it writes nothing; the leader does");
    return int64_t{0};
  }

  bool fence_holds(const etcd::txn_result& r) const {
    if (r.ranges.empty() || r.ranges.front().kvs.empty())
      return false;
    return r.ranges.front().kvs.front().create_revision == fence->create_revision;
  }

  caf::error reload_seq() {
    auto r = reads->range(seq_key());
    if (!r)
      return std::move(r.error());
    if (r->kvs.empty()) {
      last_seq = 0;
      seq_mod_revision = 0;
      return {};
    }
    last_seq = number_of(r->kvs.front().value);
    seq_mod_revision = r->kvs.front().mod_revision;
    return {};
  }

  /// The operations that append `xs` (seqs from last_seq + 1) and prune what
  /// falls out of the kept window.
  std::vector<etcd::operation> event_ops(std::vector<protocol::event>& xs, int64_t now) const {
    std::vector<etcd::operation> ops;
    auto seq = last_seq;
    auto keep = std::max<uint64_t>(1, opts.max_events);
    auto last = last_seq + xs.size();
    auto floor = last > keep ? last - keep : 0; // events up to it go
    std::set<std::string> services;
    for (auto& x : xs) {
      x.seq = ++seq;
      if (x.time_ms == 0)
        x.time_ms = now;
      if (x.seq <= floor)
        continue; // pruned by this very write (etcd refuses a put inside a delete)
      auto value = detail::encode_event(x);
      ops.push_back(etcd::put_op{event_key(x.seq), value, 0});
      if (!x.service.empty()) {
        ops.push_back(etcd::put_op{service_event_prefix(x.service) + number_key(x.seq), value, 0});
        services.insert(x.service);
      }
    }
    ops.push_back(etcd::put_op{seq_key(), std::to_string(seq), 0});
    if (floor > 0) {
      ops.push_back(etcd::delete_op{key("event/"), event_key(floor + 1)});
      // Index entries of other services go when those services next log an
      // event; reads never return entries below the floor meanwhile.
      for (const auto& s : services)
        ops.push_back(
            etcd::delete_op{service_event_prefix(s), service_event_prefix(s) + number_key(floor + 1)});
    }
    return ops;
  }

  caf::error seq_conflict() {
    static_cast<void>(reload_seq());
    return make_error(error_code::store_failure,
                      "another writer appended events to etcd at the same time (two control "
                      "processes that both lead?); nothing of this write was stored");
  }

  /// One transaction of a group commit: its assignment and node operations,
  /// then its events.
  caf::expected<std::vector<protocol::event>> commit_chunk(std::vector<etcd::operation> ops,
                                                           std::vector<protocol::event> events) {
    std::vector<etcd::compare> compares;
    if (!events.empty()) {
      auto more = event_ops(events, now_ms());
      ops.insert(ops.end(), more.begin(), more.end());
      compares.push_back({seq_key(), etcd::compare_target::mod_revision,
                          etcd::compare_result::equal, seq_mod_revision, {}});
    }
    if (ops.size() > eopts.max_txn_ops)
      return too_many_ops(ops.size(), "a group commit");
    auto rev = write(compares, std::move(ops));
    if (!rev)
      return std::move(rev.error());
    if (!events.empty()) {
      if (*rev == 0) // the seq's compare failed
        return seq_conflict();
      last_seq = events.back().seq;
      seq_mod_revision = *rev;
    }
    return events;
  }
};

// -- lifecycle ----------------------------------------------------------------------

caf::expected<std::unique_ptr<etcd_store>>
etcd_store::open(std::shared_ptr<etcd::client> client, store_options opts,
                 etcd_store_options etcd_opts, std::shared_ptr<etcd::reader> reads) {
  if (etcd_opts.max_txn_ops < 8)
    return make_error(error_code::invalid_argument,
                      "store.etcd.max_txn_ops must be at least 8 (etcd's default is 128)");
  auto x = std::make_unique<impl>();
  x->db = std::move(client);
  x->reads = reads ? std::move(reads) : x->db;
  x->opts = std::move(opts);
  x->eopts = std::move(etcd_opts);
  if (auto err = x->reload_seq())
    return err;
  return std::unique_ptr<etcd_store>{new etcd_store(std::move(x))};
}

etcd_store::etcd_store(std::unique_ptr<impl> x) : impl_(std::move(x)) {}

etcd_store::~etcd_store() = default;

void etcd_store::set_fence(std::optional<write_fence> fence) {
  impl_->fence = std::move(fence);
}

caf::error etcd_store::reload() {
  return impl_->reload_seq();
}

// -- specs --------------------------------------------------------------------------

caf::expected<std::vector<stored_spec>>
etcd_store::put_specs(const std::vector<std::pair<std::string, std::string>>& name_and_yaml) {
  for (const auto& entry : name_and_yaml)
    if (auto err = check_name(entry.first, "service"))
      return err;
  if (name_and_yaml.empty())
    return std::vector<stored_spec>{};
  auto keep = static_cast<uint64_t>(std::max<int64_t>(1, impl_->opts.max_revisions));
  for (int attempt = 1;; ++attempt) {
    std::map<std::string, head> heads;
    for (const auto& [name, yaml] : name_and_yaml) {
      if (heads.count(name))
        continue;
      auto h = impl_->read_head(name);
      if (!h)
        return std::move(h.error());
      heads[name] = *h;
    }
    std::vector<etcd::compare> compares;
    for (const auto& [name, h] : heads)
      compares.push_back({impl_->head_key(name), etcd::compare_target::mod_revision,
                          etcd::compare_result::equal, h.mod_revision, {}});
    std::vector<stored_spec> out;
    std::vector<etcd::operation> ops;
    auto now = impl_->now_ms();
    auto final_heads = heads;
    for (const auto& [name, yaml] : name_and_yaml)
      ++final_heads[name].last;
    for (const auto& [name, yaml] : name_and_yaml) {
      auto& h = heads[name];
      h.current = h.last = h.last + 1;
      stored_spec x{name, static_cast<int64_t>(h.last), yaml, now};
      // A revision this write already prunes (a name given more than max_revisions
      // times) is not written: etcd refuses a put inside a delete of one transaction.
      if (h.last + keep > final_heads[name].last)
        ops.push_back(etcd::put_op{impl_->spec_prefix(name) + number_key(h.last),
                                   detail::encode_spec_value(x), 0});
      out.push_back(std::move(x));
    }
    for (const auto& [name, h] : heads) {
      ops.push_back(etcd::put_op{impl_->head_key(name), encode_head(h), 0});
      if (h.last > keep)
        ops.push_back(etcd::delete_op{impl_->spec_prefix(name),
                                      impl_->spec_prefix(name) + number_key(h.last - keep + 1)});
    }
    if (ops.size() + compares.size() > impl_->eopts.max_txn_ops)
      return impl_->too_many_ops(ops.size() + compares.size(),
                                 "an apply of " + std::to_string(name_and_yaml.size()) +
                                     " specs");
    auto rev = impl_->write(std::move(compares), std::move(ops));
    if (!rev)
      return std::move(rev.error());
    if (*rev != 0)
      return out;
    if (attempt == conflict_attempts)
      return make_error(error_code::store_failure,
                        "the services' heads in etcd kept changing under this write (" +
                            std::to_string(conflict_attempts) +
                            " attempts): another writer is active; nothing was stored");
  }
}

caf::error etcd_store::delete_service(const std::string& name) {
  if (auto err = check_name(name, "service"))
    return err;
  auto h = impl_->read_head(name);
  if (!h)
    return std::move(h.error());
  if (h->current == 0)
    return not_found(name);
  auto gone = *h;
  gone.current = 0;
  std::vector<etcd::compare> compares{{impl_->head_key(name), etcd::compare_target::mod_revision,
                                       etcd::compare_result::equal, h->mod_revision, {}}};
  auto prefix = impl_->assign_prefix(name);
  std::vector<etcd::operation> ops{etcd::put_op{impl_->head_key(name), encode_head(gone), 0},
                                   etcd::delete_op{prefix, etcd::prefix_end(prefix)}};
  auto rev = impl_->write(std::move(compares), std::move(ops));
  if (!rev)
    return std::move(rev.error());
  if (*rev == 0)
    return make_error(error_code::store_failure, "service " + name +
                                                     " changed in etcd during its delete "
                                                     "(another writer?); nothing was deleted");
  return {};
}

caf::expected<std::optional<stored_spec>> etcd_store::current_spec(const std::string& name) {
  if (auto err = check_name(name, "service"))
    return err;
  auto h = impl_->read_head(name);
  if (!h)
    return std::move(h.error());
  if (h->current == 0)
    return std::optional<stored_spec>{};
  auto spec = impl_->read_spec(name, h->current);
  if (!spec)
    return std::move(spec.error());
  return std::optional<stored_spec>{std::move(*spec)};
}

caf::expected<std::vector<stored_spec>> etcd_store::current_specs() {
  std::vector<std::pair<std::string, uint64_t>> current;
  auto heads = impl_->key("head/");
  auto err = impl_->scan_prefix(heads, [&](const etcd::key_value& kv) -> caf::error {
    auto h = decode_head(kv);
    if (!h)
      return std::move(h.error());
    if (h->current != 0)
      current.emplace_back(kv.key.substr(heads.size()), h->current);
    return {};
  });
  if (err)
    return err;
  std::vector<stored_spec> out;
  for (const auto& [name, rev] : current) {
    auto spec = impl_->read_spec(name, rev);
    if (!spec)
      return std::move(spec.error());
    out.push_back(std::move(*spec));
  }
  return out;
}

caf::expected<std::vector<stored_spec>> etcd_store::history(const std::string& name) {
  if (auto err = check_name(name, "service"))
    return err;
  return impl_->collect<stored_spec>(impl_->spec_prefix(name), [&](const etcd::key_value& kv) {
    return impl::decode_spec(name, kv);
  });
}

// -- assignments --------------------------------------------------------------------

namespace {

/// A single write as a group commit of one: the same transaction and checks.
template <class Fill> caf::error commit_one(etcd_store& self, Fill fill) {
  store::write_batch batch;
  fill(batch);
  auto r = self.commit(std::move(batch));
  return r ? caf::error{} : std::move(r.error());
}

} // namespace

caf::error etcd_store::put_assignment(const assignment& x) {
  return commit_one(*this, [&](write_batch& b) { b.assignments.push_back({x, false}); });
}

caf::error etcd_store::remove_assignment(const std::string& replica) {
  return commit_one(*this, [&](write_batch& b) {
    b.assignments.push_back({assignment{replica, {}, {}, {}, 0}, true});
  });
}

caf::expected<std::vector<assignment>> etcd_store::assignments(const std::string& service) {
  auto prefix = service.empty() ? impl_->key("assign/") : impl_->assign_prefix(service);
  auto out = impl_->collect<assignment>(
      prefix, [](const etcd::key_value& kv) { return detail::decode_assignment(kv.value); });
  if (!out)
    return out;
  // A record names its service; keys of a replica id without its service are not its.
  std::erase_if(*out, [&](const assignment& x) { return !service.empty() && x.service != service; });
  std::sort(out->begin(), out->end(),
            [](const assignment& a, const assignment& b) { return a.replica < b.replica; });
  return out;
}

uint64_t etcd_store::logged_assignments() const {
  return 0;
}

caf::error etcd_store::fold_assignments() {
  return {};
}

// -- nodes --------------------------------------------------------------------------

caf::error etcd_store::put_node(const protocol::node_status& x) {
  return commit_one(*this, [&](write_batch& b) { b.nodes.push_back(x); });
}

caf::expected<std::vector<protocol::node_status>> etcd_store::nodes() {
  return impl_->collect<protocol::node_status>(
      impl_->key("node/"), [](const etcd::key_value& kv) { return detail::decode_node(kv.value); });
}

// -- objects ------------------------------------------------------------------------

namespace {

std::string object_prefix(const std::string& store_prefix, protocol::object_kind kind) {
  return store_prefix + "object/" + protocol::to_string(kind) + std::string(1, '\0');
}

} // namespace

caf::error etcd_store::put_object(const protocol::stored_object& x) {
  if (auto err = check_name(x.name, protocol::to_string(x.kind)))
    return err;
  auto rev = impl_->write({}, {etcd::put_op{object_prefix(impl_->eopts.prefix, x.kind) + x.name,
                                            x.value, 0}});
  return rev ? caf::error{} : std::move(rev.error());
}

caf::error etcd_store::remove_object(protocol::object_kind kind, const std::string& name) {
  if (auto err = check_name(name, protocol::to_string(kind)))
    return err;
  auto key = object_prefix(impl_->eopts.prefix, kind) + name;
  auto rev = impl_->write({}, {etcd::delete_op{key, {}}});
  return rev ? caf::error{} : std::move(rev.error());
}

caf::expected<uint64_t> etcd_store::prune_objects(protocol::object_kind kind, uint64_t keep) {
  auto prefix = object_prefix(impl_->eopts.prefix, kind);
  auto end = etcd::prefix_end(prefix);
  auto counted = impl_->reads->range(prefix, end, 1, 0);
  if (!counted)
    return std::move(counted.error());
  if (static_cast<uint64_t>(counted->count) <= keep)
    return uint64_t{0};
  auto excess = static_cast<uint64_t>(counted->count) - keep;
  auto oldest = impl_->reads->range(prefix, end, static_cast<int64_t>(excess), 0);
  if (!oldest)
    return std::move(oldest.error());
  if (oldest->kvs.empty())
    return uint64_t{0};
  auto rev = impl_->write({}, {etcd::delete_op{prefix, oldest->kvs.back().key + std::string(1, '\0')}});
  if (!rev)
    return std::move(rev.error());
  return static_cast<uint64_t>(oldest->kvs.size());
}

caf::expected<std::vector<protocol::stored_object>>
etcd_store::objects(protocol::object_kind kind, const std::string& after, size_t limit) {
  auto prefix = object_prefix(impl_->eopts.prefix, kind);
  // The first key after `after`: its name with a NUL appended.
  auto from = after.empty() ? prefix : prefix + after + std::string(1, '\0');
  auto r = impl_->reads->range(from, etcd::prefix_end(prefix), static_cast<int64_t>(limit), 0);
  if (!r)
    return std::move(r.error());
  std::vector<protocol::stored_object> out;
  for (const auto& kv : r->kvs)
    out.push_back({kind, kv.key.substr(prefix.size()), kv.value});
  return out;
}

// -- group commit and events --------------------------------------------------------

caf::expected<std::vector<protocol::event>> etcd_store::commit(write_batch batch) {
  for (const auto& c : batch.assignments)
    if (auto err = check_name(c.x.replica, "replica"))
      return err;
  for (const auto& x : batch.nodes)
    if (auto err = check_name(x.name, "node"))
      return err;
  for (const auto& x : batch.events)
    if (!x.service.empty())
      if (auto err = check_name(x.service, "service"))
        return err;
  // etcd refuses a transaction that writes a key twice: a key's last change
  // is the one written, which is what writing them in order leaves.
  std::vector<std::pair<std::string, std::optional<std::string>>> changes; // nullopt: delete
  for (const auto& c : batch.assignments)
    changes.emplace_back(impl_->assign_key(c.x.replica),
                         c.remove ? std::nullopt
                                  : std::optional<std::string>{detail::encode_assignment(c.x)});
  for (const auto& x : batch.nodes)
    changes.emplace_back(impl_->key("node/", x.name), detail::encode_node(x));
  std::map<std::string, size_t> last_change;
  for (size_t i = 0; i < changes.size(); ++i)
    last_change[changes[i].first] = i;
  std::vector<etcd::operation> ops;
  for (size_t i = 0; i < changes.size(); ++i) {
    auto& [k, value] = changes[i];
    if (last_change[k] != i)
      continue;
    if (value)
      ops.push_back(etcd::put_op{std::move(k), std::move(*value), 0});
    else
      ops.push_back(etcd::delete_op{std::move(k), {}});
  }
  // Room for the seq, the log's prune and each service's index prune besides
  // the events' own two keys.
  auto per_txn = impl_->eopts.max_txn_ops;
  std::vector<protocol::event> stored;
  size_t next_op = 0;
  size_t next_event = 0;
  while (next_op < ops.size() || next_event < batch.events.size()) {
    std::vector<etcd::operation> chunk;
    while (next_op < ops.size() && chunk.size() < per_txn)
      chunk.push_back(std::move(ops[next_op++]));
    std::vector<protocol::event> events;
    std::set<std::string> services;
    // Two keys per event, one prune per service, the seq and the log's prune.
    auto room = [&](const protocol::event& x) {
      auto extra = services.count(x.service) || x.service.empty() ? 0 : 1;
      return chunk.size() + 2 * (events.size() + 1) + services.size() + extra + 2 <= per_txn;
    };
    while (next_event < batch.events.size() && room(batch.events[next_event])) {
      if (!batch.events[next_event].service.empty())
        services.insert(batch.events[next_event].service);
      events.push_back(std::move(batch.events[next_event++]));
    }
    auto done = impl_->commit_chunk(std::move(chunk), std::move(events));
    if (!done)
      return std::move(done.error());
    stored.insert(stored.end(), done->begin(), done->end());
  }
  return stored;
}

caf::expected<std::vector<protocol::event>>
etcd_store::append_events(std::vector<protocol::event> xs) {
  write_batch batch;
  batch.events = std::move(xs);
  return commit(std::move(batch));
}

caf::expected<std::vector<protocol::event>> etcd_store::events_after(uint64_t after, size_t limit,
                                                                     const std::string& service) {
  if (limit == 0 || after == std::numeric_limits<uint64_t>::max())
    return std::vector<protocol::event>{};
  auto from = std::max(after, impl_->event_floor()) + 1;
  auto prefix = service.empty() ? impl_->key("event/") : impl_->service_event_prefix(service);
  auto r = impl_->reads->range(prefix + number_key(from), etcd::prefix_end(prefix),
                            static_cast<int64_t>(std::min<size_t>(limit, INT64_MAX)));
  if (!r)
    return std::move(r.error());
  return decode_events(*r);
}

caf::expected<std::vector<protocol::event>> etcd_store::last_events(size_t limit,
                                                                    const std::string& service) {
  if (limit == 0)
    return std::vector<protocol::event>{};
  auto prefix = service.empty() ? impl_->key("event/") : impl_->service_event_prefix(service);
  auto r = impl_->reads->range(prefix + number_key(impl_->event_floor() + 1),
                            etcd::prefix_end(prefix),
                            static_cast<int64_t>(std::min<size_t>(limit, INT64_MAX)), 0, true);
  if (!r)
    return std::move(r.error());
  auto events = decode_events(*r);
  if (events)
    std::reverse(events->begin(), events->end());
  return events;
}

uint64_t etcd_store::last_seq() const {
  return impl_->last_seq;
}

caf::expected<uint64_t> etcd_store::write_backup(const std::string& path) {
  return impl_->db->snapshot(path);
}

} // namespace tutti::persistence
