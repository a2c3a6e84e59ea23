#include "protocol/capnp_convert.hpp"

#include "protocol/capnp_convert_detail.hpp"

#include "protocol/utf8.hpp"

#include <kj/exception.h>
#include <kj/string.h>

namespace tutti::protocol {

utf8_text::utf8_text(const std::string& text) : text_(&text) {
  if (!valid_utf8(text)) {
    escaped_ = escape_invalid_utf8(text);
    text_ = &escaped_;
  }
}

// The switches below name every enumerant and have no default, so that a new
// enumerant on either side fails the build (-Werror=switch) until it is mapped.

rpc::ErrorCode to_capnp(error_code x) {
  using wire = rpc::ErrorCode;
  switch (x) {
    case error_code::none:
      return wire::NONE;
    case error_code::invalid_argument:
      return wire::INVALID_ARGUMENT;
    case error_code::invalid_spec:
      return wire::INVALID_SPEC;
    case error_code::not_found:
      return wire::NOT_FOUND;
    case error_code::already_exists:
      return wire::ALREADY_EXISTS;
    case error_code::store_failure:
      return wire::STORE_FAILURE;
    case error_code::store_full:
      return wire::STORE_FULL;
    case error_code::data_dir_locked:
      return wire::DATA_DIR_LOCKED;
    case error_code::driver_failure:
      return wire::DRIVER_FAILURE;
    case error_code::unschedulable:
      return wire::UNSCHEDULABLE;
    case error_code::unavailable:
      return wire::UNAVAILABLE;
    case error_code::timeout:
      return wire::TIMEOUT;
    case error_code::internal:
      return wire::INTERNAL;
    case error_code::forbidden:
      return wire::FORBIDDEN;
    case error_code::not_leader:
      return wire::NOT_LEADER;
    case error_code::unauthenticated:
      return wire::UNAUTHENTICATED;
  }
  // A caf::error of category tutti carries its code as a number; one that is no
  // error_code is a bug of whoever made it.
  return wire::INTERNAL;
}

std::optional<error_code> from_capnp(rpc::ErrorCode x) {
  using wire = rpc::ErrorCode;
  switch (x) {
    case wire::NONE:
      return error_code::none;
    case wire::INVALID_ARGUMENT:
      return error_code::invalid_argument;
    case wire::INVALID_SPEC:
      return error_code::invalid_spec;
    case wire::NOT_FOUND:
      return error_code::not_found;
    case wire::ALREADY_EXISTS:
      return error_code::already_exists;
    case wire::STORE_FAILURE:
      return error_code::store_failure;
    case wire::STORE_FULL:
      return error_code::store_full;
    case wire::DATA_DIR_LOCKED:
      return error_code::data_dir_locked;
    case wire::DRIVER_FAILURE:
      return error_code::driver_failure;
    case wire::UNSCHEDULABLE:
      return error_code::unschedulable;
    case wire::UNAVAILABLE:
      return error_code::unavailable;
    case wire::TIMEOUT:
      return error_code::timeout;
    case wire::INTERNAL:
      return error_code::internal;
    case wire::FORBIDDEN:
      return error_code::forbidden;
    case wire::NOT_LEADER:
      return error_code::not_leader;
    case wire::UNAUTHENTICATED:
      return error_code::unauthenticated;
  }
  return std::nullopt;
}

rpc::ReplicaState to_capnp(replica_state x) {
  using wire = rpc::ReplicaState;
  switch (x) {
    case replica_state::pending:
      return wire::PENDING;
    case replica_state::starting:
      return wire::STARTING;
    case replica_state::running:
      return wire::RUNNING;
    case replica_state::backoff:
      return wire::BACKOFF;
    case replica_state::stopping:
      return wire::STOPPING;
    case replica_state::exited:
      return wire::EXITED;
    case replica_state::failed:
      return wire::FAILED;
  }
  return wire::PENDING;
}

std::optional<replica_state> from_capnp(rpc::ReplicaState x) {
  using wire = rpc::ReplicaState;
  switch (x) {
    case wire::PENDING:
      return replica_state::pending;
    case wire::STARTING:
      return replica_state::starting;
    case wire::RUNNING:
      return replica_state::running;
    case wire::BACKOFF:
      return replica_state::backoff;
    case wire::STOPPING:
      return replica_state::stopping;
    case wire::EXITED:
      return replica_state::exited;
    case wire::FAILED:
      return replica_state::failed;
  }
  return std::nullopt;
}

rpc::DriverKind to_capnp(driver_kind x) {
  using wire = rpc::DriverKind;
  switch (x) {
    case driver_kind::process:
      return wire::PROCESS;
    case driver_kind::sim:
      return wire::SIM;
    case driver_kind::docker:
      return wire::DOCKER;
    case driver_kind::containerd:
      return wire::CONTAINERD;
  }
  return wire::PROCESS;
}

std::optional<driver_kind> from_capnp(rpc::DriverKind x) {
  using wire = rpc::DriverKind;
  switch (x) {
    case wire::PROCESS:
      return driver_kind::process;
    case wire::SIM:
      return driver_kind::sim;
    case wire::DOCKER:
      return driver_kind::docker;
    case wire::CONTAINERD:
      return driver_kind::containerd;
  }
  return std::nullopt;
}

rpc::NodeState to_capnp(node_state x) {
  using wire = rpc::NodeState;
  switch (x) {
    case node_state::ready:
      return wire::READY;
    case node_state::cordoned:
      return wire::CORDONED;
    case node_state::draining:
      return wire::DRAINING;
    case node_state::lost:
      return wire::LOST;
    case node_state::restarting:
      return wire::RESTARTING;
  }
  return wire::READY;
}

std::optional<node_state> from_capnp(rpc::NodeState x) {
  using wire = rpc::NodeState;
  switch (x) {
    case wire::READY:
      return node_state::ready;
    case wire::CORDONED:
      return node_state::cordoned;
    case wire::DRAINING:
      return node_state::draining;
    case wire::LOST:
      return node_state::lost;
    case wire::RESTARTING:
      return node_state::restarting;
  }
  return std::nullopt;
}

rpc::RolloutState to_capnp(rollout_state x) {
  using wire = rpc::RolloutState;
  switch (x) {
    case rollout_state::progressing:
      return wire::PROGRESSING;
    case rollout_state::complete:
      return wire::COMPLETE;
    case rollout_state::paused:
      return wire::PAUSED;
    case rollout_state::rolling_back:
      return wire::ROLLING_BACK;
  }
  return wire::PROGRESSING;
}

std::optional<rollout_state> from_capnp(rpc::RolloutState x) {
  using wire = rpc::RolloutState;
  switch (x) {
    case wire::PROGRESSING:
      return rollout_state::progressing;
    case wire::COMPLETE:
      return rollout_state::complete;
    case wire::PAUSED:
      return rollout_state::paused;
    case wire::ROLLING_BACK:
      return rollout_state::rolling_back;
  }
  return std::nullopt;
}

rpc::LoadBalancing to_capnp(load_balancing x) {
  using wire = rpc::LoadBalancing;
  switch (x) {
    case load_balancing::round_robin:
      return wire::ROUND_ROBIN;
    case load_balancing::least_connections:
      return wire::LEAST_CONNECTIONS;
  }
  return wire::ROUND_ROBIN;
}

std::optional<load_balancing> from_capnp(rpc::LoadBalancing x) {
  using wire = rpc::LoadBalancing;
  switch (x) {
    case wire::ROUND_ROBIN:
      return load_balancing::round_robin;
    case wire::LEAST_CONNECTIONS:
      return load_balancing::least_connections;
  }
  return std::nullopt;
}

rpc::ChangeKind to_capnp(change_kind x) {
  using wire = rpc::ChangeKind;
  switch (x) {
    case change_kind::created:
      return wire::CREATED;
    case change_kind::updated:
      return wire::UPDATED;
    case change_kind::unchanged:
      return wire::UNCHANGED;
    case change_kind::deleted:
      return wire::DELETED;
  }
  return wire::UNCHANGED;
}

std::optional<change_kind> from_capnp(rpc::ChangeKind x) {
  using wire = rpc::ChangeKind;
  switch (x) {
    case wire::CREATED:
      return change_kind::created;
    case wire::UPDATED:
      return change_kind::updated;
    case wire::UNCHANGED:
      return change_kind::unchanged;
    case wire::DELETED:
      return change_kind::deleted;
  }
  return std::nullopt;
}

rpc::ActorState to_capnp(actor_state x) {
  using wire = rpc::ActorState;
  switch (x) {
    case actor_state::running:
      return wire::RUNNING;
    case actor_state::restarting:
      return wire::RESTARTING;
    case actor_state::unreachable:
      return wire::UNREACHABLE;
    case actor_state::ready:
      return wire::READY;
    case actor_state::cordoned:
      return wire::CORDONED;
    case actor_state::draining:
      return wire::DRAINING;
    case actor_state::lost:
      return wire::LOST;
  }
  return wire::UNREACHABLE;
}

std::optional<actor_state> from_capnp(rpc::ActorState x) {
  using wire = rpc::ActorState;
  switch (x) {
    case wire::RUNNING:
      return actor_state::running;
    case wire::RESTARTING:
      return actor_state::restarting;
    case wire::UNREACHABLE:
      return actor_state::unreachable;
    case wire::READY:
      return actor_state::ready;
    case wire::CORDONED:
      return actor_state::cordoned;
    case wire::DRAINING:
      return actor_state::draining;
    case wire::LOST:
      return actor_state::lost;
  }
  return std::nullopt;
}

rpc::ControlRole to_capnp(control_role x) {
  using wire = rpc::ControlRole;
  switch (x) {
    case control_role::single:
      return wire::SINGLE;
    case control_role::leader:
      return wire::LEADER;
    case control_role::standby:
      return wire::STANDBY;
  }
  return wire::SINGLE;
}

std::optional<control_role> from_capnp(rpc::ControlRole x) {
  using wire = rpc::ControlRole;
  switch (x) {
    case wire::SINGLE:
      return control_role::single;
    case wire::LEADER:
      return control_role::leader;
    case wire::STANDBY:
      return control_role::standby;
  }
  return std::nullopt;
}

rpc::AccessRole to_capnp(access_role x) {
  using wire = rpc::AccessRole;
  switch (x) {
    case access_role::viewer:
      return wire::VIEWER;
    case access_role::deployer:
      return wire::DEPLOYER;
    case access_role::operator_:
      return wire::OPERATOR;
    case access_role::admin:
      return wire::ADMIN;
  }
  return wire::VIEWER;
}

std::optional<access_role> from_capnp(rpc::AccessRole x) {
  using wire = rpc::AccessRole;
  switch (x) {
    case wire::VIEWER:
      return access_role::viewer;
    case wire::DEPLOYER:
      return access_role::deployer;
    case wire::OPERATOR:
      return access_role::operator_;
    case wire::ADMIN:
      return access_role::admin;
  }
  return std::nullopt;
}

rpc::CredentialKind to_capnp(credential_kind x) {
  using wire = rpc::CredentialKind;
  switch (x) {
    case credential_kind::token:
      return wire::TOKEN;
    case credential_kind::admin_token:
      return wire::ADMIN_TOKEN;
    case credential_kind::client_certificate:
      return wire::CLIENT_CERTIFICATE;
    case credential_kind::unix_peer:
      return wire::UNIX_PEER;
  }
  return wire::TOKEN;
}

std::optional<credential_kind> from_capnp(rpc::CredentialKind x) {
  using wire = rpc::CredentialKind;
  switch (x) {
    case wire::TOKEN:
      return credential_kind::token;
    case wire::ADMIN_TOKEN:
      return credential_kind::admin_token;
    case wire::CLIENT_CERTIFICATE:
      return credential_kind::client_certificate;
    case wire::UNIX_PEER:
      return credential_kind::unix_peer;
  }
  return std::nullopt;
}

using namespace convert_detail;


static void to_capnp(rpc::Resources::Builder b, const resource_spec& x) {
  b.setCpu(x.cpu);
  b.setMemory(x.memory);
  b.setDisk(x.disk);
}

static resource_spec from_capnp(rpc::Resources::Reader r) {
  return {r.getCpu(), r.getMemory(), r.getDisk()};
}

void to_capnp(rpc::ReplicaStatus::Builder b, const replica_status& x) {
  b.setId(x.id);
  b.setService(utf8_text(x.service));
  b.setSlot(x.slot);
  b.setNode(utf8_text(x.node));
  b.setState(to_capnp(x.state));
  b.setPid(x.pid);
  b.setRuntimeId(utf8_text(x.runtime_id));
  b.setRestarts(x.restarts);
  b.setRevision(x.revision);
  b.setExitCode(x.exit_code);
  b.setMessage(utf8_text(x.message));
  b.setSinceMs(x.since_ms);
  auto ports = b.initPorts(x.ports.size());
  for (unsigned i = 0; i < x.ports.size(); ++i) {
    ports[i].setName(utf8_text(x.ports[i].name));
    ports[i].setHostPort(x.ports[i].host_port);
  }
  b.setAddress(utf8_text(x.address));
  b.setReady(x.ready);
  b.setUnhealthy(x.unhealthy);
  b.setHealth(utf8_text(x.health));
  b.setLogTail(utf8_text(x.log_tail));
  b.setTemplateHash(utf8_text(x.template_hash));
}

replica_status from_capnp(rpc::ReplicaStatus::Reader r) {
  replica_status x;
  x.id = text(r.getId());
  x.service = text(r.getService());
  x.slot = r.getSlot();
  x.node = text(r.getNode());
  x.state = known(r.getState(), "replica state");
  x.pid = r.getPid();
  x.runtime_id = text(r.getRuntimeId());
  x.restarts = r.getRestarts();
  x.revision = r.getRevision();
  x.exit_code = r.getExitCode();
  x.message = text(r.getMessage());
  x.since_ms = r.getSinceMs();
  for (auto p : r.getPorts())
    x.ports.push_back({text(p.getName()), p.getHostPort()});
  x.address = text(r.getAddress());
  x.ready = r.getReady();
  x.unhealthy = r.getUnhealthy();
  x.health = text(r.getHealth());
  x.log_tail = text(r.getLogTail());
  x.template_hash = text(r.getTemplateHash());
  return x;
}

void to_capnp(rpc::ServiceStatus::Builder b, const service_status& x) {
  b.setName(utf8_text(x.name));
  b.setRevision(x.revision);
  b.setDesired(x.desired);
  b.setRunning(x.running);
  b.setDriver(to_capnp(x.driver));
  b.setRestarts(x.restarts);
  b.setUpdatedMs(x.updated_ms);
  b.setReady(x.ready);
  b.setAutoscale(utf8_text(x.autoscale));
  b.setAutoscaled(utf8_text(x.autoscaled));
}

service_status from_capnp(rpc::ServiceStatus::Reader r) {
  service_status x;
  x.name = text(r.getName());
  x.revision = r.getRevision();
  x.desired = r.getDesired();
  x.running = r.getRunning();
  x.driver = known(r.getDriver(), "driver kind");
  x.restarts = r.getRestarts();
  x.updated_ms = r.getUpdatedMs();
  x.ready = r.getReady();
  x.autoscale = text(r.getAutoscale());
  x.autoscaled = text(r.getAutoscaled());
  return x;
}

void to_capnp(rpc::Event::Builder b, const event& x) {
  b.setSeq(x.seq);
  b.setTimeMs(x.time_ms);
  b.setKind(utf8_text(x.kind));
  b.setService(utf8_text(x.service));
  b.setReplica(utf8_text(x.replica));
  b.setMessage(utf8_text(x.message));
}

event from_capnp(rpc::Event::Reader r) {
  return {r.getSeq(),           r.getTimeMs(),        text(r.getKind()),
          text(r.getService()), text(r.getReplica()), text(r.getMessage())};
}

namespace {

void to_capnp(capnp::List<rpc::Label>::Builder out, const std::map<std::string, std::string>& x) {
  unsigned i = 0;
  for (const auto& [k, v] : x) {
    out[i].setKey(utf8_text(k));
    out[i].setValue(utf8_text(v));
    ++i;
  }
}

std::map<std::string, std::string> from_capnp(capnp::List<rpc::Label>::Reader r) {
  std::map<std::string, std::string> out;
  for (auto l : r)
    out.emplace(text(l.getKey()), text(l.getValue()));
  return out;
}

void to_capnp(capnp::List<rpc::DriverError>::Builder out,
              const std::map<driver_kind, std::string>& x) {
  unsigned i = 0;
  for (const auto& [driver, message] : x) {
    out[i].setDriver(to_capnp(driver));
    out[i].setMessage(utf8_text(message));
    ++i;
  }
}

std::map<driver_kind, std::string> from_capnp(capnp::List<rpc::DriverError>::Reader r) {
  std::map<driver_kind, std::string> out;
  for (auto e : r)
    out.emplace(known(e.getDriver(), "driver kind"), text(e.getMessage()));
  return out;
}

} // namespace

void to_capnp(rpc::NodeStatus::Builder b, const node_status& x) {
  b.setName(utf8_text(x.name));
  b.setAddress(utf8_text(x.address));
  b.setState(to_capnp(x.state));
  to_capnp(b.initCapacity(), x.capacity);
  to_capnp(b.initAllocated(), x.allocated);
  b.setReplicas(x.replicas);
  b.setPortsCapacity(x.ports_capacity);
  b.setPortsAllocated(x.ports_allocated);
  to_capnp(b.initLabels(x.labels.size()), x.labels);
  to_capnp(b.initDriverErrors(x.driver_errors.size()), x.driver_errors);
  auto drivers = b.initDrivers(x.drivers.size());
  for (unsigned j = 0; j < x.drivers.size(); ++j)
    drivers.set(j, to_capnp(x.drivers[j]));
}

node_status from_capnp(rpc::NodeStatus::Reader r) {
  node_status x;
  x.name = text(r.getName());
  x.address = text(r.getAddress());
  x.state = known(r.getState(), "node state");
  x.capacity = from_capnp(r.getCapacity());
  x.allocated = from_capnp(r.getAllocated());
  x.replicas = r.getReplicas();
  x.ports_capacity = r.getPortsCapacity();
  x.ports_allocated = r.getPortsAllocated();
  x.labels = from_capnp(r.getLabels());
  x.driver_errors = from_capnp(r.getDriverErrors());
  for (auto d : r.getDrivers())
    x.drivers.push_back(known(d, "driver kind"));
  return x;
}

void to_capnp(rpc::ServiceChange::Builder b, const service_change& x) {
  b.setService(utf8_text(x.service));
  b.setKind(to_capnp(x.kind));
  b.setRevision(x.revision);
  b.setDiff(utf8_text(x.diff));
}

service_change from_capnp(rpc::ServiceChange::Reader r) {
  return {text(r.getService()), known(r.getKind(), "change kind"), r.getRevision(),
          text(r.getDiff())};
}

void to_capnp(rpc::SpecError::Builder b, const spec_error& x) {
  b.setFile(utf8_text(x.file));
  b.setLine(x.line);
  b.setColumn(x.column);
  b.setField(utf8_text(x.field));
  b.setMessage(utf8_text(x.message));
}

spec_error from_capnp(rpc::SpecError::Reader r) {
  return {text(r.getFile()), r.getLine(), r.getColumn(), text(r.getField()), text(r.getMessage())};
}

void to_capnp(rpc::ServiceDetail::Builder b, const service_detail& x) {
  to_capnp(b.initStatus(), x.status);
  b.setSpecYaml(utf8_text(x.spec_yaml));
  fill_list(b.initReplicas(x.replicas.size()), x.replicas);
  fill_list(b.initEvents(x.events.size()), x.events);
}

service_detail from_capnp(rpc::ServiceDetail::Reader r) {
  service_detail x;
  x.status = from_capnp(r.getStatus());
  x.spec_yaml = text(r.getSpecYaml());
  x.replicas = read_list<replica_status>(r.getReplicas());
  x.events = read_list<event>(r.getEvents());
  return x;
}

void to_capnp(rpc::ServiceEndpoints::Builder b, const service_endpoints& x) {
  b.setService(utf8_text(x.service));
  auto ports = b.initPorts(x.ports.size());
  for (unsigned i = 0; i < x.ports.size(); ++i) {
    ports[i].setName(utf8_text(x.ports[i].name));
    ports[i].setPublished(x.ports[i].published);
  }
  b.setBalancing(to_capnp(x.balancing));
  auto endpoints = b.initEndpoints(x.endpoints.size());
  for (unsigned i = 0; i < x.endpoints.size(); ++i) {
    const auto& e = x.endpoints[i];
    endpoints[i].setReplica(utf8_text(e.replica));
    endpoints[i].setNode(utf8_text(e.node));
    endpoints[i].setPort(utf8_text(e.port));
    endpoints[i].setHost(utf8_text(e.host));
    endpoints[i].setHostPort(e.host_port);
  }
  b.setRemoved(x.removed);
}

service_endpoints from_capnp(rpc::ServiceEndpoints::Reader r) {
  service_endpoints x;
  x.service = text(r.getService());
  for (auto p : r.getPorts())
    x.ports.push_back({text(p.getName()), p.getPublished()});
  x.balancing = known(r.getBalancing(), "load balancing");
  for (auto e : r.getEndpoints())
    x.endpoints.push_back({text(e.getReplica()), text(e.getNode()), text(e.getPort()),
                           text(e.getHost()), e.getHostPort()});
  x.removed = r.getRemoved();
  return x;
}

void to_capnp(rpc::Error::Builder b, const caf::error& x) {
  b.setCode(to_capnp(code_of(x)));
  b.setMessage(utf8_text(message_of(x)));
}

std::optional<rpc_error> from_capnp(rpc::Error::Reader r) {
  if (r.getCode() == rpc::ErrorCode::NONE)
    return std::nullopt;
  return rpc_error{from_capnp(r.getCode()), text(r.getMessage())};
}

void to_capnp(rpc::RolloutStatus::Builder b, const rollout_status& x) {
  b.setService(utf8_text(x.service));
  b.setRevision(x.revision);
  b.setState(to_capnp(x.state));
  b.setDesired(x.desired);
  b.setUpdated(x.updated);
  b.setReady(x.ready);
  b.setAvailable(x.available);
  b.setOld(x.old);
  b.setMessage(utf8_text(x.message));
}

rollout_status from_capnp(rpc::RolloutStatus::Reader r) {
  return {text(r.getService()), r.getRevision(), known(r.getState(), "rollout state"),
          r.getDesired(),       r.getUpdated(),  r.getReady(),
          r.getAvailable(),     r.getOld(),      text(r.getMessage())};
}

void to_capnp(rpc::ActorInfo::Builder b, const actor_info& x) {
  b.setPath(utf8_text(x.path));
  b.setKind(utf8_text(x.kind));
  b.setState(to_capnp(x.state));
  b.setId(x.id);
  b.setRestarts(x.restarts);
  b.setLastExit(utf8_text(x.last_exit));
}

actor_info from_capnp(rpc::ActorInfo::Reader r) {
  return {text(r.getPath()), text(r.getKind()), known(r.getState(), "actor state"),
          r.getId(),         r.getRestarts(),   text(r.getLastExit())};
}

void to_capnp(rpc::ControllerStatus::Builder b, const controller_status& x) {
  b.setApi(utf8_text(x.api));
  b.setCluster(utf8_text(x.cluster));
  b.setHost(utf8_text(x.host));
  b.setLeading(x.leading);
  b.setSinceMs(x.since_ms);
}

controller_status from_capnp(rpc::ControllerStatus::Reader r) {
  return {text(r.getApi()), text(r.getCluster()), text(r.getHost()), r.getLeading(),
          r.getSinceMs()};
}

void to_capnp(rpc::StoreEndpoint::Builder b, const store_endpoint& x) {
  b.setEndpoint(utf8_text(x.endpoint));
  b.setHealthy(x.healthy);
  b.setMessage(utf8_text(x.message));
}

store_endpoint from_capnp(rpc::StoreEndpoint::Reader r) {
  return {text(r.getEndpoint()), r.getHealthy(), text(r.getMessage())};
}

void to_capnp(rpc::Revision::Builder b, const spec_record& x) {
  b.setRevision(x.revision);
  b.setTimeMs(x.time_ms);
  b.setSpecYaml(utf8_text(x.yaml));
}

spec_record from_capnp(rpc::Revision::Reader r) {
  return {"", r.getRevision(), text(r.getSpecYaml()), r.getTimeMs()};
}

} // namespace tutti::protocol
