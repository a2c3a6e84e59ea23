// The assignments part of lmdb_store: a B-tree of assignments by replica id
// ("assignments") and a log of changes to replicas the tree already held
// ("assignment_log"), folded into the tree when the store is idle or the log long.
//
// The log is why a lost node's replicas move cheaply. Rewritten in place, every
// moved replica dirtied its own 4 KiB page of the tree: with a million replicas,
// each commit of a reconvergence wrote ~2,500 pages (10 MB), and the store's
// writes were the largest part of the reconvergence's CPU. Appended, a change
// costs its own ~150 bytes; the fold later writes each page of the tree once, in
// key order. Reads merge the two, so what a caller sees never depends on whether
// a change was folded.

#include "persistence/lmdb_store.hpp"

#include "persistence/records.hpp"
#include "persistence/store_impl.hpp"

#include <algorithm>
#include <utility>

namespace tutti::persistence {

namespace {

using detail::decode_u64;
using detail::encode_u64;

// The first byte of a log record: an assignment put, or a removal.
constexpr char put_tag = 'P';
constexpr char remove_tag = 'D';

/// Reads one log record into `logged` (the newest record of a replica wins).
caf::error replay(store_state& s, std::string_view key, std::string_view value) {
  if (key.size() != 8 || value.empty())
    return corrupt(s.dir, "an assignment log record is malformed");
  s.last_log_key = decode_u64(key);
  ++s.log_records;
  auto body = value.substr(1);
  if (value[0] == remove_tag) {
    s.logged.insert_or_assign(std::string{body}, logged_change{});
    return {};
  }
  if (value[0] != put_tag)
    return corrupt(s.dir, "an assignment log record has an unknown kind");
  auto x = detail::decode_assignment(body);
  if (!x)
    return std::move(x.error());
  auto replica = x->replica;
  s.logged.insert_or_assign(std::move(replica), logged_change{std::move(*x)});
  return {};
}

bool has_prefix(std::string_view key, std::string_view prefix) {
  return key.substr(0, prefix.size()) == prefix;
}

bool of_service(const assignment& x, const std::string& service) {
  return service.empty() || x.service == service;
}

/// Replica ids are "SERVICE-SLOT": a service's assignments are one key range
/// (shared with services named "SERVICE-...": the record names its service), so
/// a cluster of a million replicas is not read whole for one service.
std::string prefix_of(const std::string& service) {
  return service.empty() ? std::string{} : service + "-";
}

/// The tree's assignments of `service` (all when empty), ordered by replica.
caf::expected<std::vector<assignment>> tree_of(tx& t, const std::string& service) {
  std::vector<assignment> out;
  auto prefix = prefix_of(service);
  auto err = t.scan(t.store().dbis.assignments, prefix,
                    [&](std::string_view key, std::string_view value) -> caf::expected<step> {
                      if (!has_prefix(key, prefix))
                        return step::stop;
                      auto x = detail::decode_assignment(value);
                      if (!x)
                        return std::move(x.error());
                      if (of_service(*x, service))
                        out.push_back(std::move(*x));
                      return step::next;
                    });
  if (err)
    return err;
  return out;
}

/// `tree` (ordered by replica, of `service`) with the logged changes of the
/// replicas starting with `prefix` applied.
std::vector<assignment> merge(std::vector<assignment> tree, const assignment_changes& logged,
                              const std::string& prefix, const std::string& service) {
  auto change = logged.lower_bound(prefix);
  auto changes_left = [&] { return change != logged.end() && has_prefix(change->first, prefix); };
  if (!changes_left())
    return tree;
  std::vector<assignment> out;
  out.reserve(tree.size());
  size_t i = 0;
  while (i < tree.size() || changes_left()) {
    if (changes_left() && (i == tree.size() || change->first <= tree[i].replica)) {
      if (i < tree.size() && change->first == tree[i].replica)
        ++i; // the log's change replaces the tree's record
      const auto& x = change->second.x;
      if (x && of_service(*x, service))
        out.push_back(*x);
      ++change;
    } else {
      out.push_back(std::move(tree[i++]));
    }
  }
  return out;
}

} // namespace

// -- assignment_writes --------------------------------------------------------------

const std::optional<assignment>* assignment_writes::logged(const std::string& replica) const {
  if (auto i = staged_.find(replica); i != staged_.end())
    return &i->second;
  auto i = s_.logged.find(replica);
  return i != s_.logged.end() ? &i->second.x : nullptr;
}

caf::error assignment_writes::log(tx& t, const std::string& replica, std::optional<assignment> x,
                                  std::string_view encoded) {
  std::string record;
  record.reserve(1 + encoded.size());
  record.push_back(x ? put_tag : remove_tag);
  record.append(encoded);
  if (auto err = t.append(s_.dbis.assignment_log, encode_u64(last_key_ + 1), record))
    return err;
  ++last_key_;
  ++appended_;
  staged_.insert_or_assign(replica, std::move(x));
  return {};
}

caf::error assignment_writes::put(tx& t, const assignment& x) {
  auto encoded = detail::encode_assignment(x);
  if (logged(x.replica) == nullptr) {
    auto inserted = t.insert(s_.dbis.assignments, x.replica, encoded);
    if (!inserted)
      return std::move(inserted.error());
    if (*inserted)
      return {};
  }
  return log(t, x.replica, x, encoded);
}

caf::error assignment_writes::remove(tx& t, const std::string& replica) {
  if (const auto* last = logged(replica)) {
    if (!*last)
      return {}; // removed already
    return log(t, replica, std::nullopt, replica);
  }
  auto held = t.get(s_.dbis.assignments, replica);
  if (!held)
    return std::move(held.error());
  if (!*held)
    return {};
  return log(t, replica, std::nullopt, replica);
}

caf::error assignment_writes::remove_service(tx& t, const std::string& service) {
  auto tree = tree_of(t, service);
  if (!tree)
    return std::move(tree.error());
  for (const auto& x : *tree)
    if (auto err = t.del(s_.dbis.assignments, x.replica))
      return err;
  // Logged ones are removed in the log too, or replaying it would bring them back.
  auto prefix = prefix_of(service);
  std::vector<std::string> logged_ones;
  for (auto i = s_.logged.lower_bound(prefix); i != s_.logged.end() && has_prefix(i->first, prefix);
       ++i)
    if (i->second.x && i->second.x->service == service)
      logged_ones.push_back(i->first);
  for (const auto& replica : logged_ones)
    if (auto err = remove(t, replica))
      return err;
  return {};
}

caf::error assignment_writes::fold(tx& t, size_t at_most) {
  for (auto i = s_.logged.begin(); i != s_.logged.end() && folded_.size() < at_most; ++i) {
    if (i->second.in_tree)
      continue;
    const auto& x = i->second.x;
    auto err = x ? t.put(s_.dbis.assignments, i->first, detail::encode_assignment(*x))
                 : t.del(s_.dbis.assignments, i->first);
    if (err)
      return err;
    folded_.push_back(i);
  }
  // Every record of the log is now in the tree or superseded by one that is.
  if (folded_.size() == s_.unfolded) {
    if (auto err = t.clear(s_.dbis.assignment_log))
      return err;
    log_cleared_ = true;
  }
  return {};
}

void assignment_writes::committed() {
  if (log_cleared_) {
    s_.logged.clear();
    s_.unfolded = 0;
    s_.log_records = 0;
  } else {
    for (auto i : folded_)
      i->second.in_tree = true;
    s_.unfolded -= folded_.size();
  }
  s_.log_records += appended_;
  s_.last_log_key = last_key_;
  while (!staged_.empty()) {
    auto node = staged_.extract(staged_.begin());
    auto [i, added] = s_.logged.try_emplace(std::move(node.key()));
    if (added || i->second.in_tree)
      ++s_.unfolded;
    i->second = logged_change{std::move(node.mapped())};
  }
}

caf::error load_assignment_log(store_state& s) {
  auto err = s.read("read the assignment log", [&s](tx& t) {
    return t.scan(s.dbis.assignment_log, {},
                  [&s](std::string_view key, std::string_view value) -> caf::expected<step> {
                    if (auto err = replay(s, key, value))
                      return err;
                    return step::next;
                  });
  });
  s.unfolded = s.logged.size(); // which of them the tree holds is not known: all again
  return err;
}

// -- lmdb_store ---------------------------------------------------------------------

caf::error lmdb_store::put_assignment(const assignment& x) {
  write_batch batch;
  batch.assignments.push_back({x, false});
  auto done = commit(std::move(batch));
  return done ? caf::error{} : std::move(done.error());
}

caf::error lmdb_store::remove_assignment(const std::string& replica) {
  write_batch batch;
  batch.assignments.push_back({assignment{replica, {}, {}, {}, 0}, true});
  auto done = commit(std::move(batch));
  return done ? caf::error{} : std::move(done.error());
}

caf::expected<std::vector<assignment>> lmdb_store::assignments(const std::string& service) {
  caf::expected<std::vector<assignment>> tree{std::vector<assignment>{}};
  auto err = impl_->read("read assignments", [&](tx& t) {
    tree = tree_of(t, service);
    return tree ? caf::error{} : tree.error();
  });
  if (err)
    return err;
  return merge(std::move(*tree), impl_->logged, prefix_of(service), service);
}

uint64_t lmdb_store::logged_assignments() const {
  return impl_->unfolded;
}

caf::error lmdb_store::fold_assignments() {
  return fold_assignments(fold_batch);
}

caf::error lmdb_store::fold_assignments(size_t at_most) {
  if (impl_->unfolded == 0 && impl_->log_records == 0)
    return {};
  assignment_writes changes{*impl_};
  auto err = impl_->write("fold the assignment log",
                          [&](tx& t) { return changes.fold(t, std::max<size_t>(1, at_most)); });
  if (err)
    return err;
  changes.committed();
  return {};
}

} // namespace tutti::persistence
