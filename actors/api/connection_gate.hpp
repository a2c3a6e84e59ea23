#pragma once

// Private to actors/api: serves the client API's Cap'n Proto connections under
// the API limits (protocol/limits.hpp), so that no client can keep the others
// from being served:
// - at most `connections` at once; one more is closed as it arrives;
// - a message larger than the request limit ends its connection;
// - a connection's bytes are not read while an answer to it waits to be written,
//   so a client that sends calls and never reads the answers stalls itself, not
//   tuttid's memory; an answer left unread for `stall_timeout` ends it.
// - with TLS, the handshake of each connection runs on its own (for at most
//   `stall_timeout`), so a slow or failing one holds up no other.
// Runs on the API server's KJ thread; nothing here is thread-safe.

#include "protocol/limits.hpp"

#include <capnp/capability.h>
#include <kj/async-io.h>
#include <kj/compat/tls.h>
#include <kj/function.h>
#include <kj/timer.h>

#include <cstddef>
#include <cstdint>

namespace tutti::actors {

class connection_gate final : private kj::TaskSet::ErrorHandler {
public:
  /// The bootstrap capability of one new connection: its own object, so that
  /// what it counts (calls in flight, streams) is that connection's, and so
  /// that it knows its peer (a TlsPeerIdentity with TLS, else the network
  /// address).
  using bootstrap_factory = kj::Function<capnp::Capability::Client(kj::PeerIdentity& peer)>;

  /// `tls`: the context that wraps every accepted connection; nullptr: plain TCP.
  connection_gate(const protocol::api_limits& limits, kj::Timer& timer, bootstrap_factory bootstrap,
                  kj::TlsContext* tls, kj::Duration stall_timeout = 30 * kj::SECONDS);

  /// Accepts connections from `listener` until the promise is dropped.
  kj::Promise<void> listen(kj::ConnectionReceiver& listener);

  /// Connections served now.
  size_t open() const { return open_; }

  /// Connections closed as they arrived because `connections` were open.
  uint64_t refused() const { return refused_; }

private:
  struct connection;

  kj::Promise<void> accept_loop(kj::ConnectionReceiver& listener);
  void admit(kj::AuthenticatedStream stream);
  void serve(kj::AuthenticatedStream stream);
  void taskFailed(kj::Exception&& e) override;

  protocol::api_limits limits_;
  kj::Timer& timer_;
  bootstrap_factory bootstrap_;
  kj::TlsContext* tls_;
  kj::Duration stall_timeout_;
  size_t open_ = 0;
  uint64_t refused_ = 0;
  kj::TaskSet tasks_;
};

} // namespace tutti::actors
