#pragma once

// The folders behind a replica's volumes on its node: made before its
// container is, handed to the driver as bind mounts (a process gets their
// paths in TUTTI_VOLUME_<NAME>), scratch ones removed with the replica.

#include "protocol/spec.hpp"
#include "runtime-drivers/driver.hpp"

#include <caf/expected.hpp>

#include <map>
#include <string>
#include <vector>

namespace tutti::actors {

/// Where a node keeps volumes, and which of its folders it lends as host volumes.
struct volume_places {
  std::string root; // DATA/volumes; empty: this node keeps no volumes
  /// Folders a host volume may be (or be under); empty: none.
  std::vector<std::string> host_paths;
};

/// A replica's mounted volumes as folders of the node.
struct replica_volumes {
  std::vector<runtime_drivers::volume_mount> mounts;  // for a container
  std::map<std::string, std::string> env;             // for a process: TUTTI_VOLUME_<NAME>
};

/// The folders of a replica's volumes: of its one container (`mounts:`), or
/// of each of its several (`containers:`, in order).
struct replica_folders {
  replica_volumes single;
  std::vector<replica_volumes> parts;
};

/// Makes the folders of replica `replica`'s mounted volumes when missing,
/// its scratch ones empty; an error names the volume and what is wrong (a host
/// folder the node does not lend, one that cannot be made).
caf::expected<replica_folders> prepare_volumes(const volume_places& places,
                                               const protocol::service_spec& spec,
                                               const std::string& replica);

/// Removes replica `replica`'s scratch folders (it is gone); persistent ones stay.
void remove_scratch(const volume_places& places, const std::string& replica);

/// The persistent volumes the node keeps: (replica, volume) pairs, sorted.
std::vector<std::pair<std::string, std::string>> persistent_volumes(const volume_places& places);

/// Removes a persistent volume's folder with its data; not_found when absent.
caf::error remove_persistent(const volume_places& places, const std::string& replica,
                             const std::string& volume);

/// The folder of a persistent volume of replica `replica`.
std::string persistent_folder(const volume_places& places, const std::string& replica,
                              const std::string& volume);

} // namespace tutti::actors
