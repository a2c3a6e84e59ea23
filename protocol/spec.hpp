#pragma once

// The desired state of a service, as the user declared it. Plain values: config/
// produces them from YAML, persistence/ stores them (as canonical YAML), actors pass
// them around in messages.

#include "protocol/autoscale.hpp"

#include <caf/error.hpp>
#include <caf/meta/load_callback.hpp>
#include <caf/meta/type_name.hpp>
#include <caf/none.hpp>
#include <caf/timespan.hpp>

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace tutti::protocol {

using namespace std::chrono_literals;

enum class driver_kind : uint8_t { process, sim, docker, containerd };
enum class restart_policy : uint8_t { always, on_failure, never };
enum class placement_strategy : uint8_t { spread, binpack };
/// How the routing mesh picks a replica for each new connection.
enum class load_balancing : uint8_t { round_robin, least_connections };

std::string to_string(driver_kind x);
std::string to_string(restart_policy x);
std::string to_string(placement_strategy x);
std::string to_string(load_balancing x);

/// Inverses of to_string, for names stored as text; nullopt for any other text.
std::optional<driver_kind> driver_kind_from(const std::string& text);
std::optional<load_balancing> load_balancing_from(const std::string& text);

/// A named port of a replica. The node picks a free host port for it and passes it
/// to the replica as `PORT_<NAME>` (and `PORT` for the first one). A published
/// port is served by the routing mesh of every node, which forwards each
/// connection to a running replica's host port of the same name.
struct port_spec {
  std::string name;
  uint16_t published = 0; // 0: not published on the routing mesh
  friend bool operator==(const port_spec&, const port_spec&) = default;
};

template <class Inspector> typename Inspector::result_type inspect(Inspector& f, port_spec& x) {
  return f(caf::meta::type_name("port_spec"), x.name, x.published);
}

/// Where a volume's files live: `scratch` is made empty when the replica's
/// container is made and goes with the replica; `persistent` is one per slot,
/// kept on its node across restarts, updates and tuttid restarts until `tutti
/// volume rm`; `host` is a folder of the node (one the node allows).
enum class volume_type : uint8_t { scratch, persistent, host };

std::string to_string(volume_type x);
std::optional<volume_type> volume_type_from(const std::string& text);

/// The environment variable that gives a process the folder of its mounted
/// volume `volume`: TUTTI_VOLUME_ and the name upper-cased, '-' as '_'.
std::string volume_env_name(const std::string& volume);

/// A volume of a service's replicas (`volumes:`).
struct volume_spec {
  std::string name;      // [a-z0-9-], unique in the service
  volume_type type = volume_type::scratch;
  std::string host_path; // host only: an absolute path on the node
  int64_t size = 0;      // bytes reserved on the node's disk at placement; 0: none
  friend bool operator==(const volume_spec&, const volume_spec&) = default;
};

template <class Inspector> typename Inspector::result_type inspect(Inspector& f, volume_spec& x) {
  return f(caf::meta::type_name("volume_spec"), x.name, x.type, x.host_path, x.size);
}

/// Where a replica sees a volume (`mounts:`): at `path` in its container; a
/// process gets the folder's path in TUTTI_VOLUME_<NAME> instead (no path).
struct mount_spec {
  std::string volume;
  std::string path;
  bool read_only = false;
  friend bool operator==(const mount_spec&, const mount_spec&) = default;
};

template <class Inspector> typename Inspector::result_type inspect(Inspector& f, mount_spec& x) {
  return f(caf::meta::type_name("mount_spec"), x.volume, x.path, x.read_only);
}

/// A service's use of a Config or Secret object (`configs:`, `secrets:`): the
/// object `name` of the service's namespace, at `version`. Unpinned, the control
/// plane sets `version` to the object's newest when the spec is applied and again
/// whenever the object changes (a new revision, rolled out); 0 while no version
/// exists (the replicas wait). The replica gets the data as a file (`path` in a
/// container; a process finds the file's path in TUTTI_CONFIG_<NAME> or
/// TUTTI_SECRET_<NAME>), or as the variable `env` when that is set and `path` is not.
struct object_ref {
  std::string name;
  int64_t version = 0;
  bool pinned = false;
  std::string path;
  std::string env;
  friend bool operator==(const object_ref&, const object_ref&) = default;
};

template <class Inspector> typename Inspector::result_type inspect(Inspector& f, object_ref& x) {
  return f(caf::meta::type_name("object_ref"), x.name, x.version, x.pinned, x.path, x.env);
}

/// Whether the driver runs replicas as processes of the node: it mounts
/// nothing, and a replica finds its volumes' and objects' paths in variables.
inline bool runs_processes(driver_kind x) {
  return x == driver_kind::process || x == driver_kind::sim;
}

/// Whether a replica gets the object as a file (else only as a variable).
inline bool as_file(const object_ref& x) {
  return x.env.empty() || !x.path.empty();
}

/// What a replica reserves on its node. `memory` is in bytes.
struct resource_spec {
  double cpu = 0;
  int64_t memory = 0;
  /// Bytes of the node's volumes' disk: never in a spec's `resources:`, the sum
  /// of a replica's volume sizes when placed; a node's capacity, its disk's size.
  int64_t disk = 0;
  friend bool operator==(const resource_spec&, const resource_spec&) = default;
};

template <class Inspector> typename Inspector::result_type inspect(Inspector& f, resource_spec& x) {
  return f(caf::meta::type_name("resource_spec"), x.cpu, x.memory, x.disk);
}

struct backoff_spec {
  caf::timespan initial = std::chrono::duration_cast<caf::timespan>(100ms);
  caf::timespan max = std::chrono::duration_cast<caf::timespan>(10s);
  friend bool operator==(const backoff_spec&, const backoff_spec&) = default;
};

template <class Inspector> typename Inspector::result_type inspect(Inspector& f, backoff_spec& x) {
  return f(caf::meta::type_name("backoff_spec"), x.initial, x.max);
}

struct restart_spec {
  restart_policy policy = restart_policy::always;
  backoff_spec backoff;
  friend bool operator==(const restart_spec&, const restart_spec&) = default;
};

template <class Inspector> typename Inspector::result_type inspect(Inspector& f, restart_spec& x) {
  return f(caf::meta::type_name("restart_spec"), x.policy, x.backoff);
}

enum class constraint_op : uint8_t {
  equals,     // key == value
  not_equals, // key != value (also true when the node lacks the label)
  in,         // key in (v1, v2, ...)
  exists,     // key exists
};

/// A condition on node labels (`node.name` is the node's name). `values` holds one
/// value for == and !=, one or more for `in`, none for `exists`.
struct constraint {
  std::string key;
  constraint_op op = constraint_op::equals;
  std::vector<std::string> values;
  friend bool operator==(const constraint&, const constraint&) = default;
};

template <class Inspector> typename Inspector::result_type inspect(Inspector& f, constraint& x) {
  return f(caf::meta::type_name("constraint"), x.key, x.op, x.values);
}

/// The canonical text of a constraint, as parse_constraint reads it back:
/// "zone == a", "zone != a", "zone in (a, b)", "gpu exists".
std::string to_string(const constraint& x);

struct placement_spec {
  placement_strategy strategy = placement_strategy::spread;
  std::vector<constraint> constraints;
  int32_t max_per_node = 0; // 0: no limit
  /// Services whose replicas a node must not run for this service's replica to go there.
  std::vector<std::string> anti_affinity;
  /// spread only: a node label (e.g. zone) whose values share the replicas evenly
  /// before nodes within a value do; empty: spread over nodes only.
  std::string spread_over;
  friend bool operator==(const placement_spec&, const placement_spec&) = default;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, placement_spec& x) {
  return f(caf::meta::type_name("placement_spec"), x.strategy, x.constraints, x.max_per_node,
           x.anti_affinity, x.spread_over);
}

enum class probe_kind : uint8_t { none, exec, http, tcp };
/// What a failed rollout does: go back to the previous revision, stop where it is,
/// or go on regardless.
enum class failure_action : uint8_t { rollback, pause, resume };

std::string to_string(probe_kind x);
std::string to_string(failure_action x);

/// One health probe. `exec` runs `command` in the replica's context (exit 0:
/// healthy); `http` GETs `path` on the replica's port named `port` (2xx/3xx:
/// healthy); `tcp` connects to that port.
struct probe_spec {
  probe_kind kind = probe_kind::none;
  std::vector<std::string> command; // exec
  std::string port;                 // http, tcp: a port name of the spec
  std::string path = "/";           // http
  caf::timespan interval = std::chrono::duration_cast<caf::timespan>(1s);
  caf::timespan timeout = std::chrono::duration_cast<caf::timespan>(1s);
  int32_t failure_threshold = 3; // consecutive failures that make it unhealthy
  int32_t success_threshold = 1; // consecutive successes that make it healthy
  /// Failures during this time after a start do not count (the program warms up).
  caf::timespan start_period{0};
  /// Of a replica of several containers: the one an exec probe runs in (the
  /// container whose `health:` it is). Empty otherwise.
  std::string container;
  friend bool operator==(const probe_spec&, const probe_spec&) = default;
};

template <class Inspector> typename Inspector::result_type inspect(Inspector& f, probe_spec& x) {
  return f(caf::meta::type_name("probe_spec"), x.kind, x.command, x.port, x.path, x.interval,
           x.timeout, x.failure_threshold, x.success_threshold, x.start_period, x.container);
}

/// Readiness decides whether routing and rollouts count a replica as available;
/// liveness failures restart it. Either may be absent (kind none).
struct health_spec {
  probe_spec readiness;
  probe_spec liveness;
  friend bool operator==(const health_spec&, const health_spec&) = default;
};

template <class Inspector> typename Inspector::result_type inspect(Inspector& f, health_spec& x) {
  return f(caf::meta::type_name("health_spec"), x.readiness, x.liveness);
}

/// One container of a replica that runs several (`containers:`). They share
/// the replica's network and ports, its volumes, configs and secrets, and its
/// fate: placed, stopped and restarted together. The `init` ones run first,
/// one after the other, each to completion; then the others start in order.
struct container_part {
  std::string name; // [a-z][a-z0-9-]*, at most 63, unique in the service
  bool init = false;
  std::string image;         // docker / containerd
  std::string image_archive; // containerd
  std::vector<std::string> command;
  std::map<std::string, std::string> env; // over the service's env
  resource_spec resources;                // its own limits
  std::vector<mount_spec> mounts;
  health_spec health; // its probes (their `container` is its name); none on an init container
  friend bool operator==(const container_part&, const container_part&) = default;
};

template <class Inspector> typename Inspector::result_type inspect(Inspector& f, container_part& x) {
  return f(caf::meta::type_name("container_part"), x.name, x.init, x.image, x.image_archive,
           x.command, x.env, x.resources, x.mounts, x.health);
}

/// At most this many containers per replica.
inline constexpr size_t max_containers = 16;

/// How a change of what replicas run is rolled out.
struct update_spec {
  int32_t parallelism = 1;     // new replicas starting (not yet ready) at once
  int32_t max_surge = 1;       // replicas above `replicas` during the update
  int32_t max_unavailable = 0; // ready replicas below `replicas` allowed during it
  /// After the last new replica is ready, a crash or failed probe of a new replica
  /// within this window still fails the rollout.
  caf::timespan monitor = std::chrono::duration_cast<caf::timespan>(5s);
  failure_action on_failure = failure_action::rollback;
  friend bool operator==(const update_spec&, const update_spec&) = default;
};

template <class Inspector> typename Inspector::result_type inspect(Inspector& f, update_spec& x) {
  return f(caf::meta::type_name("update_spec"), x.parallelism, x.max_surge, x.max_unavailable,
           x.monitor, x.on_failure);
}

/// One `kind: Service` document. Fields of docs/spec.md whose feature is not built yet
/// (autoscale) are refused by config/, so they have no member here.
struct service_spec {
  std::string name;
  int32_t replicas = 1;
  driver_kind driver = driver_kind::process;
  std::string image;
  /// containerd only: an image archive on the node (absolute path) to import
  /// the image from when containerd lacks it.
  std::string image_archive;
  std::vector<std::string> command;
  std::map<std::string, std::string> env;
  resource_spec resources;
  std::vector<port_spec> ports;
  load_balancing balancing = load_balancing::round_robin; // of published ports
  restart_spec restart;
  placement_spec placement;
  /// Time between the polite stop signal and the kill.
  caf::timespan stop_grace = std::chrono::duration_cast<caf::timespan>(10s);
  health_spec health;
  update_spec update;
  std::vector<volume_spec> volumes;
  std::vector<mount_spec> mounts;
  std::vector<object_ref> configs; // `kind: Config` objects the replicas get
  std::vector<object_ref> secrets; // `kind: Secret` objects the replicas get
  /// Empty: the replica runs one container (image, command, mounts, health
  /// above). Else those are empty, `resources` is what the replica needs in
  /// all (the sum of its containers', or its largest init container's when
  /// more) and each container has its own probes.
  std::vector<container_part> containers;
  /// `replicas` then moves within its bounds, set by its metrics.
  autoscale_spec autoscale;
  friend bool operator==(const service_spec&, const service_spec&) = default;
};

template <class Inspector> typename Inspector::result_type inspect(Inspector& f, service_spec& x) {
  return f(caf::meta::type_name("service_spec"), x.name, x.replicas, x.driver, x.image,
           x.image_archive, x.command, x.env, x.resources, x.ports, x.restart, x.placement,
           x.stop_grace, x.balancing, x.health, x.update, x.volumes, x.mounts, x.configs,
           x.secrets, x.containers, x.autoscale);
}

/// One probe of a replica: its spec and whether it decides readiness (else liveness).
struct replica_probe {
  const probe_spec* spec;
  bool readiness;
};

/// Every probe of a spec's replicas, in a stable order: the spec's own, or
/// each container's. The pointers are into `spec`.
inline std::vector<replica_probe> probes_of(const service_spec& spec) {
  std::vector<replica_probe> out;
  auto add = [&out](const health_spec& h) {
    if (h.readiness.kind != probe_kind::none)
      out.push_back({&h.readiness, true});
    if (h.liveness.kind != probe_kind::none)
      out.push_back({&h.liveness, false});
  };
  add(spec.health);
  for (const auto& c : spec.containers)
    add(c.health);
  return out;
}

/// What the services of one namespace may use at most (`kind: Quota`): the
/// sums over its services of replicas x resources.cpu and x resources.memory,
/// its replicas and its services. Negative: no limit.
struct quota_spec {
  std::string name_space;
  double cpu = -1;
  int64_t memory = -1;
  int64_t replicas = -1;
  int64_t services = -1;
  friend bool operator==(const quota_spec&, const quota_spec&) = default;
};

/// A service spec shared by everything made from it: the requests for every
/// replica of a revision, the node's records of them and their replica actors
/// hold one copy between them instead of one each (at a million replicas, 600 MB).
/// Never changed once made; a new spec is a new shared_spec.
class shared_spec {
public:
  shared_spec() : ptr_(empty()) {}
  shared_spec(service_spec x) : ptr_(std::make_shared<const service_spec>(std::move(x))) {}

  const service_spec& operator*() const { return *ptr_; }
  const service_spec* operator->() const { return ptr_.get(); }

  /// The very same object (not merely an equal spec).
  bool same(const shared_spec& other) const { return ptr_ == other.ptr_; }

  /// The same object, or an equal spec.
  friend bool operator==(const shared_spec& x, const shared_spec& y) {
    return x.ptr_ == y.ptr_ || *x.ptr_ == *y.ptr_;
  }

private:
  static const std::shared_ptr<const service_spec>& empty() {
    static const auto x = std::make_shared<const service_spec>();
    return x;
  }

  std::shared_ptr<const service_spec> ptr_;
};

/// On the wire, the spec itself; what is read is shared from then on.
template <class Inspector> typename Inspector::result_type inspect(Inspector& f, shared_spec& x) {
  auto copy = *x;
  auto share = caf::meta::load_callback([&]() -> caf::error {
    x = shared_spec{std::move(copy)};
    return caf::none;
  });
  return f(copy, share);
}

/// True when any port of the spec is published on the routing mesh.
inline bool has_published_ports(const service_spec& spec) {
  for (const auto& port : spec.ports)
    if (port.published != 0)
      return true;
  return false;
}

/// What one replica of `spec` reserves on its node's disk: its volumes' sizes.
inline int64_t volume_bytes(const service_spec& spec) {
  int64_t out = 0;
  for (const auto& v : spec.volumes)
    out += v.size;
  return out;
}

/// Largest replica count a spec may ask for; protects the node from a typo like 10^9.
inline constexpr int32_t max_replicas = 10000;

} // namespace tutti::protocol
