#pragma once

// Atoms (verbs) and the message structs actors exchange, in one place. Value
// types of the API are in spec.hpp and status.hpp; this adds what only actors
// say to each other. type_ids.hpp registers all of them with CAF.

#include "protocol/objects.hpp"
#include "protocol/spec.hpp"
#include "protocol/status.hpp"

#include <caf/atom.hpp>
#include <caf/error.hpp>
#include <caf/meta/type_name.hpp>

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace tutti::protocol {

// CAF 0.17 atoms: at most 10 characters.
using apply_atom = caf::atom_constant<caf::atom("apply")>;
using get_atom = caf::atom_constant<caf::atom("get")>;
using describe_atom = caf::atom_constant<caf::atom("describe")>;
using scale_atom = caf::atom_constant<caf::atom("scale")>;
using delete_atom = caf::atom_constant<caf::atom("delete")>;
using events_atom = caf::atom_constant<caf::atom("events")>;
using follow_atom = caf::atom_constant<caf::atom("follow")>;
using logs_atom = caf::atom_constant<caf::atom("logs")>;
using version_atom = caf::atom_constant<caf::atom("version")>;
using nodes_atom = caf::atom_constant<caf::atom("nodes")>;
using place_atom = caf::atom_constant<caf::atom("place")>;
using release_atom = caf::atom_constant<caf::atom("release")>;
using register_atom = caf::atom_constant<caf::atom("register")>;
using route_atom = caf::atom_constant<caf::atom("route")>;
using run_atom = caf::atom_constant<caf::atom("run")>;
using stop_atom = caf::atom_constant<caf::atom("stop")>;
using status_atom = caf::atom_constant<caf::atom("status")>;
using sweep_atom = caf::atom_constant<caf::atom("sweep")>;
using restart_atom = caf::atom_constant<caf::atom("restart")>;
using tick_atom = caf::atom_constant<caf::atom("tick")>;
using load_atom = caf::atom_constant<caf::atom("load")>;
using put_atom = caf::atom_constant<caf::atom("put")>;
using append_atom = caf::atom_constant<caf::atom("append")>;
using assign_atom = caf::atom_constant<caf::atom("assign")>;
using unassign_atom = caf::atom_constant<caf::atom("unassign")>;
using update_atom = caf::atom_constant<caf::atom("update")>;
using create_atom = caf::atom_constant<caf::atom("create")>;
using start_atom = caf::atom_constant<caf::atom("start")>;
using remove_atom = caf::atom_constant<caf::atom("remove")>;
using inspect_atom = caf::atom_constant<caf::atom("inspect")>;
using watch_atom = caf::atom_constant<caf::atom("watch")>;
using list_atom = caf::atom_constant<caf::atom("list")>;
using stats_atom = caf::atom_constant<caf::atom("stats")>;
using shutdown_atom = caf::atom_constant<caf::atom("shutdown")>;
using child_atom = caf::atom_constant<caf::atom("child")>;
using drain_atom = caf::atom_constant<caf::atom("drain")>;
using endpoints_atom = caf::atom_constant<caf::atom("endpoints")>;
using env_atom = caf::atom_constant<caf::atom("env")>;
using health_atom = caf::atom_constant<caf::atom("health")>;
using reserve_atom = caf::atom_constant<caf::atom("reserve")>;
using capacity_atom = caf::atom_constant<caf::atom("capacity")>;
using flush_atom = caf::atom_constant<caf::atom("flush")>;
using fold_atom = caf::atom_constant<caf::atom("fold")>;
using reconcile_atom = caf::atom_constant<caf::atom("reconcile")>;
using lost_atom = caf::atom_constant<caf::atom("lost")>;
using probe_atom = caf::atom_constant<caf::atom("probe")>;
using rollback_atom = caf::atom_constant<caf::atom("rollback")>;
using history_atom = caf::atom_constant<caf::atom("history")>;
using rollout_atom = caf::atom_constant<caf::atom("rollout")>;
using join_atom = caf::atom_constant<caf::atom("join")>;
using tree_atom = caf::atom_constant<caf::atom("tree")>;
using kill_atom = caf::atom_constant<caf::atom("kill")>;
using cordon_atom = caf::atom_constant<caf::atom("cordon")>;
using import_atom = caf::atom_constant<caf::atom("import")>;
using volumes_atom = caf::atom_constant<caf::atom("volumes")>;
using backup_atom = caf::atom_constant<caf::atom("backup")>;
using objects_atom = caf::atom_constant<caf::atom("objects")>;
using payload_atom = caf::atom_constant<caf::atom("payload")>;

/// One revision of a service's spec as the store keeps it.
struct spec_record {
  std::string name;
  int64_t revision = 0; // per service, from 1, never reused
  std::string yaml;     // canonical YAML (config::emit_spec)
  int64_t time_ms = 0;  // when it was committed
  friend bool operator==(const spec_record&, const spec_record&) = default;
};

template <class Inspector> typename Inspector::result_type inspect(Inspector& f, spec_record& x) {
  return f(caf::meta::type_name("spec_record"), x.name, x.revision, x.yaml, x.time_ms);
}

/// Which node runs a replica; durable so a restarted control plane keeps it there.
struct assignment {
  std::string replica;
  std::string service;
  std::string node;
  std::string template_hash; // what the slot runs: old and new replicas of a rollout differ
  /// When the control plane made it (unix ns of its clock): the fencing epoch. A
  /// node's sweep stops a replica that is assigned elsewhere only when its own
  /// assignment is older than the sweep's snapshot of the store.
  int64_t epoch = 0;
  friend bool operator==(const assignment&, const assignment&) = default;
};

template <class Inspector> typename Inspector::result_type inspect(Inspector& f, assignment& x) {
  return f(caf::meta::type_name("assignment"), x.replica, x.service, x.node, x.template_hash,
           x.epoch);
}

/// Now, as a fencing epoch (unix ns of this host's clock). Only the control plane
/// makes them, so they are compared on one clock.
int64_t fencing_epoch();

/// A service asks a node to run (or update to a new revision) one replica slot.
/// `discovery_env` (`<SERVICE>_ADDR` of the published services) is added to the
/// replica's environment when it (re)starts; it is not part of the spec, so a
/// change of it restarts nothing.
struct replica_request {
  std::string service;
  int32_t slot = 0;
  int64_t revision = 0;
  shared_spec spec; // one per revision, shared by the requests of all its replicas
  std::map<std::string, std::string> discovery_env;
  int64_t epoch = 0; // of the slot's assignment to this node (see assignment::epoch)
  /// The data of the spec's configs and secrets at their versions, shared
  /// like the spec; only in requests to nodes that run the replica.
  shared_payloads objects;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, replica_request& x) {
  return f(caf::meta::type_name("replica_request"), x.service, x.slot, x.revision, x.spec,
           x.discovery_env, x.epoch, x.objects);
}

/// What the routing mesh of one node carried for one service in its last
/// report interval: connections forwarded per second (the mesh routes TCP, so a
/// request is a connection) and connections open now.
struct service_load {
  std::string service;
  double rps = 0;
  int64_t open = 0;
  friend bool operator==(const service_load&, const service_load&) = default;
};

template <class Inspector> typename Inspector::result_type inspect(Inspector& f, service_load& x) {
  return f(caf::meta::type_name("service_load"), x.service, x.rps, x.open);
}

/// A node's mesh report, every second, of the services it routes.
struct mesh_load {
  std::string node;
  std::vector<service_load> services;
};

template <class Inspector> typename Inspector::result_type inspect(Inspector& f, mesh_load& x) {
  return f(caf::meta::type_name("mesh_load"), x.node, x.services);
}

/// The driver saw a replica's container exit.
struct replica_exited {
  std::string id;
  std::string runtime_id; // which incarnation exited; stale ones are ignored
  int32_t exit_code = 0;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, replica_exited& x) {
  return f(caf::meta::type_name("replica_exited"), x.id, x.runtime_id, x.exit_code);
}

/// What placement answers: the node chosen for a replica.
struct placement_decision {
  std::string replica;
  std::string node;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, placement_decision& x) {
  return f(caf::meta::type_name("placement_decision"), x.replica, x.node);
}

/// What placement needs to know about one replica to be placed.
struct placement_request {
  std::string replica;
  std::string service;
  resource_spec resources;
  placement_spec placement;
  std::string preferred_node; // from a stored assignment; kept when it still fits
  driver_kind driver = driver_kind::process;
  int32_t host_ports = 0; // how many host ports the replica needs from the node's range
  /// The replica is assigned to preferred_node already (it may run there): a
  /// cordoned or draining node keeps it; only new replicas avoid such nodes.
  bool assigned = false;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, placement_request& x) {
  return f(caf::meta::type_name("placement_request"), x.replica, x.service, x.resources,
           x.placement, x.preferred_node, x.driver, x.host_ports, x.assigned);
}

/// One replica of a placement_batch: which, and where it is assigned already.
struct placement_ask {
  std::string replica;
  std::string preferred_node; // from a stored assignment; kept when it still fits
  bool assigned = false;      // as placement_request::assigned
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, placement_ask& x) {
  return f(caf::meta::type_name("placement_ask"), x.replica, x.preferred_node, x.assigned);
}

/// Many replicas of one service asked in one message: they share its template
/// (resources, rules, driver, ports), so it is said once. A service of 10,000
/// replicas asks in a few dozen of these instead of 10,000 requests.
struct placement_batch {
  std::string service;
  resource_spec resources;
  placement_spec placement;
  driver_kind driver = driver_kind::process;
  int32_t host_ports = 0;
  std::vector<placement_ask> asks;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, placement_batch& x) {
  return f(caf::meta::type_name("placement_batch"), x.service, x.resources, x.placement, x.driver,
           x.host_ports, x.asks);
}

/// The answer for one ask of a placement_batch, in the order asked: the node,
/// or (node empty) why it was not placed.
struct placement_outcome {
  std::string replica;
  std::string node;
  caf::error error;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, placement_outcome& x) {
  return f(caf::meta::type_name("placement_outcome"), x.replica, x.node, x.error);
}

/// Placement offers a node to hold resources for one replica; the node, which
/// knows its capacity and what it runs, confirms or refuses.
struct reservation {
  std::string replica;
  std::string service;
  resource_spec resources;
  int32_t host_ports = 0;
};

template <class Inspector> typename Inspector::result_type inspect(Inspector& f, reservation& x) {
  return f(caf::meta::type_name("reservation"), x.replica, x.service, x.resources, x.host_ports);
}

/// A node's answer to a reservation, with what it holds afterwards so that
/// placement can correct its view of the node when it refused.
struct reservation_reply {
  bool accepted = false;
  std::string reason; // why it refused, for people
  resource_spec allocated;
  int32_t ports_allocated = 0;
  int32_t replicas = 0;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, reservation_reply& x) {
  return f(caf::meta::type_name("reservation_reply"), x.accepted, x.reason, x.allocated,
           x.ports_allocated, x.replicas);
}

/// A piece of an image archive on its way to a node (`tutti image import`):
/// the pieces of one upload come in order, the last one makes the node load
/// the archive into the driver's image store.
struct image_chunk {
  std::string upload; // the upload's id, given by the API server
  driver_kind driver = driver_kind::containerd;
  uint64_t offset = 0; // where `data` starts in the archive
  std::string data;
  bool last = false;
  std::string file;  // the archive's name where the client has it, for messages
  uint64_t size = 0; // the whole archive's, as the client announced it
};

template <class Inspector> typename Inspector::result_type inspect(Inspector& f, image_chunk& x) {
  return f(caf::meta::type_name("image_chunk"), x.upload, x.driver, x.offset, x.data, x.last,
           x.file, x.size);
}

/// The replica id of a service's slot.
inline std::string replica_id(const std::string& service, int32_t slot) {
  return service + "-" + std::to_string(slot);
}

} // namespace tutti::protocol
