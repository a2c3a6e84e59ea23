#include "actors/mesh/mesh_forwarder.hpp"

#include <kj/debug.h>

#include <spdlog/spdlog.h>

#include <arpa/inet.h>

namespace tutti::actors::mesh_detail {

namespace {

using steady = std::chrono::steady_clock;

constexpr size_t buffer_size = 16 * 1024;
constexpr size_t replay_limit = 64 * 1024;

} // namespace

struct connection {
  std::shared_ptr<route_state> route;
  kj::Own<kj::AsyncIoStream> client;
  kj::Own<kj::AsyncIoStream> server;
  upstream target;
  std::vector<std::string> tried; // keys that refused this connection
  steady::time_point accepted;
  kj::TimePoint last_activity = kj::origin<kj::TimePoint>();
  kj::Own<kj::PromiseFulfiller<void>> failed;
  kj::Promise<void> upstream_pump = nullptr; // client -> replica
  // What the client sent before the replica's first byte: replayed to another
  // replica when this one closes or resets without answering (a replica killed
  // with connections in its accept queue does).
  std::string replay;
  bool replayable = true;   // false once answered or the replay would be too big
  bool client_done = false; // the client half-closed
  bool counted = false;     // opened() without closed()
  bool observed = false;    // its setup latency is recorded
  kj::byte up[buffer_size];
  kj::byte down[buffer_size];
};

namespace {

/// Ends the connection (both sockets close) when a copy fails.
auto abort_on(connection& c) {
  return [&c](kj::Exception&&) {
    if (c.failed->isWaiting())
      c.failed->fulfill();
  };
}

} // namespace

kj::Duration to_kj(caf::timespan x) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(x).count() * kj::NANOSECONDS;
}

std::optional<sockaddr_in> ipv4(const std::string& host, uint16_t port) {
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(port);
  if (::inet_pton(AF_INET, host.c_str(), &sa.sin_addr) != 1)
    return std::nullopt;
  return sa;
}

forwarder::forwarder(kj::AsyncIoProvider& io, caf::timespan connect_timeout,
                     caf::timespan idle_timeout, active_hook on_active)
  : io_(io), connect_timeout_(to_kj(connect_timeout)), idle_timeout_(to_kj(idle_timeout)),
    on_active_(std::move(on_active)) {}

kj::Promise<void> forwarder::serve(std::shared_ptr<route_state> route,
                                   kj::Own<kj::AsyncIoStream> client) {
  auto c = kj::heap<connection>();
  c->route = std::move(route);
  c->client = kj::mv(client);
  c->accepted = steady::now();
  auto& conn = *c;
  return connect(conn)
      .then([this, &conn](bool connected) -> kj::Promise<void> {
        if (!connected)
          return kj::READY_NOW; // closing the client tells it there is no replica
        opened(conn);
        return forward(conn).then([] {}, [](kj::Exception&&) {}).then([this, &conn] {
          closed(conn);
        });
      })
      .attach(kj::mv(c));
}

/// Connects to the balancer's choice; on a refusal or timeout tries the next
/// replica, until every one was tried. False: none could be reached.
kj::Promise<bool> forwarder::connect(connection& c) {
  auto& stats = *c.route->stats;
  const auto* up = c.route->lb.pick(c.tried);
  if (up == nullptr) {
    ++stats.pending.upstream_errors;
    stats.dirty = true;
    return false;
  }
  c.target = *up;
  c.tried.push_back(key_of(*up));
  auto sa = ipv4(up->host, up->port);
  if (!sa) {
    ++stats.pending.upstream_errors;
    stats.dirty = true;
    return connect(c);
  }
  auto attempt = kj::evalNow([&] {
    auto addr = io_.getNetwork().getSockaddr(&*sa, sizeof(*sa));
    return addr->connect().attach(kj::mv(addr));
  });
  return timer()
      .timeoutAfter(connect_timeout_, kj::mv(attempt))
      .then(
          [&c](kj::Own<kj::AsyncIoStream> server) -> kj::Promise<bool> {
            c.server = kj::mv(server);
            return true;
          },
          [this, &c](kj::Exception&& e) -> kj::Promise<bool> {
            auto& s = *c.route->stats;
            ++s.pending.upstream_errors;
            s.dirty = true;
            spdlog::debug("mesh: {} refused a connection of {} ({}); trying another replica",
                          key_of(c.target), c.route->service, e.getDescription().cStr());
            return connect(c);
          });
}

void forwarder::opened(connection& c) {
  c.counted = true;
  c.route->lb.opened(key_of(c.target));
  auto& s = *c.route->stats;
  ++s.pending.connections;
  ++s.active;
  if (!c.observed) {
    c.observed = true;
    s.pending.setup_seconds.push_back(
        std::chrono::duration<double>(steady::now() - c.accepted).count());
  }
  s.dirty = true;
  on_active_(c.target.replica, +1);
}

void forwarder::closed(connection& c) {
  if (!c.counted)
    return;
  c.counted = false;
  c.route->lb.closed(key_of(c.target));
  auto& s = *c.route->stats;
  --s.active;
  s.dirty = true;
  on_active_(c.target.replica, -1);
}

/// Copies both directions until both ended, one failed, or the connection
/// was idle for the idle timeout; either way both sockets close after.
kj::Promise<void> forwarder::forward(connection& c) {
  c.last_activity = timer().now();
  auto fail = kj::newPromiseAndFulfiller<void>();
  c.failed = kj::mv(fail.fulfiller);
  return exchange(c).exclusiveJoin(kj::mv(fail.promise)).exclusiveJoin(idle_watch(c));
}

/// Until the replica's first byte: the client's bytes go on to the replica and
/// are kept for a replay. Then the two directions are pumped until both end.
kj::Promise<void> forwarder::exchange(connection& c) {
  c.upstream_pump = c.client_done ? kj::Promise<void>(kj::READY_NOW)
                                  : pump(c, *c.client, *c.server, c.up, true).catch_(abort_on(c));
  auto reset = std::make_shared<bool>(false);
  return c.server->tryRead(c.down, 1, buffer_size)
      .then([](size_t n) { return n; },
            [reset](kj::Exception&&) -> size_t {
              *reset = true;
              return 0;
            })
      .then([this, &c, reset](size_t n) -> kj::Promise<void> {
        // Not at once: the copy to this replica may have read client bytes it
        // has not kept yet (KJ runs a read's continuation as a later event), and
        // cancelling it in between loses them. Once the queued events have run,
        // it waits for input or on a write, and all it read is in c.replay.
        if (n == 0 && c.replayable)
          return kj::evalLast([this, &c] { return replay_elsewhere(c); });
        if (n == 0 && *reset)
          return KJ_EXCEPTION(DISCONNECTED, "the replica reset the connection");
        c.replayable = false;
        c.replay.clear();
        if (n == 0) { // answered nothing and closed: pass that on
          c.client->shutdownWrite();
          return kj::mv(c.upstream_pump);
        }
        count(c, n, false);
        return c.client->write(c.down, n).then([this, &c] {
          auto pumps = kj::heapArrayBuilder<kj::Promise<void>>(2);
          pumps.add(kj::mv(c.upstream_pump));
          pumps.add(pump(c, *c.server, *c.client, c.down, false).catch_(abort_on(c)));
          return kj::joinPromises(pumps.finish());
        });
      });
}

/// The replica closed or reset before its first byte: the next replica gets
/// what the client sent so far, as if it had been the first choice.
kj::Promise<void> forwarder::replay_elsewhere(connection& c) {
  if (!c.replayable) // the copy went past the replay limit meanwhile
    return KJ_EXCEPTION(DISCONNECTED, "the replica closed before answering");
  c.upstream_pump = nullptr; // cancels the copy to the old replica
  closed(c);
  auto& s = *c.route->stats;
  ++s.pending.upstream_errors;
  s.dirty = true;
  spdlog::debug("mesh: {} closed a connection of {} before answering; replaying it",
                key_of(c.target), c.route->service);
  c.server = nullptr;
  return connect(c).then([this, &c](bool connected) -> kj::Promise<void> {
    if (!connected)
      return kj::READY_NOW;
    opened(c);
    return c.server->write(c.replay.data(), c.replay.size()).then([this, &c] {
      if (c.client_done)
        c.server->shutdownWrite();
      return exchange(c);
    });
  });
}

void forwarder::count(connection& c, size_t n, bool inbound) {
  auto& s = *c.route->stats;
  (inbound ? s.pending.bytes_in : s.pending.bytes_out) += n;
  s.dirty = true;
  c.last_activity = timer().now();
}

kj::Promise<void> forwarder::pump(connection& c, kj::AsyncIoStream& from, kj::AsyncIoStream& to,
                                  kj::byte* buf, bool inbound) {
  return from.tryRead(buf, 1, buffer_size)
      .then([this, &c, &from, &to, buf, inbound](size_t n) -> kj::Promise<void> {
        if (n == 0) {
          if (inbound)
            c.client_done = true;
          to.shutdownWrite(); // pass the half-close on
          return kj::READY_NOW;
        }
        count(c, n, inbound);
        if (inbound && c.replayable) {
          if (c.replay.size() + n > replay_limit) {
            c.replayable = false;
            c.replay.clear();
          } else {
            c.replay.append(reinterpret_cast<const char*>(buf), n);
          }
        }
        return to.write(buf, n).then(
            [this, &c, &from, &to, buf, inbound] { return pump(c, from, to, buf, inbound); },
            [&c, inbound](kj::Exception&& e) -> kj::Promise<void> {
              // A replica that died before answering: its first read fails too,
              // and the replay (which holds these bytes) goes to another one.
              if (inbound && c.replayable)
                return kj::NEVER_DONE;
              return kj::mv(e);
            });
      });
}

kj::Promise<void> forwarder::idle_watch(connection& c) {
  auto idle = idle_timeout_;
  return timer().atTime(c.last_activity + idle).then([this, &c, idle]() -> kj::Promise<void> {
    if (timer().now() - c.last_activity >= idle)
      return kj::READY_NOW;
    return idle_watch(c);
  });
}

} // namespace tutti::actors::mesh_detail
