// The event log part of lmdb_store: "events" holds every kept event by seq, and
// "service_events" indexes them by service so filtered queries never scan the log.

#include "persistence/lmdb_store.hpp"

#include "persistence/records.hpp"
#include "persistence/store_impl.hpp"

#include <algorithm>
#include <limits>
#include <utility>

namespace tutti::persistence {

namespace {

using detail::decode_u64;
using detail::encode_u64;
using detail::has_name_prefix;
using detail::prefixed_key;

caf::error missing_event(const std::string& dir, uint64_t seq) {
  return protocol::make_error(protocol::error_code::store_failure,
                              "corrupt store in " + dir + ": indexed event " + std::to_string(seq) +
                                  " is missing; the data directory is damaged, "
                                  "restore it from a backup");
}

caf::error put_event(tx& t, const protocol::event& x) {
  const auto& dbis = t.store().dbis;
  if (auto err = t.put(dbis.events, encode_u64(x.seq), detail::encode_event(x)))
    return err;
  if (x.service.empty())
    return {};
  return t.put(dbis.service_events, prefixed_key(x.service, x.seq), {});
}

/// The service of a stored event, read without decoding all of it: a prune
/// needs only that (for the index entry), and at a million replica starts it
/// decoded one event per event appended. Names never need escaping (service
/// names are DNS labels); anything unexpected falls back to the full decode.
caf::expected<std::string> service_of_event(std::string_view value) {
  constexpr std::string_view field = "\"service\":\"";
  auto at = value.find(field);
  if (at != std::string_view::npos) {
    auto from = at + field.size();
    auto to = value.find('"', from);
    if (to != std::string_view::npos && value.substr(from, to - from).find('\\') ==
                                            std::string_view::npos)
      return std::string{value.substr(from, to - from)};
  }
  auto x = detail::decode_event(value);
  if (!x)
    return std::move(x.error());
  return std::move(x->service);
}

/// Removes the oldest events (and their index entries) beyond opts.max_events.
caf::error prune_events(tx& t) {
  const auto& dbis = t.store().dbis;
  MDB_stat stat;
  if (auto err = t.check(mdb_stat(t.handle(), dbis.events, &stat)))
    return err;
  auto keep = std::max<uint64_t>(1, t.store().opts.max_events);
  if (stat.ms_entries <= keep)
    return {};
  auto excess = stat.ms_entries - keep;
  std::vector<std::pair<uint64_t, std::string>> doomed; // seq, service
  auto err =
      t.scan(dbis.events, {}, [&](std::string_view key, std::string_view value) -> caf::expected<step> {
        auto service = service_of_event(value);
        if (!service)
          return std::move(service.error());
        doomed.emplace_back(decode_u64(key), std::move(*service));
        return doomed.size() < excess ? step::next : step::stop;
      });
  if (err)
    return err;
  for (const auto& [seq, service] : doomed) {
    if (auto err = t.del(dbis.events, encode_u64(seq)))
      return err;
    if (!service.empty())
      if (auto err = t.del(dbis.service_events, prefixed_key(service, seq)))
        return err;
  }
  return {};
}

/// The event `seq` as an index entry names it.
caf::expected<protocol::event> load_event(tx& t, uint64_t seq) {
  auto value = t.get(t.store().dbis.events, encode_u64(seq));
  if (!value)
    return std::move(value.error());
  if (!*value)
    return missing_event(t.store().dir, seq);
  return detail::decode_event(**value);
}

/// A scan callback collecting events from "events" until `out` holds `limit`.
auto collect_from_log(std::vector<protocol::event>& out, size_t limit) {
  return [&out, limit](std::string_view, std::string_view value) -> caf::expected<step> {
    auto x = detail::decode_event(value);
    if (!x)
      return std::move(x.error());
    out.push_back(std::move(*x));
    return out.size() < limit ? step::next : step::stop;
  };
}

/// A scan callback collecting the events of `service` from "service_events".
auto collect_from_index(tx& t, const std::string& service, std::vector<protocol::event>& out,
                        size_t limit) {
  return
      [&t, &service, &out, limit](std::string_view key, std::string_view) -> caf::expected<step> {
        if (!has_name_prefix(key, service))
          return step::stop;
        auto x = load_event(t, decode_u64(key));
        if (!x)
          return std::move(x.error());
        out.push_back(std::move(*x));
        return out.size() < limit ? step::next : step::stop;
      };
}

} // namespace

caf::expected<std::vector<protocol::event>>
lmdb_store::append_events(std::vector<protocol::event> xs) {
  for (const auto& x : xs)
    if (!x.service.empty())
      if (auto err = impl_->check_name(x.service, "service"))
        return err;
  if (xs.empty())
    return xs;
  auto seq = impl_->last_seq;
  auto now = impl_->now_ms();
  auto err = impl_->write("append events", [&](tx& t) -> caf::error {
    for (auto& x : xs) {
      x.seq = ++seq;
      if (x.time_ms == 0)
        x.time_ms = now;
      if (auto err = put_event(t, x))
        return err;
    }
    return prune_events(t);
  });
  if (err)
    return err;
  impl_->last_seq = seq; // only once durable: a failed append reuses its seqs
  return xs;
}

caf::expected<std::vector<protocol::event>> lmdb_store::commit(write_batch batch) {
  for (const auto& c : batch.assignments)
    if (auto err = impl_->check_name(c.x.replica, "replica"))
      return err;
  for (const auto& x : batch.nodes)
    if (auto err = impl_->check_name(x.name, "node"))
      return err;
  for (const auto& x : batch.events)
    if (!x.service.empty())
      if (auto err = impl_->check_name(x.service, "service"))
        return err;
  auto& xs = batch.events;
  auto seq = impl_->last_seq;
  auto now = impl_->now_ms();
  const auto& dbis = impl_->dbis;
  assignment_writes changes{*impl_};
  auto err = impl_->write("commit a batch of writes", [&](tx& t) -> caf::error {
    for (const auto& c : batch.assignments) {
      auto err = c.remove ? changes.remove(t, c.x.replica) : changes.put(t, c.x);
      if (err)
        return err;
    }
    for (const auto& x : batch.nodes)
      if (auto err = t.put(dbis.nodes, x.name, detail::encode_node(x)))
        return err;
    if (xs.empty())
      return {};
    for (auto& x : xs) {
      x.seq = ++seq;
      if (x.time_ms == 0)
        x.time_ms = now;
      if (auto err = put_event(t, x))
        return err;
    }
    return prune_events(t);
  });
  if (err)
    return err;
  impl_->last_seq = seq;
  changes.committed();
  // The batch is durable whatever the fold does: a fold that fails (a full map)
  // leaves the log as it was and is tried again after the next commit, whose own
  // writes then meet the same problem and report it. A long log is folded a
  // batch per commit, so a stream of moves never holds the store for long.
  if (impl_->log_records > impl_->opts.max_logged_assignments)
    static_cast<void>(fold_assignments());
  return std::move(xs);
}

caf::expected<std::vector<protocol::event>> lmdb_store::events_after(uint64_t after, size_t limit,
                                                                     const std::string& service) {
  std::vector<protocol::event> out;
  if (limit == 0 || after == std::numeric_limits<uint64_t>::max())
    return out;
  auto err = impl_->read("read events", [&](tx& t) {
    if (service.empty())
      return t.scan(impl_->dbis.events, encode_u64(after + 1), collect_from_log(out, limit));
    return t.scan(impl_->dbis.service_events, prefixed_key(service, after + 1),
                  collect_from_index(t, service, out, limit));
  });
  if (err)
    return err;
  return out;
}

caf::expected<std::vector<protocol::event>> lmdb_store::last_events(size_t limit,
                                                                    const std::string& service) {
  std::vector<protocol::event> out;
  if (limit == 0)
    return out;
  auto err = impl_->read("read events", [&](tx& t) {
    if (service.empty())
      return t.scan_back(impl_->dbis.events, {}, collect_from_log(out, limit));
    // service + "\x01" sorts right after every "service \0 seq" key.
    return t.scan_back(impl_->dbis.service_events, service + '\x01',
                       collect_from_index(t, service, out, limit));
  });
  if (err)
    return err;
  std::reverse(out.begin(), out.end());
  return out;
}

uint64_t lmdb_store::last_seq() const {
  return impl_->last_seq;
}

} // namespace tutti::persistence
