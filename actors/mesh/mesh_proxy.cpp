#include "actors/mesh/mesh_proxy.hpp"

#include "actors/mesh/mesh_forwarder.hpp"
#include "metrics/recorder.hpp"

#include <kj/async-io.h>
#include <kj/debug.h>

#include <spdlog/spdlog.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <atomic>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <thread>

namespace tutti::actors {

using namespace mesh_detail;

namespace {

/// Metrics intervals between attempts to bind ports that could not be bound.
constexpr uint64_t rebind_every = 10;

} // namespace

struct mesh_proxy::impl final : public kj::TaskSet::ErrorHandler {
  impl(options x, metrics::recorder& m) : opts(std::move(x)), metrics(m) {}

  options opts;
  metrics::recorder& metrics;
  std::thread thread;

  // Shared with the router's thread, under mtx.
  mutable std::mutex mtx;
  std::vector<mesh_route> desired;
  uint64_t generation = 0;
  bool stopping = false;
  kj::Own<kj::CrossThreadPromiseFulfiller<void>> doorbell;
  // Read by the router's thread, under stats_mtx.
  mutable std::mutex stats_mtx;
  std::map<std::string, int32_t> active_by_replica;
  std::map<std::string, service_traffic> traffic;
  std::vector<uint16_t> bound;
  std::atomic<uint64_t> applied_generation{0};

  // The loop's own: touched on its thread only.
  struct listener {
    std::shared_ptr<route_state> route;
    kj::Own<kj::ConnectionReceiver> receiver;
    kj::Promise<void> accepting = nullptr; // last: cancelled before the receiver goes
  };
  kj::AsyncIoContext* io = nullptr;
  kj::Own<forwarder> connections;
  kj::Own<kj::TaskSet> tasks;
  std::map<uint16_t, listener> listeners;
  std::map<uint16_t, std::string> bind_failures; // port -> reason last reported
  std::map<std::string, std::shared_ptr<service_stats>> stats;
  std::vector<mesh_route> current; // the table last applied
  uint64_t seen = 0;

  kj::Timer& timer() { return io->provider->getTimer(); }

  void taskFailed(kj::Exception&& e) override {
    spdlog::debug("mesh: connection ended: {}", e.getDescription().cStr());
  }

  void run() {
    try {
      auto ctx = kj::setupAsyncIo();
      io = &ctx;
      connections = kj::heap<forwarder>(
          *ctx.provider, opts.connect_timeout, opts.idle_timeout,
          [this](const std::string& replica, int delta) { count_active(replica, delta); });
      tasks = kj::heap<kj::TaskSet>(*this);
      KJ_DEFER({
        // Before the event loop goes: everything here holds its promises.
        listeners.clear();
        tasks = nullptr;
        connections = nullptr;
        io = nullptr;
      });
      watch_table().exclusiveJoin(flush_loop(1)).wait(ctx.waitScope);
    } catch (const kj::Exception& e) {
      spdlog::error("mesh: the proxy loop failed: {}", e.getDescription().cStr());
    }
  }

  void count_active(const std::string& replica, int delta) {
    std::lock_guard<std::mutex> guard{stats_mtx};
    auto& n = active_by_replica[replica];
    n += delta;
    if (n <= 0)
      active_by_replica.erase(replica);
  }

  void ring() {
    if (doorbell) {
      doorbell->fulfill();
      doorbell = nullptr;
    }
  }

  /// Applies each new table; resolves when the proxy stops.
  kj::Promise<void> watch_table() {
    std::vector<mesh_route> routes;
    uint64_t gen = 0;
    {
      std::lock_guard<std::mutex> guard{mtx};
      if (stopping)
        return kj::READY_NOW;
      if (generation == seen) {
        auto paf = kj::newPromiseAndCrossThreadFulfiller<void>();
        doorbell = kj::mv(paf.fulfiller);
        return paf.promise.then([this] { return watch_table(); });
      }
      routes = desired;
      gen = generation;
    }
    apply(std::move(routes));
    seen = gen;
    applied_generation.store(gen);
    return kj::evalLater([this] { return watch_table(); });
  }

  std::shared_ptr<service_stats> stats_of(const std::string& service) {
    auto& x = stats[service];
    if (!x)
      x = std::make_shared<service_stats>();
    return x;
  }

  void apply(std::vector<mesh_route> routes) {
    std::set<uint16_t> wanted;
    std::set<std::string> services;
    for (const auto& r : routes) {
      wanted.insert(r.port);
      services.insert(r.service);
    }
    std::erase_if(listeners, [&](const auto& l) { return !wanted.count(l.first); });
    std::erase_if(bind_failures, [&](const auto& f) { return !wanted.count(f.first); });
    // A deleted service's counters and series go with it; connections still open
    // count into the orphaned counters, which are never reported.
    std::erase_if(stats, [&](const auto& s) {
      if (services.count(s.first))
        return false;
      metrics.forget_mesh(s.first);
      return true;
    });
    {
      std::lock_guard<std::mutex> guard{stats_mtx};
      std::erase_if(traffic, [&](const auto& t) { return !services.count(t.first); });
    }
    for (const auto& r : routes) {
      auto l = listeners.find(r.port);
      if (l != listeners.end() && l->second.route->service == r.service) {
        l->second.route->lb.set_policy(r.balancing);
        l->second.route->lb.set_upstreams(r.upstreams);
        continue;
      }
      auto route = std::make_shared<route_state>(
          route_state{r.service, balancer{r.balancing}, stats_of(r.service)});
      route->lb.set_upstreams(r.upstreams);
      if (l != listeners.end())
        l->second.route = std::move(route); // the port passed to another service
      else
        listen(r.port, std::move(route));
    }
    current = std::move(routes);
    publish_bound();
  }

  void publish_bound() {
    std::lock_guard<std::mutex> guard{stats_mtx};
    bound.clear();
    for (const auto& [port, l] : listeners)
      bound.push_back(port);
  }

  void listen(uint16_t port, std::shared_ptr<route_state> route) {
    auto sa = ipv4(opts.host, port);
    if (!sa) {
      report(route->service, port, "the mesh host '" + opts.host + "' is not an IPv4 address");
      return;
    }
    try {
      auto addr = io->provider->getNetwork().getSockaddr(&*sa, sizeof(*sa));
      auto receiver = addr->listen();
      auto& l = listeners[port];
      l.route = std::move(route);
      l.receiver = kj::mv(receiver);
      l.accepting = accept_loop(l);
      bind_failures.erase(port);
    } catch (const kj::Exception& e) {
      report(route->service, port, e.getDescription().cStr());
    }
  }

  void report(const std::string& service, uint16_t port, const std::string& why) {
    auto& last = bind_failures[port];
    if (last == why)
      return;
    last = why;
    spdlog::error("mesh: cannot listen on {}:{} for service {}: {}", opts.host, port, service, why);
    if (opts.on_listen_error)
      opts.on_listen_error(service, port, why);
  }

  void rebind() {
    bool any = false;
    for (const auto& r : current) {
      if (listeners.count(r.port) || !bind_failures.count(r.port))
        continue;
      auto route = std::make_shared<route_state>(
          route_state{r.service, balancer{r.balancing}, stats_of(r.service)});
      route->lb.set_upstreams(r.upstreams);
      listen(r.port, std::move(route));
      any = true;
    }
    if (any)
      publish_bound();
  }

  kj::Promise<void> accept_loop(listener& l) {
    return l.receiver->accept().then(
        [this, &l](kj::Own<kj::AsyncIoStream> client) -> kj::Promise<void> {
          tasks->add(connections->serve(l.route, kj::mv(client)));
          return accept_loop(l);
        },
        [this, &l](kj::Exception&& e) -> kj::Promise<void> {
          // E.g. out of file descriptors: back off a little instead of spinning.
          spdlog::warn("mesh: accept failed: {}", e.getDescription().cStr());
          return timer().afterDelay(100 * kj::MILLISECONDS).then([this, &l] {
            return accept_loop(l);
          });
        });
  }

  kj::Promise<void> flush_loop(uint64_t tick) {
    return timer().afterDelay(to_kj(opts.metrics_interval)).then([this, tick] {
      flush();
      if (tick % rebind_every == 0)
        rebind();
      return flush_loop(tick + 1);
    });
  }

  void flush() {
    auto now = std::chrono::steady_clock::now();
    {
      // Every routed service is counted at this time, also with nothing new.
      std::lock_guard<std::mutex> guard{stats_mtx};
      for (auto& [service, s] : stats)
        traffic[service].counted_at = now;
    }
    for (auto& [service, s] : stats) {
      if (!s->dirty)
        continue;
      s->dirty = false;
      auto sample = std::move(s->pending);
      s->pending = {};
      sample.active = s->active;
      {
        std::lock_guard<std::mutex> guard{stats_mtx};
        auto& t = traffic[service];
        t.forwarded += sample.connections;
        t.open = sample.active;
      }
      metrics.record_mesh(service, sample);
    }
  }
};

mesh_proxy::mesh_proxy(options opts, metrics::recorder& metrics)
  : impl_(std::make_unique<impl>(std::move(opts), metrics)) {}

mesh_proxy::~mesh_proxy() {
  stop();
}

void mesh_proxy::start() {
  if (impl_->thread.joinable())
    return;
  impl_->thread = std::thread([this] { impl_->run(); });
}

uint64_t mesh_proxy::update(std::vector<mesh_route> routes) {
  std::lock_guard<std::mutex> guard{impl_->mtx};
  impl_->desired = std::move(routes);
  impl_->ring();
  return ++impl_->generation;
}

uint64_t mesh_proxy::applied() const {
  return impl_->applied_generation.load();
}

int32_t mesh_proxy::active(const std::string& replica) const {
  std::lock_guard<std::mutex> guard{impl_->stats_mtx};
  auto i = impl_->active_by_replica.find(replica);
  return i == impl_->active_by_replica.end() ? 0 : i->second;
}

std::map<std::string, service_traffic> mesh_proxy::traffic() const {
  std::lock_guard<std::mutex> guard{impl_->stats_mtx};
  return impl_->traffic;
}

std::vector<uint16_t> mesh_proxy::listening() const {
  std::lock_guard<std::mutex> guard{impl_->stats_mtx};
  return impl_->bound;
}

void mesh_proxy::stop() {
  if (!impl_->thread.joinable())
    return;
  {
    std::lock_guard<std::mutex> guard{impl_->mtx};
    impl_->stopping = true;
    impl_->ring();
  }
  impl_->thread.join();
}

} // namespace tutti::actors
