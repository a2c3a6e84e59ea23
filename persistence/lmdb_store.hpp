#pragma once

// The store (persistence/store.hpp) in one LMDB environment: the embedded
// default. Every mutating call is one durable LMDB transaction (fsync'ed: a
// crash loses nothing acknowledged, power loss modulo the disk's honesty).
//
// Assignments: a new replica's assignment goes into a B-tree by replica id. A
// change to an existing one (a replica that moved, or went away) is appended to
// a log instead and folded into the tree later: rewritten in place, each of them
// dirtied its own page of a tree of a million, which made the store's writes
// the largest cost of moving the replicas of lost nodes. Reads see the tree with
// the log applied; a fold changes what is stored, never what is read. Reads of
// one service's assignments read only its keys (replica ids start with
// "SERVICE-").

#include "persistence/store.hpp"

#include <memory>
#include <string>

namespace tutti::persistence {

class lmdb_store final : public store {
public:
  /// Opens (creating if needed) the store in directory `dir` (created if missing).
  /// Takes an exclusive lock on `dir/tuttid.lock`: a second opener fails with
  /// data_dir_locked naming the holder's pid. A read-only or unwritable
  /// directory, or a damaged data.mdb, fails with store_failure naming the path
  /// and what to do.
  static caf::expected<std::unique_ptr<lmdb_store>> open(const std::string& dir,
                                                         store_options opts = {});

  ~lmdb_store() override;
  lmdb_store(const lmdb_store&) = delete;
  lmdb_store& operator=(const lmdb_store&) = delete;

  caf::expected<std::vector<stored_spec>>
  put_specs(const std::vector<std::pair<std::string, std::string>>& name_and_yaml) override;
  caf::error delete_service(const std::string& name) override;
  caf::expected<std::optional<stored_spec>> current_spec(const std::string& name) override;
  caf::expected<std::vector<stored_spec>> current_specs() override;
  caf::expected<std::vector<stored_spec>> history(const std::string& name) override;

  caf::error put_assignment(const assignment& x) override;
  caf::error remove_assignment(const std::string& replica) override;
  caf::expected<std::vector<assignment>> assignments(const std::string& service) override;

  /// Replicas whose newest assignment change is in the log and not yet in the tree.
  uint64_t logged_assignments() const override;

  /// Folds the changes of fold_batch replicas (see below).
  caf::error fold_assignments() override;

  /// Folds the changes of at most `at_most` replicas into the tree, in key order,
  /// in one transaction: a fold of them all at a million replicas would hold
  /// the store (and LMDB's list of dirty pages) for seconds. The log is emptied
  /// with the last of them.
  caf::error fold_assignments(size_t at_most);

  /// What one fold_assignments() writes.
  static constexpr size_t fold_batch = 8192;

  caf::error put_node(const protocol::node_status& x) override;
  caf::expected<std::vector<protocol::node_status>> nodes() override;

  caf::expected<std::vector<protocol::event>> commit(write_batch batch) override;

  caf::expected<std::vector<protocol::event>>
  append_events(std::vector<protocol::event> xs) override;
  caf::expected<std::vector<protocol::event>>
  events_after(uint64_t after, size_t limit, const std::string& service = {}) override;
  caf::expected<std::vector<protocol::event>> last_events(size_t limit,
                                                          const std::string& service = {}) override;
  caf::error put_object(const protocol::stored_object& x) override;
  caf::error remove_object(protocol::object_kind kind, const std::string& name) override;
  caf::expected<std::vector<protocol::stored_object>>
  objects(protocol::object_kind kind, const std::string& after, size_t limit) override;
  caf::expected<uint64_t> prune_objects(protocol::object_kind kind, uint64_t keep) override;
  uint64_t last_seq() const override;

  /// A compacted copy (LMDB's mdb_env_copyfd2), read in one read transaction.
  caf::expected<uint64_t> write_backup(const std::string& path) override;

  const std::string& dir() const;

  /// The store's layout version (the `meta` database's `format`); a store of
  /// an older one is upgraded when opened, after a copy of it is kept.
  static constexpr uint64_t format = 1;

  /// Where open() kept the store as it was before upgrading its format; empty
  /// when it upgraded nothing.
  const std::string& upgrade_backup() const;

private:
  struct impl;
  explicit lmdb_store(std::unique_ptr<impl> x);
  std::unique_ptr<impl> impl_;
};

} // namespace tutti::persistence
