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

/// What all configs and secrets of a cluster may hold: every version is in the
/// cluster actor's memory.
constexpr int64_t max_held_bytes = int64_t{256} << 20;
constexpr size_t max_held_objects = 10000;

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
  return p::to_string(kind) + " " + name + " does not exist in namespace " + ns + "; create it with `tutti " +
         p::to_string(kind) + " create " + name + " --from-file FILE`";
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

/// Removes the oldest versions of `key` beyond kept_object_versions, but none
/// that a current spec uses (a pinned reference, a revision rolled back to).
void prune_versions(self_ptr self, const object_key& key) {
  auto& versions = self->state.objects[key];
  auto used = uses(self)[key];
  for (auto i = versions.begin();
       i != versions.end() && static_cast<int64_t>(versions.size()) > p::kept_object_versions;) {
    if (used.count(i->first) || std::next(i) == versions.end()) {
      ++i;
      continue;
    }
    self->request(self->state.ctx.store, caf::infinite, p::delete_atom::value, key.first,
                  p::object_version_key(key.second, i->first))
        .then([](bool) {}, [](caf::error&) {});
    i = versions.erase(i);
  }
}

/// Stores one version, then removes the oldest beyond kept_object_versions.
void store_version(self_ptr self, p::object_record rec, std::function<void(caf::error)> done) {
  p::stored_object obj{rec.kind, p::object_version_key(rec.name, rec.version),
                       access::encode(rec)};
  self->request(self->state.ctx.store, caf::infinite, p::put_atom::value, std::move(obj))
      .await(
          [self, rec, done](bool) {
            self->state.objects[{rec.kind, rec.name}][rec.version] = rec;
            prune_versions(self, {rec.kind, rec.name});
            done({});
          },
          [done](caf::error& err) { done(std::move(err)); });
}

/// The spec of `entry` with its unpinned references to `keys` at their
/// objects' newest versions; `why` names each reference that moves.
p::service_spec followed(self_ptr self, const std::string& service, const p::service_spec& current,
                         const std::set<object_key>& keys, std::string& why) {
  auto spec = current;
  auto ns = p::namespace_of(service);
  auto follow = [&](p::object_kind kind, std::vector<p::object_ref>& refs) {
    for (auto& r : refs) {
      auto key = object_key{kind, p::qualified_name(ns, r.name)};
      const auto* last = r.pinned || !keys.count(key) ? nullptr : newest(self, kind, key.second);
      if (last == nullptr || last->version == r.version)
        continue;
      r.version = last->version;
      why += (why.empty() ? "" : ", ") + p::to_string(kind) + " " + r.name + " version " +
             std::to_string(r.version);
    }
  };
  follow(p::object_kind::config, spec.configs);
  follow(p::object_kind::secret, spec.secrets);
  return spec;
}

/// Gives the services whose unpinned references follow one of `keys` and name
/// an older version than its newest a new revision that names the newest
/// (rolled out like any change). Other services stay as they are (one rolled
/// back by hand keeps its versions).
void roll_followers(self_ptr self, const std::set<object_key>& keys,
                    const std::set<std::string>& applied) {
  std::vector<p::service_spec> specs;
  for (const auto& [name, entry] : self->state.services) {
    if (applied.count(name))
      continue;
    std::string why;
    auto spec = followed(self, name, entry.spec, keys, why);
    if (why.empty())
      continue;
    emit(self, "objects_changed", name, "rolls out " + why);
    specs.push_back(std::move(spec));
  }
  if (specs.empty())
    return;
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
                spdlog::error("cluster: stored {} {} cannot be read: {}", p::to_string(kind), x.name,
                              p::message_of(rec.error()));
                continue;
              }
              if (rec->version == 0) // a removed object's last version number
                self->state.retired[{kind, rec->name}] = rec->size;
              else
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

/// Lines of a config's change that apply shows: the diff's table grows with
/// the product of both texts' lines, so large data shows as its digests.
std::string data_diff(const std::string& before, const std::string& after) {
  constexpr size_t most = 16 * 1024;
  if (before.size() <= most && after.size() <= most)
    return config::diff_specs(before, after);
  auto line = [](const std::string& x) {
    return x.empty() ? std::string{}
                     : "sha256 " + access::sha256_hex(x) + " (" + std::to_string(x.size()) +
                           " bytes)\n";
  };
  return (before.empty() ? "" : "-" + line(before)) + "+" + line(after);
}

/// What the cluster's configs and secrets hold, in bytes of data, and in objects.
std::pair<int64_t, size_t> held(self_ptr self) {
  int64_t bytes = 0;
  for (const auto& [key, versions] : self->state.objects)
    for (const auto& [version, rec] : versions)
      bytes += rec.size;
  return {bytes, self->state.objects.size()};
}

/// Why `objects` would hold more than the cluster keeps, or nothing.
caf::error too_much(self_ptr self, const std::vector<p::object_spec>& objects) {
  auto [bytes, count] = held(self);
  for (const auto& x : objects) {
    bytes += static_cast<int64_t>(x.data.size());
    count += self->state.objects.count({x.kind, x.name}) ? 0 : 1;
  }
  if (bytes > max_held_bytes || count > max_held_objects)
    return p::make_error(p::error_code::invalid_argument,
                         "configs and secrets would hold " + std::to_string(bytes) +
                             " bytes in " + std::to_string(count) + " objects; the cluster keeps "
                             "at most " + std::to_string(max_held_bytes) + " bytes in " +
                             std::to_string(max_held_objects) +
                             " objects: remove unused ones (`tutti config rm`, `tutti secret rm`)");
  return {};
}

/// Removes every stored version of `key`, then forgets it and answers.
void remove_versions(self_ptr self, object_key key, int64_t last, caf::response_promise promise) {
  auto i = self->state.objects.find(key);
  if (i == self->state.objects.end()) {
    promise.deliver(true);
    return;
  }
  auto left = std::make_shared<size_t>(i->second.size());
  auto failed = std::make_shared<bool>(false);
  for (const auto& [version, rec] : i->second)
    self->request(self->state.ctx.store, caf::infinite, p::delete_atom::value, key.first,
                  p::object_version_key(key.second, version))
        .then(
            [self, key, last, left, failed, promise](bool) mutable {
              if (--*left > 0 || *failed)
                return;
              self->state.objects.erase(key);
              self->state.retired[key] = last;
              emit(self, p::to_string(key.first) + "_removed", key.second,
                   p::to_string(key.first) + " " + key.second + " removed");
              promise.deliver(true);
            },
            [failed, promise](caf::error& err) mutable {
              if (!std::exchange(*failed, true))
                promise.deliver(err);
            });
}

} // namespace

void load_objects(self_ptr self, std::function<void()> done) {
  load_kind(self, 0, std::move(done));
}

caf::expected<std::vector<p::service_change>>
object_changes(self_ptr self, const std::vector<p::object_spec>& objects, pending_versions& next) {
  if (auto err = too_much(self, objects))
    return err;
  std::vector<p::service_change> out;
  for (const auto& x : objects) {
    if (x.kind == p::object_kind::secret && !self->state.ctx.secrets)
      return no_secrets_key();
    p::service_change c;
    c.service = p::to_string(x.kind) + "/" + x.name;
    const auto* last = newest(self, x.kind, x.name);
    if (last == nullptr) {
      // Numbers go on after a removed object's: older revisions name those.
      auto retired = self->state.retired.find({x.kind, x.name});
      c.kind = p::change_kind::created;
      c.revision = (retired == self->state.retired.end() ? 0 : retired->second) + 1;
    } else {
      auto before = data_of(self, *last);
      if (!before)
        return std::move(before.error());
      c.kind = *before == x.data ? p::change_kind::unchanged : p::change_kind::updated;
      c.revision = last->version + (c.kind == p::change_kind::updated ? 1 : 0);
      // A secret's data shows nowhere, not even as a diff.
      if (c.kind == p::change_kind::updated && x.kind == p::object_kind::config)
        c.diff = data_diff(*before, x.data);
    }
    if (c.kind == p::change_kind::created && x.kind == p::object_kind::config)
      c.diff = data_diff("", x.data);
    if (c.kind != p::change_kind::unchanged)
      next[{x.kind, x.name}] = c.revision;
    out.push_back(std::move(c));
  }
  return out;
}

void commit_objects(self_ptr self, std::vector<p::object_spec> objects, pending_versions next,
                    std::set<std::string> applied, std::function<void(caf::error)> done) {
  std::set<object_key> keys;
  for (const auto& x : objects)
    keys.insert({x.kind, x.name});
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
      try {
        rec.data = self->state.ctx.secrets->seal(x.data, seal_context(x.name, rec.version));
      } catch (const std::exception& e) {
        done(p::make_error(p::error_code::internal,
                           "cannot seal secret " + x.name + ": " + e.what()));
        return;
      }
    } else {
      rec.sha256 = access::sha256_hex(x.data);
      rec.data = std::move(x.data);
    }
    recs.push_back(std::move(rec));
  }
  auto stored = std::make_shared<const std::vector<p::object_record>>(std::move(recs));
  store_from(self, stored, 0,
             [self, next = std::move(next), keys = std::move(keys), applied = std::move(applied),
              done](caf::error err) {
               if (err) {
                 done(std::move(err));
                 return;
               }
               // Filed under the object's name: a namespace's viewers see its own.
               for (const auto& [key, version] : next)
                 emit(self, p::to_string(key.first) + "_stored", key.second,
                      p::to_string(key.first) + " " + key.second + " version " +
                          std::to_string(version) + " stored");
               // Every object of the input, changed or not: followers left behind
               // by an earlier apply that failed half-way catch up now.
               roll_followers(self, keys, applied);
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
                             p::to_string(kind) + " " + r.name + " has no version " +
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
                         p::to_string(kind) + " " + local + " is used by " + users +
                             "; remove it from their specs first");
  auto promise = self->make_response_promise<bool>();
  // The last number first (a record of version 0), so that the name's next
  // object goes on from it even if a removal below fails half-way.
  auto last = i->second.rbegin()->first;
  p::object_record tomb{kind, name, 0, 0, last, {}, {}};
  p::stored_object obj{kind, p::object_version_key(name, 0), access::encode(tomb)};
  self->request(self->state.ctx.store, caf::infinite, p::put_atom::value, std::move(obj))
      .await([self, kind, name, last, promise](bool) mutable { remove_versions(self, {kind, name}, last, promise); },
             [promise](caf::error& err) mutable { promise.deliver(err); });
  return promise;
}

} // namespace tutti::actors::cluster_impl
