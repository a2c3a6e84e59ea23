#pragma once

// The store (persistence/store.hpp) in etcd, for a control plane that outlives
// its host: several control processes share one etcd cluster, and the one that
// leads writes. Every key starts with a prefix ("/tutti/" by default), so one
// etcd cluster can hold several tutti clusters.
//
// Keys (NAME, SERVICE and REPLICA hold no NUL byte, so "\0" ends them and a
// name's keys are one range that no other name's keys enter; numbers are 20
// decimal digits, so key order is numeric order):
//   head/NAME                 {"current": REV, "last": REV} (current 0: deleted)
//   spec/NAME\0REV            a revision's YAML and time (records.hpp)
//   assign/SERVICE\0REPLICA   an assignment (SERVICE: the replica id up to its last '-')
//   node/NAME                 a node record
//   event/SEQ                 an event
//   service_event/SERVICE\0SEQ  the same event, read by service
//   seq                       the last event's SEQ
//
// Optimistic concurrency: a write of specs compares the mod_revision of the
// heads it read, and a write of events that of "seq", so a writer that raced
// another one writes nothing and the call fails (spec writes are retried on
// fresh reads). A fence (the leader's election key, as it was created) is
// compared by every write: a control process that lost its leadership writes
// nothing, whether or not it has noticed yet, and gets not_leader.
//
// etcd runs at most --max-txn-ops operations per transaction (128 by default):
// an apply that needs more is refused before anything is written, naming the
// limit. A group commit (write_batch) that needs more is several transactions
// in order, each atomic; when one fails, those before it stay written (an
// assignment or node record written again is the same record, and their
// events keep their places in the log).

#include "persistence/etcd_client.hpp"
#include "persistence/store.hpp"

#include <cstddef>
#include <memory>
#include <optional>
#include <string>

namespace tutti::persistence {

struct etcd_store_options {
  std::string prefix = "/tutti/"; // every key of this cluster starts with it
  size_t max_txn_ops = 128;       // etcd's --max-txn-ops
};

/// The leadership a write is fenced by: the leader's election key and the
/// revision at which it was created (a new leader's key is a new creation).
struct write_fence {
  std::string key;
  int64_t create_revision = 0;
};

class etcd_store final : public store {
public:
  /// Reads the last event's seq: fails (unavailable, naming the endpoints) when
  /// no endpoint of etcd answers.
  /// `reads`: where reads go, when not to etcd itself (a standby's copy of
  /// it, etcd_mirror.hpp); writes always go to etcd.
  static caf::expected<std::unique_ptr<etcd_store>>
  open(std::shared_ptr<etcd::client> client, store_options opts = {},
       etcd_store_options etcd_opts = {}, std::shared_ptr<etcd::reader> reads = nullptr);

  ~etcd_store() override;
  etcd_store(const etcd_store&) = delete;
  etcd_store& operator=(const etcd_store&) = delete;

  /// Every later write compares `fence` (none: writes are not fenced).
  void set_fence(std::optional<write_fence> fence);

  /// Reads the last event's seq again (a standby does before it leads).
  caf::error reload();

  caf::expected<std::vector<stored_spec>>
  put_specs(const std::vector<std::pair<std::string, std::string>>& name_and_yaml) override;
  caf::error delete_service(const std::string& name) override;
  caf::expected<std::optional<stored_spec>> current_spec(const std::string& name) override;
  caf::expected<std::vector<stored_spec>> current_specs() override;
  caf::expected<std::vector<stored_spec>> history(const std::string& name) override;

  caf::error put_assignment(const assignment& x) override;
  caf::error remove_assignment(const std::string& replica) override;
  caf::expected<std::vector<assignment>> assignments(const std::string& service) override;
  uint64_t logged_assignments() const override; // 0: etcd writes each key in place
  caf::error fold_assignments() override;

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

  /// etcd's own snapshot of its whole keyspace (etcd::client::snapshot), which
  /// `etcdctl snapshot restore` makes the data of a new etcd member.
  caf::expected<uint64_t> write_backup(const std::string& path) override;

private:
  struct impl;
  explicit etcd_store(std::unique_ptr<impl> x);
  std::unique_ptr<impl> impl_;
};

} // namespace tutti::persistence
