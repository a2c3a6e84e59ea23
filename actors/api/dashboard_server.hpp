#pragma once

// The web dashboard: its files (actors/api/ui/, built into the binary) at
// /ui/, and a JSON + server-sent-events API at /api/v1/ that speaks to the
// Cap'n Proto API in this process. Each request opens a session at the gate
// with its bearer token, so the dashboard sees and may do exactly what that
// token's `tutti` would: the same roles, namespaces, refusals and audit log.
// Runs on the API server's KJ thread.

#include "protocol/api.capnp.h"

#include <kj/async-io.h>
#include <kj/timer.h>

#include <functional>
#include <string>

namespace tutti::actors {

/// A gate for a request from `peer` (an address, for the audit log).
using gate_factory = std::function<protocol::rpc::Gate::Client(const std::string& peer)>;

class dashboard_server {
public:
  dashboard_server(kj::Timer& timer, gate_factory gates);
  ~dashboard_server();
  dashboard_server(const dashboard_server&) = delete;
  dashboard_server& operator=(const dashboard_server&) = delete;

  /// Serves HTTP on `port` until the promise is dropped.
  kj::Promise<void> listen(kj::ConnectionReceiver& port);

private:
  struct impl;
  kj::Own<impl> impl_;
};

} // namespace tutti::actors
