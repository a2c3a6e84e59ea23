#pragma once

// Observed state: what replicas, services and nodes are doing, and the event log.

#include "protocol/spec.hpp"

#include <caf/meta/type_name.hpp>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace tutti::protocol {

enum class replica_state : uint8_t {
  pending,  // placed, not yet created
  starting, // create/start in flight
  running,
  backoff, // exited, waiting to restart
  stopping,
  exited, // exited and the restart policy says stay down
  failed, // could not be created or started; retried with back-off
};

std::string to_string(replica_state x);
std::optional<replica_state> replica_state_from(const std::string& text);

struct port_binding {
  std::string name;
  uint16_t host_port = 0;
  friend bool operator==(const port_binding&, const port_binding&) = default;
};

template <class Inspector> typename Inspector::result_type inspect(Inspector& f, port_binding& x) {
  return f(caf::meta::type_name("port_binding"), x.name, x.host_port);
}

struct replica_status {
  std::string id; // "<service>-<slot>"
  std::string service;
  int32_t slot = 0;
  std::string node;
  replica_state state = replica_state::pending;
  int64_t pid = 0;        // process driver; 0 when not running
  std::string runtime_id; // container id, or the pid as text for the process driver
  int32_t restarts = 0;
  int64_t revision = 0;
  int32_t exit_code = 0; // of the last exit; -1 when unknown (adopted process)
  std::string message;   // why it is in this state, for people
  int64_t since_ms = 0;  // unix time of the last state change
  std::vector<port_binding> ports;
  std::string address; // where the host ports listen (the node's address)
  /// Running and its readiness probe passes (or it has none): routing and
  /// rollouts count it as available.
  bool ready = false;
  bool unhealthy = false;    // a probe failed failure_threshold times in a row
  std::string health;        // the last probe results, for people
  std::string log_tail;      // the end of its output, when it is crash-looping
  std::string template_hash; // what it runs (see actors::template_hash)
  friend bool operator==(const replica_status&, const replica_status&) = default;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, replica_status& x) {
  return f(caf::meta::type_name("replica_status"), x.id, x.service, x.slot, x.node, x.state, x.pid,
           x.runtime_id, x.restarts, x.revision, x.exit_code, x.message, x.since_ms, x.ports,
           x.address, x.ready, x.unhealthy, x.health, x.log_tail, x.template_hash);
}

/// One ready replica's address for one of its service's ports.
struct service_endpoint {
  std::string replica; // "<service>-<slot>"
  std::string node;
  std::string port; // the port's name
  std::string host; // the node's address
  uint16_t host_port = 0;
  friend bool operator==(const service_endpoint&, const service_endpoint&) = default;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, service_endpoint& x) {
  return f(caf::meta::type_name("service_endpoint"), x.replica, x.node, x.port, x.host,
           x.host_port);
}

/// Everything the routing mesh and service discovery know of one service: its
/// ports (with the published ones), how the mesh balances, and the endpoints of
/// its ready (for now: running) replicas. A service publishes the whole set on
/// every change; `removed` says the service is gone.
struct service_endpoints {
  std::string service;
  std::vector<port_spec> ports;
  load_balancing balancing = load_balancing::round_robin;
  std::vector<service_endpoint> endpoints;
  bool removed = false;
  friend bool operator==(const service_endpoints&, const service_endpoints&) = default;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, service_endpoints& x) {
  return f(caf::meta::type_name("service_endpoints"), x.service, x.ports, x.balancing, x.endpoints,
           x.removed);
}

struct service_status {
  std::string name;
  int64_t revision = 0;
  int32_t desired = 0;
  int32_t running = 0;
  driver_kind driver = driver_kind::process;
  int32_t restarts = 0;
  int64_t updated_ms = 0;
  int32_t ready = 0; // running, and ready by their readiness probes
  /// An autoscaled service's bounds and metrics against their targets ("1-4,
  /// rps 412.0/50": the service's total, the target per replica) and its last
  /// change; empty otherwise.
  std::string autoscale;
  std::string autoscaled;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, service_status& x) {
  return f(caf::meta::type_name("service_status"), x.name, x.revision, x.desired, x.running,
           x.driver, x.restarts, x.updated_ms, x.ready, x.autoscale, x.autoscaled);
}

/// One entry of the cluster's event log. `seq` is assigned by the store and grows by
/// one per event; `time_ms` is unix time in milliseconds.
struct event {
  uint64_t seq = 0;
  int64_t time_ms = 0;
  std::string kind; // past tense: "replica_started", "service_applied", ...
  std::string service;
  std::string replica;
  std::string message;
  friend bool operator==(const event&, const event&) = default;
};

template <class Inspector> typename Inspector::result_type inspect(Inspector& f, event& x) {
  return f(caf::meta::type_name("event"), x.seq, x.time_ms, x.kind, x.service, x.replica,
           x.message);
}

/// restarting: its agent said it restarts (an upgrade); its replicas stay
/// placed on it, and nothing new goes there, until it joins again or the grace
/// of a restart (30 s) runs out, when it is lost.
enum class node_state : uint8_t { ready, cordoned, draining, lost, restarting };

std::string to_string(node_state x);
std::optional<node_state> node_state_from(const std::string& text);

struct node_status {
  std::string name;
  std::string address;
  node_state state = node_state::ready;
  resource_spec capacity;
  resource_spec allocated;
  int32_t replicas = 0;
  std::map<std::string, std::string> labels;
  std::vector<driver_kind> drivers;
  std::map<driver_kind, std::string> driver_errors; // driver -> why it is unhealthy
  int32_t ports_capacity = 0;  // host ports the node can give replicas (its port range)
  int32_t ports_allocated = 0; // of those, reserved by replicas placed here
};

template <class Inspector> typename Inspector::result_type inspect(Inspector& f, node_status& x) {
  return f(caf::meta::type_name("node_status"), x.name, x.address, x.state, x.capacity, x.allocated,
           x.replicas, x.labels, x.drivers, x.driver_errors, x.ports_capacity, x.ports_allocated);
}

/// A rollout replaces replicas (progressing) until it is complete; a failure
/// stops it (paused) or takes it back to the previous revision (rolling_back).
enum class rollout_state : uint8_t { progressing, complete, paused, rolling_back };

std::string to_string(rollout_state x);

/// Where the rollout of a service's newest revision is.
struct rollout_status {
  std::string service;
  int64_t revision = 0; // the revision being rolled out (or last rolled out)
  rollout_state state = rollout_state::complete;
  int32_t desired = 0;
  int32_t updated = 0;   // replicas of the revision's template
  int32_t ready = 0;     // of those, ready
  int32_t available = 0; // ready replicas of any revision
  int32_t old = 0;       // replicas of earlier templates still there
  std::string message;
  friend bool operator==(const rollout_status&, const rollout_status&) = default;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, rollout_status& x) {
  return f(caf::meta::type_name("rollout_status"), x.service, x.revision, x.state, x.desired,
           x.updated, x.ready, x.available, x.old, x.message);
}

struct service_detail {
  service_status status;
  std::string spec_yaml; // canonical YAML of the current revision
  std::vector<replica_status> replicas;
  std::vector<event> events; // the most recent ones of this service
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, service_detail& x) {
  return f(caf::meta::type_name("service_detail"), x.status, x.spec_yaml, x.replicas, x.events);
}

/// A spec error a person can act on: where it is and which field is wrong.
struct spec_error {
  std::string file;
  int32_t line = 0;   // 1-based; 0 when unknown
  int32_t column = 0; // 1-based; 0 when unknown
  std::string field;  // dotted path, e.g. "restart.backoff.initial"
  std::string message;
  friend bool operator==(const spec_error&, const spec_error&) = default;
};

template <class Inspector> typename Inspector::result_type inspect(Inspector& f, spec_error& x) {
  return f(caf::meta::type_name("spec_error"), x.file, x.line, x.column, x.field, x.message);
}

std::string to_string(const spec_error& x); // "file:line:col: field: message"

enum class change_kind : uint8_t { created, updated, unchanged, deleted };

std::string to_string(change_kind x);
std::optional<change_kind> change_kind_from(const std::string& text);

struct service_change {
  std::string service;
  change_kind kind = change_kind::unchanged;
  int64_t revision = 0; // the revision after the change (0 for a dry run of a create)
  std::string diff;     // unified-style lines "-old" / "+new" of the canonical YAML
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, service_change& x) {
  return f(caf::meta::type_name("service_change"), x.service, x.kind, x.revision, x.diff);
}

struct apply_result {
  bool dry_run = false;
  std::vector<service_change> changes;
  std::vector<spec_error> errors; // not empty: nothing was stored
};

template <class Inspector> typename Inspector::result_type inspect(Inspector& f, apply_result& x) {
  return f(caf::meta::type_name("apply_result"), x.dry_run, x.changes, x.errors);
}

/// What an actor of the supervision tree is doing. The entry of a node of a
/// control plane shows the node's state instead, or unreachable when the node
/// does not answer.
enum class actor_state : uint8_t {
  running,
  restarting,  // between a crash and its restart
  unreachable, // did not answer for itself or its children
  ready,       // the node_state values, for a node's entry
  cordoned,
  draining,
  lost,
};

std::string to_string(actor_state x);
actor_state actor_state_of(node_state x);

/// What a control process is: alone (`tuttid dev`, or one `tuttid control` on
/// LMDB), or the leader or a standby of several on etcd.
enum class control_role : uint8_t { single, leader, standby };

std::string to_string(control_role x);

/// `tutti version`'s view of the control process it asked.
struct role_report {
  control_role role = control_role::single;
  std::string leader; // the leader's API address, when known
  std::string detail; // why the leader is not known (etcd unreachable), or empty
};

/// One actor of the supervision tree, as `tutti tree` shows it.
struct actor_info {
  std::string path; // "/cluster/service/web": the supervisors' child names joined
  /// The role: the first segment of its child name (supervisor, store, service,
  /// replica, driver, node ...), which each supervisor's owner chooses.
  std::string kind;
  actor_state state = actor_state::running;
  uint64_t id = 0;       // CAF's actor id: a new one after each restart
  int32_t restarts = 0;  // by its supervisor, since the supervisor started
  std::string last_exit; // why it last ended; empty when it never did
  friend bool operator==(const actor_info&, const actor_info&) = default;
};

template <class Inspector> typename Inspector::result_type inspect(Inspector& f, actor_info& x) {
  return f(caf::meta::type_name("actor_info"), x.path, x.kind, x.state, x.id, x.restarts,
           x.last_exit);
}

/// One `tuttid control` of the cluster, as `tutti get controllers` shows it.
struct controller_status {
  std::string api;     // where it serves clients (the leader only)
  std::string cluster; // where nodes join it (the leader only)
  std::string host;
  bool leading = false;
  int64_t since_ms = 0; // when it started standing by, or took the lead
  friend bool operator==(const controller_status&, const controller_status&) = default;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, controller_status& x) {
  return f(caf::meta::type_name("controller_status"), x.api, x.cluster, x.host, x.leading,
           x.since_ms);
}

/// One endpoint of the store's etcd, as the leader reaches it.
struct store_endpoint {
  std::string endpoint;
  bool healthy = false;
  std::string message; // etcd's version and role, or why it does not answer
  friend bool operator==(const store_endpoint&, const store_endpoint&) = default;
};

template <class Inspector> typename Inspector::result_type inspect(Inspector& f, store_endpoint& x) {
  return f(caf::meta::type_name("store_endpoint"), x.endpoint, x.healthy, x.message);
}

/// The control processes and their store.
struct controllers_report {
  std::string store; // "lmdb:DIR" or "etcd://HOST:PORT,...PREFIX"
  std::vector<controller_status> controllers;
  std::vector<store_endpoint> endpoints; // empty for LMDB
  friend bool operator==(const controllers_report&, const controllers_report&) = default;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, controllers_report& x) {
  return f(caf::meta::type_name("controllers_report"), x.store, x.controllers, x.endpoints);
}

/// A persistent volume kept on a node (`tutti volume ls`): the folder of one
/// slot's volume, kept until `tutti volume rm`.
struct volume_info {
  std::string node;
  std::string replica; // the slot it belongs to, e.g. "db-0"
  std::string volume;
  bool in_use = false; // a replica on the node runs with it now
  friend bool operator==(const volume_info&, const volume_info&) = default;
};

template <class Inspector> typename Inspector::result_type inspect(Inspector& f, volume_info& x) {
  return f(caf::meta::type_name("volume_info"), x.node, x.replica, x.volume, x.in_use);
}

} // namespace tutti::protocol
