#include "actors/supervision/supervision.hpp"

#include "actors/interfaces.hpp"

#include <spdlog/spdlog.h>
#include "metrics/recorder.hpp"
#include "protocol/errors.hpp"

#include <caf/all.hpp>

#include <algorithm>

namespace tutti::actors {

bool is_clean_exit(const caf::error& reason) {
  return !reason || reason == caf::exit_reason::normal || reason == caf::exit_reason::user_shutdown;
}

supervision::supervision(caf::scheduled_actor* self, std::string name, restart_strategy strategy,
                         restart_limit limit, metrics::recorder& metrics)
  : self_(self), name_(std::move(name)), strategy_(strategy), limit_(limit), metrics_(metrics),
    children_(std::make_shared<child_list>()) {
  // Children are monitored, not linked: CAF's exit_reason::kill cannot be trapped,
  // so a link would let a killed child take its supervisor down. Instead the
  // supervisor ends its children when it ends, for whatever reason. The functor
  // runs after the owner's state is gone: it shares the list (an entry has a
  // handle exactly while its child lives).
  self_->attach_functor([children = children_](const caf::error&) {
    for (auto& e : *children)
      if (e.handle)
        caf::anon_send_exit(e.handle, caf::exit_reason::user_shutdown);
  });
}

caf::actor supervision::start_child(const std::string& name, start_function start,
                                    bool supervises) {
  return start_child(
      name, [start = std::move(start)](const std::string&) { return start(); }, supervises);
}

caf::actor supervision::start_child(const std::string& name, named_start_function start,
                                    bool supervises) {
  if (auto old = find(name); old != children_->end()) {
    auto handle = old->handle;
    erase(old);
    if (handle) {
      self_->demonitor(handle);
      forget(handle.address());
      self_->send_exit(handle, caf::exit_reason::user_shutdown);
    }
  }
  children_->push_back(entry{name, std::move(start), {}, 0, supervises, {}});
  auto i = std::prev(children_->end());
  by_name_[i->name] = i;
  spawn(i);
  return i->handle;
}

void supervision::spawn(child_ref i) {
  auto& e = *i;
  e.handle = e.start(e.name);
  if (!e.handle) {
    spdlog::error("{}: starting child {} returned no actor", name_, e.name);
    return;
  }
  self_->monitor(e.handle);
  by_addr_[e.handle.address()] = i;
}

void supervision::erase(child_ref i) {
  if (i->handle)
    by_addr_.erase(i->handle.address());
  by_name_.erase(i->name); // before the name it is keyed by goes
  children_->erase(i);
}

void supervision::stop_child(const std::string& name, caf::error reason) {
  auto e = find(name);
  if (e == children_->end())
    return;
  auto handle = e->handle;
  erase(e);
  if (handle) {
    self_->demonitor(handle);
    forget(handle.address());
    self_->send_exit(handle, std::move(reason));
  }
}

void supervision::stop_all(caf::error reason) {
  while (!children_->empty())
    stop_child(children_->back().name, reason);
}

caf::actor supervision::child(const std::string& name) const {
  auto* e = find(name);
  return e ? e->handle : caf::actor{};
}

std::vector<std::string> supervision::children() const {
  std::vector<std::string> out;
  for (const auto& e : *children_)
    out.push_back(e.name);
  return out;
}

int32_t supervision::restarts_of(const std::string& name) const {
  auto* e = find(name);
  return e ? e->total_restarts : 0;
}

void supervision::on_restart(std::function<void(const std::string&)> f) {
  on_restart_ = std::move(f);
}

caf::error supervision::escalated_reason(const std::string& supervisor, const std::string& child) {
  return protocol::make_error(protocol::error_code::internal,
                              supervisor + ": child " + child + " exceeded its restart limit");
}

void supervision::forget(const caf::actor_addr& who) {
  by_addr_.erase(who);
}

bool supervision::handle_down(const caf::down_msg& msg) {
  auto e = find(msg.source);
  forget(msg.source);
  if (e == children_->end())
    return false;
  e->handle = caf::actor{};
  if (is_clean_exit(msg.reason)) {
    erase(e);
    return true;
  }
  e->past_of().last_exit = msg.reason ? protocol::message_of(msg.reason) : "normal";
  spdlog::warn("{}: child {} ended ({}), restarting", name_, e->name,
               protocol::message_of(msg.reason));
  if (over_limit(*e)) {
    spdlog::error("{}: child {} restarted {} times within the window, escalating", name_, e->name,
                  limit_.max_restarts);
    self_->quit(escalated_reason(name_, e->name));
    return true;
  }
  restart_from(e);
  return true;
}

bool supervision::over_limit(entry& e) {
  auto now = clock::now();
  auto& recent = e.past_of().recent;
  recent.push_back(now);
  auto expired = std::find_if(recent.begin(), recent.end(),
                              [&](clock::time_point t) { return now - t <= limit_.window; });
  recent.erase(recent.begin(), expired);
  return static_cast<int32_t>(recent.size()) > limit_.max_restarts;
}

void supervision::restart_from(child_ref first) {
  // rest_for_one: the younger siblings depend on the one that ended, so they are
  // stopped first (newest first) and started again in their original order.
  auto last = strategy_ == restart_strategy::rest_for_one ? children_->end() : std::next(first);
  for (auto i = last; --i != first;) {
    auto& sibling = *i;
    if (sibling.handle) {
      self_->demonitor(sibling.handle);
      forget(sibling.handle.address());
      self_->send_exit(sibling.handle, caf::exit_reason::user_shutdown);
      sibling.handle = caf::actor{};
    }
  }
  for (auto i = first; i != last; ++i) {
    auto& x = *i;
    ++x.total_restarts;
    metrics_.count_actor_restart(name_, x.name);
    spawn(i);
    if (on_restart_)
      on_restart_(x.name);
  }
}

namespace {

using tree_collector =
    caf::typed_actor<caf::replies_to<protocol::tree_atom>::with<std::vector<protocol::actor_info>>>;

constexpr auto tree_timeout = std::chrono::seconds{1};

/// Gathers the subtrees of supervising children (paths prefixed with the
/// child's) into `own`, answers once, and ends. A child that does not answer is
/// marked unreachable instead of failing the whole tree.
tree_collector::behavior_type collect_tree(tree_collector::pointer self,
                                           std::vector<protocol::actor_info> own,
                                           std::vector<std::pair<size_t, caf::actor>> asked) {
  return {[=](protocol::tree_atom) -> caf::result<std::vector<protocol::actor_info>> {
    if (asked.empty()) {
      self->quit();
      return own;
    }
    auto rp = self->make_response_promise<std::vector<protocol::actor_info>>();
    auto acc = std::make_shared<std::vector<protocol::actor_info>>(own);
    auto pending = std::make_shared<size_t>(asked.size());
    auto done = [self, rp, acc, pending]() mutable {
      if (--*pending != 0)
        return;
      rp.deliver(std::move(*acc));
      self->quit();
    };
    for (const auto& [index, child] : asked) {
      auto prefix = own[index].path;
      self->request(child, tree_timeout, protocol::tree_atom::value)
          .then(
              [acc, prefix, done](std::vector<protocol::actor_info>& xs) mutable {
                for (auto& x : xs) {
                  x.path = prefix + x.path;
                  acc->push_back(std::move(x));
                }
                done();
              },
              [acc, index = index, done](caf::error&) mutable {
                (*acc)[index].state = protocol::actor_state::unreachable;
                done();
              });
    }
    return rp;
  }};
}

std::string kind_of(const std::string& child) {
  return child.substr(0, child.find('/'));
}

caf::error exit_reason_of(const std::string& reason) {
  if (reason.empty() || reason == "kill")
    return caf::exit_reason::kill;
  return protocol::make_error(protocol::error_code::internal, reason);
}

} // namespace

caf::result<std::vector<protocol::actor_info>> supervision::tree() {
  std::vector<protocol::actor_info> own;
  std::vector<std::pair<size_t, caf::actor>> asked;
  for (const auto& e : *children_) {
    protocol::actor_info x;
    x.path = "/" + e.name;
    x.kind = kind_of(e.name);
    x.state = e.handle ? protocol::actor_state::running : protocol::actor_state::restarting;
    x.id = e.handle ? e.handle.id() : 0;
    x.restarts = e.total_restarts;
    if (e.past)
      x.last_exit = e.past->last_exit;
    if (e.supervises && e.handle)
      asked.emplace_back(own.size(), e.handle);
    own.push_back(std::move(x));
  }
  // A collector of its own, so that the owner goes on serving while the
  // children answer.
  auto collector = self_->spawn(collect_tree, std::move(own), std::move(asked));
  return self_->delegate(collector, protocol::tree_atom::value);
}

caf::result<std::string> supervision::kill(const std::string& path, const std::string& reason) {
  auto rest = path.size() > 0 && path[0] == '/' ? path.substr(1) : path;
  for (auto& e : *children_) {
    bool exact = rest == e.name;
    if (!exact && rest.rfind(e.name + "/", 0) != 0)
      continue;
    if (!e.handle)
      return protocol::make_error(protocol::error_code::unavailable,
                                  name_ + ": " + e.name + " is restarting; retry");
    if (exact) {
      spdlog::warn("{}: killing child {} on request ({})", name_, e.name,
                   reason.empty() ? "kill" : reason);
      self_->send_exit(e.handle, exit_reason_of(reason));
      return "/" + e.name;
    }
    if (!e.supervises)
      break;
    auto below = rest.substr(e.name.size());
    return self_->delegate(caf::actor_cast<supervising_actor>(e.handle), protocol::kill_atom::value,
                           below, reason);
  }
  return protocol::make_error(protocol::error_code::not_found,
                              "no actor at " + path + " under " + name_ +
                                  "; `tutti tree` lists the paths");
}

supervision::child_ref supervision::find(const caf::actor_addr& who) {
  auto i = by_addr_.find(who);
  if (i == by_addr_.end())
    return children_->end();
  auto e = i->second;
  return e->handle && e->handle.address() == who ? e : children_->end();
}

supervision::child_ref supervision::find(const std::string& name) {
  auto i = by_name_.find(name);
  return i == by_name_.end() ? children_->end() : i->second;
}

const supervision::entry* supervision::find(const std::string& name) const {
  auto i = by_name_.find(name);
  return i == by_name_.end() ? nullptr : &*i->second;
}

} // namespace tutti::actors
