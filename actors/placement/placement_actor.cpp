#include "actors/placement/placement_actor.hpp"

#include "metrics/recorder.hpp"
#include "protocol/errors.hpp"

#include <caf/all.hpp>

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <functional>
#include <map>
#include <unordered_map>

namespace tutti::actors {

using node_id = placement_view::node_id;

namespace {

using clock = std::chrono::steady_clock;


using decision_promise = caf::typed_response_promise<p::placement_decision, node_actor>;
using batch_promise =
    caf::typed_response_promise<std::vector<p::placement_outcome>, std::vector<node_actor>>;

/// A batch's answers, delivered at once when the last of them is in.
struct batch_answer {
  batch_promise promise;
  std::vector<p::placement_outcome> outcomes;
  std::vector<node_actor> handles;
  size_t remaining = 0;
};

/// Where the answer about one replica goes: the promise of a single request, or
/// its place in a batch.
struct reply_to {
  decision_promise single;
  std::shared_ptr<batch_answer> batch;
  size_t index = 0;

  void placed(p::placement_decision d, node_actor handle) {
    if (!batch) {
      single.deliver(std::move(d), std::move(handle));
      return;
    }
    batch->outcomes[index].node = std::move(d.node);
    batch->handles[index] = std::move(handle);
    done();
  }

  void failed(caf::error err) {
    if (!batch) {
      single.deliver(std::move(err));
      return;
    }
    batch->outcomes[index].error = std::move(err);
    done();
  }

private:
  void done() {
    if (--batch->remaining == 0)
      batch->promise.deliver(std::move(batch->outcomes), std::move(batch->handles));
  }
};

struct pending_offer {
  p::placement_request req;
  node_id node = placement_view::no_node;
  reply_to reply;
  std::vector<node_id> refused;
  service_actor asker;
};

/// Placement's record of one replica.
struct placed {
  node_id node = placement_view::no_node;
  std::string service;
  p::resource_spec resources;
  int32_t host_ports = 0;
  uint64_t attempt = 0;   // tells a stale node answer from the current one
  bool confirmed = false; // the node accepted the reservation
};

struct placement_state {
  metrics::recorder* metrics = nullptr; // from a reference at spawn: never null once running
  placement_view view;
  std::vector<node_actor> handles; // by node id; null while the node is lost
  std::map<caf::actor_addr, node_id> by_addr;
  std::unordered_map<std::string, placed> replicas;
  std::map<std::string, service_actor> waiting;  // services with replicas that fit nowhere
  std::map<std::string, service_actor> services; // every service that asked, by name
  // Scheduling states set by `tutti node cordon|drain` (never ready or lost), by
  // node name: kept for nodes that have not joined (yet), and applied when they do.
  std::map<std::string, p::node_state> admin;
  // Nodes whose agent said it restarts, with the restart's number: one that
  // has not joined again when its grace runs out is lost then.
  std::map<node_id, uint64_t> restarting;
  uint64_t restarts = 0;
  caf::timespan restart_grace{};
  bool capacity_queued = false;
  uint64_t attempts = 0;
  clock::time_point started = clock::now();
  // Offers a node has not answered yet, by attempt: when the node goes down
  // they are declined here, since a request to a node cut off (no RST) may
  // never be answered, not even with an error.
  std::unordered_map<uint64_t, pending_offer> offers;
  // The same offers by node: a node that goes down declines its own, and 500
  // nodes lost while 100k offers are out must not each scan all of them.
  // A vector, not a set: a node has a few offers out at a time (it answers a
  // flush's in one message), and a set allocated a node per offer.
  std::unordered_map<node_id, std::vector<uint64_t>> offers_by_node;
  // Offers not sent yet, by node: they go out as one message per node when the
  // flush reminder comes out of the mailbox, behind the place requests queued
  // before it (at a million replicas, one message per offer cost more than the
  // decisions).
  std::unordered_map<node_id, std::vector<uint64_t>> outbox;
  // Nodes lost since the last flush, by service with replicas on them: a service
  // hears of a burst of losses (500 nodes at once) in one message, not one each.
  std::map<std::string, std::vector<std::string>> lost_news;
  bool flush_queued = false;
  static inline const char* name = "placement";
};

using self_ptr = placement_actor::stateful_pointer<placement_state>;

/// Offers to wake the waiting services, once per burst of changes.
void capacity_appeared(self_ptr self) {
  if (self->state.waiting.empty() || self->state.capacity_queued)
    return;
  self->state.capacity_queued = true;
  self->send(self, p::capacity_atom::value);
}

void notify_waiting(self_ptr self) {
  self->state.capacity_queued = false;
  auto waiting = std::move(self->state.waiting);
  self->state.waiting.clear();
  for (auto& [service, handle] : waiting)
    self->send(handle, p::capacity_atom::value);
}

void count(self_ptr self, metrics::placement_result result) {
  self->state.metrics->count_placement(result);
}

void release(self_ptr self, const std::string& replica) {
  auto& st = self->state;
  auto i = st.replicas.find(replica);
  if (i == st.replicas.end())
    return;
  auto& x = i->second;
  st.view.release(x.node, x.service, x.resources, x.host_ports);
  // An unconfirmed offer is given back when its answer comes.
  if (x.confirmed && x.node < st.handles.size() && st.handles[x.node])
    self->send(st.handles[x.node], p::release_atom::value, replica);
  st.replicas.erase(i);
  capacity_appeared(self);
}

void attempt(self_ptr self, p::placement_request req, reply_to reply,
             std::vector<node_id> refused, service_actor asker);

/// The node declined (or did not answer): forget the offer and pick again.
void on_declined(self_ptr self, uint64_t attempt_id, pending_offer x) {
  auto& st = self->state;
  count(self, metrics::placement_result::refused);
  auto i = st.replicas.find(x.req.replica);
  if (i != st.replicas.end() && i->second.attempt == attempt_id) {
    st.view.release(x.node, x.req.service, x.req.resources, x.req.host_ports);
    st.replicas.erase(i);
  }
  x.refused.push_back(x.node);
  attempt(self, std::move(x.req), std::move(x.reply), std::move(x.refused), std::move(x.asker));
}

/// Removes offer `j` from both indexes.
void forget_offer(self_ptr self, std::unordered_map<uint64_t, pending_offer>::iterator j) {
  auto& st = self->state;
  // An emptied list stays: the node gets offers again soon.
  if (auto k = st.offers_by_node.find(j->second.node); k != st.offers_by_node.end()) {
    auto& ids = k->second;
    if (auto at = std::find(ids.begin(), ids.end(), j->first); at != ids.end()) {
      *at = ids.back();
      ids.pop_back();
    }
  }
  st.offers.erase(j);
}

/// Sends the flush reminder, once per burst of offers or of lost nodes.
void queue_offers_flush(self_ptr self) {
  if (self->state.flush_queued)
    return;
  self->state.flush_queued = true;
  self->send(self, p::flush_atom::value);
}

/// The node's answer to offer `attempt_id` of `replica` (null: no answer, the
/// node failed).
void on_answer(self_ptr self, uint64_t attempt_id, const std::string& replica,
               const node_actor& node, const p::reservation_reply* reply) {
  auto& st = self->state;
  auto j = st.offers.find(attempt_id);
  if (j == st.offers.end()) {
    // Declined already, when the node went down: give back what it holds.
    if (reply != nullptr && reply->accepted && node)
      self->send(node, p::release_atom::value, replica);
    return;
  }
  auto x = std::move(j->second);
  forget_offer(self, j);
  if (reply == nullptr) {
    on_declined(self, attempt_id, std::move(x));
    return;
  }
  auto i = st.replicas.find(x.req.replica);
  bool current = i != st.replicas.end() && i->second.attempt == attempt_id;
  if (reply->accepted && current) {
    i->second.confirmed = true;
    count(self, metrics::placement_result::placed);
    x.reply.placed(p::placement_decision{x.req.replica, st.view.at(x.node).name}, node);
    return;
  }
  if (reply->accepted) {
    // Released while the node was answering: give it back.
    self->send(node, p::release_atom::value, x.req.replica);
    x.reply.failed(p::make_error(p::error_code::unavailable,
                                 "placement of " + x.req.replica + " was cancelled"));
    return;
  }
  if (current) {
    // The node knows what it holds; our picture of it was stale.
    st.view.release(x.node, x.req.service, x.req.resources, x.req.host_ports);
    st.replicas.erase(i);
    st.view.correct(x.node, *reply);
    // Erased here already: on_declined must not release it again.
    attempt_id = 0;
  }
  on_declined(self, attempt_id, std::move(x));
}

/// Sends every node its queued offers in one message.
void flush_offers(self_ptr self) {
  auto& st = self->state;
  st.flush_queued = false;
  auto outbox = std::move(st.outbox);
  st.outbox.clear();
  for (auto& [id, attempts] : outbox) {
    std::vector<uint64_t> ids;
    std::vector<p::reservation> offers;
    ids.reserve(attempts.size());
    offers.reserve(attempts.size());
    for (auto attempt_id : attempts)
      if (auto j = st.offers.find(attempt_id); j != st.offers.end()) {
        const auto& req = j->second.req;
        ids.push_back(attempt_id);
        offers.push_back({req.replica, req.service, req.resources, req.host_ports});
      }
    if (ids.empty())
      continue; // declined meanwhile: the node went down
    auto node = id < st.handles.size() ? st.handles[id] : node_actor{};
    std::vector<std::string> names;
    names.reserve(offers.size());
    for (const auto& o : offers)
      names.push_back(o.replica);
    if (!node) {
      for (size_t k = 0; k < ids.size(); ++k)
        on_answer(self, ids[k], names[k], node, nullptr);
      continue;
    }
    // No timer (a million of them cost more than the decisions): a node that
    // ends bounces the request, and one that is cut off is declared down by its
    // monitor, which declines what it never answered.
    self->request(node, caf::infinite, p::reserve_atom::value, std::move(offers))
        .then(
            [self, ids, names, node](std::vector<p::reservation_reply>& replies) {
              for (size_t k = 0; k < ids.size(); ++k)
                on_answer(self, ids[k], names[k], node,
                          k < replies.size() ? &replies[k] : nullptr);
            },
            [self, ids, names, node](caf::error&) {
              for (size_t k = 0; k < ids.size(); ++k)
                on_answer(self, ids[k], names[k], node, nullptr);
            });
  }
}

void attempt(self_ptr self, p::placement_request req, reply_to reply,
             std::vector<node_id> refused, service_actor asker) {
  auto& st = self->state;
  auto start = clock::now();
  auto chosen = choose_node(st.view, req, refused);
  st.metrics->observe_placement(std::chrono::duration<double>(clock::now() - start).count());
  if (!chosen) {
    count(self, metrics::placement_result::unschedulable);
    if (asker)
      st.waiting[req.service] = asker;
    reply.failed(chosen.error());
    return;
  }
  auto id = *chosen;
  auto attempt_id = ++st.attempts;
  // Held before the node answers, so decisions made meanwhile see it.
  st.view.reserve(id, req.service, req.resources, req.host_ports);
  st.replicas[req.replica] =
      placed{id, req.service, req.resources, req.host_ports, attempt_id, false};
  st.offers.emplace(attempt_id, pending_offer{std::move(req), id, std::move(reply),
                                              std::move(refused), std::move(asker)});
  st.offers_by_node[id].push_back(attempt_id);
  st.outbox[id].push_back(attempt_id);
  queue_offers_flush(self);
}

/// How long after its start placement keeps a replica for the node it is
/// assigned to when that node has not joined yet: nodes join a restarted control
/// plane within their back-off (at most 2 s), and a replica placed elsewhere
/// meanwhile would be started twice and its original swept.
constexpr auto join_grace = std::chrono::seconds{5};

/// Places one replica: answers at once when it is placed already, else offers
/// it to a node and answers when the node confirms.
void place_one(self_ptr self, p::placement_request req, reply_to reply,
               const service_actor& asker) {
  auto& st = self->state;
  if (req.assigned && !req.preferred_node.empty() &&
      st.view.find(req.preferred_node) == placement_view::no_node &&
      clock::now() - st.started < join_grace) {
    reply.failed(p::make_error(p::error_code::unavailable,
                               "node " + req.preferred_node +
                                   " has not joined since the control plane started; its "
                                   "replicas wait for it (5 s at most) before they are placed "
                                   "elsewhere"));
    return;
  }
  auto known = st.replicas.find(req.replica);
  if (known != st.replicas.end()) {
    const auto& x = known->second;
    bool same = x.resources == req.resources && x.host_ports == req.host_ports;
    // A cordoned or draining node keeps what it runs: its services move them.
    if (same && x.confirmed && st.view.at(x.node).state != p::node_state::lost &&
        x.node < st.handles.size() && st.handles[x.node]) {
      reply.placed(p::placement_decision{req.replica, st.view.at(x.node).name},
                   st.handles[x.node]);
      return;
    }
    // Resources changed, its node is gone, or a retry of an unanswered offer.
    release(self, req.replica);
  }
  attempt(self, std::move(req), std::move(reply), {}, asker);
}

caf::result<p::placement_decision, node_actor> place(self_ptr self,
                                                     const p::placement_request& req) {
  // Before the promise: making it takes the sender out of the current message.
  auto asker = caf::actor_cast<service_actor>(self->current_sender());
  if (asker)
    self->state.services[req.service] = asker;
  reply_to reply;
  reply.single = self->make_response_promise<p::placement_decision, node_actor>();
  auto promise = reply.single;
  place_one(self, req, std::move(reply), asker);
  return promise;
}

caf::result<std::vector<p::placement_outcome>, std::vector<node_actor>>
place_batch(self_ptr self, p::placement_batch& batch) {
  auto asker = caf::actor_cast<service_actor>(self->current_sender());
  if (asker)
    self->state.services[batch.service] = asker;
  auto answer = std::make_shared<batch_answer>();
  answer->promise =
      self->make_response_promise<std::vector<p::placement_outcome>, std::vector<node_actor>>();
  auto promise = answer->promise;
  auto n = batch.asks.size();
  if (n == 0) {
    promise.deliver(std::vector<p::placement_outcome>{}, std::vector<node_actor>{});
    return promise;
  }
  answer->outcomes.resize(n);
  answer->handles.resize(n);
  answer->remaining = n;
  for (size_t i = 0; i < n; ++i)
    answer->outcomes[i].replica = batch.asks[i].replica;
  // One replica of the batch that fits nowhere (without a node of its own to
  // keep) means none of the others does: they share the template. They are
  // answered with its reason instead of each checking every node.
  caf::error none_fits;
  for (size_t i = 0; i < n; ++i) {
    auto& ask = batch.asks[i];
    reply_to reply{{}, answer, i};
    if (none_fits && ask.preferred_node.empty()) {
      count(self, metrics::placement_result::unschedulable);
      reply.failed(none_fits);
      continue;
    }
    p::placement_request req{std::move(ask.replica), batch.service,    batch.resources,
                             batch.placement,        ask.preferred_node, batch.driver,
                             batch.host_ports,       ask.assigned};
    place_one(self, std::move(req), std::move(reply), asker);
    if (!none_fits && ask.preferred_node.empty() && i < answer->outcomes.size() &&
        p::code_of(answer->outcomes[i].error) == p::error_code::unschedulable)
      none_fits = answer->outcomes[i].error;
  }
  return promise;
}

/// Tells each service with replicas on node `id` that the node lost them, with
/// the next flush.
void tell_lost(self_ptr self, node_id id) {
  auto& s = self->state;
  const auto& name = s.view.at(id).name;
  size_t told = 0;
  for (auto& [service, handle] : s.services)
    if (s.view.count(s.view.service_id(service), id) > 0) {
      s.lost_news[service].push_back(name);
      ++told;
    }
  if (told > 0)
    queue_offers_flush(self);
  spdlog::warn("placement: node {} lost; {} services to place its replicas again", name, told);
}

/// Sends each service the nodes it lost since the last flush, in one message.
void flush_lost_news(self_ptr self) {
  auto& s = self->state;
  for (auto& [service, nodes] : s.lost_news)
    if (auto i = s.services.find(service); i != s.services.end())
      self->send(i->second, p::lost_atom::value, std::move(nodes));
  s.lost_news.clear();
}

bool register_node(self_ptr self, p::node_status st, node_actor handle) {
  auto& s = self->state;
  bool known = s.view.find(st.name) != placement_view::no_node;
  auto admin = s.admin.find(st.name);
  st.state = admin == s.admin.end() ? p::node_state::ready : admin->second;
  auto id = s.view.upsert(st);
  if (!known) {
    // A placement that (re)started learns from the node what it already holds.
    p::reservation_reply truth{true, {}, st.allocated, st.ports_allocated, st.replicas};
    s.view.correct(id, truth);
  }
  if (s.handles.size() <= id)
    s.handles.resize(id + 1);
  if (s.handles[id] != handle) {
    if (s.handles[id]) {
      // The node came back with a new actor before we saw the old one go (a
      // short cut, a restarted agent). The old actor and what it ran are gone:
      // the services with replicas there hear it now and ask again (the old
      // handle's down message, should it come, is no longer ours to act on).
      s.by_addr.erase(s.handles[id].address());
      tell_lost(self, id);
    }
    s.handles[id] = handle;
    s.by_addr[handle.address()] = id;
    self->monitor(handle);
  }
  if (s.restarting.erase(id) > 0)
    spdlog::info("placement: node {} is back from its restart; its replicas stay", st.name);
  capacity_appeared(self);
  return true;
}

/// A node agent about to restart (an upgrade): its replicas keep running on
/// the host and the next agent adopts them, so they are not placed elsewhere
/// unless it stays away longer than the grace.
bool note_restart(self_ptr self, const std::string& name) {
  auto& s = self->state;
  auto id = s.view.find(name);
  if (id == placement_view::no_node || s.view.at(id).state == p::node_state::lost)
    return false;
  // Only the process that runs the node's actor speaks for it: another node
  // must not keep this one's replicas waiting for a restart that never comes.
  auto sender = self->current_sender();
  if (id >= s.handles.size() || !s.handles[id] || !sender ||
      sender->node() != s.handles[id].node()) {
    spdlog::warn("placement: refused a restart of node {} announced by another process", name);
    return false;
  }
  auto restart = ++s.restarts;
  s.restarting[id] = restart;
  s.view.set_state(id, p::node_state::restarting);
  self->delayed_send(self, s.restart_grace, p::restart_atom::value, p::tick_atom::value,
                     static_cast<uint64_t>(id), restart);
  spdlog::info("placement: node {} restarts; its replicas stay for up to {} ms", name,
               std::chrono::duration_cast<std::chrono::milliseconds>(s.restart_grace).count());
  return true;
}

/// The grace of restart `restart` of node `id` ran out.
void restart_overdue(self_ptr self, node_id id, uint64_t restart) {
  auto& s = self->state;
  auto i = s.restarting.find(id);
  if (i == s.restarting.end() || i->second != restart)
    return; // it joined again (and maybe restarted again since)
  s.restarting.erase(i);
  s.view.set_state(id, p::node_state::lost);
  spdlog::warn("placement: node {} did not join again within {} ms of its restart",
               s.view.at(id).name,
               std::chrono::duration_cast<std::chrono::milliseconds>(s.restart_grace).count());
  tell_lost(self, id);
}

void on_node_down(self_ptr self, const caf::down_msg& msg) {
  auto& s = self->state;
  auto i = s.by_addr.find(msg.source);
  if (i == s.by_addr.end())
    return;
  // Its replicas stay recorded on it until their services place them again.
  // One monitor here instead of one per service and node: the services with
  // replicas on it hear it from us.
  auto id = i->second;
  bool restarts = s.restarting.count(id) > 0;
  if (!restarts)
    s.view.set_state(id, p::node_state::lost);
  std::vector<std::pair<uint64_t, pending_offer>> unanswered;
  if (auto k = s.offers_by_node.find(id); k != s.offers_by_node.end()) {
    for (auto attempt_id : k->second)
      if (auto j = s.offers.find(attempt_id); j != s.offers.end()) {
        unanswered.emplace_back(attempt_id, std::move(j->second));
        s.offers.erase(j);
      }
    s.offers_by_node.erase(k);
  }
  // Oldest first: they are placed again in the order they were asked for.
  std::sort(unanswered.begin(), unanswered.end(),
            [](const auto& x, const auto& y) { return x.first < y.first; });
  for (auto& [attempt_id, x] : unanswered)
    on_declined(self, attempt_id, std::move(x));
  if (!restarts)
    tell_lost(self, id);
  s.handles[id] = nullptr;
  s.by_addr.erase(i);
}

std::vector<p::node_status> all_nodes(self_ptr self) {
  std::vector<p::node_status> out;
  for (node_id id = 0; id < self->state.view.size(); ++id)
    out.push_back(self->state.view.status(id));
  std::sort(out.begin(), out.end(), [](const auto& x, const auto& y) { return x.name < y.name; });
  return out;
}

/// Tells every service whether `node` drains, so that it moves its replicas off.
void tell_draining(self_ptr self, const std::string& node, bool draining) {
  for (auto& [service, handle] : self->state.services)
    self->send(handle, p::drain_atom::value, node, draining);
}

/// Records the scheduling state of `name` (ready, cordoned or draining). A node
/// that is lost takes it when it joins again.
void set_admin_state(self_ptr self, const std::string& name, p::node_state state) {
  auto& s = self->state;
  auto before = s.admin.count(name) ? s.admin[name] : p::node_state::ready;
  if (state == p::node_state::ready)
    s.admin.erase(name);
  else
    s.admin[name] = state;
  auto id = s.view.find(name);
  if (id != placement_view::no_node && s.view.at(id).state != p::node_state::lost &&
      s.view.at(id).state != p::node_state::restarting)
    s.view.set_state(id, state);
  if ((before == p::node_state::draining) != (state == p::node_state::draining))
    tell_draining(self, name, state == p::node_state::draining);
  if (state == p::node_state::ready)
    capacity_appeared(self); // pending replicas may fit there now
}

caf::result<p::node_status> cordon(self_ptr self, const std::string& name, p::node_state state) {
  auto& s = self->state;
  if (state == p::node_state::lost || state == p::node_state::restarting)
    return p::make_error(p::error_code::invalid_argument,
                         "a node's state can be set to ready, cordoned or draining, not " +
                             p::to_string(state));
  auto id = s.view.find(name);
  if (id == placement_view::no_node) {
    std::string known;
    for (node_id i = 0; i < s.view.size(); ++i)
      known += (known.empty() ? "" : ", ") + s.view.at(i).name;
    return p::make_error(p::error_code::not_found,
                         "node " + name + " not found; known nodes: " +
                             (known.empty() ? std::string{"none (no node has joined)"} : known));
  }
  set_admin_state(self, name, state);
  return s.view.status(id);
}

/// Stored states, at the start of the control plane (before nodes join).
void load_states(self_ptr self, const std::vector<p::node_status>& nodes) {
  for (const auto& n : nodes)
    if (n.state == p::node_state::cordoned || n.state == p::node_state::draining)
      set_admin_state(self, n.name, n.state);
}

std::vector<std::string> draining_nodes(self_ptr self) {
  std::vector<std::string> out;
  for (const auto& [name, state] : self->state.admin)
    if (state == p::node_state::draining)
      out.push_back(name);
  return out;
}

placement_actor::behavior_type placement(self_ptr self, metrics::recorder* metrics,
                                         caf::timespan restart_grace) {
  self->state.metrics = metrics;
  self->state.restart_grace = restart_grace;
  self->set_down_handler([self](caf::down_msg& msg) { on_node_down(self, msg); });
  return {
      [self](p::register_atom, p::node_status& st, node_actor handle) {
        return register_node(self, std::move(st), std::move(handle));
      },
      [self](p::place_atom, const p::placement_request& req) { return place(self, req); },
      [self](p::place_atom, p::placement_batch& batch) { return place_batch(self, batch); },
      [self](p::flush_atom) {
        flush_lost_news(self);
        flush_offers(self);
      },
      [self](p::release_atom, const std::string& replica) { release(self, replica); },
      [self](p::get_atom, const std::string& node) -> caf::result<node_actor> {
        auto id = self->state.view.find(node);
        if (id == placement_view::no_node || id >= self->state.handles.size() ||
            !self->state.handles[id])
          return p::make_error(p::error_code::not_found, "node " + node + " is not connected");
        return self->state.handles[id];
      },
      [self](p::nodes_atom) { return all_nodes(self); },
      [self](p::capacity_atom) { notify_waiting(self); },
      [self](p::cordon_atom, const std::string& name, p::node_state state) {
        return cordon(self, name, state);
      },
      [self](p::load_atom, const std::vector<p::node_status>& nodes) { load_states(self, nodes); },
      [self](p::drain_atom) { return draining_nodes(self); },
      [self](p::volumes_atom, const std::string& node, const std::vector<std::string>& slots) {
        if (auto id = self->state.view.find(node); id != placement_view::no_node)
          self->state.view.set_volumes(id, slots);
      },
      [self](p::restart_atom, const std::string& node) { return note_restart(self, node); },
      [self](p::restart_atom, p::tick_atom, uint64_t id, uint64_t restart) {
        restart_overdue(self, static_cast<node_id>(id), restart);
      },
  };
}

} // namespace

placement_actor spawn_placement(caf::actor_system& sys, metrics::recorder& metrics,
                                caf::timespan restart_grace) {
  // CAF passes spawn arguments on by value: the recorder goes as a pointer.
  return sys.spawn(placement, &metrics, restart_grace);
}

} // namespace tutti::actors
