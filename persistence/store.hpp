#pragma once

// The durable state of a cluster: service specs with their revision history,
// replica assignments, node records and the event log. One interface, below
// the store actor; lmdb_store is the embedded backend.
//
// Not thread-safe: one owner (the store actor, on a detached thread) calls it.
// Every mutating call is atomic and durable: when it returns success the change
// survives a crash of tuttid; when it returns an error nothing of it was
// written (store_full when the store has no room: nothing changed either).

#include "protocol/access.hpp"
#include "protocol/errors.hpp"
#include "protocol/status.hpp"

#include <caf/expected.hpp>

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace tutti::persistence {

struct store_options {
  uint64_t map_size = uint64_t{1} << 30; // LMDB's map; its default of 10 MiB fills fast
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

class store {
public:
  virtual ~store() = default;

  // -- specs -------------------------------------------------------------------

  /// Commits new revisions of several services at once (all or nothing). Each
  /// gets revision = its last revision + 1.
  virtual caf::expected<std::vector<stored_spec>>
  put_specs(const std::vector<std::pair<std::string, std::string>>& name_and_yaml) = 0;

  /// Removes a service's current spec and its assignments at once. History is
  /// kept so revision numbers stay unique. not_found when absent.
  virtual caf::error delete_service(const std::string& name) = 0;

  virtual caf::expected<std::optional<stored_spec>> current_spec(const std::string& name) = 0;

  /// Current specs of all services, ordered by name.
  virtual caf::expected<std::vector<stored_spec>> current_specs() = 0;

  /// All kept revisions of a service, oldest first.
  virtual caf::expected<std::vector<stored_spec>> history(const std::string& name) = 0;

  // -- assignments -------------------------------------------------------------

  virtual caf::error put_assignment(const assignment& x) = 0;

  /// Removing an absent replica succeeds (nothing to do).
  virtual caf::error remove_assignment(const std::string& replica) = 0;

  /// Assignments of `service` ordered by replica id; all of them when it is empty.
  virtual caf::expected<std::vector<assignment>> assignments(const std::string& service) = 0;

  /// Assignment changes written but not yet moved to where reads are cheapest
  /// (0 for a backend that defers nothing); fold_assignments() moves a batch.
  virtual uint64_t logged_assignments() const = 0;
  virtual caf::error fold_assignments() = 0;

  // -- nodes -------------------------------------------------------------------

  virtual caf::error put_node(const protocol::node_status& x) = 0;
  virtual caf::expected<std::vector<protocol::node_status>> nodes() = 0;

  // -- objects -----------------------------------------------------------------

  /// Small records by kind and name (bearer tokens, audit records), their
  /// values encoded by their owner (access/records.hpp). Puts or replaces one.
  virtual caf::error put_object(const protocol::stored_object& x) = 0;

  /// Removing an absent object succeeds (nothing to do).
  virtual caf::error remove_object(protocol::object_kind kind, const std::string& name) = 0;

  /// Objects of `kind` whose name sorts after `after` (all when empty),
  /// ordered by name, at most `limit`.
  virtual caf::expected<std::vector<protocol::stored_object>>
  objects(protocol::object_kind kind, const std::string& after, size_t limit) = 0;

  /// Removes the objects of `kind` first in name order until at most `keep`
  /// are left; how many it removed.
  virtual caf::expected<uint64_t> prune_objects(protocol::object_kind kind, uint64_t keep) = 0;

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

  /// Commits everything of `batch` at once (all or nothing) and returns its
  /// events as stored (append_events' rules).
  virtual caf::expected<std::vector<protocol::event>> commit(write_batch batch) = 0;

  // -- events ------------------------------------------------------------------

  /// Appends events at once; assigns seq (and time_ms when 0). Returns them as
  /// stored.
  virtual caf::expected<std::vector<protocol::event>>
  append_events(std::vector<protocol::event> xs) = 0;

  /// Events with seq > after, oldest first, at most `limit`; only of `service`
  /// when not empty.
  virtual caf::expected<std::vector<protocol::event>>
  events_after(uint64_t after, size_t limit, const std::string& service = {}) = 0;

  /// The newest `limit` events (of `service` when not empty), oldest first.
  virtual caf::expected<std::vector<protocol::event>>
  last_events(size_t limit, const std::string& service = {}) = 0;

  virtual uint64_t last_seq() const = 0;

  // -- backups -----------------------------------------------------------------

  /// Writes a consistent copy of the whole store to `path`, a file it creates
  /// (mode 0600; it must not exist), and answers its size in bytes. The one
  /// call that may run on another thread beside the owner's: a backup of a
  /// large store must not hold up its writes. A store that cannot make one
  /// answers why and what to use instead.
  virtual caf::expected<uint64_t> write_backup(const std::string& path) = 0;
};

} // namespace tutti::persistence
