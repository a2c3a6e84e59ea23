#include "protocol/capnp_convert.hpp"

namespace tutti::protocol {

namespace {

template <class Enum, size_t N>
std::optional<Enum> enum_from(const std::string& text, const Enum (&all)[N]) {
  for (auto x : all)
    if (to_string(x) == text)
      return x;
  return std::nullopt;
}

std::string text(capnp::Text::Reader r) {
  return {r.cStr(), r.size()};
}

template <class Builder, class Values> void fill_list(Builder list, const Values& xs) {
  for (unsigned i = 0; i < xs.size(); ++i)
    to_capnp(list[i], xs[i]);
}

template <class Value, class Reader> std::vector<Value> read_list(Reader list) {
  std::vector<Value> out;
  out.reserve(list.size());
  for (auto r : list)
    out.push_back(from_capnp(r));
  return out;
}

} // namespace

static void to_capnp(rpc::Resources::Builder b, const resource_spec& x) {
  b.setCpu(x.cpu);
  b.setMemory(x.memory);
}

static resource_spec from_capnp(rpc::Resources::Reader r) {
  return {r.getCpu(), r.getMemory()};
}

std::optional<replica_state> replica_state_from(const std::string& t) {
  static const replica_state all[] = {replica_state::pending,  replica_state::starting,
                                      replica_state::running,  replica_state::backoff,
                                      replica_state::stopping, replica_state::exited,
                                      replica_state::failed};
  return enum_from(t, all);
}

std::optional<driver_kind> driver_kind_from(const std::string& t) {
  static const driver_kind all[] = {driver_kind::process, driver_kind::sim, driver_kind::docker,
                                    driver_kind::containerd};
  return enum_from(t, all);
}

std::optional<node_state> node_state_from(const std::string& t) {
  static const node_state all[] = {node_state::ready, node_state::cordoned, node_state::draining,
                                   node_state::lost};
  return enum_from(t, all);
}

std::optional<change_kind> change_kind_from(const std::string& t) {
  static const change_kind all[] = {change_kind::created, change_kind::updated,
                                    change_kind::unchanged, change_kind::deleted};
  return enum_from(t, all);
}

std::optional<load_balancing> load_balancing_from(const std::string& t) {
  static const load_balancing all[] = {load_balancing::round_robin,
                                       load_balancing::least_connections};
  return enum_from(t, all);
}

void to_capnp(rpc::ReplicaStatus::Builder b, const replica_status& x) {
  b.setId(x.id);
  b.setService(x.service);
  b.setSlot(x.slot);
  b.setNode(x.node);
  b.setState(to_string(x.state));
  b.setPid(x.pid);
  b.setRuntimeId(x.runtime_id);
  b.setRestarts(x.restarts);
  b.setRevision(x.revision);
  b.setExitCode(x.exit_code);
  b.setMessage(x.message);
  b.setSinceMs(x.since_ms);
  auto ports = b.initPorts(x.ports.size());
  for (unsigned i = 0; i < x.ports.size(); ++i) {
    ports[i].setName(x.ports[i].name);
    ports[i].setHostPort(x.ports[i].host_port);
  }
  b.setAddress(x.address);
  b.setReady(x.ready);
  b.setUnhealthy(x.unhealthy);
  b.setHealth(x.health);
  b.setLogTail(x.log_tail);
  b.setTemplateHash(x.template_hash);
}

replica_status from_capnp(rpc::ReplicaStatus::Reader r) {
  replica_status x;
  x.id = text(r.getId());
  x.service = text(r.getService());
  x.slot = r.getSlot();
  x.node = text(r.getNode());
  x.state = replica_state_from(text(r.getState())).value_or(replica_state::pending);
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
  b.setName(x.name);
  b.setRevision(x.revision);
  b.setDesired(x.desired);
  b.setRunning(x.running);
  b.setDriver(to_string(x.driver));
  b.setRestarts(x.restarts);
  b.setUpdatedMs(x.updated_ms);
}

service_status from_capnp(rpc::ServiceStatus::Reader r) {
  service_status x;
  x.name = text(r.getName());
  x.revision = r.getRevision();
  x.desired = r.getDesired();
  x.running = r.getRunning();
  x.driver = driver_kind_from(text(r.getDriver())).value_or(driver_kind::process);
  x.restarts = r.getRestarts();
  x.updated_ms = r.getUpdatedMs();
  return x;
}

void to_capnp(rpc::Event::Builder b, const event& x) {
  b.setSeq(x.seq);
  b.setTimeMs(x.time_ms);
  b.setKind(x.kind);
  b.setService(x.service);
  b.setReplica(x.replica);
  b.setMessage(x.message);
}

event from_capnp(rpc::Event::Reader r) {
  return {r.getSeq(),           r.getTimeMs(),        text(r.getKind()),
          text(r.getService()), text(r.getReplica()), text(r.getMessage())};
}

namespace {

void to_capnp(capnp::List<rpc::Label>::Builder out, const std::map<std::string, std::string>& x) {
  unsigned i = 0;
  for (const auto& [k, v] : x) {
    out[i].setKey(k);
    out[i].setValue(v);
    ++i;
  }
}

std::map<std::string, std::string> from_capnp(capnp::List<rpc::Label>::Reader r) {
  std::map<std::string, std::string> out;
  for (auto l : r)
    out.emplace(text(l.getKey()), text(l.getValue()));
  return out;
}

} // namespace

void to_capnp(rpc::NodeStatus::Builder b, const node_status& x) {
  b.setName(x.name);
  b.setAddress(x.address);
  b.setState(to_string(x.state));
  to_capnp(b.initCapacity(), x.capacity);
  to_capnp(b.initAllocated(), x.allocated);
  b.setReplicas(x.replicas);
  b.setPortsCapacity(x.ports_capacity);
  b.setPortsAllocated(x.ports_allocated);
  to_capnp(b.initLabels(x.labels.size()), x.labels);
  to_capnp(b.initDriverErrors(x.driver_errors.size()), x.driver_errors);
  auto drivers = b.initDrivers(x.drivers.size());
  for (unsigned j = 0; j < x.drivers.size(); ++j)
    drivers.set(j, x.drivers[j]);
}

node_status from_capnp(rpc::NodeStatus::Reader r) {
  node_status x;
  x.name = text(r.getName());
  x.address = text(r.getAddress());
  x.state = node_state_from(text(r.getState())).value_or(node_state::ready);
  x.capacity = from_capnp(r.getCapacity());
  x.allocated = from_capnp(r.getAllocated());
  x.replicas = r.getReplicas();
  x.ports_capacity = r.getPortsCapacity();
  x.ports_allocated = r.getPortsAllocated();
  x.labels = from_capnp(r.getLabels());
  x.driver_errors = from_capnp(r.getDriverErrors());
  for (auto d : r.getDrivers())
    x.drivers.push_back(text(d));
  return x;
}

void to_capnp(rpc::ServiceChange::Builder b, const service_change& x) {
  b.setService(x.service);
  b.setKind(to_string(x.kind));
  b.setRevision(x.revision);
  b.setDiff(x.diff);
}

service_change from_capnp(rpc::ServiceChange::Reader r) {
  return {text(r.getService()),
          change_kind_from(text(r.getKind())).value_or(change_kind::unchanged), r.getRevision(),
          text(r.getDiff())};
}

void to_capnp(rpc::SpecError::Builder b, const spec_error& x) {
  b.setFile(x.file);
  b.setLine(x.line);
  b.setColumn(x.column);
  b.setField(x.field);
  b.setMessage(x.message);
}

spec_error from_capnp(rpc::SpecError::Reader r) {
  return {text(r.getFile()), r.getLine(), r.getColumn(), text(r.getField()), text(r.getMessage())};
}

void to_capnp(rpc::ServiceDetail::Builder b, const service_detail& x) {
  to_capnp(b.initStatus(), x.status);
  b.setSpecYaml(x.spec_yaml);
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
  b.setService(x.service);
  auto ports = b.initPorts(x.ports.size());
  for (unsigned i = 0; i < x.ports.size(); ++i) {
    ports[i].setName(x.ports[i].name);
    ports[i].setPublished(x.ports[i].published);
  }
  b.setBalancing(to_string(x.balancing));
  auto endpoints = b.initEndpoints(x.endpoints.size());
  for (unsigned i = 0; i < x.endpoints.size(); ++i) {
    const auto& e = x.endpoints[i];
    endpoints[i].setReplica(e.replica);
    endpoints[i].setNode(e.node);
    endpoints[i].setPort(e.port);
    endpoints[i].setHost(e.host);
    endpoints[i].setHostPort(e.host_port);
  }
  b.setRemoved(x.removed);
}

service_endpoints from_capnp(rpc::ServiceEndpoints::Reader r) {
  service_endpoints x;
  x.service = text(r.getService());
  for (auto p : r.getPorts())
    x.ports.push_back({text(p.getName()), p.getPublished()});
  x.balancing = load_balancing_from(text(r.getBalancing())).value_or(load_balancing::round_robin);
  for (auto e : r.getEndpoints())
    x.endpoints.push_back({text(e.getReplica()), text(e.getNode()), text(e.getPort()),
                           text(e.getHost()), e.getHostPort()});
  x.removed = r.getRemoved();
  return x;
}

void to_capnp(rpc::Error::Builder b, const caf::error& x) {
  b.setCode(to_string(code_of(x)));
  b.setMessage(message_of(x));
}

std::optional<rpc_error> from_capnp(rpc::Error::Reader r) {
  if (r.getCode().size() == 0)
    return std::nullopt;
  return rpc_error{text(r.getCode()), text(r.getMessage())};
}

void to_capnp(rpc::RolloutStatus::Builder b, const rollout_status& x) {
  b.setService(x.service);
  b.setRevision(x.revision);
  b.setState(x.state);
  b.setDesired(x.desired);
  b.setUpdated(x.updated);
  b.setReady(x.ready);
  b.setAvailable(x.available);
  b.setOld(x.old);
  b.setMessage(x.message);
}

rollout_status from_capnp(rpc::RolloutStatus::Reader r) {
  return {text(r.getService()), r.getRevision(), text(r.getState()),
          r.getDesired(),       r.getUpdated(),  r.getReady(),
          r.getAvailable(),     r.getOld(),      text(r.getMessage())};
}

void to_capnp(rpc::ActorInfo::Builder b, const actor_info& x) {
  b.setPath(x.path);
  b.setKind(x.kind);
  b.setState(x.state);
  b.setId(x.id);
  b.setRestarts(x.restarts);
  b.setLastExit(x.last_exit);
}

actor_info from_capnp(rpc::ActorInfo::Reader r) {
  return {text(r.getPath()), text(r.getKind()), text(r.getState()),
          r.getId(),         r.getRestarts(),   text(r.getLastExit())};
}

void to_capnp(rpc::Revision::Builder b, const spec_record& x) {
  b.setRevision(x.revision);
  b.setTimeMs(x.time_ms);
  b.setSpecYaml(x.yaml);
}

spec_record from_capnp(rpc::Revision::Reader r) {
  return {"", r.getRevision(), text(r.getSpecYaml()), r.getTimeMs()};
}

} // namespace tutti::protocol
