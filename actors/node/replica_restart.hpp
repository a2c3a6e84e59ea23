#pragma once

// What a replica actor does when its container exits: the restart policy, the
// back-off between restarts and the detection of a crash loop. Part of the
// replica actor.

#include "actors/node/replica_state.hpp"

namespace tutti::actors::replica_impl {

/// Reports the back-off and restarts when it has passed (or, once a stop was
/// requested, finishes the stop instead).
void schedule_restart(self_ptr self, std::string why);

/// The container exited: restarts it per policy, replaces it, or finishes a stop.
void on_exit(self_ptr self, const p::replica_exited& msg);

/// The back-off of `token` has passed: starts the container again, unless a
/// later restart or a stop made the token stale.
void on_restart_timer(self_ptr self, const std::string& token);

} // namespace tutti::actors::replica_impl
