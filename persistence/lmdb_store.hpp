#pragma once

// The durable state of a cluster in one LMDB environment: service specs with their
// revision history, replica assignments, node records and the event log.
//
// Not thread-safe: one owner (the store actor, on a detached thread) calls it.
// Every mutating call is one durable LMDB transaction: when it returns success the
// change survives a crash (kill -9, power loss modulo the disk's honesty); when it
// returns an error nothing of it was written.

#include "protocol/errors.hpp"
#include "protocol/status.hpp"

#include <caf/expected.hpp>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace tutti::persistence {

struct store_options {
  uint64_t map_size = uint64_t{1} << 30; // LMDB's default of 10 MiB fills fast
  uint64_t max_events = 100000;          // older events are pruned; at least 1 is kept
  int64_t max_revisions = 20;            // per service; older ones are pruned; >= 1 kept
  /// Changes to existing assignments are logged and folded into their tree later;
  /// a commit that leaves more records than this in the log folds a batch.
  uint64_t max_logged_assignments = uint64_t{1} << 18;
  /// Unix time in milliseconds for spec and event timestamps; empty: the system
  /// clock. Tests inject a fixed clock.
  std::function<int64_t()> clock_ms;
};

struct stored_spec {
  std::string name;
  int64_t revision = 0; // per service, from 1, never reused even after delete
  std::string yaml;     // canonical YAML (config::emit_spec)
  int64_t time_ms = 0;  // when it was committed
  friend bool operator==(const stored_spec&, const stored_spec&) = default;
};

struct assignment {
  std::string replica; // replica id
  std::string service;
  std::string node;
  std::string template_hash; // what the replica runs; empty in records of old versions
  int64_t epoch = 0;         // when it was made (fencing); 0 in records of old versions
  friend bool operator==(const assignment&, const assignment&) = default;
};

class lmdb_store {
public:
  /// Opens (creating if needed) the store in directory `dir` (created if missing).
  /// Takes an exclusive lock on `dir/tuttid.lock`: a second opener fails with
  /// data_dir_locked naming the holder's pid. A read-only or unwritable
  /// directory fails with store_failure naming the path and the OS error.
  static caf::expected<std::unique_ptr<lmdb_store>> open(const std::string& dir,
                                                         store_options opts = {});

  ~lmdb_store();
  lmdb_store(const lmdb_store&) = delete;
  lmdb_store& operator=(const lmdb_store&) = delete;

  // -- specs -------------------------------------------------------------------

  /// Commits new revisions of several services in one transaction (all or
  /// nothing). Each gets revision = its last revision + 1.
  caf::expected<std::vector<stored_spec>>
  put_specs(const std::vector<std::pair<std::string, std::string>>& name_and_yaml);

  /// Removes a service's current spec and its assignments in one transaction.
  /// History is kept so revision numbers stay unique. not_found when absent.
  caf::error delete_service(const std::string& name);

  caf::expected<std::optional<stored_spec>> current_spec(const std::string& name);

  /// Current specs of all services, ordered by name.
  caf::expected<std::vector<stored_spec>> current_specs();

  /// All kept revisions of a service, oldest first.
  caf::expected<std::vector<stored_spec>> history(const std::string& name);

  // -- assignments -------------------------------------------------------------
  //
  // A new replica's assignment goes into a B-tree by replica id. A change to an
  // existing one (a replica that moved, or went away) is appended to a log instead
  // and folded into the tree later: rewritten in place, each of them dirtied its
  // own page of a tree of a million, which made the store's writes the largest
  // cost of moving the replicas of lost nodes. Reads see the tree with the log
  // applied; a fold changes what is stored, never what is read.

  caf::error put_assignment(const assignment& x);
  /// Removing an absent replica succeeds (nothing to do).
  caf::error remove_assignment(const std::string& replica);
  /// Assignments of `service` ordered by replica id; all of them when it is empty.
  /// Reads only the keys of the service (replica ids start with "SERVICE-").
  caf::expected<std::vector<assignment>> assignments(const std::string& service);

  /// Replicas whose newest assignment change is in the log and not yet in the tree.
  uint64_t logged_assignments() const;

  /// Folds the changes of at most `at_most` replicas into the tree, in key order,
  /// in one transaction: a fold of them all at a million replicas would hold
  /// the store (and LMDB's list of dirty pages) for seconds. The log is emptied
  /// with the last of them.
  caf::error fold_assignments(size_t at_most = fold_batch);

  /// What one fold_assignments writes by default.
  static constexpr size_t fold_batch = 8192;

  // -- nodes -------------------------------------------------------------------

  caf::error put_node(const protocol::node_status& x);
  caf::expected<std::vector<protocol::node_status>> nodes();

  // -- group commit ------------------------------------------------------------

  /// Writes of several callers, committed together (one fsync for all).
  struct write_batch {
    struct assignment_change {
      assignment x;
      bool remove = false; // remove x.replica's assignment instead of putting x
    };
    std::vector<assignment_change> assignments; // applied in order
    std::vector<protocol::node_status> nodes;
    std::vector<protocol::event> events;
    bool empty() const { return assignments.empty() && nodes.empty() && events.empty(); }
  };

  /// Commits everything of `batch` in one durable transaction (all or nothing) and
  /// returns its events as stored (append_events' rules).
  caf::expected<std::vector<protocol::event>> commit(write_batch batch);

  // -- events ------------------------------------------------------------------

  /// Appends events in one transaction; assigns seq (and time_ms when 0). Returns
  /// them as stored.
  caf::expected<std::vector<protocol::event>> append_events(std::vector<protocol::event> xs);

  /// Events with seq > after, oldest first, at most `limit`; only of `service`
  /// when not empty.
  caf::expected<std::vector<protocol::event>> events_after(uint64_t after, size_t limit,
                                                           const std::string& service = {});

  /// The newest `limit` events (of `service` when not empty), oldest first.
  caf::expected<std::vector<protocol::event>> last_events(size_t limit,
                                                          const std::string& service = {});

  uint64_t last_seq() const;

  const std::string& dir() const;

private:
  struct impl;
  explicit lmdb_store(std::unique_ptr<impl> x);
  std::unique_ptr<impl> impl_;
};

} // namespace tutti::persistence
