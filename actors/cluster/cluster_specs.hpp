#pragma once

// The write path of the cluster actor: apply, scale, rollback and delete. Each
// commits durably to the store before it answers, then hands the new spec to
// its service actor. Part of the cluster actor.

#include "actors/cluster/cluster_state.hpp"

#include <functional>

namespace tutti::actors::cluster_impl {

/// Validates the whole input (and that no port is published twice), answers
/// with the changes, and commits those that change a spec unless `dry_run`.
/// `request_namespace`: the client's (`tutti -n`); empty: each document's.
caf::result<p::apply_result> apply(self_ptr self, const std::string& file, const std::string& text,
                                   bool dry_run, const std::string& request_namespace);

/// Commits specs whose text changed (one durable transaction), then hands them
/// to their service actors. `done` gets the committed records or the error.
void commit_specs(self_ptr self, std::vector<p::service_spec> specs,
                  std::function<void(caf::expected<std::vector<p::spec_record>>)> done);

/// Commits the spec of `name` with `replicas` replicas: the revision.
caf::result<int64_t> scale(self_ptr self, const std::string& name, int32_t replicas);

/// Commits an earlier revision's spec as a new revision (keeping today's replica
/// count), for `tutti rollout undo` and for automatic rollbacks.
caf::result<int64_t> rollback(self_ptr self, const std::string& name, int64_t to,
                              const std::string& reason);

/// Deletes the spec of `name`; its service actor then stops its replicas.
caf::result<bool> remove_service(self_ptr self, const std::string& name);

} // namespace tutti::actors::cluster_impl
