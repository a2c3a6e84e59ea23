#pragma once

#include "actors/interfaces.hpp"

#include <memory>

namespace tutti::actors {

/// Spawns the actor that owns a node's runtime connection. Detached when the
/// driver says its calls may block, so CAF's scheduler threads never wait on it;
/// when such a driver allows concurrent calls, a router spreads them over that
/// many detached workers (by container name, so one container's calls keep
/// their order). The driver object outlives restarts of this actor.
driver_actor spawn_driver(caf::actor_system& sys, std::shared_ptr<rd::driver> driver);

/// Tells `replica` that its container of `runtime_id` exited. Runs on the
/// driver's own thread: only posts a message.
rd::exit_callback exit_notice(replica_actor replica, std::string runtime_id);

} // namespace tutti::actors
