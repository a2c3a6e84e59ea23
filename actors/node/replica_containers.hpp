#pragma once

// What a replica asks its driver to run: the container specs made from its
// request, with its environment, volumes, configs and secrets. Pure: the
// replica actor prepares the folders and files, this puts them together.

#include "actors/node/replica_objects.hpp"
#include "actors/node/replica_volumes.hpp"
#include "actors/interfaces.hpp"

#include <caf/expected.hpp>

#include <string>
#include <vector>

namespace tutti::actors {

/// Label value that changes exactly when what a replica runs changes: a scale
/// commits a new revision but must not restart anything.
inline constexpr const char* template_label = "tutti.template";

/// Where a replica runs, besides its request.
struct replica_place {
  std::string id;      // the replica's name, e.g. "web-0"
  std::string node;
  std::string address; // the node's, where its ports listen
  std::vector<p::port_binding> ports;
};

/// What the driver runs for one replica: `main`, a container or the whole of
/// several (its parts), after `inits`, each run to completion in order.
struct replica_containers {
  rd::container_spec main;
  std::vector<rd::container_spec> inits;
};

/// The specs of a replica; an error when a command names a variable that is
/// not set (the spec is at fault: retrying does not help).
caf::expected<replica_containers> containers_of(const p::replica_request& req,
                                                const replica_place& place,
                                                const replica_folders& folders,
                                                const replica_objects& objects);

} // namespace tutti::actors
