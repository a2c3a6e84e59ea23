#pragma once

// The rollout of a service: k8s' rolling-update arithmetic over ready replicas,
// and what happens when a rollout fails. Part of the service actor.

#include "actors/service/service_state.hpp"

namespace tutti::actors::service_impl {

/// The live slots of a service: of the target template, and to be replaced
/// (of an older template, or on a draining node).
struct census {
  std::vector<int32_t> current; // live slots of the target template, ascending
  std::vector<int32_t> old;     // live slots of other templates or on draining nodes
  int32_t current_unready = 0;
  int32_t ready = 0;
};

census count_slots(self_ptr self);

/// Marks the rollout complete when nothing old is left and every new replica is ready.
void check_rollout_done(self_ptr self, const census& c);

/// The next step of the desired state: new replicas where some are missing,
/// stops where there are too many, old replicas replaced within the update's
/// limits (k8s' rolling-update arithmetic, with ready replicas as available).
void step(self_ptr self);

/// A replica of the template being rolled out crashed or failed its probes while
/// the rollout ran, or within update.monitor after it completed: why.
std::optional<std::string> rollout_failure(self_ptr self, const slot_state& s);

/// Rolls back, pauses or goes on, per update.failure_action.
void fail_rollout(self_ptr self, const std::string& why);

/// Asks the cluster to commit the previous revision again; pauses if it cannot.
void request_rollback(self_ptr self, const std::string& why);

p::rollout_status rollout_view(self_ptr self);

/// Keeps the spec of a revision's template (the newest revision of each).
void remember(self_ptr self, int64_t revision, const p::service_spec& spec);

void start_rollout(self_ptr self);

/// Slots of older templates need those templates' specs (to adopt them on their
/// nodes while the rollout replaces them): from the revision history. Reconciles
/// once it has them.
void load_history(self_ptr self);

} // namespace tutti::actors::service_impl
