#include "actors/api/policy_apply.hpp"

namespace tutti::actors::api_internal {

caf::error quota_setter_refusal(const p::identity& who) {
  if (who.role == p::access_role::admin && who.namespaces.empty())
    return {};
  return p::make_error(p::error_code::forbidden,
                       access::describe(who) +
                           " may not set quotas or roles (apply of kind: Quota, Role or "
                           "RoleBinding): only the role admin of the whole cluster may");
}

caf::error object_writer_refusal(const access::policy& policy, const p::identity& who,
                                 const std::vector<std::string>& resources,
                                 const std::vector<std::string>& namespaces) {
  if (resources.empty() || !access::authorize(who, access::api_call::apply, namespaces))
    return {};
  for (const auto& resource : resources)
    if (policy.grant(who, "apply", resource, namespaces).empty())
      return p::make_error(p::error_code::forbidden,
                           access::describe(who) + " may not apply " + resource +
                               " (kind: Config or Secret): a RoleBinding to a kind: Role with "
                               "verb apply on " + resource + " would allow it");
  return {};
}

kj::Promise<caf::expected<std::vector<p::service_change>>>
apply_policy(const server_parts& parts, config::parse_result parsed, bool dry_run) {
  std::vector<p::stored_object> objects;
  std::vector<p::service_change> changes;
  auto change = [&](std::string name) {
    p::service_change c;
    c.service = std::move(name);
    c.kind = p::change_kind::updated;
    changes.push_back(std::move(c));
  };
  for (const auto& r : parsed.roles) {
    objects.push_back({p::object_kind::role, r.name, config::emit_role(r)});
    change("role/" + r.name);
  }
  for (const auto& b : parsed.bindings) {
    objects.push_back({p::object_kind::role_binding, b.name, config::emit_binding(b)});
    change("rolebinding/" + b.name);
  }
  using result = caf::expected<std::vector<p::service_change>>;
  if (dry_run)
    return result{std::move(changes)};
  kj::Promise<caf::error> stored = caf::error{};
  for (auto& obj : objects)
    stored = stored.then([&parts, obj](caf::error err) mutable -> kj::Promise<caf::error> {
      if (err)
        return kj::mv(err);
      return ask_actor<bool>(parts.sys, parts.store.get(), parts.opts.call_timeout,
                             p::put_atom::value, obj)
          .then([](caf::expected<bool> r) { return r ? caf::error{} : r.error(); });
    });
  return stored.then([&parts, parsed = kj::mv(parsed),
                      changes = kj::mv(changes)](caf::error err) mutable -> result {
    if (err)
      return err;
    for (auto& r : parsed.roles)
      parts.policy.put(std::move(r));
    for (auto& b : parsed.bindings)
      parts.policy.put(std::move(b));
    return std::move(changes);
  });
}

} // namespace tutti::actors::api_internal
