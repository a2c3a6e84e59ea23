#pragma once

// The state of a replica actor and what its parts share. Internal to the
// replica actor (replica_actor.cpp, replica_lifecycle.cpp, replica_restart.cpp,
// replica_probes.cpp): nothing else includes it.

#include "actors/node/replica_actor.hpp"
#include "actors/node/packed_status.hpp"
#include "actors/node/probe_tracker.hpp"

#include <caf/stateful_actor.hpp>

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace tutti::actors::replica_impl {

using clock = std::chrono::steady_clock;

struct replica_state_data {
  replica_links ctx;
  // Shared with the node's record of this replica: one copy of the request
  // (and of its spec) per replica, not one in each. Replaced, never changed.
  std::shared_ptr<const p::replica_request> req;
  // What it reports, packed: there is one replica actor per replica, so its
  // state stays small.
  packed_status status;
  caf::timespan backoff{0};
  clock::time_point started_at;      // of the current incarnation
  clock::time_point start_requested; // for the start latency metric
  std::string restart_token;         // the pending back-off timer; others are stale
  uint64_t token_counter = 0;
  bool replace_pending = false; // stop, then start the new revision
  bool stop_requested = false;
  std::vector<caf::typed_response_promise<bool>> stop_promises;
  bool removed = false; // the last remove left no container of this name
  // Health: probes of the current incarnation carry its generation.
  uint64_t probe_generation = 0;
  // Only for a spec with probes: most replicas have none, and their state stays small.
  struct probe_state {
    std::vector<probe_tracker> trackers; // by index of p::probes_of the spec
    std::vector<std::string> results;    // last outcome of each, for people
    std::string liveness_failure;        // the result of the liveness probe that failed
  };
  std::unique_ptr<probe_state> probes;
  bool liveness_kill = false; // the running container is stopped for failing liveness
  int crash_streak = 0;       // exits in a row that came too soon
  // An exit reported while the container was being started: the driver watches
  // a container it runs before its answer reaches us, and the exit notice comes
  // from another thread, so it can overtake the answer. Handled after it.
  // Rare, so held by pointer: the state of a replica actor stays small.
  std::unique_ptr<p::replica_exited> early_exit;
  // While a replica of several containers runs its init containers: those
  // left and what runs after them. Rare: held by pointer.
  struct init_phase {
    std::vector<rd::container_spec> steps;
    size_t next = 0; // the one running, or about to
    rd::container_spec main;
    std::string runtime_id; // of the one running; empty until its run answers
    std::unique_ptr<p::replica_exited> early_exit; // an exit that overtook the answer
  };
  std::unique_ptr<init_phase> init;
  static inline const char* name = "replica";
};

using self_ptr = replica_actor::stateful_pointer<replica_state_data>;

// Defined in replica_actor.cpp.

/// Its status to its service, or to the node, which passes it on.
void send_status(self_ptr self);

/// An event of this replica.
p::event event_of(self_ptr self, std::string kind, std::string message);

/// Records an event of this replica (through its service when it knows it).
void emit(self_ptr self, std::string kind, std::string message);

/// A new state, reported; with `e`, the event that tells of it, in the same
/// message when the report goes to the service (a replica start: one message
/// instead of two, for every replica).
void report(self_ptr self, p::replica_state state, std::string message,
            std::optional<p::event> e = std::nullopt);

} // namespace tutti::actors::replica_impl
