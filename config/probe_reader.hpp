#pragma once

// A service's `health:` read into protocol values. Internal to config/:
// spec_parser.cpp calls it for each Service and each of its containers.

#include "config/yaml_walk.hpp"
#include "protocol/spec.hpp"

namespace tutti::config::detail {

/// Reads `health:` into spec.health: one probe for both (the short form), or
/// {readiness, liveness}; an http or tcp probe names one of spec.ports.
void read_health(map_reader& fields, protocol::service_spec& spec, error_sink& errors);

} // namespace tutti::config::detail
