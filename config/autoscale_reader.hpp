#pragma once

// A service's `autoscale:` read into protocol values. Internal to config/:
// spec_parser.cpp calls it for each Service document.

#include "config/yaml_walk.hpp"
#include "protocol/autoscale.hpp"
#include "protocol/spec.hpp"

#include <optional>

namespace tutti::config::detail {

/// Reads `autoscale:` {min, max, metrics: [{type, target}], behavior: {window,
/// scale_down_stabilization, scale_up: {replicas, percent, period}, scale_down:
/// ...}}; errors name the field. `spec` is the service read so far: a cpu or
/// memory target is a share of what its replicas request, so they must request it.
std::optional<protocol::autoscale_spec> read_autoscale(const field& f,
                                                       const protocol::service_spec& spec,
                                                       error_sink& errors);

} // namespace tutti::config::detail
