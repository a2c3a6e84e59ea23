#pragma once

// The files of a replica's configs and secrets on its node: written under
// the node's objects folder (a tmpfs: a secret never touches a disk) before
// its container is made, handed to the driver as read-only bind mounts (a
// process gets their paths in TUTTI_CONFIG_<NAME> / TUTTI_SECRET_<NAME>),
// removed with the replica. References with `env` become variables instead.

#include "protocol/objects.hpp"
#include "protocol/spec.hpp"
#include "runtime-drivers/driver.hpp"

#include <caf/expected.hpp>

#include <map>
#include <string>
#include <vector>

namespace tutti::actors {

/// Where a node writes the files of its replicas' configs and secrets.
struct object_places {
  std::string root; // empty: this node agent delivers none
};

/// A replica's configs and secrets, ready for its container.
struct replica_objects {
  std::vector<runtime_drivers::volume_mount> mounts; // for a container
  std::map<std::string, std::string> files;          // for a process: TUTTI_CONFIG_<NAME> -> path
  std::map<std::string, std::string> values;         // variables given by `env` references
};

/// Writes the files of replica `replica`'s references from `payloads`. An
/// error names the reference and what is wrong (no payload for it, a secrets
/// folder that is not on a tmpfs, a file that cannot be written); never the data.
caf::expected<replica_objects> prepare_objects(const object_places& places,
                                               const protocol::service_spec& spec,
                                               const protocol::shared_payloads& payloads,
                                               const std::string& replica);

/// Removes replica `replica`'s files (it is gone).
void remove_objects(const object_places& places, const std::string& replica);

} // namespace tutti::actors
