#pragma once

// What the cluster derives from the published ports of all services: the
// `<SERVICE>_ADDR` variables of service discovery and the check that no port is
// published twice. Plain functions of the specs, so they are tested on their own.

#include "protocol/spec.hpp"
#include "protocol/status.hpp"

#include <map>
#include <string>
#include <vector>

namespace tutti::actors {

/// `WEB_ADDR=HOST:8080` (the first published port of service `web`) and
/// `WEB_ADDR_HTTP=HOST:8080` (each published port by name) for every spec with a
/// published port; '-' in names becomes '_'.
std::map<std::string, std::string> discovery_env(const std::vector<protocol::service_spec>& specs,
                                                 const std::string& host);

/// Errors for each port of `incoming` that a service of `current` publishes
/// already, unless `incoming` replaces that service too; each names both
/// services. `file` labels the errors.
std::vector<protocol::spec_error>
published_conflicts(const std::vector<protocol::service_spec>& current, const std::string& file,
                    const std::vector<protocol::service_spec>& incoming);

} // namespace tutti::actors
