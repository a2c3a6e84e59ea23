#pragma once

// YAML desired-state specs -> validated protocol::service_spec values, and back
// to canonical YAML. yaml-cpp stays inside config/: no YAML::Node leaves it.

#include "protocol/access.hpp"
#include "protocol/objects.hpp"
#include "protocol/spec.hpp"
#include "protocol/status.hpp"

#include <caf/timespan.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace tutti::config {

struct parse_result {
  std::vector<protocol::service_spec> specs;
  std::vector<protocol::quota_spec> quotas; // of `kind: Quota` documents
  std::vector<protocol::custom_role> roles;     // `kind: Role`
  std::vector<protocol::role_binding> bindings; // `kind: RoleBinding`
  std::vector<protocol::object_spec> objects;   // `kind: Config`, `kind: Secret`
  /// Not empty: the whole input is refused and `specs` is empty.
  std::vector<protocol::spec_error> errors;
  bool ok() const { return errors.empty(); }
};

/// Parses one or more `---`-separated documents. `file` only labels errors.
/// Validates every field of docs/spec.md; fields whose feature is not built
/// yet are refused with "not supported yet". Duplicate names across the documents
/// are refused. Never throws on bad input. A spec's name comes out qualified
/// by its namespace (protocol/namespaces.hpp): the document's `namespace:`,
/// else `request_namespace`, else default; a document naming another
/// namespace than a non-empty `request_namespace` is refused.
parse_result parse_specs(const std::string& text, const std::string& file,
                         const std::string& request_namespace = {});

/// Reads and parses a file; an unreadable file is one error naming it.
parse_result parse_spec_file(const std::string& path);

/// Canonical YAML of a spec: every field written, in a fixed order, so that two
/// equal specs give equal text and parse_specs(emit_spec(x)) == x.
std::string emit_spec(const protocol::service_spec& spec);

/// Canonical YAML of a quota (`kind: Quota`), which parse_specs reads back.
std::string emit_quota(const protocol::quota_spec& quota);

/// Canonical YAML of a custom role and of a role binding.
std::string emit_role(const protocol::custom_role& role);
std::string emit_binding(const protocol::role_binding& binding);

/// Line diff of two canonical YAML texts: lines only in `before` start with "-",
/// lines only in `after` with "+". Empty when equal.
std::string diff_specs(const std::string& before, const std::string& after);

/// Quantities: "64Mi", "1G", "512k", "100" (bytes) -> bytes; "250m", "0.25", "2"
/// (cpus) -> cpus; "100ms", "1.5s", "2m", "1h" -> duration. nullopt when malformed.
std::optional<int64_t> parse_bytes(const std::string& text);
std::optional<double> parse_cpu(const std::string& text);
std::optional<caf::timespan> parse_duration(const std::string& text);

/// Canonical text of a duration in its largest exact unit ("90s", "100ms", "2h"), which
/// parse_duration reads back to the same value.
std::string format_duration(caf::timespan x);

/// "zone == a", "node.name != n2", "zone in (a, b)", "gpu exists" -> constraint;
/// nullopt when malformed. Keys and values are one or more of [A-Za-z0-9._/-].
std::optional<protocol::constraint> parse_constraint(const std::string& text);

/// Service names: 1-63 of [a-z0-9-], starting with a letter, not ending with "-".
bool valid_service_name(const std::string& name);

} // namespace tutti::config
