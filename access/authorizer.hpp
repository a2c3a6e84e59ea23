#pragma once

// What each role may call on the client API, and the refusal that tells a
// person who asked, for what, and which role would be allowed. The calls are
// the methods of protocol/api.capnp's Tutti, in their ordinal order.

#include "protocol/access.hpp"

#include <caf/error.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace tutti::access {

/// The methods of the Tutti interface; the value is the method's ordinal.
enum class api_call : uint16_t {
  version,
  apply,
  get_services,
  get_replicas,
  get_nodes,
  describe_service,
  scale,
  delete_service,
  events,
  follow,
  logs,
  get_endpoints,
  watch_endpoints,
  rollout_status,
  rollout_history,
  rollout_undo,
  set_node_state,
  tree,
  kill_actor,
  get_controllers,
  whoami,
  create_token,
  revoke_token,
  list_tokens,
  audit,
  import_image,
  list_volumes,
  remove_volume,
  backup,
  join_secret,
  list_configs,
  remove_config,
  list_secrets,
  remove_secret,
};

/// The call of a method ordinal; nullopt for one this build does not know.
std::optional<api_call> api_call_of(uint16_t ordinal);

/// The method's name as the schema spells it (e.g. "apply", "setNodeState").
std::string to_string(api_call x);

/// What a call does, for people: a verb and the resource it acts on.
struct call_meaning {
  const char* verb;     // "read", "apply", "delete", "cordon or drain", ...
  const char* resource; // "services", "nodes", "tokens", ...
};

call_meaning meaning_of(api_call x);

/// The least role that may make the call.
protocol::access_role required_role(api_call x);

/// True for calls that change something.
bool mutates(api_call x);

/// True for the calls the audit log keeps: those that change something, the
/// backup (it copies every token's hash out) and the join secret.
bool audited(api_call x);

/// The verb and resource a custom role's rule names for the call (names of
/// protocol::role_verbs() and protocol::role_resources()); empty for a call
/// that only the built-in role may make (the join secret).
std::pair<std::string, std::string> rule_of(api_call x);

/// True for calls on what belongs to the whole cluster (nodes, the actor
/// tree, the control processes, tokens, the audit log), not to a namespace.
bool cluster_scoped(api_call x);

/// Nothing when `who` may make the call on services of `namespaces` (those
/// the call names; none for a list, which the server filters); else
/// forbidden, saying who asked, what verb on which resource, and which roles
/// (or namespaces) allow it.
caf::error authorize(const protocol::identity& who, api_call x,
                     const std::vector<std::string>& namespaces = {});

/// Whether `who` sees the services of namespace `ns`.
bool sees(const protocol::identity& who, const std::string& ns);

/// "alice (token, deployer)": how refusals and the audit log name a caller.
std::string describe(const protocol::identity& who);

} // namespace tutti::access
