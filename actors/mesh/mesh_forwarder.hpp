#pragma once

// One connection's path through the routing mesh, for mesh_proxy's KJ thread:
// pick a replica, connect (retrying refusals on the next one), copy both ways,
// replay the client's first bytes when a replica closes before answering, and
// close idle connections. Internal to mesh_proxy; everything runs on its loop.

#include "actors/mesh/balancer.hpp"
#include "metrics/recorder.hpp"

#include <caf/timespan.hpp>

#include <kj/async-io.h>

#include <netinet/in.h>

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>

namespace tutti::actors::mesh_detail {

kj::Duration to_kj(caf::timespan x);

/// host (an IPv4 address) and port as a socket address; nullopt when malformed.
std::optional<sockaddr_in> ipv4(const std::string& host, uint16_t port);

/// Counters of one service, summed on the loop and handed to metrics.
struct service_stats {
  metrics::mesh_sample pending; // since the last flush
  int64_t active = 0;
  bool dirty = false;
};

/// One published port's balancer. Connections keep it alive after the port
/// closes, so their close is still counted.
struct route_state {
  std::string service;
  balancer lb;
  std::shared_ptr<service_stats> stats;
};

struct connection;

class forwarder {
public:
  /// Told (on the loop) each time a connection to a replica opens (+1) or ends (-1).
  using active_hook = std::function<void(const std::string& replica, int delta)>;

  forwarder(kj::AsyncIoProvider& io, caf::timespan connect_timeout, caf::timespan idle_timeout,
            active_hook on_active);

  /// Forwards one accepted connection; resolves when it is over (never fails).
  kj::Promise<void> serve(std::shared_ptr<route_state> route, kj::Own<kj::AsyncIoStream> client);

private:
  kj::Timer& timer() { return io_.getTimer(); }
  kj::Promise<bool> connect(connection& c);
  void opened(connection& c);
  void closed(connection& c);
  kj::Promise<void> forward(connection& c);
  kj::Promise<void> exchange(connection& c);
  kj::Promise<void> replay_elsewhere(connection& c);
  void count(connection& c, size_t n, bool inbound);
  kj::Promise<void> pump(connection& c, kj::AsyncIoStream& from, kj::AsyncIoStream& to,
                         kj::byte* buf, bool inbound);
  kj::Promise<void> idle_watch(connection& c);

  kj::AsyncIoProvider& io_;
  kj::Duration connect_timeout_;
  kj::Duration idle_timeout_;
  active_hook on_active_;
};

} // namespace tutti::actors::mesh_detail
