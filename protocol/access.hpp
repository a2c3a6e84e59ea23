#pragma once

// Who may use the client API and what each identity did: roles, identities,
// bearer tokens as `tutti token ls` shows them, and audit records. The
// authorization rules themselves live in access/ (access/authorizer.hpp).

#include <caf/meta/type_name.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace tutti::protocol {

/// The built-in roles, each allowing everything the one before it does.
/// viewer: reads; deployer: apply, scale, rollout; operator: also delete
/// services and cordon/drain nodes; admin: everything (tokens, chaos, audit).
enum class access_role : uint8_t { viewer, deployer, operator_, admin };

std::string to_string(access_role x);
std::optional<access_role> access_role_from(const std::string& text);

/// How an identity proved who it is.
enum class credential_kind : uint8_t {
  token,             // a bearer token made by `tutti token create`
  admin_token,       // the control plane's bootstrap admin token file
  client_certificate, // a client certificate of the API's users' CA
  unix_peer           // the uid of a peer on tuttid dev's unix socket
};

std::string to_string(credential_kind x);

/// Who calls: what a session of the API holds.
struct identity {
  std::string name;                // the token's name, or the certificate's CN
  std::vector<std::string> groups; // the certificate's O entries
  access_role role = access_role::viewer;
  credential_kind via = credential_kind::token;
  int64_t expires_ms = 0; // 0: never
  /// Where the role holds; empty: the whole cluster. A namespaced identity
  /// sees and touches only services of these, and nothing of the cluster's
  /// own (nodes, tokens, the audit log).
  std::vector<std::string> namespaces;
  friend bool operator==(const identity&, const identity&) = default;
};

/// A bearer token as stored: only the SHA-256 of its secret is kept.
struct token_record {
  std::string name;
  std::string secret_sha256; // hex
  access_role role = access_role::viewer;
  int64_t created_ms = 0;
  int64_t expires_ms = 0; // 0: never
  std::string created_by;
  std::string name_space; // where its role holds; empty: the whole cluster
  friend bool operator==(const token_record&, const token_record&) = default;
};

/// One call of the API as the audit log keeps it: every mutating call, and
/// every refused one.
struct audit_record {
  std::string id;     // orders records: the time in ms, zero-padded, and a suffix
  int64_t time_ms = 0;
  std::string who;    // "alice (token, deployer)"
  std::string from;   // the peer's address
  std::string call;   // the API method, e.g. apply
  std::string target; // the service, node or token it named
  std::string result; // "ok", or the error code
  std::string message;
  friend bool operator==(const audit_record&, const audit_record&) = default;
};

/// The verbs and resources of custom roles' rules (access/authorizer.hpp maps
/// every API call to one of each).
const std::vector<std::string>& role_verbs();
const std::vector<std::string>& role_resources();

/// A custom role (`kind: Role`): verbs on resources, each a name of
/// role_verbs() / role_resources(), or "*" for all.
struct role_rule {
  std::vector<std::string> verbs;
  std::vector<std::string> resources;
  friend bool operator==(const role_rule&, const role_rule&) = default;
};

struct custom_role {
  std::string name;
  std::vector<role_rule> rules;
  friend bool operator==(const custom_role&, const custom_role&) = default;
};

/// Who a RoleBinding grants its role to.
enum class subject_kind : uint8_t {
  token, // a bearer token, by name
  user,  // a client certificate's CN
  group  // a client certificate's O
};

std::string to_string(subject_kind x);
std::optional<subject_kind> subject_kind_from(const std::string& text);

struct role_subject {
  subject_kind kind = subject_kind::token;
  std::string name;
  friend bool operator==(const role_subject&, const role_subject&) = default;
};

/// `kind: RoleBinding`: `role` (a custom role) for `subjects`, in
/// `name_space` only, or in the whole cluster when it is empty.
struct role_binding {
  std::string name;
  std::string role;
  std::string name_space;
  std::vector<role_subject> subjects;
  friend bool operator==(const role_binding&, const role_binding&) = default;
};

/// What the store keeps besides specs, assignments, nodes and events: small
/// records by kind and name, as encoded JSON values.
enum class object_kind : uint8_t { token, audit, quota, role, role_binding, config, secret };

std::string to_string(object_kind x);

struct stored_object {
  object_kind kind = object_kind::token;
  std::string name;
  std::string value;
  friend bool operator==(const stored_object&, const stored_object&) = default;
};

template <class Inspector> typename Inspector::result_type inspect(Inspector& f, stored_object& x) {
  return f(caf::meta::type_name("stored_object"), x.kind, x.name, x.value);
}

} // namespace tutti::protocol
