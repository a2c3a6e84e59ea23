#pragma once

// The policy documents of an apply (`kind: Quota`, `kind: Role`, `kind:
// RoleBinding`) read into protocol values, and the namespace rule every kind
// of document shares. Internal to config/: spec_parser.cpp dispatches to it.

#include "config/yaml_walk.hpp"
#include "protocol/access.hpp"
#include "protocol/spec.hpp"

#include <yaml-cpp/yaml.h>

#include <optional>
#include <set>
#include <string>

namespace tutti::config::detail {

/// A document's namespace: its `namespace:`, else the request's (`tutti -n`),
/// else `default`; a document naming another namespace than the request's is
/// an error.
std::string read_document_namespace(map_reader& fields, const std::string& request_namespace,
                                    error_sink& errors);

/// Reads the policy documents of one input; remembers names and namespaces
/// across them, so a second quota for a namespace or a second role of one name
/// is refused.
class policy_reader {
public:
  policy_reader(error_sink& errors, std::string request_namespace)
    : errors_(errors), request_namespace_(std::move(request_namespace)) {}

  std::optional<protocol::quota_spec> read_quota(const YAML::Node& doc);
  std::optional<protocol::custom_role> read_role(const YAML::Node& doc);
  std::optional<protocol::role_binding> read_binding(const YAML::Node& doc);

private:
  std::string read_policy_name(map_reader& fields, const field& whole, const char* what);
  std::optional<protocol::role_rule> read_rule(const field& item);
  std::optional<protocol::role_subject> read_subject(const field& item);

  error_sink& errors_;
  std::string request_namespace_;
  std::set<std::string> quota_namespaces_;
  std::set<std::string> policy_names_; // "role/NAME", "binding/NAME"
};

} // namespace tutti::config::detail
