#pragma once

// What a replica runs: its environment, and the hash that tells whether two
// specs run the same thing.

#include "actors/interfaces.hpp"

#include <map>
#include <string>
#include <vector>

namespace tutti::actors {

/// Environment of a replica: the spec's env plus PORT / PORT_<NAME>.
std::map<std::string, std::string> replica_env(const p::service_spec& spec,
                                               const std::vector<p::port_binding>& ports);

/// A stable hash of what a replica runs: the spec without its replica count, its
/// routing (published ports, load balancing) and its update strategy.
std::string template_hash(const p::service_spec& spec);

/// The same, for a spec shared by a revision's replicas: found by the object
/// without comparing the whole spec.
std::string template_hash(const p::shared_spec& spec);

} // namespace tutti::actors
