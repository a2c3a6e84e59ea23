#pragma once

// The node actor's state, shared by the files that make up the node actor
// (node_actor.cpp, node_storage.cpp). Internal to actors/node.

#include "actors/node/node_actor.hpp"
#include "actors/supervision/supervision.hpp"

#include <map>
#include <memory>
#include <set>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

namespace tutti::actors::node_impl {

/// The node's record of a replica. Its status is the replica actor's: the node
/// passes reports on without keeping a copy (one per replica and report).
struct replica_entry {
  std::shared_ptr<const p::replica_request> req; // shared with its replica actor
  std::vector<p::port_binding> ports;
  bool fresh = false; // for its first start only: no container of its name exists
};

struct node_state {
  node_context ctx;
  std::unique_ptr<supervision> sup;
  std::map<std::string, replica_entry> replicas;                     // by replica id
  // Each service with replicas here: its last spec, which requests that arrive
  // with an equal one share (over the network, each has its own copy); how many
  // replicas; and the service actor that last asked, which hears their reports.
  // One lookup per run request.
  struct known_service {
    p::shared_spec spec;
    int32_t replicas = 0;
    service_actor route;
  };
  std::unordered_map<std::string, known_service> services;
  std::map<std::string, std::vector<p::port_binding>> adopted_ports; // from list_owned
  std::set<uint16_t> reserved;
  uint16_t next_port = 0;
  std::map<p::driver_kind, std::string> driver_errors; // driver -> why unhealthy
  // Containers listed at start and replicas run since: any other name has no
  // container, so its replica need not look for one.
  // By hash: a collision only makes a new replica look first, and a node of a
  // simulated million holds 200 names or more (half the memory of strings).
  std::unordered_set<size_t> known_names;
  bool inventory_unknown = false; // a driver could not list: every replica looks
  // What this node has promised, by replica: placement offers, the node decides.
  struct held {
    p::resource_spec resources;
    int32_t host_ports = 0;
  };
  std::unordered_map<std::string, held> reservations;
  p::resource_spec promised;  // sum of reservations
  int32_t promised_ports = 0; // host ports of the reservations
  std::map<std::string, image_upload_actor> uploads; // image imports under way, by id
  std::shared_ptr<const volume_places> volumes;      // the config's, shared with replicas
  std::set<std::string> volume_slots; // slots whose persistent volumes this node keeps
  std::shared_ptr<const object_places> objects;      // the config's, shared with replicas
  static inline const char* name = "node";
};

using self_ptr = node_actor::stateful_pointer<node_state>;

} // namespace tutti::actors::node_impl
