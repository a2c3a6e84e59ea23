#pragma once

// Custom roles and their bindings (`kind: Role`, `kind: RoleBinding`): what
// they grant on top of an identity's built-in role. A binding gives its role
// to tokens (by name), users (a client certificate's CN) or groups (its O),
// in one namespace or in the whole cluster. Loaded from the store and kept
// current by the API server; thread-safe.

#include "access/authorizer.hpp"
#include "protocol/access.hpp"

#include <map>
#include <mutex>
#include <string>
#include <vector>

namespace tutti::access {

class policy {
public:
  void load(std::vector<protocol::custom_role> roles, std::vector<protocol::role_binding> bindings);
  void put(protocol::custom_role x);
  void put(protocol::role_binding x);

  /// The binding that lets `who` make the call on services of `namespaces`
  /// (none for a list or a cluster-wide call: then only a binding of the
  /// whole cluster does), by name; empty when none does.
  std::string grant(const protocol::identity& who, api_call x,
                    const std::vector<std::string>& namespaces) const;

  /// The same for a rule of `verb` on `resource` (an apply that stores
  /// configs or secrets needs `apply` on those too).
  std::string grant(const protocol::identity& who, const std::string& verb,
                    const std::string& resource, const std::vector<std::string>& namespaces,
                    bool cluster_wide = false) const;

private:
  bool binds(const protocol::role_binding& b, const protocol::identity& who) const;
  bool allows(const protocol::custom_role& r, const std::string& verb,
              const std::string& resource) const;

  mutable std::mutex mtx_;
  std::map<std::string, protocol::custom_role> roles_;
  std::map<std::string, protocol::role_binding> bindings_;
};

} // namespace tutti::access
