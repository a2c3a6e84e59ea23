#pragma once

// Private to persistence/: the state behind lmdb_store and the transaction helpers
// its .cpp files share.

#include "persistence/dir_lock.hpp"
#include "persistence/lmdb_store.hpp"
#include "persistence/lmdb_txn.hpp"

#include <caf/expected.hpp>

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace tutti::persistence {

/// The named databases of the environment. Keys and values:
/// - specs:          name \0 revision(be64) -> {yaml, time_ms}
/// - heads:          name -> current revision (be64); absent after a delete
/// - lastrev:        name -> highest revision ever given (be64), so none is reused
/// - assignments:    replica -> {replica, service, node, template_hash, epoch}
/// - assignment_log: seq(be64) -> 'P' assignment | 'D' replica; changes to replicas
///                   the tree already held, not yet folded into it (assignments.cpp)
/// - nodes:          name -> node_status as JSON
/// - events:         seq(be64) -> event as JSON
/// - service_events: service \0 seq(be64) -> empty; an index for per-service queries
/// - objects:        kind \0 name -> the object's value (tokens, audit records)
/// - meta:           "format" -> the layout version (be64, lmdb_store::format)
struct store_dbis {
  MDB_dbi specs = 0;
  MDB_dbi heads = 0;
  MDB_dbi lastrev = 0;
  MDB_dbi assignments = 0;
  MDB_dbi assignment_log = 0;
  MDB_dbi nodes = 0;
  MDB_dbi events = 0;
  MDB_dbi service_events = 0;
  MDB_dbi objects = 0;
  MDB_dbi meta = 0;
};

enum class step { next, stop };

class store_state;

/// One transaction plus what it is doing (for error messages).
class tx {
public:
  tx(const store_state& store, MDB_txn* handle, std::string_view doing)
    : store_(store), handle_(handle), doing_(doing) {}

  /// An error for an LMDB code (nothing when rc is 0).
  caf::error check(int rc) const;

  caf::error put(MDB_dbi dbi, std::string_view key, std::string_view value);

  /// Puts unless the key exists: true when it put, false when the key was there.
  caf::expected<bool> insert(MDB_dbi dbi, std::string_view key, std::string_view value);

  /// Puts a key greater than every key of `dbi` (LMDB appends without a search).
  caf::error append(MDB_dbi dbi, std::string_view key, std::string_view value);

  /// Removes every key of `dbi`.
  caf::error clear(MDB_dbi dbi);

  /// Deleting an absent key succeeds.
  caf::error del(MDB_dbi dbi, std::string_view key);

  /// The value, valid until the transaction ends; nullopt when absent.
  caf::expected<std::optional<std::string_view>> get(MDB_dbi dbi, std::string_view key);

  /// A big-endian u64 value; 0 when absent.
  caf::expected<uint64_t> get_u64(MDB_dbi dbi, std::string_view key);

  /// Calls fn(key, value) -> caf::expected<step> for the keys >= `from` (all keys
  /// when empty) in ascending order until fn says stop or fails.
  template <class F> caf::error scan(MDB_dbi dbi, std::string_view from, F fn);

  /// Calls fn(key, value) for the keys < `before` (all keys when empty) in
  /// descending order until fn says stop or fails.
  template <class F> caf::error scan_back(MDB_dbi dbi, std::string_view before, F fn);

  MDB_txn* handle() const noexcept { return handle_; }
  const store_state& store() const noexcept { return store_; }

private:
  template <class F>
  caf::error walk(detail::cursor& c, MDB_cursor_op next, MDB_val key, MDB_val value, int rc, F& fn);

  const store_state& store_;
  MDB_txn* handle_;
  std::string_view doing_;
};

/// The newest logged change of a replica: its assignment, or nullopt when it was
/// removed; in_tree once a fold wrote it into the tree. A folded change stays
/// until the log is emptied: a later change of its replica must go to the log
/// too, or replaying the log after a crash would undo it.
struct logged_change {
  std::optional<assignment> x;
  bool in_tree = false;
};

/// Ordered as LMDB orders keys (byte-wise).
using assignment_changes = std::map<std::string, logged_change, std::less<>>;

/// A store_failure for data that cannot be what was written.
caf::error corrupt(const std::string& dir, const std::string& what);

/// Everything behind lmdb_store; a namespace-level class so that tx and the helper
/// functions of several .cpp files can name it.
class store_state {
public:
  store_state(std::string dir, store_options opts, detail::dir_lock lock)
    : dir(std::move(dir)), opts(std::move(opts)), lock(std::move(lock)) {}

  /// Creates the environment and its databases, and reads the last event seq.
  caf::error open_env();

  /// Runs body(tx&) -> caf::error in one write transaction and commits it when the
  /// body succeeds; any failure aborts everything the body wrote.
  template <class F> caf::error write(std::string_view doing, F&& body);

  /// Runs body(tx&) -> caf::error in a read-only transaction.
  template <class F> caf::error read(std::string_view doing, F&& body);

  /// Maps an LMDB or errno code to store_full / store_failure with a message.
  caf::error failure(int rc, std::string_view doing) const;

  /// invalid_argument unless `name` can be (part of) a key: not empty, no NUL, and
  /// short enough for LMDB's key limit with a 9-byte suffix.
  caf::error check_name(std::string_view name, std::string_view what) const;

  int64_t now_ms() const;

  std::string dir;
  store_options opts;
  detail::dir_lock lock; // declared before env: released only after env is closed
  detail::env_ptr env;
  store_dbis dbis;
  uint64_t map_size = 0; // as LMDB uses it: never below the data already stored
  uint64_t last_seq = 0;
  assignment_changes logged; // per replica, the newest change in assignment_log
  uint64_t unfolded = 0;     // entries of `logged` not in the tree yet
  uint64_t log_records = 0;  // records in assignment_log (a replica may have several)
  uint64_t last_log_key = 0; // the highest key of assignment_log
  std::string upgrade_backup; // the copy open_env() kept before upgrading the format
};

/// Brings the store's layout to lmdb_store::format (lmdb_backup.cpp): a store
/// without a format record is the first layout; one of a newer format is
/// refused.
caf::error check_format(store_state& s);

/// The assignment changes of one write transaction. A new replica goes into the
/// tree at once; a change to one the tree (or the log) already holds is appended
/// to the log. The store's view of the log changes only in committed(), called
/// once the transaction is durable, so an aborted one leaves it as it was.
class assignment_writes {
public:
  explicit assignment_writes(store_state& s) : s_(s), last_key_(s.last_log_key) {}

  caf::error put(tx& t, const assignment& x);

  /// Removing an absent replica writes nothing.
  caf::error remove(tx& t, const std::string& replica);

  /// Removes every assignment of `service`, in the tree and in the log.
  caf::error remove_service(tx& t, const std::string& service);

  /// Writes at most `at_most` of the log's changes not yet in the tree into it,
  /// in key order; the log is emptied with the last of them. Only as the one
  /// change of its transaction.
  caf::error fold(tx& t, size_t at_most);

  void committed();

private:
  /// The newest change to `replica` in the log (this transaction's first), or
  /// nullptr when the log has none.
  const std::optional<assignment>* logged(const std::string& replica) const;

  caf::error log(tx& t, const std::string& replica, std::optional<assignment> x,
                 std::string_view encoded);

  store_state& s_;
  std::map<std::string, std::optional<assignment>, std::less<>> staged_; // this transaction's
  uint64_t last_key_;
  uint64_t appended_ = 0;
  std::vector<assignment_changes::iterator> folded_; // written into the tree by fold()
  bool log_cleared_ = false;
};

/// Reads the assignment log into s.logged (at open).
caf::error load_assignment_log(store_state& s);

struct lmdb_store::impl : store_state {
  using store_state::store_state;
};

// -- template definitions -----------------------------------------------------------

template <class F>
caf::error tx::walk(detail::cursor& c, MDB_cursor_op next, MDB_val key, MDB_val value, int rc,
                    F& fn) {
  for (; rc == 0; rc = c.get(key, value, next)) {
    auto result = fn(detail::to_view(key), detail::to_view(value));
    if (!result)
      return std::move(result.error());
    if (*result == step::stop)
      return {};
  }
  return rc == MDB_NOTFOUND ? caf::error{} : check(rc);
}

template <class F> caf::error tx::scan(MDB_dbi dbi, std::string_view from, F fn) {
  detail::cursor c;
  if (auto err = check(c.open(handle_, dbi)))
    return err;
  auto key = detail::to_val(from);
  MDB_val value{0, nullptr};
  int rc = c.get(key, value, from.empty() ? MDB_FIRST : MDB_SET_RANGE);
  return walk(c, MDB_NEXT, key, value, rc, fn);
}

template <class F> caf::error tx::scan_back(MDB_dbi dbi, std::string_view before, F fn) {
  detail::cursor c;
  if (auto err = check(c.open(handle_, dbi)))
    return err;
  auto key = detail::to_val(before);
  MDB_val value{0, nullptr};
  int rc = before.empty() ? MDB_NOTFOUND : c.get(key, value, MDB_SET_RANGE);
  if (rc == 0)
    rc = c.get(key, value, MDB_PREV); // the first key >= before is excluded
  else if (rc == MDB_NOTFOUND)
    rc = c.get(key, value, MDB_LAST); // every key is < before
  return walk(c, MDB_PREV, key, value, rc, fn);
}

template <class F> caf::error store_state::write(std::string_view doing, F&& body) {
  detail::txn t;
  if (int rc = t.begin(env.get(), false); rc != 0)
    return failure(rc, doing);
  tx ops{*this, t.get(), doing};
  if (auto err = body(ops))
    return err; // t aborts
  if (int rc = t.commit(); rc != 0)
    return failure(rc, doing);
  return {};
}

template <class F> caf::error store_state::read(std::string_view doing, F&& body) {
  detail::txn t;
  if (int rc = t.begin(env.get(), true); rc != 0)
    return failure(rc, doing);
  tx ops{*this, t.get(), doing};
  return body(ops); // read-only: aborting is how it ends
}

} // namespace tutti::persistence
