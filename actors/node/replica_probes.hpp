#pragma once

// The health probes of a replica actor: readiness and liveness, run by the
// node's prober off the actor threads. Part of the replica actor.

#include "actors/node/replica_state.hpp"

namespace tutti::actors::replica_impl {

/// Starts the probes of a new incarnation (none without a probe in the spec);
/// without a readiness probe a running replica is ready, with several (one per
/// container) when every one passes.
void start_probes(self_ptr self);

/// Runs probe `index` (of p::probes_of the spec) of incarnation `generation`
/// and schedules its next run; probes of an earlier incarnation are dropped.
void run_probe(self_ptr self, int32_t index, uint64_t generation);

} // namespace tutti::actors::replica_impl
