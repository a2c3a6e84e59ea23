#pragma once

// Private to actors/api: an apply of custom roles and role bindings (`kind:
// Role`, `kind: RoleBinding`), which the API server stores itself (the cluster
// actor has no part in who may call what) and puts in effect at once; and who
// may apply policies, configs and secrets.

#include "actors/api/server_parts.hpp"
#include "config/spec_parser.hpp"

#include <kj/async.h>

#include <vector>

namespace tutti::actors::api_internal {

/// Why `who` may not set quotas or roles (an apply of kind: Quota, Role or
/// RoleBinding): only an admin of the whole cluster may; nothing when it may.
caf::error quota_setter_refusal(const p::identity& who);

/// Why `who` may not apply the configs or secrets (`resources`: "configs",
/// "secrets") an apply stores: a built-in role that may apply may; a custom
/// role needs `apply` on those resources as well. Nothing when it may.
caf::error object_writer_refusal(const access::policy& policy, const p::identity& who,
                                 const std::vector<std::string>& resources,
                                 const std::vector<std::string>& namespaces);

/// The changes the apply makes; unless `dry_run`, stored one after the other
/// and then in effect in `parts.policy`. The first store error ends it.
kj::Promise<caf::expected<std::vector<p::service_change>>>
apply_policy(const server_parts& parts, config::parse_result parsed, bool dry_run);

} // namespace tutti::actors::api_internal
