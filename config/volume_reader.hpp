#pragma once

// A service's `volumes:` and `mounts:` read into protocol values. Internal to
// config/: spec_parser.cpp calls it for each Service document.

#include "config/yaml_walk.hpp"
#include "protocol/spec.hpp"

#include <optional>

namespace tutti::config::detail {

/// An absolute, normalised path: no "." or ".." parts, no "//", not "/".
bool valid_absolute_path(const std::string& path);

/// Reads `volumes:` into spec.volumes: each a mapping {name, type: scratch |
/// persistent | host, path: (host only) an absolute path on the node}; names
/// unique, of [a-z][a-z0-9-]* (at most 63).
void read_volumes(map_reader& fields, protocol::service_spec& spec, error_sink& errors);

/// Reads `mounts:` into spec.mounts: each {volume: a name of spec.volumes,
/// path: where a container sees it (absolute; none for the process driver),
/// read_only: false}. Call after read_volumes and read_driver.
void read_mounts(map_reader& fields, protocol::service_spec& spec, error_sink& errors);

} // namespace tutti::config::detail
