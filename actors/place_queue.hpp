#pragma once

// The place queue of a service: slots waiting for placement, sent to it at most
// place_window at a time. Part of the service actor.

#include "actors/service_state.hpp"

namespace tutti::actors::service_impl {

/// Place requests one service keeps in flight: enough to keep placement busy,
/// few enough that a service of 10,000 replicas that fits nowhere asks a few
/// times, not 10,000. Measured: 100 services x 256 in flight (25,600 chains of
/// place, reserve, assign, run) made 100k replicas converge 3.5x slower than 32
/// each, from mailboxes and memory that no longer fit the caches.
constexpr int32_t place_window = 32;

/// Queues slot `slot` for a place request (once).
void queue_place(self_ptr self, int32_t slot);

/// Sends place requests for queued slots, at most place_window at a time; while
/// the service is unschedulable it only shows why on the queued slots.
void pump(self_ptr self);

/// Asks placement for a node for `slot` (keeping its node when it still fits),
/// records the assignment durably when it moves, then runs it there.
void place_slot(self_ptr self, int32_t slot);

} // namespace tutti::actors::service_impl
