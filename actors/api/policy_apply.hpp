#pragma once

// Private to actors/api: an apply of custom roles and role bindings (`kind:
// Role`, `kind: RoleBinding`), which the API server stores itself (the cluster
// actor has no part in who may call what) and puts in effect at once.

#include "actors/api/server_parts.hpp"
#include "config/spec_parser.hpp"

#include <kj/async.h>

#include <vector>

namespace tutti::actors::api_internal {

/// The changes the apply makes; unless `dry_run`, stored one after the other
/// and then in effect in `parts.policy`. The first store error ends it.
kj::Promise<caf::expected<std::vector<p::service_change>>>
apply_policy(const server_parts& parts, config::parse_result parsed, bool dry_run);

} // namespace tutti::actors::api_internal
