#pragma once

// The state of a service actor and the helpers its parts share. Internal to the
// service actor (service_actor.cpp, service_slots.cpp, rollout.cpp,
// place_queue.cpp): nothing else includes it.

#include "actors/service/autoscaler.hpp"
#include "actors/service/service_actor.hpp"
#include "actors/node/packed_status.hpp"
#include "actors/service/slot_table.hpp"

#include <caf/expected.hpp>
#include <caf/stateful_actor.hpp>

#include <chrono>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

namespace tutti::actors::service_impl {

using clock = std::chrono::steady_clock;

/// What few slots need: one of a lost node, one that could not be placed.
struct slot_past {
  std::string last_node;    // where it ran before its node was lost: preferred again
  std::string last_problem; // not repeated in the event log
};

struct slot_state {
  std::string node;          // empty until placed
  std::string tmpl;          // template hash of what it runs (or is to run)
  int64_t requested_rev = 0; // revision last sent to the node
  bool in_flight = false;    // a place/run/stop exchange is pending
  bool stopping = false;
  bool node_lost = false; // its node's actor went down; not routed to
  bool queued = false;    // waits in the service's place queue
  uint64_t epoch = 0;     // answers to requests of an older epoch are ignored
  int64_t assigned = 0;   // the fencing epoch of its stored assignment
  packed_status status;   // the last one reported, or why it is pending
  // Null for most slots: a service's slots are paid a million times.
  std::unique_ptr<slot_past> past;
  slot_past& past_of() {
    if (!past)
      past = std::make_unique<slot_past>();
    return *past;
  }
  const std::string& last_node() const {
    static const std::string none;
    return past ? past->last_node : none;
  }
};

/// A revision whose template replicas may still run.
struct known_revision {
  int64_t revision = 0;
  p::service_spec spec;
};

struct rollout_state {
  int64_t revision = 0;
  p::rollout_state phase = p::rollout_state::complete;
  std::string message;
  clock::time_point completed_at;
  bool is_rollback = false; // an automatic rollback: if it fails too, it pauses
};

/// What waits for a revision's payloads (service_slots.cpp).
using payload_continuation = std::function<void(caf::expected<p::shared_payloads>)>;

struct service_state {
  service_context ctx;
  p::service_spec spec;
  int64_t revision = 0;
  std::string target;                              // template hash of spec
  std::map<std::string, known_revision> templates; // by template hash
  rollout_state rollout;
  slot_table<slot_state> slots;
  std::map<std::string, node_actor> nodes;        // cache of placement's answers
  std::map<int64_t, p::shared_spec> shared_specs; // by revision: what run requests carry
  std::map<int64_t, p::shared_payloads> payloads; // by revision: its configs' and secrets' data
  std::map<int64_t, std::vector<payload_continuation>> payload_waiters; // while the cluster answers
  std::optional<p::service_endpoints> published;  // last sent to discovery
  bool deleting = false;
  bool retry_pending = false; // a reconcile soon after a failed place or run
  std::vector<caf::typed_response_promise<bool>> delete_promises;
  int32_t running = 0;          // wanted slots whose replica runs
  int32_t ready = 0;            // of those, ready (kept like running)
  int64_t restarts = 0;         // summed over the slots' statuses (kept like running)
  std::deque<int32_t> to_place; // slots waiting for a place request
  int32_t placing = 0;          // place requests in flight
  std::string unschedulable;    // non-empty: placement found no node; wait for capacity
  // Slots by node, so that a lost node costs its own slots, not all of them. A
  // node holds a handful of a service's slots: a vector, not a tree per node.
  std::unordered_map<std::string, std::vector<int32_t>> by_node;
  // Nodes that drain: their slots count as to be replaced, like slots of an
  // older template, so the rollout arithmetic moves them within update's limits.
  std::set<std::string> draining;
  std::string drain_blocked;     // the last node_drain_blocked message: not repeated
  bool reconcile_queued = false; // a reconcile_atom is in our mailbox
  uint64_t ticks = 0;            // resync ticks so far
  bool flush_queued = false;     // a flush_atom is in our mailbox, for:
  bool publish_queued = false;   //   an endpoint publication
  bool metrics_queued = false;   //   a metrics update
  // Events emitted since the last flush: one message to the store for a burst
  // (500 lost nodes reschedule 100,000 replicas, each with an event).
  std::vector<p::event> events;
  size_t last_burst = 0; // events of the last flush: the next burst's first guess
  uint64_t epochs = 0;   // last epoch given to a slot
  // Autoscaling (spec.autoscale): its decisions, the load it saw last, the
  // last change it made, and whether a scale it asked for is unanswered.
  std::unique_ptr<autoscaler> autoscale;
  p::service_load load;
  std::string last_autoscale;
  bool scaling = false;
  static inline const char* name = "service";
};

using self_ptr = service_actor::stateful_pointer<service_state>;

// Defined in service_actor.cpp.

void reconcile(self_ptr self);
void queue_reconcile(self_ptr self);
/// Replaces the status of slot `s`, keeping the restart sum in step.
void set_status(self_ptr self, slot_state& s, p::replica_status st);
/// Records the node of a slot (empty: none), keeping by_node in step.
void set_node(self_ptr self, int32_t slot, const std::string& node);
/// The slot `slot` if it is still the incarnation that sent a request of `epoch`
/// (not stopped and made anew, not moved off a lost node since).
slot_state* slot_of(self_ptr self, int32_t slot, uint64_t epoch);
/// A new slot (or a new incarnation of one): requests of earlier ones are void.
slot_state& new_epoch(self_ptr self, int32_t slot);
/// Queues an event for the store; the next flush sends the burst's events in one message.
/// Sends the service's endpoints to discovery (`removed`: the service is gone).
void publish_endpoints(self_ptr self, bool removed = false);
/// One metrics update for a burst of status reports.
void queue_metrics(self_ptr self);
/// One endpoint publication for a burst of status reports.
void queue_publish(self_ptr self);

// Defined in service_autoscale.cpp.

/// Reads the load and applies the autoscaler's decision (spec.autoscale).
void autoscale_tick(self_ptr self);
/// Its bounds and each metric's value against its target ("1-4, rps
/// 412.0/50": the service's total, the target per replica); empty when the
/// service does not autoscale.
std::string autoscale_summary(self_ptr self);
void emit(self_ptr self, std::string kind, std::string message, std::string replica = {});

/// Sends the queued events now (a service about to end).
void send_events(self_ptr self);
/// Why slot `slot` is not running: shown on the slot and, when new, an event.
/// `retry`: reconcile again soon (false: a new revision or capacity must come first).
void problem(self_ptr self, int32_t slot, const caf::error& err, bool retry = true);
/// On a draining node: to be replaced by a replica elsewhere, then stopped.
bool leaving(self_ptr self, const slot_state& s);
/// Running and not on its way out: what `running` counts.
bool counts_as_running(const slot_state& s);
/// Counts for availability: running, ready, routed to, not on its way out.
bool is_ready(const slot_state& s);
/// The spec and revision a slot runs: the current one, or the older revision
/// of its template while a rollout replaces it.
std::pair<const p::service_spec*, int64_t> spec_of(self_ptr self, const slot_state& s);
void run_on_node(self_ptr self, int32_t slot);
/// Stops slots, with one endpoint publication before their drains.
void stop_slots(self_ptr self, const std::vector<int32_t>& slots);
/// Ends slot `slot` (the incarnation of `epoch`; an older one's answer comes
/// too late and is ignored).
void finish_slot_stop(self_ptr self, int32_t slot, uint64_t epoch);
/// The lowest free slot number from `from` on.
int32_t free_slot(self_ptr self, int32_t from = 0);

} // namespace tutti::actors::service_impl
