#include "metrics/catalogue.hpp"

#include <chrono>
#include <exception>
#include <mutex>
#include <shared_mutex>
#include <sstream>
#include <stdexcept>
#include <stop_token>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

#include <netdb.h>
#include <sys/socket.h>
#include <unistd.h>

#include <prometheus/counter.h>
#include <prometheus/exposer.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

namespace tutti::metrics {

namespace {

using buckets = prometheus::Histogram::BucketBoundaries;

// Roughly 1-2.5-5 steps per decade: fine enough to read a p99 off, few enough
// that each series stays cheap to scrape.
const buckets reconcile_buckets{0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01,
                                0.025,  0.05,    0.1,    0.25,  0.5,    1.0};
const buckets replica_start_buckets{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
                                    0.5,   1.0,    2.5,   5.0,  10.0,  20.0, 30.0};
const buckets rpc_buckets{0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01,
                          0.025,   0.05,   0.1,     0.25,   0.5,   1.0,    2.5,   5.0};
const buckets mesh_connect_buckets{0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01,
                                   0.025,   0.05,   0.1,     0.25,   0.5,   1.0,    2.5};
const buckets placement_buckets{0.000001, 0.0000025, 0.000005, 0.00001, 0.000025, 0.00005,
                                0.0001,   0.00025,   0.0005,   0.001,   0.0025,   0.01};
const buckets store_commit_buckets{0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005,
                                   0.01,    0.025,  0.05,    0.1,    0.25,  0.5,    1.0};

// Removes every series of `family` whose "service" label is `service`. The
// label sets come from Collect() so that series with extra labels (driver) are
// found without keeping a second index of what was recorded.
template <class Metric, class... Args>
void remove_service(prometheus::Family<Metric>& family, const std::string& service,
                    const Args&... args) {
  for (const auto& collected : family.Collect()) {
    for (const auto& series : collected.metric) {
      prometheus::Labels labels;
      for (const auto& pair : series.label)
        labels.emplace(pair.name, pair.value);
      auto it = labels.find("service");
      if (it == labels.end() || it->second != service)
        continue;
      // Add returns the existing series for known labels; Remove needs it.
      family.Remove(&family.Add(labels, args...));
    }
  }
}

// Where to connect to reach a server bound to `bind_address` (civetweb syntax:
// "port", "host:port" or "[v6]:port"); wildcard binds are reached on loopback.
std::string reachable_host(const std::string& bind_address) {
  auto colon = bind_address.rfind(':');
  if (colon == std::string::npos)
    return "127.0.0.1";
  auto host = bind_address.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  if (host.empty() || host == "0.0.0.0")
    return "127.0.0.1";
  if (host == "::")
    return "::1";
  return host;
}

// Connects to host:port every few milliseconds until `stop`. Failures are
// expected (the listener may already be closed) and ignored: this is only a
// wake-up call. The name is resolved once so a slow resolver costs one lookup.
void keep_poking(std::stop_token stop, const std::string& host, uint16_t port) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV;
  addrinfo* found = nullptr;
  if (getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &found) != 0)
    return;
  while (!stop.stop_requested()) {
    int fd = ::socket(found->ai_family, found->ai_socktype | SOCK_CLOEXEC, found->ai_protocol);
    if (fd >= 0) {
      ::connect(fd, found->ai_addr, found->ai_addrlen);
      ::close(fd);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  freeaddrinfo(found);
}

} // namespace

struct catalogue::impl {
  std::shared_ptr<prometheus::Registry> registry = std::make_shared<prometheus::Registry>();

  prometheus::Family<prometheus::Gauge>& replicas_desired =
      prometheus::BuildGauge()
          .Name("tutti_replicas_desired")
          .Help("Replicas the service spec asks for.")
          .Register(*registry);
  prometheus::Family<prometheus::Gauge>& autoscale_desired =
      prometheus::BuildGauge()
          .Name("tutti_autoscale_desired")
          .Help("Replicas the autoscaler of the service decided on last.")
          .Register(*registry);
  prometheus::Family<prometheus::Gauge>& autoscale_value =
      prometheus::BuildGauge()
          .Name("tutti_autoscale_value")
          .Help("What the autoscaler of the service saw last, by metric: rps (requests per "
                "second) and concurrency (open connections), through every node's mesh.")
          .Register(*registry);
  prometheus::Family<prometheus::Gauge>& replicas_running =
      prometheus::BuildGauge()
          .Name("tutti_replicas_running")
          .Help("Replicas of the service currently running.")
          .Register(*registry);
  prometheus::Family<prometheus::Gauge>& driver_healthy =
      prometheus::BuildGauge()
          .Name("tutti_driver_healthy")
          .Help("1 when the runtime behind the node's driver answers, else 0.")
          .Register(*registry);
  prometheus::Family<prometheus::Gauge>& replicas_ready =
      prometheus::BuildGauge()
          .Name("tutti_replicas_ready")
          .Help("Replicas of the service running and passing their readiness probe.")
          .Register(*registry);
  prometheus::Family<prometheus::Counter>& probe_results =
      prometheus::BuildCounter()
          .Name("tutti_probe_results_total")
          .Help("Health probe results of the service's replicas.")
          .Register(*registry);
  prometheus::Family<prometheus::Counter>& replica_restarts =
      prometheus::BuildCounter()
          .Name("tutti_replica_restarts_total")
          .Help("Replicas restarted after they exited or failed.")
          .Register(*registry);
  prometheus::Family<prometheus::Histogram>& reconcile =
      prometheus::BuildHistogram()
          .Name("tutti_reconcile_duration_seconds")
          .Help("Time one reconcile pass of a service took.")
          .Register(*registry);
  prometheus::Family<prometheus::Histogram>& replica_start =
      prometheus::BuildHistogram()
          .Name("tutti_replica_start_seconds")
          .Help("Time from asking a driver to start a replica until it runs.")
          .Register(*registry);
  prometheus::Family<prometheus::Counter>& actor_restarts =
      prometheus::BuildCounter()
          .Name("tutti_actor_restarts_total")
          .Help("Child actors a supervisor restarted after they failed.")
          .Register(*registry);
  prometheus::Family<prometheus::Counter>& rpc_requests =
      prometheus::BuildCounter()
          .Name("tutti_rpc_requests_total")
          .Help("RPC requests served, by method and result code.")
          .Register(*registry);
  prometheus::Family<prometheus::Histogram>& rpc_duration =
      prometheus::BuildHistogram()
          .Name("tutti_rpc_duration_seconds")
          .Help("Time to serve one RPC request, by method.")
          .Register(*registry);
  prometheus::Family<prometheus::Counter>& events = prometheus::BuildCounter()
                                                        .Name("tutti_events_total")
                                                        .Help("Cluster events published, by kind.")
                                                        .Register(*registry);
  prometheus::Histogram& store_commit =
      prometheus::BuildHistogram()
          .Name("tutti_store_commit_seconds")
          .Help("Time one durable commit to the state store took.")
          .Register(*registry)
          .Add({}, store_commit_buckets);

  prometheus::Gauge& store_logged =
      prometheus::BuildGauge()
          .Name("tutti_store_logged_assignments")
          .Help("Assignment changes in the state store's log, not yet folded into their "
                "tree (the store folds them once idle for a second).")
          .Register(*registry)
          .Add({});

  prometheus::Gauge& leader =
      prometheus::BuildGauge()
          .Name("tutti_leader")
          .Help("1 while this process runs the control plane (the leader of several on an "
                "etcd store, or the only one), 0 while it stands by.")
          .Register(*registry)
          .Add({});

  prometheus::Counter& leader_changes =
      prometheus::BuildCounter()
          .Name("tutti_leader_changes_total")
          .Help("Changes of the leading control process this process has seen (its own "
                "takeovers included), on an etcd store.")
          .Register(*registry)
          .Add({});

  prometheus::Family<prometheus::Counter>& placements =
      prometheus::BuildCounter()
          .Name("tutti_placement_decisions_total")
          .Help("Placement decisions, by result: placed (the node confirmed), refused "
                "(the node declined the offer; placement picks again), unschedulable.")
          .Register(*registry);
  prometheus::Counter& placed = placements.Add({{"result", "placed"}});
  prometheus::Counter& refused = placements.Add({{"result", "refused"}});
  prometheus::Counter& unschedulable = placements.Add({{"result", "unschedulable"}});
  prometheus::Histogram& placement_seconds =
      prometheus::BuildHistogram()
          .Name("tutti_placement_decision_seconds")
          .Help("Time placement took to choose a node for one replica (filter and score; "
                "the node's confirmation is not included).")
          .Register(*registry)
          .Add({}, placement_buckets);

  prometheus::Family<prometheus::Counter>& mesh_connections =
      prometheus::BuildCounter()
          .Name("tutti_mesh_connections_total")
          .Help("Connections the routing mesh forwarded to a replica.")
          .Register(*registry);
  prometheus::Family<prometheus::Counter>& mesh_bytes =
      prometheus::BuildCounter()
          .Name("tutti_mesh_bytes_total")
          .Help("Bytes the routing mesh forwarded, by direction (in: to the replica).")
          .Register(*registry);
  prometheus::Family<prometheus::Gauge>& mesh_active =
      prometheus::BuildGauge()
          .Name("tutti_mesh_active_connections")
          .Help("Connections the routing mesh holds open now.")
          .Register(*registry);
  prometheus::Family<prometheus::Counter>& mesh_upstream_errors =
      prometheus::BuildCounter()
          .Name("tutti_mesh_upstream_errors_total")
          .Help("Connects to a replica that were refused or timed out, and connections "
                "with no replica to go to.")
          .Register(*registry);
  prometheus::Family<prometheus::Histogram>& mesh_connect =
      prometheus::BuildHistogram()
          .Name("tutti_mesh_connect_seconds")
          .Help("Time from accepting a connection until its replica is connected.")
          .Register(*registry);

  // Family::Add hands out references that Family::Remove frees. Recording
  // holds this shared so forget_service (exclusive) cannot free a series
  // between its Add and its update, even if a late record races the delete.
  mutable std::shared_mutex per_service_mutex;

  // Series recorded once per replica or event, found without Family::Add,
  // which builds a label map and hashes it under the family's lock each call.
  // Entries of a service go with forget_service, under both locks.
  std::mutex cache_mutex;
  std::unordered_map<std::string, std::unordered_map<std::string, prometheus::Histogram*>>
      replica_start_by_service; // then by driver
  std::unordered_map<std::string, prometheus::Counter*> events_by_kind;
};

catalogue::catalogue() : impl_(std::make_unique<impl>()) {}

catalogue::~catalogue() = default;

void catalogue::set_replicas_desired(const std::string& service, double n) {
  std::shared_lock guard{impl_->per_service_mutex};
  impl_->replicas_desired.Add({{"service", service}}).Set(n);
}

void catalogue::set_autoscale(const std::string& service, double desired, double rps,
                              double open) {
  std::shared_lock guard{impl_->per_service_mutex};
  impl_->autoscale_desired.Add({{"service", service}}).Set(desired);
  impl_->autoscale_value.Add({{"service", service}, {"metric", "rps"}}).Set(rps);
  impl_->autoscale_value.Add({{"service", service}, {"metric", "concurrency"}}).Set(open);
}

void catalogue::set_replicas_running(const std::string& service, double n) {
  std::shared_lock guard{impl_->per_service_mutex};
  impl_->replicas_running.Add({{"service", service}}).Set(n);
}

void catalogue::set_driver_healthy(const std::string& node, const std::string& driver,
                                   bool healthy) {
  impl_->driver_healthy.Add({{"node", node}, {"driver", driver}}).Set(healthy ? 1 : 0);
}

void catalogue::set_replicas_ready(const std::string& service, double n) {
  std::shared_lock guard{impl_->per_service_mutex};
  impl_->replicas_ready.Add({{"service", service}}).Set(n);
}

void catalogue::count_probe(const std::string& service, const std::string& probe, bool ok) {
  std::shared_lock guard{impl_->per_service_mutex};
  impl_->probe_results
      .Add({{"service", service}, {"probe", probe}, {"result", ok ? "ok" : "failed"}})
      .Increment();
}

void catalogue::count_replica_restart(const std::string& service) {
  std::shared_lock guard{impl_->per_service_mutex};
  impl_->replica_restarts.Add({{"service", service}}).Increment();
}

void catalogue::observe_reconcile(const std::string& service, double seconds) {
  std::shared_lock guard{impl_->per_service_mutex};
  impl_->reconcile.Add({{"service", service}}, reconcile_buckets).Observe(seconds);
}

void catalogue::observe_replica_start(const std::string& service, const std::string& driver,
                                      double seconds) {
  std::shared_lock guard{impl_->per_service_mutex};
  prometheus::Histogram* series = nullptr;
  {
    std::lock_guard cached{impl_->cache_mutex};
    auto& slot = impl_->replica_start_by_service[service][driver];
    if (slot == nullptr)
      slot = &impl_->replica_start.Add({{"service", service}, {"driver", driver}},
                                       replica_start_buckets);
    series = slot;
  }
  series->Observe(seconds);
}

void catalogue::count_actor_restart(const std::string& supervisor, const std::string& child) {
  impl_->actor_restarts.Add({{"supervisor", supervisor}, {"child", child}}).Increment();
}

void catalogue::count_rpc(const std::string& method, const std::string& code, double seconds) {
  impl_->rpc_requests.Add({{"method", method}, {"code", code}}).Increment();
  impl_->rpc_duration.Add({{"method", method}}, rpc_buckets).Observe(seconds);
}

void catalogue::count_event(const std::string& kind) {
  prometheus::Counter* series = nullptr;
  {
    std::lock_guard cached{impl_->cache_mutex};
    auto& slot = impl_->events_by_kind[kind];
    if (slot == nullptr)
      slot = &impl_->events.Add({{"kind", kind}});
    series = slot;
  }
  series->Increment();
}

void catalogue::count_placement(placement_result result) {
  switch (result) {
    case placement_result::placed:
      impl_->placed.Increment();
      return;
    case placement_result::refused:
      impl_->refused.Increment();
      return;
    case placement_result::unschedulable:
      impl_->unschedulable.Increment();
      return;
  }
}

void catalogue::observe_placement(double seconds) {
  impl_->placement_seconds.Observe(seconds);
}

placement_totals catalogue::placements() const {
  placement_totals out;
  out.placed = impl_->placed.Value();
  out.refused = impl_->refused.Value();
  out.unschedulable = impl_->unschedulable.Value();
  auto h = impl_->placement_seconds.Collect().histogram;
  out.decisions = h.sample_count;
  out.decision_seconds = h.sample_sum;
  return out;
}

void catalogue::observe_store_commit(double seconds) {
  impl_->store_commit.Observe(seconds);
}

void catalogue::set_leader(bool leading) {
  impl_->leader.Set(leading ? 1 : 0);
}

void catalogue::count_leader_change() {
  impl_->leader_changes.Increment();
}

void catalogue::set_store_logged_assignments(double n) {
  impl_->store_logged.Set(n);
}

void catalogue::record_mesh(const std::string& service, const mesh_sample& x) {
  std::shared_lock guard{impl_->per_service_mutex};
  const prometheus::Labels labels{{"service", service}};
  impl_->mesh_connections.Add(labels).Increment(static_cast<double>(x.connections));
  impl_->mesh_bytes.Add({{"service", service}, {"direction", "in"}})
      .Increment(static_cast<double>(x.bytes_in));
  impl_->mesh_bytes.Add({{"service", service}, {"direction", "out"}})
      .Increment(static_cast<double>(x.bytes_out));
  impl_->mesh_upstream_errors.Add(labels).Increment(static_cast<double>(x.upstream_errors));
  impl_->mesh_active.Add(labels).Set(static_cast<double>(x.active));
  auto& setup = impl_->mesh_connect.Add(labels, mesh_connect_buckets);
  for (double seconds : x.setup_seconds)
    setup.Observe(seconds);
}

void catalogue::forget_mesh(const std::string& service) {
  std::unique_lock guard{impl_->per_service_mutex};
  remove_service(impl_->mesh_connections, service);
  remove_service(impl_->mesh_bytes, service);
  remove_service(impl_->mesh_active, service);
  remove_service(impl_->mesh_upstream_errors, service);
  remove_service(impl_->mesh_connect, service, mesh_connect_buckets);
}

void catalogue::forget_service(const std::string& service) {
  std::unique_lock guard{impl_->per_service_mutex};
  {
    std::lock_guard cached{impl_->cache_mutex};
    impl_->replica_start_by_service.erase(service);
  }
  remove_service(impl_->replicas_desired, service);
  remove_service(impl_->autoscale_desired, service);
  remove_service(impl_->autoscale_value, service);
  remove_service(impl_->replicas_running, service);
  remove_service(impl_->replicas_ready, service);
  remove_service(impl_->probe_results, service);
  remove_service(impl_->replica_restarts, service);
  remove_service(impl_->reconcile, service, reconcile_buckets);
  remove_service(impl_->replica_start, service, replica_start_buckets);
  remove_service(impl_->mesh_connections, service);
  remove_service(impl_->mesh_bytes, service);
  remove_service(impl_->mesh_active, service);
  remove_service(impl_->mesh_upstream_errors, service);
  remove_service(impl_->mesh_connect, service, mesh_connect_buckets);
}

std::string catalogue::serialize() const {
  std::ostringstream out;
  prometheus::TextSerializer{}.Serialize(out, impl_->registry->Collect());
  return out.str();
}

struct exposer::impl {
  std::unique_ptr<prometheus::Exposer> server;
  std::string host;
  uint16_t port = 0;
};

exposer::exposer(catalogue& cat, const std::string& bind_address)
  : impl_(std::make_unique<impl>()) {
  try {
    impl_->server = std::make_unique<prometheus::Exposer>(bind_address);
  } catch (const std::exception& e) {
    // civetweb's message ("null context ... binding to port") omits the
    // address, which is what an operator needs to fix the config.
    throw std::runtime_error("cannot serve metrics on " + bind_address + ": " + e.what());
  }
  auto ports = impl_->server->GetListeningPorts();
  if (ports.empty())
    throw std::runtime_error("cannot serve metrics on " + bind_address + ": no listening port");
  impl_->port = static_cast<uint16_t>(ports.at(0));
  impl_->host = reachable_host(bind_address);
  // The exposer keeps only a weak_ptr: scrapes after the catalogue is gone
  // serve nothing instead of touching freed memory.
  impl_->server->RegisterCollectable(cat.impl_->registry);
}

exposer::~exposer() {
  // civetweb's listener thread sleeps in poll() for up to 2 s and checks the
  // stop flag only when it wakes, so stopping would stall daemon shutdown and
  // every test. Connecting wakes it; keep poking until the server is gone
  // since the stop flag is set somewhere inside the destructor.
  std::jthread waker{
      [this](std::stop_token stop) { keep_poking(std::move(stop), impl_->host, impl_->port); }};
  impl_->server.reset();
}

uint16_t exposer::port() const {
  return impl_->port;
}

} // namespace tutti::metrics
