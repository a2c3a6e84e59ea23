#pragma once

// Config and Secret objects in the cluster actor: their versions held in
// memory (a secret's sealed), applied durably, resolved into the references
// of specs, handed to service actors as payloads, listed and removed. A new
// version rolls out the services whose unpinned references name it. Part of
// the cluster actor.

#include "actors/cluster/cluster_state.hpp"

#include <functional>
#include <map>
#include <set>
#include <utility>

namespace tutti::actors::cluster_impl {

/// The next version of each object an apply changes, by kind and name.
using pending_versions = std::map<std::pair<p::object_kind, std::string>, int64_t>;

/// Loads the stored versions; then calls `done` (before any apply is answered).
void load_objects(self_ptr self, std::function<void()> done);

/// The changes `objects` make (created, updated with a new version, or
/// unchanged), and the versions they would get. An error when a secret is
/// given to a control plane without a secrets key.
caf::expected<std::vector<p::service_change>>
object_changes(self_ptr self, const std::vector<p::object_spec>& objects,
               pending_versions& next);

/// Stores the objects whose `next` version is new, then calls `done` with
/// nothing or the error. The services that follow them roll out then, but
/// for those named in `applied` (the apply that stored them commits those).
void commit_objects(self_ptr self, std::vector<p::object_spec> objects, pending_versions next,
                    std::set<std::string> applied, std::function<void(caf::error)> done);

/// Sets the version of every unpinned reference of `spec` to its object's
/// newest (in `next` first), 0 when there is none yet.
void resolve_refs(self_ptr self, p::service_spec& spec, const pending_versions& next = {});

/// The data of the versions `spec` refers to, for its replicas; an error
/// naming the first that is missing (the replicas wait).
caf::expected<p::shared_payloads> payloads_of(self_ptr self, const p::service_spec& spec);

/// The versions of the objects of `kind`: of namespace `ns` (every namespace
/// when empty), of `name` only when set (with a config's data when `with_data`).
std::vector<p::object_info> list_objects(self_ptr self, p::object_kind kind,
                                         const std::string& ns, const std::string& name,
                                         bool with_data);

/// Removes every version of an object no current spec refers to.
caf::result<bool> remove_object(self_ptr self, p::object_kind kind, const std::string& name);

} // namespace tutti::actors::cluster_impl
