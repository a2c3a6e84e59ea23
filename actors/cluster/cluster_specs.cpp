#include "actors/cluster/cluster_specs.hpp"

#include "actors/cluster/cluster_objects.hpp"
#include "actors/cluster/published_ports.hpp"
#include "actors/node/replica_actor.hpp"
#include "config/spec_parser.hpp"
#include "protocol/errors.hpp"
#include "protocol/namespaces.hpp"

#include <algorithm>
#include <cstdio>

#include <caf/all.hpp>

#include <functional>
#include <set>

namespace tutti::actors::cluster_impl {

namespace {

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

void adopt_committed(self_ptr self, const p::spec_record& rec, const p::service_spec& spec) {
  auto& entry = self->state.services[rec.name];
  bool existed = entry.revision > 0;
  entry = service_entry{spec, rec.revision, rec.yaml, rec.time_ms};
  if (existed && service_of(self, rec.name))
    self->send(service_of(self, rec.name), p::update_atom::value, spec, rec.revision);
  else
    start_service(self, rec.name);
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

/// An error of the whole file (no line of its own).
p::spec_error file_error(const std::string& file, std::string message) {
  p::spec_error e;
  e.file = file;
  e.message = std::move(message);
  return e;
}

/// The limits an apply of `specs` would pass: documents in one apply, services
/// in the cluster once the new ones are created.
std::vector<p::spec_error> limit_errors(self_ptr self, const std::string& file,
                                        const std::vector<p::service_spec>& specs) {
  const auto& limits = self->state.ctx.limits;
  std::vector<p::spec_error> out;
  if (specs.size() > static_cast<size_t>(limits.documents_per_apply))
    out.push_back(file_error(file, std::to_string(specs.size()) +
                                       " documents in one apply; limits.documents_per_apply is " +
                                       std::to_string(limits.documents_per_apply) +
                                       ": split the file"));
  size_t after = self->state.services.size();
  for (const auto& spec : specs)
    after += self->state.services.count(spec.name) == 0 ? 1 : 0;
  if (after > static_cast<size_t>(limits.services))
    out.push_back(file_error(file, "the cluster would hold " + std::to_string(after) +
                                       " services; limits.services is " +
                                       std::to_string(limits.services)));
  return out;
}

/// What the services of namespace `ns` would use once `changed` replace or
/// join the current ones.
p::quota_spec usage_of(self_ptr self, const std::string& ns,
                       const std::vector<p::service_spec>& changed) {
  std::map<std::string, const p::service_spec*> after;
  for (const auto& [name, entry] : self->state.services)
    if (p::namespace_of(name) == ns)
      after[name] = &entry.spec;
  for (const auto& spec : changed)
    if (p::namespace_of(spec.name) == ns)
      after[spec.name] = &spec;
  p::quota_spec use{ns, 0, 0, 0, static_cast<int64_t>(after.size())};
  for (const auto& [name, spec] : after) {
    use.replicas += spec->replicas;
    use.cpu += spec->replicas * spec->resources.cpu;
    use.memory += spec->replicas * spec->resources.memory;
  }
  return use;
}

std::string cpu_text(double cpu) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", cpu);
  return buf;
}

/// Why `changed` would take namespaces past their quotas, one message per
/// limit passed ("namespace team-a: replicas 24 would pass its quota of 20").
/// A change that does not add to a use already past its quota (a quota made
/// smaller than what runs; a scale down) passes.
std::vector<std::string> quota_breaches(self_ptr self, const std::vector<p::service_spec>& changed) {
  std::set<std::string> namespaces;
  for (const auto& spec : changed)
    namespaces.insert(p::namespace_of(spec.name));
  std::vector<std::string> out;
  for (const auto& ns : namespaces) {
    auto q = self->state.quotas.find(ns);
    if (q == self->state.quotas.end())
      continue;
    auto use = usage_of(self, ns, changed);
    auto now = usage_of(self, ns, {});
    const auto& limit = q->second;
    auto breach = [&](const char* what, const std::string& used, const std::string& allowed) {
      out.push_back("namespace " + ns + ": " + what + " " + used + " would pass its quota of " +
                    allowed + " (kind: Quota; `tutti describe` shows what each service asks)");
    };
    if (limit.services >= 0 && use.services > limit.services && use.services > now.services)
      breach("services", std::to_string(use.services), std::to_string(limit.services));
    if (limit.replicas >= 0 && use.replicas > limit.replicas && use.replicas > now.replicas)
      breach("replicas", std::to_string(use.replicas), std::to_string(limit.replicas));
    if (limit.cpu >= 0 && use.cpu > limit.cpu + 1e-9 && use.cpu > now.cpu + 1e-9)
      breach("cpu", cpu_text(use.cpu), cpu_text(limit.cpu));
    if (limit.memory >= 0 && use.memory > limit.memory && use.memory > now.memory)
      breach("memory", std::to_string(use.memory) + " bytes",
             std::to_string(limit.memory) + " bytes");
  }
  return out;
}

/// Stores `quotas` one after the other, then answers with `result`.
void commit_quotas(self_ptr self, std::vector<p::quota_spec> quotas, p::apply_result result,
                   caf::response_promise promise) {
  if (quotas.empty()) {
    promise.deliver(std::move(result));
    return;
  }
  auto q = quotas.back();
  quotas.pop_back();
  p::stored_object obj{p::object_kind::quota, q.name_space, config::emit_quota(q)};
  self->request(self->state.ctx.store, caf::infinite, p::put_atom::value, std::move(obj))
      .await(
          [self, q, quotas, result, promise](bool) mutable {
            self->state.quotas[q.name_space] = q;
            commit_quotas(self, std::move(quotas), std::move(result), std::move(promise));
          },
          [promise](caf::error& err) mutable { promise.deliver(err); });
}

/// An apply of `kind: Quota` documents (alone: parse_specs refuses a mix).
caf::result<p::apply_result> apply_quotas(self_ptr self, std::vector<p::quota_spec> quotas,
                                          bool dry_run) {
  p::apply_result result;
  result.dry_run = dry_run;
  std::vector<p::quota_spec> changed;
  for (const auto& q : quotas) {
    p::service_change c;
    c.service = "quota/" + q.name_space;
    auto now = config::emit_quota(q);
    auto i = self->state.quotas.find(q.name_space);
    auto before = i == self->state.quotas.end() ? std::string{} : config::emit_quota(i->second);
    c.kind = before.empty() ? p::change_kind::created
             : before == now ? p::change_kind::unchanged
                             : p::change_kind::updated;
    c.diff = c.kind == p::change_kind::unchanged ? std::string{} : config::diff_specs(before, now);
    if (c.kind != p::change_kind::unchanged)
      changed.push_back(q);
    result.changes.push_back(std::move(c));
  }
  if (dry_run || changed.empty())
    return result;
  auto promise = self->make_response_promise<p::apply_result>();
  commit_quotas(self, std::move(changed), std::move(result), promise);
  return promise;
}

} // namespace

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

namespace {

/// Commits what an apply changes: its configs and secrets first (the specs
/// name their versions), then its specs; answers with `result`.
caf::result<p::apply_result> commit_apply(self_ptr self, p::apply_result result,
                                          std::vector<p::service_spec> changed,
                                          config::parse_result parsed, pending_versions next) {
  auto promise = self->make_response_promise<p::apply_result>();
  auto commit = [self, promise, result, changed = std::move(changed)]() mutable {
    if (changed.empty()) {
      promise.deliver(std::move(result));
      return;
    }
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
  };
  if (parsed.objects.empty()) {
    commit();
    return promise;
  }
  std::set<std::string> applied;
  for (const auto& spec : parsed.specs)
    applied.insert(spec.name);
  commit_objects(self, std::move(parsed.objects), std::move(next), std::move(applied),
                 [promise, commit](caf::error err) mutable {
                   if (err)
                     promise.deliver(std::move(err));
                   else
                     commit();
                 });
  return promise;
}

} // namespace

namespace {

/// An autoscaled service's count is the autoscaler's, not the applied text's:
/// an apply keeps the current one (within the new bounds); a new service
/// starts within them.
void keep_autoscaled_count(self_ptr self, p::service_spec& spec) {
  const auto& a = spec.autoscale;
  if (!a.enabled)
    return;
  auto i = self->state.services.find(spec.name);
  auto count = i == self->state.services.end() ? spec.replicas : i->second.spec.replicas;
  spec.replicas = std::clamp(count, a.min, a.max);
}

} // namespace

caf::result<p::apply_result> apply(self_ptr self, const std::string& file, const std::string& text,
                                   bool dry_run, const std::string& request_namespace) {
  p::apply_result result;
  result.dry_run = dry_run;
  auto parsed = config::parse_specs(text, file, request_namespace);
  if (!parsed.ok()) {
    result.errors = std::move(parsed.errors);
    return result;
  }
  if (!parsed.quotas.empty())
    return apply_quotas(self, std::move(parsed.quotas), dry_run);
  pending_versions next;
  auto object_diff = object_changes(self, parsed.objects, next);
  if (!object_diff) {
    result.errors.push_back(file_error(file, p::message_of(object_diff.error())));
    return result;
  }
  for (auto& spec : parsed.specs) {
    resolve_refs(self, spec, next);
    keep_autoscaled_count(self, spec);
  }
  result.errors = limit_errors(self, file, parsed.specs);
  for (auto& why : quota_breaches(self, parsed.specs))
    result.errors.push_back(file_error(file, std::move(why)));
  if (!result.errors.empty())
    return result;
  result.errors = published_conflicts(current_specs(self), file, parsed.specs);
  if (!result.errors.empty())
    return result;
  result.changes = diff_against_current(self, parsed.specs);
  std::vector<p::service_spec> changed;
  for (size_t i = 0; i < parsed.specs.size(); ++i)
    if (result.changes[i].kind != p::change_kind::unchanged)
      changed.push_back(parsed.specs[i]);
  result.changes.insert(result.changes.begin(), object_diff->begin(), object_diff->end());
  if (dry_run || (changed.empty() && parsed.objects.empty()))
    return result;
  return commit_apply(self, std::move(result), std::move(changed), std::move(parsed),
                      std::move(next));
}

caf::result<int64_t> scale(self_ptr self, const std::string& name, int32_t replicas) {
  if (replicas < 0 || replicas > p::max_replicas)
    return p::make_error(p::error_code::invalid_argument, "replicas must be between 0 and " +
                                                              std::to_string(p::max_replicas) +
                                                              ", got " + std::to_string(replicas));
  auto i = self->state.services.find(name);
  if (i == self->state.services.end())
    return unknown_service(name);
  if (const auto& a = i->second.spec.autoscale; a.enabled && (replicas < a.min || replicas > a.max))
    return p::make_error(p::error_code::invalid_argument,
                         "service " + name + " autoscales between " + std::to_string(a.min) +
                             " and " + std::to_string(a.max) +
                             " replicas: scale within them (the autoscaler moves on from the "
                             "count given), or apply other bounds");
  if (i->second.spec.replicas == replicas)
    return i->second.revision;
  auto spec = i->second.spec;
  spec.replicas = replicas;
  if (auto breaches = quota_breaches(self, {spec}); !breaches.empty())
    return p::make_error(p::error_code::forbidden, breaches.front());
  auto promise = self->make_response_promise<int64_t>();
  commit_specs(self, {spec}, [promise](caf::expected<std::vector<p::spec_record>> recs) mutable {
    if (!recs)
      promise.deliver(recs.error());
    else
      promise.deliver(recs->front().revision);
  });
  return promise;
}

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

} // namespace tutti::actors::cluster_impl
