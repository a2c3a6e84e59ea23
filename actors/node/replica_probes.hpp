#pragma once

// The health probes of a replica actor: readiness and liveness, run by the
// node's prober off the actor threads. Part of the replica actor.

#include "actors/node/replica_state.hpp"

namespace tutti::actors::replica_impl {

/// Starts the probes of a new incarnation (none without a probe in the spec);
/// without a readiness probe a running replica is ready.
void start_probes(self_ptr self);

/// Runs one probe of incarnation `generation` and schedules the next; probes of
/// an earlier incarnation are dropped.
void run_probe(self_ptr self, bool readiness, uint64_t generation);

} // namespace tutti::actors::replica_impl
