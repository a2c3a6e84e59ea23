#include "actors/node/node_actor.hpp"

#include "actors/node/driver_actor.hpp"
#include "actors/node/node_state.hpp"
#include "actors/node/node_storage.hpp"
#include "actors/node/prober_actor.hpp"
#include "actors/node/replica_actor.hpp"
#include "metrics/recorder.hpp"
#include "protocol/errors.hpp"
#include "runtime-drivers/pod_driver.hpp"

#include <caf/all.hpp>

#include <spdlog/spdlog.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <functional>
#include <memory>
#include <set>
#include <sstream>
#include <thread>
#include <unordered_map>
#include <unordered_set>

namespace tutti::actors {

namespace node_impl {


std::string driver_child(p::driver_kind kind) {
  return "driver/" + p::to_string(kind);
}

constexpr std::string_view replica_prefix = "replica/";

std::string replica_child(const std::string& id) {
  return std::string{replica_prefix} + id;
}

/// The replica id of a child named by replica_child.
std::string replica_of(const std::string& child) {
  return child.substr(replica_prefix.size());
}

bool port_free(const std::string& address, uint16_t port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return false;
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(port);
  ::inet_pton(AF_INET, address.c_str(), &sa.sin_addr);
  bool ok = ::bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof(sa)) == 0;
  ::close(fd);
  return ok;
}

caf::expected<uint16_t> allocate_port(self_ptr self) {
  auto& st = self->state;
  const auto& cfg = st.ctx.config;
  auto span = static_cast<uint32_t>(cfg.port_last - cfg.port_first) + 1;
  if (st.next_port < cfg.port_first || st.next_port > cfg.port_last)
    st.next_port = cfg.port_first;
  for (uint32_t i = 0; i < span; ++i) {
    uint16_t candidate = st.next_port;
    st.next_port = candidate == cfg.port_last ? cfg.port_first : candidate + 1;
    if (!st.reserved.count(candidate) && port_free(cfg.address, candidate)) {
      st.reserved.insert(candidate);
      return candidate;
    }
  }
  return p::make_error(p::error_code::unschedulable,
                       "node " + cfg.name + " has no free host port in " +
                           std::to_string(cfg.port_first) + "-" + std::to_string(cfg.port_last));
}

caf::expected<std::vector<p::port_binding>> ports_for(self_ptr self, const std::string& id,
                                                      const p::service_spec& spec) {
  auto adopted = self->state.adopted_ports.find(id);
  if (adopted != self->state.adopted_ports.end() && adopted->second.size() == spec.ports.size()) {
    bool same = true;
    for (size_t i = 0; i < spec.ports.size(); ++i)
      same = same && adopted->second[i].name == spec.ports[i].name;
    if (same)
      return adopted->second; // reserved when listed
  }
  std::vector<p::port_binding> out;
  for (const auto& port : spec.ports) {
    auto host_port = allocate_port(self);
    if (!host_port) {
      for (auto& b : out)
        self->state.reserved.erase(b.host_port);
      return std::move(host_port.error());
    }
    out.push_back({port.name, *host_port});
  }
  return out;
}

std::vector<p::port_binding> parse_ports_label(const std::string& text) {
  std::vector<p::port_binding> out;
  std::istringstream in{text};
  std::string item;
  while (std::getline(in, item, ',')) {
    auto eq = item.find('=');
    if (eq == std::string::npos)
      continue;
    auto port = std::strtoul(item.c_str() + eq + 1, nullptr, 10);
    if (port > 0 && port <= 65535)
      out.push_back({item.substr(0, eq), static_cast<uint16_t>(port)});
  }
  return out;
}

bool has_probes(const p::service_spec& spec) {
  return !p::probes_of(spec).empty();
}

/// The node's prober, started with the first replica that has probes (its
/// threads are not worth having otherwise).
prober_actor prober(self_ptr self) {
  if (!self->state.sup->child("prober"))
    self->state.sup->start_child("prober", [self]() -> caf::actor {
      return caf::actor_cast<caf::actor>(spawn_prober(self->system(), self->state.ctx.drivers));
    });
  return self->state.sup->child_as<prober_actor>("prober");
}

/// The service actor that last asked this node for a replica of `service`;
/// null before any did.
service_actor route_of(self_ptr self, const std::string& service) {
  auto i = self->state.services.find(service);
  return i != self->state.services.end() ? i->second.route : service_actor{};
}

void start_replica_child(self_ptr self, const std::string& id) {
  // Not from inside the replica's start function: supervision must not start one
  // child while it starts another.
  if (has_probes(*self->state.replicas.at(id).req->spec))
    prober(self);
  self->state.sup->start_child(replica_child(id), [self](const std::string& child) -> caf::actor {
    auto id = replica_of(child);
    auto& entry = self->state.replicas.at(id);
    replica_context rc;
    rc.node = self->state.ctx.config.name;
    rc.links.parent = caf::actor_cast<node_actor>(self);
    rc.links.driver =
        self->state.sup->child_as<driver_actor>(driver_child(entry.req->spec->driver));
    rc.links.store = self->state.ctx.store;
    rc.links.service = route_of(self, entry.req->service);
    rc.links.metrics = self->state.ctx.metrics;
    rc.ports = entry.ports;
    rc.address = self->state.ctx.config.address;
    rc.links.fresh = entry.fresh;
    rc.links.volumes = self->state.volumes;
    rc.links.objects = self->state.objects;
    entry.fresh = false; // a restart of the actor looks first
    if (auto d = self->state.ctx.drivers.find(entry.req->spec->driver);
        d != self->state.ctx.drivers.end() && d->second) {
      rc.links.report_starting = d->second->blocking();
      if (d->second->inline_calls())
        rc.links.inline_driver = d->second;
    }
    if (has_probes(*entry.req->spec))
      rc.links.prober = self->state.sup->child_as<prober_actor>("prober");
    return caf::actor_cast<caf::actor>(spawn_replica(self->system(), std::move(rc), entry.req));
  });
}

int32_t port_capacity(self_ptr self) {
  const auto& cfg = self->state.ctx.config;
  return cfg.port_last >= cfg.port_first ? cfg.port_last - cfg.port_first + 1 : 0;
}

void hold(self_ptr self, const p::reservation& r) {
  auto& st = self->state;
  st.promised.cpu += r.resources.cpu;
  st.promised.memory += r.resources.memory;
  st.promised.disk += r.resources.disk;
  st.promised_ports += r.host_ports;
  st.reservations[r.replica] = {r.resources, r.host_ports};
}

void unhold(self_ptr self, const std::string& replica) {
  auto& st = self->state;
  auto i = st.reservations.find(replica);
  if (i == st.reservations.end())
    return;
  st.promised.cpu -= i->second.resources.cpu;
  st.promised.memory -= i->second.resources.memory;
  st.promised.disk -= i->second.resources.disk;
  st.promised_ports -= i->second.host_ports;
  st.reservations.erase(i);
}

p::reservation_reply totals(self_ptr self, bool accepted, std::string reason) {
  auto& st = self->state;
  return {accepted, std::move(reason), st.promised, st.promised_ports,
          static_cast<int32_t>(st.reservations.size())};
}

/// Confirms a reservation only from this node's own free capacity: two offers
/// that each fit alone but not together (placements racing, a stale view) never
/// both succeed.
p::reservation_reply reserve(self_ptr self, p::reservation& r) {
  auto& st = self->state;
  const auto& cap = st.ctx.config.capacity;
  auto free_cpu = cap.cpu - st.promised.cpu;
  auto free_memory = cap.memory - st.promised.memory;
  auto free_disk = cap.disk - st.promised.disk;
  auto free_ports = port_capacity(self) - st.promised_ports;
  if (auto i = st.reservations.find(r.replica); i != st.reservations.end()) {
    // Offered again (placement restarted, resources changed): judge it alone.
    free_cpu += i->second.resources.cpu;
    free_memory += i->second.resources.memory;
    free_disk += i->second.resources.disk;
    free_ports += i->second.host_ports;
  }
  std::string why;
  if (r.resources.cpu > 0 && r.resources.cpu > free_cpu + 1e-9)
    why = "insufficient cpu (requested " + std::to_string(r.resources.cpu) + ", free " +
          std::to_string(free_cpu) + ")";
  else if (r.resources.memory > 0 && r.resources.memory > free_memory)
    why = "insufficient memory (requested " + std::to_string(r.resources.memory) + " bytes, free " +
          std::to_string(free_memory) + ")";
  else if (r.resources.disk > 0 && cap.disk > 0 && r.resources.disk > free_disk)
    why = "insufficient disk for volumes (requested " + std::to_string(r.resources.disk) +
          " bytes, free " + std::to_string(free_disk) + ")";
  else if (r.host_ports > free_ports)
    why = "insufficient host ports (requested " + std::to_string(r.host_ports) + ", free " +
          std::to_string(free_ports) + ")";
  if (!why.empty())
    return totals(self, false, "node " + st.ctx.config.name + " refuses " + r.replica + ": " + why);
  unhold(self, r.replica);
  hold(self, std::move(r));
  return totals(self, true, {});
}

/// Takes replica `req` on: true once its actor exists (or is being started
/// again) with this request. What it runs, and how, its actor reports to the
/// service itself: an answer with its status was a second report per replica.
caf::result<bool> run(self_ptr self, p::replica_request& req) {
  auto id = p::replica_id(req.service, req.slot);
  if (!self->state.sup->child(driver_child(req.spec->driver)))
    return p::make_error(p::error_code::invalid_argument,
                         "node " + self->state.ctx.config.name + " has no " +
                             p::to_string(req.spec->driver) + " driver");
  auto& known = self->state.services[req.service]; // stays put: a node-based map
  if (known.replicas > 0) {
    if (known.spec == req.spec)
      req.spec = known.spec;
    else
      known.spec = req.spec;
  }
  if (auto sender = self->current_sender())
    known.route = caf::actor_cast<service_actor>(sender);
  auto i = self->state.replicas.find(id);
  if (i != self->state.replicas.end()) {
    auto child = self->state.sup->child_as<replica_actor>(replica_child(id));
    // The newest, also its discovery_env, for a restart of the actor.
    i->second.req = std::make_shared<const p::replica_request>(req);
    if (!child) // being started again: it reports once it knows
      return true;
    // Whoever asks now hears its reports: the service actor may have restarted.
    if (known.route)
      self->send(child, p::route_atom::value, known.route);
    self->send(child, std::move(req)); // it reports the outcome
    return true;
  }
  auto ports = ports_for(self, id, *req.spec);
  if (!ports) {
    if (known.replicas == 0)
      self->state.services.erase(req.service);
    return std::move(ports.error());
  }
  if (!self->state.reservations.count(id)) // adopted, or placed before reservations
    hold(self, p::reservation{id, req.service, req.spec->resources,
                              static_cast<int32_t>(req.spec->ports.size())});
  bool fresh = self->state.known_names.insert(std::hash<std::string>{}(id)).second &&
               !self->state.inventory_unknown;
  note_volume_slot(self, id, *req.spec);
  replica_entry entry{std::make_shared<const p::replica_request>(std::move(req)), *ports, fresh};
  if (known.replicas++ == 0)
    known.spec = entry.req->spec;
  self->state.replicas.emplace(id, std::move(entry));
  start_replica_child(self, id);
  return true;
}

void forget_replica(self_ptr self, const std::string& id) {
  auto i = self->state.replicas.find(id);
  if (i == self->state.replicas.end())
    return;
  for (auto& b : i->second.ports)
    self->state.reserved.erase(b.host_port);
  self->state.adopted_ports.erase(id);
  if (auto k = self->state.services.find(i->second.req->service);
      k != self->state.services.end() && --k->second.replicas <= 0)
    self->state.services.erase(k); // its service has no replica here any more
  self->state.replicas.erase(i);
  unhold(self, id);
}

/// Stops replica `id` (its actor and its container) and forgets it; `done`
/// runs once it is gone.
void stop_replica(self_ptr self, const std::string& id, std::function<void()> done) {
  auto child = self->state.sup->child_as<replica_actor>(replica_child(id));
  if (!child) {
    // No actor owns it (e.g. this node restarted while it was being stopped): a
    // container of that name may still run, so remove it wherever it is.
    for (auto& [kind, drv] : self->state.ctx.drivers)
      caf::anon_send(self->state.sup->child_as<driver_actor>(driver_child(kind)),
                     p::remove_atom::value, id, true);
    forget_replica(self, id);
    done();
    return;
  }
  // Bounded: CAF 0.17 does not answer a request whose receiver ends after it
  // took the request, and a replica actor can be replaced mid-stop (a driver or
  // prober restart starts its replicas again, a chaos kill restarts it).
  auto grace = std::chrono::duration_cast<caf::timespan>(std::chrono::seconds{10});
  if (auto i = self->state.replicas.find(id); i != self->state.replicas.end())
    grace = i->second.req->spec->stop_grace;
  auto limit = grace + std::chrono::duration_cast<caf::timespan>(std::chrono::seconds{5});
  self->request(child, limit, p::stop_atom::value)
      .then(
          [self, id, done](bool removed) {
            // No container of that name is left: a replica of the name that
            // comes later needs no look-up for one.
            if (removed)
              self->state.known_names.erase(std::hash<std::string>{}(id));
            forget_replica(self, id);
            done();
          },
          [self, id, done, child](caf::error&) {
            // The actor asked ended or was replaced before it answered: its
            // successor adopted the container (or, with none, the container is
            // removed by name), so ask again.
            if (self->state.sup->child_as<replica_actor>(replica_child(id)) != child) {
              stop_replica(self, id, done);
              return;
            }
            // The same actor, silent past the grace: forget it here; what
            // remains is swept.
            forget_replica(self, id);
            done();
          });
}

caf::result<bool> stop(self_ptr self, const std::string& id) {
  auto promise = self->make_response_promise<bool>();
  stop_replica(self, id, [promise]() mutable { promise.deliver(true); });
  return promise;
}

void on_status(self_ptr self, p::replica_status& st) {
  if (auto route = route_of(self, st.service))
    self->send(route, std::move(st));
}

caf::result<std::string> logs(self_ptr self, const std::string& id, uint64_t max_bytes) {
  // One container of a replica's several is named for the replica and itself.
  auto i = self->state.replicas.find(rd::replica_of_part(id).value_or(id));
  auto kind = i != self->state.replicas.end() ? i->second.req->spec->driver : p::driver_kind::process;
  auto driver = self->state.sup->child_as<driver_actor>(driver_child(kind));
  if (!driver)
    return p::make_error(p::error_code::unavailable, "driver of replica " + id + " is not running");
  return self->delegate(driver, p::logs_atom::value, id, max_bytes);
}

p::node_status status(self_ptr self) {
  p::node_status out;
  const auto& cfg = self->state.ctx.config;
  out.name = cfg.name;
  out.address = cfg.address;
  out.capacity = cfg.capacity;
  out.labels = cfg.labels;
  out.replicas = static_cast<int32_t>(self->state.replicas.size());
  for (auto& [kind, drv] : self->state.ctx.drivers)
    out.drivers.push_back(kind);
  out.driver_errors = self->state.driver_errors;
  out.allocated = self->state.promised;
  out.ports_capacity = port_capacity(self);
  out.ports_allocated = self->state.promised_ports;
  out.replicas = static_cast<int32_t>(self->state.reservations.size());
  return out;
}

/// Removes containers of this node that no service wants any more: those that
/// no replica actor owns, and the replicas whose assignment here is older than
/// the store's snapshot `keep` was read from (`snapshot`), which moved them
/// elsewhere while this node was cut off. A replica assigned after the
/// snapshot is not in `keep` yet, and stays.
caf::result<std::vector<std::string>> sweep(self_ptr self, const std::vector<std::string>& keep,
                                            int64_t snapshot) {
  auto promise = self->make_response_promise<std::vector<std::string>>();
  auto wanted = std::make_shared<std::set<std::string>>(keep.begin(), keep.end());
  auto removed = std::make_shared<std::vector<std::string>>();
  std::vector<std::string> fenced;
  for (auto& [id, entry] : self->state.replicas)
    if (!wanted->count(id) && entry.req->epoch < snapshot)
      fenced.push_back(id);
  for (auto& id : fenced) {
    spdlog::info("node {}: stopping replica {}: it is assigned elsewhere now",
                 self->state.ctx.config.name, id);
    stop_replica(self, id, [] {});
    removed->push_back(id);
  }
  auto pending = std::make_shared<size_t>(self->state.ctx.drivers.size());
  if (*pending == 0)
    return *removed;
  for (auto& [kind, drv] : self->state.ctx.drivers) {
    auto driver = self->state.sup->child_as<driver_actor>(driver_child(kind));
    // Names only: at a million replicas a sweep lists 200 containers per node.
    self->request(driver, std::chrono::seconds{30}, p::sweep_atom::value,
                  self->state.ctx.config.name)
        .then(
            [self, driver, wanted, removed, pending,
             promise](std::vector<std::string>& owned) mutable {
              for (auto& name : owned) {
                if (wanted->count(name) || self->state.replicas.count(name))
                  continue;
                caf::anon_send(driver, p::remove_atom::value, name, true);
                spdlog::info("node {}: removing orphaned replica {}", self->state.ctx.config.name,
                             name);
                removed->push_back(std::move(name));
              }
              if (--*pending == 0)
                promise.deliver(*removed);
            },
            [pending, removed, promise](caf::error&) mutable {
              if (--*pending == 0)
                promise.deliver(*removed);
            });
  }
  return promise;
}

void reserve_adopted(self_ptr self, const std::vector<rd::container_info>& owned) {
  for (auto& info : owned)
    self->state.known_names.insert(std::hash<std::string>{}(info.name));
  // Ports of containers that outlived the previous tuttid stay theirs, so new
  // replicas never get a port an adopted one listens on.
  for (auto& info : owned) {
    auto label = info.labels.find(rd::label::ports);
    if (label == info.labels.end())
      continue;
    auto ports = parse_ports_label(label->second);
    for (auto& b : ports)
      self->state.reserved.insert(b.host_port);
    self->state.adopted_ports[info.name] = std::move(ports);
  }
}

void adopt_inventory(self_ptr self) {
  for (auto& [kind, drv] : self->state.ctx.drivers) {
    auto driver = self->state.sup->child_as<driver_actor>(driver_child(kind));
    // await: no run request may take a port before the inventory is known.
    self->request(driver, std::chrono::seconds{30}, p::list_atom::value,
                  self->state.ctx.config.name)
        .await([self](std::vector<rd::container_info>& owned) { reserve_adopted(self, owned); },
               [self, kind = kind](caf::error& err) {
                 self->state.inventory_unknown = true;
                 spdlog::warn("node {}: cannot list {} containers: {}", self->state.ctx.config.name,
                              p::to_string(kind), p::message_of(err));
               });
  }
}

void start_router(self_ptr self) {
  if (!self->state.ctx.discovery)
    return;
  self->state.sup->start_child("router", [self]() -> caf::actor {
    const auto& ctx = self->state.ctx;
    router_context rc{ctx.config.name, ctx.mesh, ctx.discovery, ctx.store, ctx.metrics};
    return caf::actor_cast<caf::actor>(spawn_router(self->system(), std::move(rc)));
  });
}

void publish(self_ptr self) {
  caf::anon_send(self->state.ctx.store, p::put_atom::value, status(self));
  caf::anon_send(self->state.ctx.placement, p::register_atom::value, status(self),
                 caf::actor_cast<node_actor>(self));
  report_volume_slots(self);
}

/// Records a probe's outcome (`why` empty: healthy). A change of healthy or not is
/// logged, recorded as an event and published, so placement avoids the driver
/// while it is down and `get nodes` shows why.
void set_driver_health(self_ptr self, p::driver_kind kind, const std::string& why) {
  auto& errors = self->state.driver_errors;
  auto i = errors.find(kind);
  bool was_healthy = i == errors.end();
  if (why.empty() ? was_healthy : (!was_healthy && i->second == why))
    return;
  const auto& node = self->state.ctx.config.name;
  if (why.empty())
    errors.erase(i);
  else
    errors[kind] = why;
  auto driver = p::to_string(kind);
  self->state.ctx.metrics->set_driver_healthy(node, driver, why.empty());
  publish(self);
  if (was_healthy == why.empty())
    return; // only the reason changed
  p::event e;
  e.kind = why.empty() ? "driver_recovered" : "driver_unhealthy";
  e.message = "node " + node + ": " + driver + " driver " +
              (why.empty() ? "answers again" : "is unhealthy: " + why);
  if (why.empty())
    spdlog::info("{}", e.message);
  else
    spdlog::warn("{}", e.message);
  caf::anon_send(self->state.ctx.store, p::append_atom::value, std::move(e));
}

void probe_drivers(self_ptr self) {
  for (auto& [kind, drv] : self->state.ctx.drivers) {
    if (drv && drv->inline_calls()) {
      // Answers at once, from any thread: asked here, without a request to its
      // actor and the answer back (5,000 simulated nodes probe every 2 s).
      auto err = drv->health();
      auto why = err ? p::message_of(err) : std::string{};
      set_driver_health(self, kind, err && why.empty() ? "its health probe failed" : why);
      continue;
    }
    auto driver = self->state.sup->child_as<driver_actor>(driver_child(kind));
    if (!driver)
      continue; // being restarted; probed next round
    // A driver that does not block answers from the scheduler's own threads
    // at once, or ends (which fails the request): a timer would only cost the
    // clock thread a wake-up, twice, per probe of each of thousands of nodes.
    auto limit = drv && !drv->blocking() ? caf::duration{caf::infinite}
                                         : caf::duration{std::chrono::seconds{5}};
    self->request(driver, limit, p::health_atom::value)
        .then([self, kind = kind](bool) { set_driver_health(self, kind, ""); },
              [self, kind = kind](caf::error& err) {
                auto why = p::message_of(err);
                set_driver_health(self, kind, why.empty() ? "no answer to a health probe" : why);
              });
  }
  self->delayed_send(self, self->state.ctx.config.health_interval, p::health_atom::value);
}

void on_driver_restart(self_ptr self, const std::string& child) {
  if (child == "prober") {
    // Replicas hold the old prober: start them again (they adopt their containers).
    for (auto& [id, entry] : self->state.replicas)
      if (has_probes(*entry.req->spec))
        start_replica_child(self, id);
    return;
  }
  if (child.rfind("driver/", 0) != 0)
    return;
  // Replicas hold the old driver handle: start them again; they adopt their
  // running containers.
  for (auto& [id, entry] : self->state.replicas)
    if (driver_child(entry.req->spec->driver) == child)
      start_replica_child(self, id);
}

node_actor::behavior_type node(self_ptr self, node_context ctx) {
  if (ctx.config.capacity.cpu <= 0 || ctx.config.capacity.memory <= 0) {
    auto host = host_resources();
    if (ctx.config.capacity.cpu <= 0)
      ctx.config.capacity.cpu = host.cpu;
    if (ctx.config.capacity.memory <= 0)
      ctx.config.capacity.memory = host.memory;
  }
  if (ctx.config.capacity.disk <= 0)
    ctx.config.capacity.disk = disk_size(ctx.config.volumes.root);
  self->state.ctx = std::move(ctx);
  auto& st = self->state;
  st.volumes = std::make_shared<const volume_places>(st.ctx.config.volumes);
  st.objects = std::make_shared<const object_places>(st.ctx.config.objects);
  st.sup = std::make_unique<supervision>(self, "node/" + st.ctx.config.name,
                                         restart_strategy::one_for_one, st.ctx.config.limit,
                                         *st.ctx.metrics);
  st.sup->on_restart([self](const std::string& child) { on_driver_restart(self, child); });
  self->set_down_handler([self](caf::down_msg& msg) { self->state.sup->handle_down(msg); });
  for (auto& [kind, drv] : st.ctx.drivers) {
    auto d = drv;
    st.sup->start_child(driver_child(kind), [self, d]() -> caf::actor {
      return caf::actor_cast<caf::actor>(spawn_driver(self->system(), d));
    });
  }
  adopt_inventory(self);
  clear_uploads(st.ctx.config.upload_dir);
  load_volume_slots(self);
  start_router(self);
  // The node record is durable, so `get nodes` and a restarted control plane
  // know the node even before it registers again.
  publish(self);
  for (auto& [kind, drv] : st.ctx.drivers)
    st.ctx.metrics->set_driver_healthy(st.ctx.config.name, p::to_string(kind), true);
  probe_drivers(self);
  return {
      [self](p::run_atom, p::replica_request& req) { return run(self, req); },
      [self](p::stop_atom, const std::string& id) { return stop(self, id); },
      [self](p::logs_atom, const std::string& id, uint64_t max_bytes) {
        return logs(self, id, max_bytes);
      },
      [self](p::status_atom) { return status(self); },
      [self](p::sweep_atom, const std::vector<std::string>& keep, int64_t snapshot) {
        return sweep(self, keep, snapshot);
      },
      [self](p::replica_status& st) { on_status(self, st); },
      [self](p::health_atom) { probe_drivers(self); },
      [self](p::child_atom, const std::string& name) { return self->state.sup->child(name); },
      [self](p::tree_atom) { return self->state.sup->tree(); },
      [self](p::kill_atom, const std::string& path, const std::string& reason) {
        return self->state.sup->kill(path, reason);
      },
      [self](p::reserve_atom, std::vector<p::reservation>& offers) {
        // In the order offered: each is judged with those before it held.
        std::vector<p::reservation_reply> out;
        out.reserve(offers.size());
        for (auto& r : offers)
          out.push_back(reserve(self, r));
        return out;
      },
      [self](p::import_atom, p::image_chunk& c) { return import_piece(self, c); },
      [self](p::import_atom, p::delete_atom, const std::string& id) { discard_upload(self, id); },
      [self](p::volumes_atom) { return list_volumes(self); },
      [self](p::volumes_atom, p::delete_atom, const std::string& replica,
             const std::string& volume) { return remove_volume(self, replica, volume); },
      [self](p::release_atom, const std::string& replica) {
        // A running replica keeps its reservation until it is stopped.
        if (!self->state.replicas.count(replica))
          unhold(self, replica);
      },
  };
}

} // namespace node_impl

using node_impl::node;

void stop_node_replicas(const std::map<p::driver_kind, std::shared_ptr<rd::driver>>& drivers,
                        const std::string& node, const object_places& objects) {
  for (auto& [kind, d] : drivers) {
    auto owned = d->list_owned(node);
    if (!owned)
      continue;
    for (auto& info : *owned) {
      if (info.state == rd::container_state::running)
        d->stop(info.name, std::chrono::duration_cast<caf::timespan>(std::chrono::seconds{5}));
    }
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds{6};
    for (auto& info : *owned) {
      while (std::chrono::steady_clock::now() < deadline) {
        auto now = d->inspect(info.name);
        if (!now || now->state != rd::container_state::running)
          break;
        // Polls the driver: stop() does not wait and no actor watches any more.
        std::this_thread::sleep_for(std::chrono::milliseconds{20});
      }
      d->remove(info.name, true);
      remove_objects(objects, info.name);
    }
    spdlog::info("stopped {} {} replicas", owned->size(), p::to_string(kind));
  }
}

int64_t disk_size(const std::string& folder) {
  // The folder may not exist yet: the nearest one above it that does is on
  // the same disk until someone mounts another there.
  std::filesystem::path at = folder.empty() ? "." : folder;
  std::error_code ec;
  while (!std::filesystem::exists(at, ec) && at.has_parent_path() && at != at.parent_path())
    at = at.parent_path();
  struct statvfs st {};
  if (::statvfs(at.c_str(), &st) != 0)
    return 0;
  return static_cast<int64_t>(st.f_blocks) * static_cast<int64_t>(st.f_frsize);
}

p::resource_spec host_resources() {
  p::resource_spec out;
  out.cpu = static_cast<double>(std::max(1u, std::thread::hardware_concurrency()));
  out.memory = static_cast<int64_t>(::sysconf(_SC_PHYS_PAGES)) * ::sysconf(_SC_PAGESIZE);
  return out;
}

node_actor spawn_node(caf::actor_system& sys, node_context ctx) {
  metrics::required(ctx.metrics, "node_context");
  return sys.spawn(node, std::move(ctx));
}

} // namespace tutti::actors
