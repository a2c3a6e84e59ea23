#include "actors/store/store_actor.hpp"

#include "metrics/recorder.hpp"
#include "persistence/store.hpp"
#include "protocol/errors.hpp"

#include <caf/all.hpp>

#include <spdlog/spdlog.h>

#include <chrono>
#include <map>

namespace tutti::actors {

namespace {

struct subscription {
  event_sink_actor sink;
  std::string service; // empty: all
};

/// Writes received since the last commit, and whom to answer once it is durable.
struct pending_writes {
  persistence::store::write_batch batch;
  std::vector<caf::typed_response_promise<bool>> promises;
  std::vector<caf::typed_response_promise<int64_t>> epoch_promises; // of assignments
  bool flush_queued = false; // a flush_atom is in our mailbox (or on its way)
  std::chrono::steady_clock::time_point last_commit;
};

/// Commits under a steady stream of writes are at least this far apart. A
/// commit costs per page it touches more than per record, so many small
/// commits keep the store's thread busy writing the same B-tree pages again;
/// docs/benchmarks.md gives the figures. A write after a quiet spell still
/// commits at once. (etcd's backend batches 100 ms.)
constexpr auto commit_interval = std::chrono::milliseconds{10};

/// The store folds its log of assignment changes into their tree once no commit
/// has come for this long: a burst of moves (a lost node's replicas) appends,
/// and the pages of the tree are written after it, once.
constexpr auto fold_after_idle = std::chrono::seconds{1};

/// A follower whose backlog is still being sent, a page per message.
struct backlog {
  uint64_t after = 0;
  std::string service;
  event_sink_actor sink;
  caf::typed_response_promise<bool> promise;
};

struct store_state {
  std::shared_ptr<persistence::store> db;
  metrics::recorder* metrics = nullptr; // from a reference at spawn: never null once running
  std::map<caf::actor_addr, subscription> followers;
  std::map<uint64_t, backlog> backlogs; // by an id of their own
  uint64_t next_backlog = 0;
  pending_writes pending;
  int64_t last_epoch = 0;
  bool fold_queued = false; // a fold_atom is on its way
  bool folding = false;     // a fold has begun and has batches left
  std::chrono::steady_clock::time_point fold_started;
  uint64_t fold_size = 0; // changes in the log when the fold began
  static inline const char* name = "store";
};

using self_ptr = store_actor::stateful_pointer<store_state>;

p::spec_record to_record(const persistence::stored_spec& x) {
  return {x.name, x.revision, x.yaml, x.time_ms};
}

template <class F> auto timed(self_ptr self, F f) {
  auto start = std::chrono::steady_clock::now();
  auto result = f();
  std::chrono::duration<double> took = std::chrono::steady_clock::now() - start;
  self->state.metrics->observe_store_commit(took.count());
  return result;
}

void publish(self_ptr self, const std::vector<p::event>& stored) {
  for (auto& [addr, sub] : self->state.followers) {
    std::vector<p::event> batch;
    for (auto& e : stored)
      if (sub.service.empty() || sub.service == e.service)
        batch.push_back(e);
    if (!batch.empty())
      self->send(sub.sink, std::move(batch));
  }
}

/// The next fencing epoch: the store's clock, strictly increasing. Assignments
/// get theirs when they are committed and a sweep's read gets one too, both
/// here, in the order the store does them: whatever a read does not return is
/// committed later, so its epoch is greater than the read's.
int64_t next_epoch(self_ptr self) {
  auto& last = self->state.last_epoch;
  last = std::max(last + 1, p::fencing_epoch());
  return last;
}

void note_logged(self_ptr self) {
  self->state.metrics->set_store_logged_assignments(
      static_cast<double>(self->state.db->logged_assignments()));
}

/// Folds the log of assignment changes once the store has been idle for
/// fold_after_idle (a commit in between postpones it).
void queue_fold(self_ptr self, std::chrono::steady_clock::duration after = fold_after_idle) {
  if (self->state.fold_queued || self->state.db->logged_assignments() == 0)
    return;
  self->state.fold_queued = true;
  self->delayed_send(self, after, p::fold_atom::value);
}

/// One batch of the fold per fold_atom: writes queued meanwhile are committed
/// between batches. Once begun, a fold goes on without waiting to be idle.
void fold_when_idle(self_ptr self) {
  auto& st = self->state;
  st.fold_queued = false;
  auto since = std::chrono::steady_clock::now() - st.pending.last_commit;
  if (!st.folding && since < fold_after_idle) {
    queue_fold(self, fold_after_idle - since);
    return;
  }
  if (st.db->logged_assignments() == 0) {
    st.folding = false;
    return;
  }
  if (!st.folding) {
    st.fold_started = std::chrono::steady_clock::now();
    st.fold_size = st.db->logged_assignments();
  }
  if (auto err = timed(self, [&] { return st.db->fold_assignments(); })) {
    // The log stays as it is and serves reads; the next commit tries again.
    spdlog::error("store: cannot fold {} assignment changes into their tree: {}",
                  st.db->logged_assignments(), p::message_of(err));
    st.folding = false;
    return;
  }
  note_logged(self);
  st.folding = st.db->logged_assignments() > 0;
  if (st.folding) {
    st.fold_queued = true;
    self->send(self, p::fold_atom::value);
    return;
  }
  std::chrono::duration<double, std::milli> took =
      std::chrono::steady_clock::now() - st.fold_started;
  // Only a long fold is worth a line at info.
  auto level = took.count() >= 100 ? spdlog::level::info : spdlog::level::debug;
  spdlog::log(level, "store: folded {} assignment changes into their tree in {:.0f} ms",
              st.fold_size, took.count());
}

/// Group commit: writes wait in `pending` until the flush_atom we sent ourselves
/// comes out of the mailbox, behind every message that was queued before it, so
/// one durable transaction (one fsync) serves all of them. Answers go out only
/// after that commit.
void queue_flush(self_ptr self) {
  if (self->state.pending.flush_queued)
    return;
  self->state.pending.flush_queued = true;
  auto since = std::chrono::steady_clock::now() - self->state.pending.last_commit;
  if (since >= commit_interval)
    self->send(self, p::flush_atom::value);
  else
    self->delayed_send(self, commit_interval - since, p::flush_atom::value);
}

void flush(self_ptr self) {
  auto& pending = self->state.pending;
  pending.flush_queued = false;
  if (pending.batch.empty() && pending.promises.empty())
    return;
  auto batch = std::move(pending.batch);
  auto promises = std::move(pending.promises);
  auto epoch_promises = std::move(pending.epoch_promises);
  pending.batch = {};
  pending.promises.clear();
  pending.epoch_promises.clear();
  auto epoch = next_epoch(self);
  for (auto& change : batch.assignments)
    if (!change.remove)
      change.x.epoch = epoch;
  auto events = batch.events.size();
  pending.last_commit = std::chrono::steady_clock::now();
  auto stored = timed(self, [&] { return self->state.db->commit(std::move(batch)); });
  if (!stored) {
    spdlog::error("store: cannot commit {} writes and {} events: {}", promises.size(), events,
                  p::message_of(stored.error()));
    for (auto& promise : promises)
      promise.deliver(stored.error());
    for (auto& promise : epoch_promises)
      promise.deliver(stored.error());
    return;
  }
  note_logged(self);
  queue_fold(self);
  for (auto& promise : promises)
    promise.deliver(true);
  for (auto& promise : epoch_promises)
    promise.deliver(epoch);
  for (auto& e : *stored)
    self->state.metrics->count_event(e.kind);
  publish(self, *stored);
}

/// Removes the assignment of `replica`, durable in the next commit.
caf::result<bool> queue_unassignment(self_ptr self, const std::string& replica) {
  self->state.pending.batch.assignments.push_back({{replica, {}, {}, {}, 0}, true});
  auto promise = self->make_response_promise<bool>();
  self->state.pending.promises.push_back(promise);
  queue_flush(self);
  return promise;
}

/// Many assignments, durable in one commit with one answer (a service's batch):
/// the fencing epoch the commit gave them.
caf::result<int64_t> queue_assignments(self_ptr self, const std::vector<p::assignment>& xs) {
  for (const auto& x : xs)
    self->state.pending.batch.assignments.push_back(
        {{x.replica, x.service, x.node, x.template_hash, 0}, false});
  auto promise = self->make_response_promise<int64_t>();
  self->state.pending.epoch_promises.push_back(promise);
  queue_flush(self);
  return promise;
}

caf::expected<std::vector<p::assignment>> assignments_of(self_ptr self,
                                                         const std::string& service) {
  auto xs = self->state.db->assignments(service);
  if (!xs)
    return std::move(xs.error());
  std::vector<p::assignment> out;
  out.reserve(xs->size());
  for (auto& x : *xs)
    out.push_back({x.replica, x.service, x.node, x.template_hash, x.epoch});
  return out;
}

caf::result<bool> queue_node(self_ptr self, const p::node_status& x) {
  self->state.pending.batch.nodes.push_back(x);
  auto promise = self->make_response_promise<bool>();
  self->state.pending.promises.push_back(promise);
  queue_flush(self);
  return promise;
}

void append(self_ptr self, p::event e) {
  if (e.time_ms == 0)
    e.time_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                    std::chrono::system_clock::now().time_since_epoch())
                    .count();
  self->state.pending.batch.events.push_back(std::move(e));
  queue_flush(self);
}

void append_all(self_ptr self, std::vector<p::event>& es) {
  for (auto& e : es)
    append(self, std::move(e));
}

// -- reads and synchronous writes -------------------------------------------------
//
// Each of these flushes the queued writes first, so it sees them and the log
// keeps the order of the mailbox.

caf::result<std::vector<p::spec_record>> load_all(self_ptr self) {
  flush(self);
  auto specs = self->state.db->current_specs();
  if (!specs)
    return std::move(specs.error());
  std::vector<p::spec_record> out;
  for (auto& x : *specs)
    out.push_back(to_record(x));
  return out;
}

caf::result<p::spec_record> load_one(self_ptr self, const std::string& name) {
  flush(self);
  auto spec = self->state.db->current_spec(name);
  if (!spec)
    return std::move(spec.error());
  if (!*spec)
    return p::make_error(p::error_code::not_found, "service " + name + " not found");
  return to_record(**spec);
}

caf::result<std::vector<p::spec_record>> put_specs(self_ptr self,
                                                   const std::vector<p::spec_record>& xs) {
  flush(self);
  std::vector<std::pair<std::string, std::string>> input;
  for (auto& x : xs)
    input.emplace_back(x.name, x.yaml);
  auto stored = timed(self, [&] { return self->state.db->put_specs(input); });
  if (!stored)
    return std::move(stored.error());
  std::vector<p::spec_record> out;
  for (auto& x : *stored)
    out.push_back(to_record(x));
  return out;
}

caf::result<bool> delete_service(self_ptr self, const std::string& name) {
  flush(self);
  auto err = timed(self, [&] { return self->state.db->delete_service(name); });
  note_logged(self); // the delete logged the removal of its moved replicas
  if (err)
    return err;
  return true;
}

caf::result<std::vector<p::assignment>> read_assignments(self_ptr self,
                                                         const std::string& service) {
  flush(self);
  auto xs = assignments_of(self, service);
  if (!xs)
    return std::move(xs.error());
  return std::move(*xs);
}

/// The assignments of `service` with the epoch of their read; of no service,
/// only the epoch.
caf::result<std::vector<p::assignment>, int64_t> sweep_read(self_ptr self,
                                                            const std::string& service) {
  flush(self);
  auto snapshot = next_epoch(self);
  if (service.empty())
    return {std::vector<p::assignment>{}, snapshot};
  auto xs = assignments_of(self, service);
  if (!xs)
    return std::move(xs.error());
  return {std::move(*xs), snapshot};
}

caf::result<std::vector<p::event>> read_events(self_ptr self, uint64_t after, uint32_t limit,
                                               const std::string& service) {
  flush(self);
  auto xs = after == 0 ? self->state.db->last_events(limit, service)
                       : self->state.db->events_after(after, limit, service);
  if (!xs)
    return std::move(xs.error());
  return std::move(*xs);
}

/// Sends the next page of a follower's backlog, or, once it is all sent,
/// makes it a follower. A page per message: a backlog of the whole log (100,000
/// events) read at once held every other request (a commit, a service's read)
/// for seconds, and any client may ask for it.
void send_backlog(self_ptr self, uint64_t id) {
  auto i = self->state.backlogs.find(id);
  if (i == self->state.backlogs.end())
    return; // its sink is gone
  auto& b = i->second;
  auto page = self->state.db->events_after(b.after, 1000, b.service);
  if (!page) {
    b.promise.deliver(std::move(page.error()));
    self->state.backlogs.erase(i);
    return;
  }
  if (page->empty()) {
    // Nothing was committed since this read (this actor does both), so events
    // from now on reach the sink through publish, in order, none twice.
    self->state.followers[b.sink.address()] = subscription{b.sink, b.service};
    b.promise.deliver(true);
    self->state.backlogs.erase(i);
    return;
  }
  b.after = page->back().seq;
  self->send(b.sink, std::move(*page));
  self->send(self, p::follow_atom::value, p::tick_atom::value, id);
}

caf::result<bool> follow(self_ptr self, uint64_t after, const std::string& service,
                         event_sink_actor sink) {
  flush(self);
  self->monitor(sink);
  auto id = self->state.next_backlog++;
  auto promise = self->make_response_promise<bool>();
  self->state.backlogs[id] = backlog{after, service, sink, promise};
  send_backlog(self, id);
  return promise;
}

void forget_sink(self_ptr self, const caf::actor_addr& sink) {
  self->state.followers.erase(sink);
  for (auto i = self->state.backlogs.begin(); i != self->state.backlogs.end();)
    i = i->second.sink.address() == sink ? self->state.backlogs.erase(i) : std::next(i);
}

caf::result<std::vector<p::node_status>> read_nodes(self_ptr self) {
  flush(self);
  auto xs = self->state.db->nodes();
  if (!xs)
    return std::move(xs.error());
  return std::move(*xs);
}

/// The revisions kept of `service`. Reads committed revisions only, so it needs
/// no flush: specs are written synchronously (put_specs).
caf::result<std::vector<p::spec_record>> history_of(self_ptr self, const std::string& service) {
  auto xs = self->state.db->history(service);
  if (!xs)
    return std::move(xs.error());
  std::vector<p::spec_record> out;
  for (auto& x : *xs)
    out.push_back(to_record(x));
  return out;
}

// -- objects (tokens, audit records) -------------------------------------------------

/// Written at once, not with the group commit: a token must be stored before
/// its secret is shown, and these writes are rare.
caf::result<bool> put_object(self_ptr self, const p::stored_object& x) {
  if (auto err = self->state.db->put_object(x))
    return err;
  return true;
}

caf::result<bool> remove_object(self_ptr self, p::object_kind kind, const std::string& name) {
  if (auto err = self->state.db->remove_object(kind, name))
    return err;
  return true;
}

caf::result<uint64_t> prune_objects(self_ptr self, p::object_kind kind, uint64_t keep) {
  auto removed = self->state.db->prune_objects(kind, keep);
  if (!removed)
    return std::move(removed.error());
  return *removed;
}

caf::result<std::vector<p::stored_object>> read_objects(self_ptr self, p::object_kind kind,
                                                         const std::string& after, uint32_t limit) {
  auto xs = self->state.db->objects(kind, after, limit);
  if (!xs)
    return std::move(xs.error());
  return std::move(*xs);
}

// -- backups -----------------------------------------------------------------------

/// Copies the store on a worker of its own: a copy of a large store takes
/// seconds, and the store's writes go on beside it (the one store call that
/// may; see persistence::store::write_backup).
caf::result<uint64_t> backup(self_ptr self, const std::string& path) {
  auto rp = self->make_response_promise<uint64_t>();
  self->spawn<caf::detached>([db = self->state.db, path, rp]() mutable {
    auto bytes = db->write_backup(path);
    if (bytes)
      rp.deliver(*bytes);
    else
      rp.deliver(std::move(bytes.error()));
  });
  return rp;
}

// -- the behaviour -----------------------------------------------------------------

store_actor::behavior_type store(self_ptr self, std::shared_ptr<persistence::store> db,
                                 metrics::recorder* metrics) {
  self->state.db = std::move(db);
  self->state.metrics = metrics;
  note_logged(self);
  queue_fold(self); // what a previous run left in the log
  self->set_down_handler([self](caf::down_msg& msg) { forget_sink(self, msg.source); });
  return {
      [self](p::load_atom) { return load_all(self); },
      [self](p::load_atom, const std::string& name) { return load_one(self, name); },
      [self](p::put_atom, const std::vector<p::spec_record>& xs) { return put_specs(self, xs); },
      [self](p::delete_atom, const std::string& name) { return delete_service(self, name); },
      [self](p::assign_atom, const std::vector<p::assignment>& xs) {
        return queue_assignments(self, xs);
      },
      [self](p::unassign_atom, const std::string& replica) {
        return queue_unassignment(self, replica);
      },
      [self](p::flush_atom) { flush(self); },
      [self](p::fold_atom) { fold_when_idle(self); },
      [self](p::get_atom, p::assign_atom, const std::string& service) {
        return read_assignments(self, service);
      },
      [self](p::sweep_atom, const std::string& service) { return sweep_read(self, service); },
      [self](p::append_atom, p::event& e) { append(self, std::move(e)); },
      [self](p::append_atom, std::vector<p::event>& es) { append_all(self, es); },
      [self](p::history_atom, const std::string& service) { return history_of(self, service); },
      [self](p::events_atom, uint64_t after, uint32_t limit, const std::string& service) {
        return read_events(self, after, limit, service);
      },
      [self](p::follow_atom, uint64_t after, const std::string& service, event_sink_actor sink) {
        return follow(self, after, service, std::move(sink));
      },
      [self](p::follow_atom, p::tick_atom, uint64_t id) { send_backlog(self, id); },
      [self](p::put_atom, const p::node_status& node) { return queue_node(self, node); },
      [self](p::get_atom, p::nodes_atom) { return read_nodes(self); },
      [self](p::put_atom, const p::stored_object& x) { return put_object(self, x); },
      [self](p::delete_atom, p::object_kind kind, const std::string& name) {
        return remove_object(self, kind, name);
      },
      [self](p::get_atom, p::object_kind kind, const std::string& after, uint32_t limit) {
        return read_objects(self, kind, after, limit);
      },
      [self](p::delete_atom, p::object_kind kind, uint64_t keep) {
        return prune_objects(self, kind, keep);
      },
      [self](p::backup_atom, const std::string& path) { return backup(self, path); },
  };
}

} // namespace

store_actor spawn_store(caf::actor_system& sys, std::shared_ptr<persistence::store> db,
                        metrics::recorder& metrics) {
  // CAF passes spawn arguments on by value: the recorder goes as a pointer to it.
  return sys.spawn<caf::detached>(store, std::move(db), &metrics);
}

} // namespace tutti::actors
