#pragma once

// The state of the cluster actor and what its parts share. Internal to the
// cluster actor (cluster_actor.cpp, cluster_specs.cpp, cluster_reads.cpp,
// cluster_nodes.cpp, cluster_sweep.cpp): nothing else includes it.

#include "actors/cluster/cluster_actor.hpp"
#include "actors/supervision/supervision.hpp"

#include <caf/stateful_actor.hpp>

#include <chrono>
#include <map>
#include <memory>
#include <set>
#include <utility>
#include <string>
#include <vector>

namespace tutti::actors::cluster_impl {

/// How long the cluster waits for another actor of the control plane.
constexpr auto ask_timeout = std::chrono::seconds{10};

struct service_entry {
  p::service_spec spec;
  int64_t revision = 0;
  std::string yaml; // canonical
  int64_t updated_ms = 0;
};

struct cluster_state {
  cluster_context ctx;
  std::unique_ptr<supervision> sup;
  std::map<std::string, service_entry> services;
  std::map<std::string, p::quota_spec> quotas; // by namespace (`kind: Quota`)
  // Config and Secret versions by kind and qualified name (a secret's sealed).
  std::map<std::pair<p::object_kind, std::string>, std::map<int64_t, p::object_record>> objects;
  // The last version number of removed objects: a new one of a name goes on from it.
  std::map<std::pair<p::object_kind, std::string>, int64_t> retired;
  std::map<std::string, std::string> discovery_env; // of every published service
  std::set<std::string> joined;                     // nodes whose join sweep is due (flush_atom)
  size_t assignments_swept = 0;                     // what the last full sweep read
  static inline const char* name = "cluster";
};

using self_ptr = cluster_actor::stateful_pointer<cluster_state>;

// Defined in cluster_actor.cpp.

/// The names of the services, in order.
std::vector<std::string> service_names(self_ptr self);

/// The specs of the services, in name order.
std::vector<p::service_spec> current_specs(self_ptr self);

/// The live actor of service `name`; null while it restarts or after its delete.
service_actor service_of(self_ptr self, const std::string& name);

/// The answer to a request that names a service that does not exist.
caf::error unknown_service(const std::string& name);

/// Records an event in the store's log.
void emit(self_ptr self, std::string kind, std::string service, std::string message);

/// Starts (under supervision) the actor of service `name`, from its entry.
void start_service(self_ptr self, const std::string& name);

/// Recomputes the `<SERVICE>_ADDR` variables and tells every service when they
/// changed.
void refresh_env(self_ptr self);

} // namespace tutti::actors::cluster_impl
