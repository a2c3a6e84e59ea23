#pragma once

// Container names double as file names (process driver) and map keys (sim driver),
// so every driver accepts the same safe set.

#include <caf/error.hpp>

#include <string>

namespace tutti::runtime_drivers {

/// Longest accepted name: leaves room for ".json.tmp" within NAME_MAX.
inline constexpr size_t max_container_name = 200;

/// invalid_argument unless `name` matches [a-z0-9][a-z0-9._-]* and is not too long
/// ('_' only in the name of one container of a replica's several: pod_driver.hpp).
caf::error check_container_name(const std::string& name);

} // namespace tutti::runtime_drivers
