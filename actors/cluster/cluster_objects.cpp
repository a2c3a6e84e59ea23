#include "actors/cluster/cluster_objects.hpp"

#include "access/digest.hpp"
#include "access/records.hpp"
#include "access/tokens.hpp"
#include "actors/cluster/cluster_specs.hpp"
#include "config/spec_parser.hpp"
#include "protocol/errors.hpp"
#include "protocol/namespaces.hpp"

#include <caf/all.hpp>

#include <spdlog/spdlog.h>

#include <chrono>

namespace tutti::actors::cluster_impl {

namespace {

using object_key = std::pair<p::object_kind, std::string>;

std::string kind_text(p::object_kind kind) {
  return p::to_string(kind);
}

/// What the sealed data of a secret's version is bound to.
std::string seal_context(const std::string& name, int64_t version) {
  return "secret " + p::object_version_key(name, version);
}

const p::object_record* newest(self_ptr self, p::object_kind kind, const std::string& name) {
  auto i = self->state.objects.find({kind, name});
  if (i == self->state.objects.end() || i->second.empty())
    return nullptr;
  return &i->second.rbegin()->second;
}

/// The data of a stored version: a config's as kept, a secret's opened.
caf::expected<std::string> data_of(self_ptr self, const p::object_record& rec) {
  if (rec.kind != p::object_kind::secret)
    return rec.data;
  if (!self->state.ctx.secrets)
    return p::make_error(p::error_code::unavailable,
                         "this control plane has no secrets key (secrets.key_file), so the "
                         "secrets in its store do not open; start it with the key they were "
                         "sealed with");
  return self->state.ctx.secrets->open(rec.data, seal_context(rec.name, rec.version));
}

caf::error no_secrets_key() {
  return p::make_error(p::error_code::unavailable,
                       "this control plane has no secrets key: give tuttid `secrets: "
                       "{key_file: FILE}` in its config (docs/security.md), then apply again");
}

std::string missing_object(p::object_kind kind, const std::string& ns, const std::string& name) {
  return kind_text(kind) + " " + name + " does not exist in namespace " + ns + "; create it with `tutti " +
         kind_text(kind) + " create " + name + " --from-file FILE`";
}

/// The versions the current specs refer to, by object.
std::map<object_key, std::map<int64_t, std::vector<std::string>>> uses(self_ptr self) {
  std::map<object_key, std::map<int64_t, std::vector<std::string>>> out;
  for (const auto& [name, entry] : self->state.services) {
    auto ns = p::namespace_of(name);
    auto add = [&](p::object_kind kind, const std::vector<p::object_ref>& refs) {
      for (const auto& r : refs)
        out[{kind, p::qualified_name(ns, r.name)}][r.version].push_back(name);
    };
    add(p::object_kind::config, entry.spec.configs);
    add(p::object_kind::secret, entry.spec.secrets);
  }
  return out;
}

/// Stores one version, then removes the oldest beyond kept_object_versions.
void store_version(self_ptr self, p::object_record rec, std::function<void(caf::error)> done) {
  p::stored_object obj{rec.kind, p::object_version_key(rec.name, rec.version),
                       access::encode(rec)};
  self->request(self->state.ctx.store, caf::infinite, p::put_atom::value, std::move(obj))
      .await(
          [self, rec, done](bool) {
            auto& versions = self->state.objects[{rec.kind, rec.name}];
            versions[rec.version] = rec;
            while (static_cast<int64_t>(versions.size()) > p::kept_object_versions) {
              auto oldest = versions.begin()->first;
              versions.erase(versions.begin());
              self->request(self->state.ctx.store, caf::infinite, p::delete_atom::value,
                            rec.kind, p::object_version_key(rec.name, oldest))
                  .then([](bool) {}, [](caf::error&) {});
            }
            done({});
          },
          [done](caf::error& err) { done(std::move(err)); });
}

/// Gives the services whose unpinned references follow a changed object a new
/// revision that names its newest version (rolled out like any change).
void roll_followers(self_ptr self, const pending_versions& changed,
                    const std::set<std::string>& applied) {
  std::vector<p::service_spec> specs;
  for (const auto& [name, entry] : self->state.services) {
    if (applied.count(name))
      continue;
    auto spec = entry.spec;
    resolve_refs(self, spec);
    if (spec != entry.spec)
      specs.push_back(std::move(spec));
  }
  if (specs.empty())
    return;
  for (const auto& spec : specs) {
    std::string why;
    for (const auto& [key, version] : changed) {
      if (p::namespace_of(key.second) != p::namespace_of(spec.name))
        continue;
      why += (why.empty() ? "" : ", ") + kind_text(key.first) + " " +
             std::string{p::local_name(key.second)} + " version " + std::to_string(version);
    }
    emit(self, "objects_changed", spec.name, "rolls out " + why);
  }
  commit_specs(self, std::move(specs), [](caf::expected<std::vector<p::spec_record>> recs) {
    if (!recs)
      spdlog::error("cluster: a changed config or secret could not roll out its services: {}",
                    p::message_of(recs.error()));
  });
}

constexpr p::object_kind object_kinds[] = {p::object_kind::config, p::object_kind::secret};

/// Loads the stored versions of object_kinds[i] and those after it.
void load_kind(self_ptr self, size_t i, std::function<void()> done) {
  if (i == std::size(object_kinds)) {
    done();
    return;
  }
  auto kind = object_kinds[i];
  self->request(self->state.ctx.store, std::chrono::seconds{60}, p::get_atom::value, kind,
                std::string{}, uint32_t{1} << 20)
      .await(
          [self, kind, i, done](std::vector<p::stored_object>& xs) {
            for (auto& x : xs) {
              auto rec = access::decode_object(kind, x.value);
              if (!rec) {
                spdlog::error("cluster: stored {} {} cannot be read: {}", kind_text(kind), x.name,
                              p::message_of(rec.error()));
                continue;
              }
              self->state.objects[{kind, rec->name}][rec->version] = std::move(*rec);
            }
            load_kind(self, i + 1, done);
          },
          [self](caf::error& err) {
            spdlog::error("cluster: cannot load configs and secrets: {}", p::message_of(err));
            self->quit(err);
          });
}

/// Stores recs[i] and those after it, one after the other; then `done`.
void store_from(self_ptr self, std::shared_ptr<const std::vector<p::object_record>> recs,
                size_t i, std::function<void(caf::error)> done) {
  if (i == recs->size()) {
    done({});
    return;
  }
  store_version(self, (*recs)[i], [self, recs, i, done](caf::error err) {
    if (err)
      done(std::move(err));
    else
      store_from(self, recs, i + 1, done);
  });
}

} // namespace

void load_objects(self_ptr self, std::function<void()> done) {
  load_kind(self, 0, std::move(done));
}

caf::expected<std::vector<p::service_change>>
object_changes(self_ptr self, const std::vector<p::object_spec>& objects, pending_versions& next) {
  std::vector<p::service_change> out;
  for (const auto& x : objects) {
    if (x.kind == p::object_kind::secret && !self->state.ctx.secrets)
      return no_secrets_key();
    p::service_change c;
    c.service = kind_text(x.kind) + "/" + x.name;
    const auto* last = newest(self, x.kind, x.name);
    if (last == nullptr) {
      c.kind = p::change_kind::created;
      c.revision = 1;
    } else {
      auto before = data_of(self, *last);
      if (!before)
        return std::move(before.error());
      c.kind = *before == x.data ? p::change_kind::unchanged : p::change_kind::updated;
      c.revision = last->version + (c.kind == p::change_kind::updated ? 1 : 0);
      // A secret's data shows nowhere, not even as a diff.
      if (c.kind == p::change_kind::updated && x.kind == p::object_kind::config)
        c.diff = config::diff_specs(*before, x.data);
    }
    if (c.kind == p::change_kind::created && x.kind == p::object_kind::config)
      c.diff = config::diff_specs("", x.data);
    if (c.kind != p::change_kind::unchanged)
      next[{x.kind, x.name}] = c.revision;
    out.push_back(std::move(c));
  }
  return out;
}

void commit_objects(self_ptr self, std::vector<p::object_spec> objects, pending_versions next,
                    std::set<std::string> applied, std::function<void(caf::error)> done) {
  std::vector<p::object_record> recs;
  auto now = std::chrono::duration_cast<std::chrono::milliseconds>(
                 std::chrono::system_clock::now().time_since_epoch())
                 .count();
  for (auto& x : objects) {
    auto version = next.find({x.kind, x.name});
    if (version == next.end())
      continue;
    p::object_record rec{x.kind, x.name, version->second, now,
                         static_cast<int64_t>(x.data.size()), {}, {}};
    if (x.kind == p::object_kind::secret) {
      rec.data = self->state.ctx.secrets->seal(x.data, seal_context(x.name, rec.version));
    } else {
      rec.sha256 = access::sha256_hex(x.data);
      rec.data = std::move(x.data);
    }
    recs.push_back(std::move(rec));
  }
  auto stored = std::make_shared<const std::vector<p::object_record>>(std::move(recs));
  store_from(self, stored, 0,
             [self, next = std::move(next), applied = std::move(applied), done](caf::error err) {
               if (err) {
                 done(std::move(err));
                 return;
               }
               // Filed under the object's name: a namespace's viewers see its own.
               for (const auto& [key, version] : next)
                 emit(self, kind_text(key.first) + "_stored", key.second,
                      kind_text(key.first) + " " + key.second + " version " +
                          std::to_string(version) + " stored");
               roll_followers(self, next, applied);
               done({});
             });
}

void resolve_refs(self_ptr self, p::service_spec& spec, const pending_versions& next) {
  auto ns = p::namespace_of(spec.name);
  auto resolve = [&](p::object_kind kind, std::vector<p::object_ref>& refs) {
    for (auto& r : refs) {
      if (r.pinned)
        continue;
      auto name = p::qualified_name(ns, r.name);
      if (auto i = next.find({kind, name}); i != next.end())
        r.version = i->second;
      else if (const auto* last = newest(self, kind, name))
        r.version = last->version;
      else
        r.version = 0;
    }
  };
  resolve(p::object_kind::config, spec.configs);
  resolve(p::object_kind::secret, spec.secrets);
}

caf::expected<p::shared_payloads> payloads_of(self_ptr self, const p::service_spec& spec) {
  auto ns = p::namespace_of(spec.name);
  std::vector<p::object_payload> out;
  auto add = [&](p::object_kind kind, const std::vector<p::object_ref>& refs) -> caf::error {
    for (const auto& r : refs) {
      auto name = p::qualified_name(ns, r.name);
      auto i = self->state.objects.find({kind, name});
      if (i == self->state.objects.end() || i->second.empty() || r.version == 0)
        return p::make_error(p::error_code::not_found, missing_object(kind, ns, r.name));
      auto v = i->second.find(r.version);
      if (v == i->second.end())
        return p::make_error(p::error_code::not_found,
                             kind_text(kind) + " " + r.name + " has no version " +
                                 std::to_string(r.version) + " (kept: " +
                                 std::to_string(i->second.begin()->first) + " to " +
                                 std::to_string(i->second.rbegin()->first) +
                                 "); pin one that is kept, or unpin");
      auto data = data_of(self, v->second);
      if (!data)
        return std::move(data.error());
      out.push_back({kind, r.name, r.version, std::move(*data)});
    }
    return {};
  };
  if (auto err = add(p::object_kind::config, spec.configs))
    return err;
  if (auto err = add(p::object_kind::secret, spec.secrets))
    return err;
  return p::shared_payloads{std::move(out)};
}

std::vector<p::object_info> list_objects(self_ptr self, p::object_kind kind, const std::string& ns,
                                         const std::string& name, bool with_data) {
  auto used = uses(self);
  std::vector<p::object_info> out;
  for (const auto& [key, versions] : self->state.objects) {
    if (key.first != kind || (!ns.empty() && p::namespace_of(key.second) != ns) ||
        (!name.empty() && key.second != name))
      continue;
    for (const auto& [version, rec] : versions) {
      p::object_info info{kind, rec.name, version, rec.created_ms, rec.size, rec.sha256, {}, {}};
      if (with_data && kind == p::object_kind::config)
        info.data = rec.data;
      if (auto u = used.find(key); u != used.end())
        if (auto by = u->second.find(version); by != u->second.end())
          info.used_by = by->second;
      out.push_back(std::move(info));
    }
  }
  return out;
}

caf::result<bool> remove_object(self_ptr self, p::object_kind kind, const std::string& name) {
  auto i = self->state.objects.find({kind, name});
  auto ns = std::string{p::namespace_of(name)};
  auto local = std::string{p::local_name(name)};
  if (i == self->state.objects.end())
    return p::make_error(p::error_code::not_found, missing_object(kind, ns, local));
  std::string users;
  auto used = uses(self);
  if (auto u = used.find({kind, name}); u != used.end())
    for (const auto& [version, services] : u->second)
      for (const auto& s : services)
        users += (users.empty() ? "" : ", ") + s;
  if (!users.empty())
    return p::make_error(p::error_code::invalid_argument,
                         kind_text(kind) + " " + local + " is used by " + users +
                             "; remove it from their specs first");
  std::vector<int64_t> versions;
  for (const auto& [version, rec] : i->second)
    versions.push_back(version);
  self->state.objects.erase(i);
  auto promise = self->make_response_promise<bool>();
  auto left = std::make_shared<size_t>(versions.size());
  for (auto version : versions)
    self->request(self->state.ctx.store, caf::infinite, p::delete_atom::value, kind,
                  p::object_version_key(name, version))
        .then(
            [left, promise](bool) mutable {
              if (--*left == 0)
                promise.deliver(true);
            },
            [promise](caf::error& err) mutable { promise.deliver(err); });
  emit(self, kind_text(kind) + "_removed", name, kind_text(kind) + " " + name + " removed");
  return promise;
}

} // namespace tutti::actors::cluster_impl
