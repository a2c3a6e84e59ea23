#include "actors/cluster/cluster_actor.hpp"

#include "actors/cluster/cluster_state.hpp"
#include "actors/cluster/cluster_sweep.hpp"

#include "actors/cluster/published_ports.hpp"
#include "actors/node/replica_actor.hpp"
#include "actors/service/service_actor.hpp"
#include "config/spec_parser.hpp"
#include "metrics/recorder.hpp"
#include "protocol/errors.hpp"

#include <caf/all.hpp>

#include <spdlog/spdlog.h>

#include <map>
#include <memory>
#include <set>

namespace tutti::actors {

namespace cluster_impl {

std::string service_child(const std::string& name) {
  return "service/" + name;
}

service_actor service_of(self_ptr self, const std::string& name) {
  return self->state.sup->child_as<service_actor>(service_child(name));
}

caf::error unknown_service(const std::string& name) {
  return p::make_error(p::error_code::not_found,
                       "service " + name + " not found; `tutti get services` lists them");
}

void emit(self_ptr self, std::string kind, std::string service, std::string message) {
  p::event e;
  e.kind = std::move(kind);
  e.service = std::move(service);
  e.message = std::move(message);
  self->send(self->state.ctx.store, p::append_atom::value, std::move(e));
}

void start_service(self_ptr self, const std::string& name) {
  self->state.sup->start_child(service_child(name), [self, name]() -> caf::actor {
    // A restarted service starts from the newest acknowledged spec.
    const auto& entry = self->state.services.at(name);
    service_context sc{self->state.ctx.store, self->state.ctx.placement, self->state.ctx.metrics};
    sc.discovery = self->state.ctx.discovery;
    sc.discovery_env = self->state.discovery_env;
    sc.cluster = caf::actor_cast<cluster_actor>(self);
    return caf::actor_cast<caf::actor>(
        spawn_service(self->system(), sc, entry.spec, entry.revision));
  });
}

/// Sends `msg` to every live service and collects the answers (in name order);
/// services that fail to answer are left out.
template <class T, class... Ts>
void gather(self_ptr self, std::vector<std::string> names, std::function<void(std::vector<T>)> done,
            Ts... xs) {
  auto results = std::make_shared<std::vector<std::optional<T>>>(names.size());
  auto pending = std::make_shared<size_t>(names.size());
  auto finish = [results, done] {
    std::vector<T> out;
    for (auto& x : *results)
      if (x)
        out.push_back(std::move(*x));
    done(std::move(out));
  };
  if (names.empty()) {
    finish();
    return;
  }
  for (size_t i = 0; i < names.size(); ++i) {
    auto handle = service_of(self, names[i]);
    self->request(handle, ask_timeout, xs...)
        .then(
            [results, pending, finish, i](T& x) {
              (*results)[i] = std::move(x);
              if (--*pending == 0)
                finish();
            },
            [pending, finish](caf::error&) {
              if (--*pending == 0)
                finish();
            });
  }
}

std::vector<std::string> service_names(self_ptr self) {
  std::vector<std::string> out;
  for (auto& [name, entry] : self->state.services)
    out.push_back(name);
  return out;
}

std::vector<p::service_change> diff_against_current(self_ptr self,
                                                    const std::vector<p::service_spec>& specs) {
  std::vector<p::service_change> changes;
  for (const auto& spec : specs) {
    p::service_change c;
    c.service = spec.name;
    auto yaml = config::emit_spec(spec);
    auto i = self->state.services.find(spec.name);
    if (i == self->state.services.end()) {
      c.kind = p::change_kind::created;
      c.diff = config::diff_specs("", yaml);
    } else if (i->second.yaml == yaml) {
      c.kind = p::change_kind::unchanged;
      c.revision = i->second.revision;
    } else {
      c.kind = p::change_kind::updated;
      c.revision = i->second.revision;
      c.diff = config::diff_specs(i->second.yaml, yaml);
    }
    changes.push_back(std::move(c));
  }
  return changes;
}

std::vector<p::service_spec> current_specs(self_ptr self) {
  std::vector<p::service_spec> out;
  for (const auto& [name, entry] : self->state.services)
    out.push_back(entry.spec);
  return out;
}

/// Recomputes the `<SERVICE>_ADDR` variables and tells every service when they
/// changed.
void refresh_env(self_ptr self) {
  auto env = discovery_env(current_specs(self), self->state.ctx.mesh_host);
  if (env == self->state.discovery_env)
    return;
  self->state.discovery_env = env;
  for (const auto& [name, entry] : self->state.services)
    if (auto svc = service_of(self, name))
      self->send(svc, p::env_atom::value, env);
}

void adopt_committed(self_ptr self, const p::spec_record& rec, const p::service_spec& spec) {
  auto& entry = self->state.services[rec.name];
  bool existed = entry.revision > 0;
  entry = service_entry{spec, rec.revision, rec.yaml, rec.time_ms};
  if (existed && service_of(self, rec.name))
    self->send(service_of(self, rec.name), p::update_atom::value, spec, rec.revision);
  else
    start_service(self, rec.name);
}

/// Commits specs whose text changed (one durable transaction), then hands them to
/// their service actors. `done` gets the committed records or the error.
void commit_specs(self_ptr self, std::vector<p::service_spec> specs,
                  std::function<void(caf::expected<std::vector<p::spec_record>>)> done) {
  std::vector<p::spec_record> input;
  for (const auto& spec : specs)
    input.push_back({spec.name, 0, config::emit_spec(spec), 0});
  // await: the next apply or scale must see this one's result.
  self->request(self->state.ctx.store, caf::infinite, p::put_atom::value, std::move(input))
      .await(
          [self, specs, done](std::vector<p::spec_record>& recs) {
            // New services start with the variables of this input's ports too.
            for (size_t i = 0; i < recs.size(); ++i)
              self->state.services[recs[i].name].spec = specs[i];
            refresh_env(self);
            for (size_t i = 0; i < recs.size(); ++i) {
              adopt_committed(self, recs[i], specs[i]);
              emit(self, "service_applied", recs[i].name,
                   "revision " + std::to_string(recs[i].revision) + " applied");
            }
            done(std::move(recs));
          },
          [done](caf::error& err) { done(std::move(err)); });
}

caf::result<p::apply_result> apply(self_ptr self, const std::string& file, const std::string& text,
                                   bool dry_run) {
  p::apply_result result;
  result.dry_run = dry_run;
  auto parsed = config::parse_specs(text, file);
  if (!parsed.ok()) {
    result.errors = std::move(parsed.errors);
    return result;
  }
  result.errors = published_conflicts(current_specs(self), file, parsed.specs);
  if (!result.errors.empty())
    return result;
  result.changes = diff_against_current(self, parsed.specs);
  std::vector<p::service_spec> changed;
  for (size_t i = 0; i < parsed.specs.size(); ++i)
    if (result.changes[i].kind != p::change_kind::unchanged)
      changed.push_back(parsed.specs[i]);
  if (dry_run || changed.empty())
    return result;
  auto promise = self->make_response_promise<p::apply_result>();
  commit_specs(self, std::move(changed),
               [promise, result](caf::expected<std::vector<p::spec_record>> recs) mutable {
                 if (!recs) {
                   promise.deliver(recs.error());
                   return;
                 }
                 for (auto& rec : *recs)
                   for (auto& c : result.changes)
                     if (c.service == rec.name)
                       c.revision = rec.revision;
                 promise.deliver(std::move(result));
               });
  return promise;
}

caf::result<int64_t> scale(self_ptr self, const std::string& name, int32_t replicas) {
  if (replicas < 0 || replicas > p::max_replicas)
    return p::make_error(p::error_code::invalid_argument, "replicas must be between 0 and " +
                                                              std::to_string(p::max_replicas) +
                                                              ", got " + std::to_string(replicas));
  auto i = self->state.services.find(name);
  if (i == self->state.services.end())
    return unknown_service(name);
  if (i->second.spec.replicas == replicas)
    return i->second.revision;
  auto spec = i->second.spec;
  spec.replicas = replicas;
  auto promise = self->make_response_promise<int64_t>();
  commit_specs(self, {spec}, [promise](caf::expected<std::vector<p::spec_record>> recs) mutable {
    if (!recs)
      promise.deliver(recs.error());
    else
      promise.deliver(recs->front().revision);
  });
  return promise;
}

/// The record to go back to: revision `to` (0: the newest earlier one that runs
/// something else than the current spec).
caf::expected<p::service_spec> undo_target(const std::vector<p::spec_record>& history,
                                           const service_entry& current, const std::string& name,
                                           int64_t to) {
  auto current_template = template_hash(current.spec);
  for (auto i = history.rbegin(); i != history.rend(); ++i) {
    if (to > 0 ? i->revision != to : i->revision >= current.revision)
      continue;
    auto parsed = config::parse_specs(i->yaml, "revision " + std::to_string(i->revision));
    if (!parsed.ok() || parsed.specs.size() != 1)
      return p::make_error(p::error_code::internal, "revision " + std::to_string(i->revision) +
                                                        " of " + name + " cannot be read back");
    if (to == 0 && template_hash(parsed.specs.front()) == current_template)
      continue; // differs in replicas or routing only
    return parsed.specs.front();
  }
  if (to > 0)
    return p::make_error(p::error_code::not_found,
                         "revision " + std::to_string(to) + " of " + name +
                             " is not kept; `tutti rollout history " + name + "` lists them");
  return p::make_error(p::error_code::invalid_argument,
                       name + " has no earlier revision that runs something else");
}

/// Commits an earlier revision's spec as a new revision (keeping today's replica
/// count), for `tutti rollout undo` and for automatic rollbacks.
caf::result<int64_t> rollback(self_ptr self, const std::string& name, int64_t to,
                              const std::string& reason) {
  if (!self->state.services.count(name))
    return unknown_service(name);
  if (to < 0)
    return p::make_error(p::error_code::invalid_argument,
                         "a revision is 1 or more, got " + std::to_string(to));
  auto promise = self->make_response_promise<int64_t>();
  self->request(self->state.ctx.store, ask_timeout, p::history_atom::value, name)
      .then(
          [self, name, to, reason, promise](std::vector<p::spec_record>& history) mutable {
            auto i = self->state.services.find(name);
            if (i == self->state.services.end()) {
              promise.deliver(unknown_service(name));
              return;
            }
            auto spec = undo_target(history, i->second, name, to);
            if (!spec) {
              promise.deliver(spec.error());
              return;
            }
            spec->replicas = i->second.spec.replicas;
            if (config::emit_spec(*spec) == i->second.yaml) {
              promise.deliver(i->second.revision);
              return;
            }
            commit_specs(self, {*spec},
                         [self, name, reason,
                          promise](caf::expected<std::vector<p::spec_record>> recs) mutable {
                           if (!recs) {
                             promise.deliver(recs.error());
                             return;
                           }
                           auto rev = recs->front().revision;
                           emit(self, "rollout_undone", name,
                                "revision " + std::to_string(rev) + " restores an earlier spec" +
                                    (reason.empty() ? std::string{} : ": " + reason));
                           promise.deliver(rev);
                         });
          },
          [promise](caf::error& err) mutable { promise.deliver(err); });
  return promise;
}

caf::result<bool> remove_service(self_ptr self, const std::string& name) {
  if (!self->state.services.count(name))
    return unknown_service(name);
  auto promise = self->make_response_promise<bool>();
  self->request(self->state.ctx.store, caf::infinite, p::delete_atom::value, name)
      .await(
          [self, name, promise](bool) mutable {
            self->state.services.erase(name);
            refresh_env(self);
            emit(self, "service_deleted", name, "deleted; stopping its replicas");
            if (auto svc = service_of(self, name)) {
              // The service stops its replicas and then ends normally; supervision
              // forgets it then.
              self->request(svc, caf::infinite, p::delete_atom::value)
                  .then([](bool) {}, [](caf::error&) {});
            }
            promise.deliver(true);
          },
          [promise](caf::error& err) mutable { promise.deliver(err); });
  return promise;
}

caf::result<std::vector<p::service_status>> get_services(self_ptr self) {
  auto promise = self->make_response_promise<std::vector<p::service_status>>();
  gather<p::service_status>(
      self, service_names(self),
      [self, promise](std::vector<p::service_status> xs) mutable {
        for (auto& x : xs)
          if (auto i = self->state.services.find(x.name); i != self->state.services.end())
            x.updated_ms = i->second.updated_ms;
        promise.deliver(std::move(xs));
      },
      p::status_atom::value);
  return promise;
}

caf::result<std::vector<p::replica_status>> get_replicas(self_ptr self, const std::string& name) {
  std::vector<std::string> names;
  if (name.empty())
    names = service_names(self);
  else if (self->state.services.count(name))
    names.push_back(name);
  else
    return unknown_service(name);
  auto promise = self->make_response_promise<std::vector<p::replica_status>>();
  gather<std::vector<p::replica_status>>(
      self, names,
      [promise](std::vector<std::vector<p::replica_status>> xs) mutable {
        std::vector<p::replica_status> out;
        for (auto& x : xs)
          out.insert(out.end(), x.begin(), x.end());
        promise.deliver(std::move(out));
      },
      p::get_atom::value);
  return promise;
}

caf::result<p::service_detail> describe(self_ptr self, const std::string& name,
                                        uint32_t event_limit) {
  auto i = self->state.services.find(name);
  if (i == self->state.services.end())
    return unknown_service(name);
  auto detail = std::make_shared<p::service_detail>();
  detail->spec_yaml = i->second.yaml;
  auto promise = self->make_response_promise<p::service_detail>();
  auto svc = service_of(self, name);
  self->request(svc, ask_timeout, p::status_atom::value)
      .then(
          [self, svc, name, detail, promise, event_limit](p::service_status& st) mutable {
            detail->status = std::move(st);
            if (auto i = self->state.services.find(name); i != self->state.services.end())
              detail->status.updated_ms = i->second.updated_ms;
            self->request(svc, ask_timeout, p::get_atom::value)
                .then(
                    [self, name, detail, promise,
                     event_limit](std::vector<p::replica_status>& rs) mutable {
                      detail->replicas = std::move(rs);
                      self->request(self->state.ctx.store, ask_timeout, p::events_atom::value,
                                    uint64_t{0}, event_limit, name)
                          .then(
                              [detail, promise](std::vector<p::event>& es) mutable {
                                detail->events = std::move(es);
                                promise.deliver(std::move(*detail));
                              },
                              [promise](caf::error& err) mutable { promise.deliver(err); });
                    },
                    [promise](caf::error& err) mutable { promise.deliver(err); });
          },
          [promise](caf::error& err) mutable { promise.deliver(err); });
  return promise;
}

caf::result<std::string, std::string> logs(self_ptr self, const std::string& name, int32_t slot,
                                           uint64_t max_bytes) {
  if (!self->state.services.count(name))
    return unknown_service(name);
  auto promise = self->make_response_promise<std::string, std::string>();
  auto fail = [promise](caf::error& err) mutable { promise.deliver(err); };
  self->request(service_of(self, name), ask_timeout, p::get_atom::value)
      .then(
          [self, name, slot, max_bytes, promise, fail](std::vector<p::replica_status>& rs) mutable {
            const p::replica_status* chosen = nullptr;
            for (auto& r : rs)
              if ((slot < 0 || r.slot == slot) && (chosen == nullptr || r.slot < chosen->slot))
                chosen = &r;
            if (chosen == nullptr || chosen->node.empty()) {
              promise.deliver(p::make_error(
                  p::error_code::not_found,
                  "service " + name + " has no replica" +
                      (slot >= 0 ? " in slot " + std::to_string(slot) : std::string{}) +
                      " placed on a node; `tutti get replicas " + name + "` lists them"));
              return;
            }
            auto id = chosen->id;
            self->request(self->state.ctx.placement, ask_timeout, p::get_atom::value, chosen->node)
                .then(
                    [self, id, max_bytes, promise, fail](node_actor& node) mutable {
                      self->request(node, ask_timeout, p::logs_atom::value, id, max_bytes)
                          .then(
                              [id, promise](std::string& text) mutable {
                                promise.deliver(id, std::move(text));
                              },
                              fail);
                    },
                    fail);
          },
          fail);
  return promise;
}

/// The endpoint sets of one service (or all); a service that published none yet
/// shows its ports and no endpoint.
caf::result<std::vector<p::service_endpoints>> get_endpoints(self_ptr self,
                                                             const std::string& name) {
  if (!name.empty() && !self->state.services.count(name))
    return unknown_service(name);
  auto placeholders = [self, name] {
    std::vector<p::service_endpoints> out;
    for (const auto& [service, entry] : self->state.services)
      if (name.empty() || service == name)
        out.push_back({service, entry.spec.ports, entry.spec.balancing, {}, false});
    return out;
  };
  if (!self->state.ctx.discovery)
    return placeholders();
  auto promise = self->make_response_promise<std::vector<p::service_endpoints>>();
  self->request(self->state.ctx.discovery, ask_timeout, p::get_atom::value, name)
      .then(
          [promise, placeholders](std::vector<p::service_endpoints>& known) mutable {
            auto out = placeholders(); // the services that exist, in name order
            for (auto& x : out)
              for (auto& k : known)
                if (k.service == x.service)
                  x = std::move(k);
            promise.deliver(std::move(out));
          },
          [promise](caf::error& err) mutable { promise.deliver(err); });
  return promise;
}

// -- node scheduling states (cordon, drain, uncordon) ------------------------------

/// How often a draining node is checked for being empty.
constexpr auto drain_check = std::chrono::milliseconds{250};

std::string event_of(p::node_state state) {
  switch (state) {
    case p::node_state::ready:
      return "node_uncordoned";
    case p::node_state::cordoned:
      return "node_cordoned";
    case p::node_state::draining:
      return "node_draining";
    case p::node_state::lost:
      break;
  }
  return "node_lost";
}

using node_done = std::function<void(caf::expected<p::node_status>)>;

/// Sets the state in placement, stores it (durably, before `done` hears of it)
/// and records the event.
void set_node_state(self_ptr self, const std::string& name, p::node_state state, std::string why,
                    node_done done) {
  self->request(self->state.ctx.placement, ask_timeout, p::cordon_atom::value, name, state)
      .then(
          [self, state, why, done](p::node_status& node) {
            auto record = node;
            record.state = state; // a lost node takes this state when it joins again
            self->request(self->state.ctx.store, ask_timeout, p::put_atom::value, record)
                .then(
                    [self, node, state, why, done](bool) {
                      emit(self, event_of(state), {}, "node " + node.name + " " + why);
                      spdlog::info("cluster: node {} {}", node.name, why);
                      if (state == p::node_state::draining)
                        self->send(self, p::tick_atom::value, node.name);
                      done(node);
                    },
                    [done](caf::error& err) { done(std::move(err)); });
          },
          [done](caf::error& err) { done(std::move(err)); });
}

caf::result<p::node_status> set_node_state(self_ptr self, const std::string& name,
                                           p::node_state state, std::string why) {
  auto promise = self->make_response_promise<p::node_status>();
  set_node_state(self, name, state, std::move(why),
                 [promise](caf::expected<p::node_status> x) mutable {
                   if (x)
                     promise.deliver(std::move(*x));
                   else
                     promise.deliver(x.error());
                 });
  return promise;
}

std::string why_of(p::node_state state) {
  switch (state) {
    case p::node_state::ready:
      return "uncordoned: new replicas may be placed here again";
    case p::node_state::cordoned:
      return "cordoned: no new replicas are placed here; running ones stay";
    case p::node_state::draining:
      return "draining: its replicas move to other nodes within their services' update limits";
    case p::node_state::lost:
      break;
  }
  return "lost";
}

/// Follows a draining node until it runs nothing; then it is cordoned (drained).
void check_drained(self_ptr self, const std::string& name) {
  self->request(self->state.ctx.placement, ask_timeout, p::nodes_atom::value)
      .then(
          [self, name](std::vector<p::node_status>& nodes) {
            for (auto& n : nodes) {
              if (n.name != name)
                continue;
              if (n.state == p::node_state::lost) {
                // Its replicas were placed elsewhere; it drains again when it joins.
                self->delayed_send(self, drain_check, p::tick_atom::value, name);
                return;
              }
              if (n.state != p::node_state::draining)
                return; // uncordoned or cordoned meanwhile
              if (n.replicas > 0) {
                self->delayed_send(self, drain_check, p::tick_atom::value, name);
                return;
              }
              set_node_state(self, name, p::node_state::cordoned,
                             "is drained: it runs no replica; it stays cordoned",
                             [self, name](caf::expected<p::node_status> x) {
                               if (x)
                                 emit(self, "node_drained", {},
                                      "node " + name + " runs no replica any more");
                               else
                                 self->delayed_send(self, drain_check, p::tick_atom::value, name);
                             });
              return;
            }
          },
          [self, name](caf::error&) {
            self->delayed_send(self, drain_check, p::tick_atom::value, name);
          });
}

/// Node states stored by earlier cordons and drains; placement applies them
/// before any service asks it anything (services start after this).
void load_nodes(self_ptr self, std::function<void()> then) {
  self->request(self->state.ctx.store, std::chrono::seconds{60}, p::get_atom::value,
                p::nodes_atom::value)
      .await(
          [self, then](std::vector<p::node_status>& nodes) {
            self->send(self->state.ctx.placement, p::load_atom::value, nodes);
            for (auto& n : nodes)
              if (n.state == p::node_state::draining)
                self->send(self, p::tick_atom::value, n.name);
            then();
          },
          [self, then](caf::error& err) {
            spdlog::error("cluster: cannot load node states: {}", p::message_of(err));
            then();
          });
}

void load_services(self_ptr self) {
  self->request(self->state.ctx.store, std::chrono::seconds{60}, p::load_atom::value)
      .await(
          [self](std::vector<p::spec_record>& recs) {
            for (auto& rec : recs) {
              auto parsed = config::parse_specs(rec.yaml, "store:" + rec.name);
              if (!parsed.ok() || parsed.specs.size() != 1) {
                spdlog::error("cluster: stored spec of {} (revision {}) no longer parses: {}",
                              rec.name, rec.revision,
                              parsed.errors.empty() ? "" : p::to_string(parsed.errors.front()));
                continue;
              }
              self->state.services[rec.name] =
                  service_entry{parsed.specs.front(), rec.revision, rec.yaml, rec.time_ms};
            }
            self->state.discovery_env =
                discovery_env(current_specs(self), self->state.ctx.mesh_host);
            for (auto& [name, entry] : self->state.services)
              start_service(self, name);
            spdlog::info("cluster: {} services loaded from the store", self->state.services.size());
            sweep_orphans(self);
            self->delayed_send(self, next_sweep(self), p::sweep_atom::value, std::string{});
          },
          [self](caf::error& err) {
            spdlog::error("cluster: cannot load specs: {}", p::message_of(err));
            self->quit(err);
          });
}

cluster_actor::behavior_type cluster(self_ptr self, cluster_context ctx) {
  self->state.ctx = std::move(ctx);
  auto& st = self->state;
  st.sup = std::make_unique<supervision>(self, "cluster", restart_strategy::one_for_one,
                                         st.ctx.limit, *st.ctx.metrics);
  self->set_down_handler([self](caf::down_msg& msg) { self->state.sup->handle_down(msg); });
  load_nodes(self, [self] { load_services(self); });
  if (st.ctx.announce)
    st.ctx.announce(caf::actor_cast<cluster_actor>(self));
  return {
      [self](p::apply_atom, const std::string& file, const std::string& text, bool dry_run) {
        return apply(self, file, text, dry_run);
      },
      [self](p::get_atom) { return get_services(self); },
      [self](p::get_atom, const std::string& name) { return get_replicas(self, name); },
      [self](p::rollout_atom, const std::string& name) -> caf::result<p::rollout_status> {
        auto svc = service_of(self, name);
        if (!svc)
          return unknown_service(name);
        return self->delegate(svc, p::rollout_atom::value);
      },
      [self](p::history_atom, const std::string& name) -> caf::result<std::vector<p::spec_record>> {
        if (!self->state.services.count(name))
          return unknown_service(name);
        return self->delegate(self->state.ctx.store, p::history_atom::value, name);
      },
      [self](p::rollback_atom, const std::string& name, int64_t to, const std::string& reason) {
        return rollback(self, name, to, reason);
      },
      [self](p::sweep_atom, const std::string& node) {
        if (node.empty()) { // the periodic one
          sweep_orphans(self);
          self->delayed_send(self, next_sweep(self), p::sweep_atom::value, std::string{});
          return;
        }
        // A node's own sweep after its join, together with those of the nodes
        // that join with it.
        if (self->state.joined.empty())
          self->delayed_send(self, join_sweep_window, p::flush_atom::value);
        self->state.joined.insert(node);
      },
      [self](p::flush_atom) {
        auto nodes = std::move(self->state.joined);
        self->state.joined.clear();
        if (!nodes.empty())
          sweep_orphans(self, std::move(nodes));
      },
      [self](p::cordon_atom, const std::string& name, p::node_state state) {
        return set_node_state(self, name, state, why_of(state));
      },
      [self](p::tick_atom, const std::string& node) { check_drained(self, node); },
      [self](p::nodes_atom) -> caf::result<std::vector<p::node_status>> {
        return self->delegate(self->state.ctx.placement, p::nodes_atom::value);
      },
      [self](p::describe_atom, const std::string& name, uint32_t limit) {
        return describe(self, name, limit);
      },
      [self](p::scale_atom, const std::string& name, int32_t n) { return scale(self, name, n); },
      [self](p::delete_atom, const std::string& name) { return remove_service(self, name); },
      [self](p::events_atom, uint64_t after, uint32_t limit,
             const std::string& service) -> caf::result<std::vector<p::event>> {
        return self->delegate(self->state.ctx.store, p::events_atom::value, after, limit, service);
      },
      [self](p::follow_atom, uint64_t after, const std::string& service,
             event_sink_actor sink) -> caf::result<bool> {
        return self->delegate(self->state.ctx.store, p::follow_atom::value, after, service,
                              std::move(sink));
      },
      [self](p::logs_atom, const std::string& name, int32_t slot, uint64_t max_bytes) {
        return logs(self, name, slot, max_bytes);
      },
      [self](p::child_atom, const std::string& name) { return self->state.sup->child(name); },
      [self](p::tree_atom) { return self->state.sup->tree(); },
      [self](p::kill_atom, const std::string& path, const std::string& reason) {
        return self->state.sup->kill(path, reason);
      },
      [self](p::endpoints_atom, const std::string& name) { return get_endpoints(self, name); },
      [self](p::watch_atom, const std::string& name,
             endpoints_sink_actor sink) -> caf::result<bool> {
        if (!name.empty() && !self->state.services.count(name))
          return unknown_service(name);
        if (!self->state.ctx.discovery)
          return p::make_error(p::error_code::unavailable, "this tuttid runs no service discovery");
        return self->delegate(self->state.ctx.discovery, p::watch_atom::value, name,
                              std::move(sink));
      },
  };
}

} // namespace cluster_impl

cluster_actor spawn_cluster(caf::actor_system& sys, cluster_context ctx) {
  metrics::required(ctx.metrics, "cluster_context");
  return sys.spawn(cluster_impl::cluster, std::move(ctx));
}

} // namespace tutti::actors
