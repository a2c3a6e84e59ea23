#pragma once

// Which tuttid versions work together in one cluster: a node agent joins a
// control plane of the same major version at most one minor release apart
// (either way), so that nodes can be upgraded one at a time; before 1.0, of
// the same minor release only (a 0.x minor release may change the messages).

#include <caf/error.hpp>

#include <string>

namespace tutti::protocol {

/// This build's version ("MAJOR.MINOR.PATCH"): what a node agent names when it
/// joins, and what a control plane checks it against.
const char* tuttid_version();

/// Nothing when node `node` running tuttid `node_version` may join a control
/// plane running `control_version` ("MAJOR.MINOR.PATCH"); else an
/// invalid_argument error naming both versions and what to do.
caf::error join_refusal(const std::string& control_version, const std::string& node_version,
                        const std::string& node);

} // namespace tutti::protocol
