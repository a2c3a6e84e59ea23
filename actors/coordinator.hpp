#pragma once

// The scheduler module of every tutti process that runs the sharing scheduler:
// CAF's coordinator with the spin_sharing policy, and a clock that spares the
// clock thread the end of every actor that never set a timeout.
//
// CAF 0.17 tells the clock about the end of every actor (local_actor::cleanup
// calls cancel_timeouts), and its thread-safe clock queues that to its own
// thread, waking it. When 500 simulated nodes die, 100,000 replica actors end,
// none of which ever set a timeout: 100,000 wake-ups of the clock thread for
// nothing, about 5% of the CPU of re-placing their replicas.

#include "actors/spin_sharing.hpp"

#include <caf/actor_system.hpp>
#include <caf/detail/thread_safe_actor_clock.hpp>
#include <caf/detail/type_list.hpp>
#include <caf/scheduler/coordinator.hpp>

#include <mutex>
#include <thread>
#include <unordered_set>

namespace tutti::actors {

/// CAF's thread-safe clock, except that cancelling the timeouts of an actor that
/// never set one does nothing (it does not reach the clock thread).
class lean_clock : public caf::detail::thread_safe_actor_clock {
public:
  using super = caf::detail::thread_safe_actor_clock;

  void set_ordinary_timeout(time_point t, caf::abstract_actor* self, caf::atom_value type,
                            uint64_t id) override;
  void set_request_timeout(time_point t, caf::abstract_actor* self, caf::message_id id) override;
  void set_multi_timeout(time_point t, caf::abstract_actor* self, caf::atom_value type,
                         uint64_t id) override;
  void cancel_timeouts(caf::abstract_actor* self) override;

  /// Actors that set a timeout and have not ended (for tests).
  size_t timed_actors() const;

  /// Ends of actors passed on to the clock thread (for tests).
  size_t cancels_passed_on() const;

private:
  void note(caf::abstract_actor* self);

  mutable std::mutex mutex_;
  std::unordered_set<caf::abstract_actor*> timed_; // guarded by mutex_
  size_t passed_on_ = 0;                           // guarded by mutex_
};

/// CAF's coordinator with the spin_sharing policy and a lean_clock. Load it with
/// `cfg.load<coordinator>()`.
class coordinator : public caf::scheduler::coordinator<spin_sharing> {
public:
  using super = caf::scheduler::coordinator<spin_sharing>;

  explicit coordinator(caf::actor_system& sys);

  lean_clock& clock() noexcept override;

  static caf::actor_system::module* make(caf::actor_system& sys, caf::detail::type_list<>);

protected:
  void start() override;
  void stop() override;

private:
  // The base class runs its own clock's thread too; nothing is ever queued
  // there, so it sleeps until stop.
  lean_clock lean_clock_;
  std::thread lean_timer_;
};

} // namespace tutti::actors
