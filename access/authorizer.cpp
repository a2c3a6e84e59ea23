#include "access/authorizer.hpp"

#include "protocol/errors.hpp"

#include <algorithm>

namespace tutti::access {

namespace p = tutti::protocol;

std::optional<api_call> api_call_of(uint16_t ordinal) {
  if (ordinal > static_cast<uint16_t>(api_call::remove_secret))
    return std::nullopt;
  return static_cast<api_call>(ordinal);
}

std::string to_string(api_call x) {
  switch (x) {
    case api_call::version:
      return "version";
    case api_call::apply:
      return "apply";
    case api_call::get_services:
      return "getServices";
    case api_call::get_replicas:
      return "getReplicas";
    case api_call::get_nodes:
      return "getNodes";
    case api_call::describe_service:
      return "describeService";
    case api_call::scale:
      return "scale";
    case api_call::delete_service:
      return "deleteService";
    case api_call::events:
      return "events";
    case api_call::follow:
      return "follow";
    case api_call::logs:
      return "logs";
    case api_call::get_endpoints:
      return "getEndpoints";
    case api_call::watch_endpoints:
      return "watchEndpoints";
    case api_call::rollout_status:
      return "rolloutStatus";
    case api_call::rollout_history:
      return "rolloutHistory";
    case api_call::rollout_undo:
      return "rolloutUndo";
    case api_call::set_node_state:
      return "setNodeState";
    case api_call::tree:
      return "tree";
    case api_call::kill_actor:
      return "killActor";
    case api_call::get_controllers:
      return "getControllers";
    case api_call::whoami:
      return "whoami";
    case api_call::create_token:
      return "createToken";
    case api_call::revoke_token:
      return "revokeToken";
    case api_call::list_tokens:
      return "listTokens";
    case api_call::audit:
      return "audit";
    case api_call::import_image:
      return "importImage";
    case api_call::list_volumes:
      return "listVolumes";
    case api_call::list_configs:
      return "listConfigs";
    case api_call::remove_config:
      return "removeConfig";
    case api_call::list_secrets:
      return "listSecrets";
    case api_call::remove_secret:
      return "removeSecret";
    case api_call::remove_volume:
      return "removeVolume";
    case api_call::backup:
      return "backup";
    case api_call::join_secret:
      return "joinSecret";
  }
  return "unknown";
}

call_meaning meaning_of(api_call x) {
  switch (x) {
    case api_call::version:
      return {"read", "the version"};
    case api_call::get_services:
    case api_call::describe_service:
    case api_call::rollout_status:
    case api_call::rollout_history:
      return {"read", "services"};
    case api_call::get_replicas:
      return {"read", "replicas"};
    case api_call::get_nodes:
      return {"read", "nodes"};
    case api_call::events:
    case api_call::follow:
      return {"read", "events"};
    case api_call::logs:
      return {"read", "logs"};
    case api_call::get_endpoints:
    case api_call::watch_endpoints:
      return {"read", "endpoints"};
    case api_call::tree:
      return {"read", "the supervision tree"};
    case api_call::get_controllers:
      return {"read", "control processes"};
    case api_call::whoami:
      return {"read", "its own identity"};
    case api_call::apply:
      return {"apply", "services"};
    case api_call::scale:
      return {"scale", "services"};
    case api_call::rollout_undo:
      return {"roll back", "services"};
    case api_call::delete_service:
      return {"delete", "services"};
    case api_call::set_node_state:
      return {"cordon or drain", "nodes"};
    case api_call::kill_actor:
      return {"kill", "actors"};
    case api_call::create_token:
      return {"create", "tokens"};
    case api_call::revoke_token:
      return {"revoke", "tokens"};
    case api_call::list_tokens:
      return {"list", "tokens"};
    case api_call::audit:
      return {"read", "the audit log"};
    case api_call::import_image:
      return {"import", "images"};
    case api_call::list_volumes:
      return {"read", "volumes"};
    case api_call::list_configs:
      return {"read", "configs"};
    case api_call::remove_config:
      return {"delete", "configs"};
    case api_call::list_secrets:
      return {"read", "secrets"};
    case api_call::remove_secret:
      return {"delete", "secrets"};
    case api_call::remove_volume:
      return {"delete", "volumes"};
    case api_call::backup:
      return {"back up", "the store"};
    case api_call::join_secret:
      return {"read", "the cluster's join secret"};
  }
  return {"call", "the API"};
}

p::access_role required_role(api_call x) {
  using r = p::access_role;
  switch (x) {
    case api_call::version:
    case api_call::get_services:
    case api_call::get_replicas:
    case api_call::get_nodes:
    case api_call::describe_service:
    case api_call::events:
    case api_call::follow:
    case api_call::logs:
    case api_call::get_endpoints:
    case api_call::watch_endpoints:
    case api_call::rollout_status:
    case api_call::rollout_history:
    case api_call::tree:
    case api_call::get_controllers:
    case api_call::whoami:
    case api_call::list_volumes:
    case api_call::list_configs:
    case api_call::list_secrets:
      return r::viewer;
    case api_call::apply:
    case api_call::scale:
    case api_call::rollout_undo:
      return r::deployer;
    case api_call::delete_service:
    case api_call::set_node_state:
    case api_call::import_image:
    case api_call::remove_volume:
    case api_call::remove_config:
    case api_call::remove_secret:
      return r::operator_;
    case api_call::kill_actor:
    case api_call::create_token:
    case api_call::revoke_token:
    case api_call::list_tokens:
    case api_call::audit:
    case api_call::backup:
    case api_call::join_secret:
      return r::admin;
  }
  return r::admin;
}

bool mutates(api_call x) {
  switch (x) {
    case api_call::apply:
    case api_call::scale:
    case api_call::rollout_undo:
    case api_call::delete_service:
    case api_call::set_node_state:
    case api_call::kill_actor:
    case api_call::create_token:
    case api_call::revoke_token:
    case api_call::import_image:
    case api_call::remove_volume:
    case api_call::remove_config:
    case api_call::remove_secret:
      return true;
    default:
      return false;
  }
}

bool audited(api_call x) {
  return mutates(x) || x == api_call::backup || x == api_call::join_secret;
}

std::string describe(const p::identity& who) {
  auto via = p::to_string(who.via);
  std::replace(via.begin(), via.end(), '_', ' ');
  std::string where;
  for (const auto& ns : who.namespaces)
    where += (where.empty() ? " in " : ", ") + ns;
  return who.name + " (" + via + ", " + p::to_string(who.role) + where + ")";
}

std::pair<std::string, std::string> rule_of(api_call x) {
  using c = api_call;
  switch (x) {
    case c::version:
      return {"read", "version"};
    case c::get_services:
    case c::describe_service:
    case c::rollout_status:
    case c::rollout_history:
      return {"read", "services"};
    case c::get_replicas:
      return {"read", "replicas"};
    case c::get_nodes:
      return {"read", "nodes"};
    case c::events:
    case c::follow:
      return {"read", "events"};
    case c::logs:
      return {"read", "logs"};
    case c::get_endpoints:
    case c::watch_endpoints:
      return {"read", "endpoints"};
    case c::tree:
      return {"read", "tree"};
    case c::get_controllers:
      return {"read", "controllers"};
    case c::whoami:
      return {"read", "identity"};
    case c::apply:
      return {"apply", "services"};
    case c::scale:
      return {"scale", "services"};
    case c::rollout_undo:
      return {"rollback", "services"};
    case c::delete_service:
      return {"delete", "services"};
    case c::set_node_state:
      return {"drain", "nodes"};
    case c::kill_actor:
      return {"kill", "tree"};
    case c::create_token:
      return {"create", "tokens"};
    case c::revoke_token:
      return {"revoke", "tokens"};
    case c::list_tokens:
      return {"read", "tokens"};
    case c::audit:
      return {"read", "audit"};
    case c::import_image:
      return {"import", "images"};
    case c::list_volumes:
      return {"read", "volumes"};
    case c::remove_volume:
      return {"delete", "volumes"};
    case c::list_configs:
      return {"read", "configs"};
    case c::remove_config:
      return {"delete", "configs"};
    case c::list_secrets:
      return {"read", "secrets"};
    case c::remove_secret:
      return {"delete", "secrets"};
    case c::backup:
      return {"backup", "store"};
    case c::join_secret:
      return {"", ""}; // no custom role grants it: it admits hosts to the cluster
  }
  return {"", ""};
}

bool cluster_scoped(api_call x) {
  switch (x) {
    case api_call::get_nodes:
    case api_call::set_node_state:
    case api_call::tree:
    case api_call::kill_actor:
    case api_call::get_controllers:
    case api_call::create_token:
    case api_call::revoke_token:
    case api_call::list_tokens:
    case api_call::audit:
    case api_call::import_image:
    case api_call::list_volumes:
    case api_call::remove_volume:
    case api_call::backup:
    case api_call::join_secret:
      return true;
    default:
      return false;
  }
}

bool sees(const p::identity& who, const std::string& ns) {
  return who.namespaces.empty() ||
         std::find(who.namespaces.begin(), who.namespaces.end(), ns) != who.namespaces.end();
}

namespace {

/// "deployer, operator or admin": the roles from `least` up.
std::string roles_from(p::access_role least) {
  static const p::access_role all[] = {p::access_role::viewer, p::access_role::deployer,
                                       p::access_role::operator_, p::access_role::admin};
  std::string out;
  for (auto r : all) {
    if (r < least)
      continue;
    if (!out.empty())
      out += r == p::access_role::admin ? " or " : ", ";
    out += p::to_string(r);
  }
  return out;
}

} // namespace

caf::error authorize(const p::identity& who, api_call x, const std::vector<std::string>& namespaces) {
  auto least = required_role(x);
  auto m = meaning_of(x);
  if (who.role >= least) {
    if (who.namespaces.empty())
      return {};
    if (cluster_scoped(x))
      return p::make_error(p::error_code::forbidden,
                           describe(who) + " may not " + m.verb + " " + m.resource + " (" +
                               to_string(x) +
                               "): they belong to the whole cluster, and its role holds in its "
                               "namespaces only; ask an admin");
    for (const auto& ns : namespaces)
      if (!sees(who, ns))
        return p::make_error(p::error_code::forbidden,
                             describe(who) + " may not " + m.verb + " " + m.resource + " in " +
                                 ns + " (" + to_string(x) +
                                 "): its role holds in its namespaces only; ask an admin for a "
                                 "credential for " +
                                 ns);
    return {};
  }
  return p::make_error(p::error_code::forbidden,
                       describe(who) + " may not " + m.verb + " " + m.resource + " (" +
                           to_string(x) + "): " +
                           (least == p::access_role::admin ? "only the role admin may"
                                                           : "the roles " + roles_from(least) + " may") +
                           "; ask an admin for a credential with such a role");
}

} // namespace tutti::access
