#pragma once

// The place queue of a service: slots waiting for placement, asked for in
// batches (one message for many slots of the same template), a few batches in
// flight at a time. Part of the service actor.

#include "actors/service/service_state.hpp"

namespace tutti::actors::service_impl {

/// Slots one place request asks for, at most. A service of 10,000 replicas asks
/// in 40 messages, not 10,000; placement answers a batch once, the store makes
/// its assignments durable in one commit with one answer.
constexpr int32_t place_batch_size = 256;

/// Place requests one service keeps in flight: enough to keep placement busy
/// while the service works through an answer, few enough that 100 services'
/// slots in flight (here 51,200) keep the mailboxes small: mailboxes and
/// messages that outgrow the caches slow every hop down.
constexpr int32_t place_window = 2;

/// Queues slot `slot` for placement (once).
void queue_place(self_ptr self, int32_t slot);

/// Runs the placed slot `slot` on its node with what it is to run now (a
/// replacement in place: same node, same replica): its assignment, with the
/// new template, is durable first, so a restarted control plane knows it.
void rerun_in_place(self_ptr self, int32_t slot);

/// Sends place requests for queued slots, in batches, at most place_window at a
/// time; while the service is unschedulable it only shows why on the queued
/// slots.
void pump(self_ptr self);

} // namespace tutti::actors::service_impl
