#pragma once

// The scheduler module of every tutti process that runs the sharing scheduler:
// CAF's coordinator with the spin_sharing policy, and a clock that wakes its
// thread only when it must.

#include "actors/runtime/spin_sharing.hpp"

#include <caf/actor_system.hpp>
#include <caf/detail/thread_safe_actor_clock.hpp>
#include <caf/detail/type_list.hpp>
#include <caf/scheduler/coordinator.hpp>

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <vector>

namespace tutti::actors {

/// The clock of a tutti process: CAF's clock interface with its own thread,
/// which it wakes only when a new timeout is due before the thread would wake
/// anyway.
///
/// CAF 0.17's thread-safe clock queues every call to its thread and wakes it:
/// every timer set, and the end of every actor (local_actor::cleanup cancels
/// its timeouts). 5,000 simulated nodes probing their drivers every 2 s set
/// 2,500 timers a second; 500 of them dying end 100,000 replica actors. Here
/// the caller edits the schedule under a lock, most timeouts are seconds ahead
/// of the next one due, and the thread fires all that are due within `slack`
/// of each other in one wake-up.
///
/// Derived from CAF's thread-safe clock only because the coordinator's clock()
/// returns one; none of its queue is used.
class lean_clock : public caf::detail::thread_safe_actor_clock {
public:
  using simple = caf::detail::simple_actor_clock;

  /// How late a timeout may fire to share a wake-up with an earlier one.
  static constexpr auto slack = std::chrono::milliseconds{1};

  void set_ordinary_timeout(time_point t, caf::abstract_actor* self, caf::atom_value type,
                            uint64_t id) override;
  void set_request_timeout(time_point t, caf::abstract_actor* self, caf::message_id id) override;
  void set_multi_timeout(time_point t, caf::abstract_actor* self, caf::atom_value type,
                         uint64_t id) override;
  void cancel_ordinary_timeout(caf::abstract_actor* self, caf::atom_value type) override;
  void cancel_request_timeout(caf::abstract_actor* self, caf::message_id id) override;
  void cancel_timeouts(caf::abstract_actor* self) override;
  void schedule_message(time_point t, caf::strong_actor_ptr receiver,
                        caf::mailbox_element_ptr content) override;
  void schedule_message(time_point t, caf::group target, caf::strong_actor_ptr sender,
                        caf::message content) override;
  void cancel_all() override;

  /// Fires timeouts as they fall due until stop_dispatch (on its own thread).
  void dispatch();

  /// Ends dispatch; what is still scheduled is dropped.
  void stop_dispatch();

  /// Timeouts and delayed messages not yet fired (for tests).
  size_t scheduled() const;

  /// How often a caller woke the clock's thread for an earlier timeout (for tests).
  size_t wakeups() const;

  /// Whether its thread waits for the next timeout, or for one to be set (for tests).
  bool idle() const;

  /// How often its thread woke and fired timeouts (for tests).
  size_t rounds() const;

private:
  /// With mutex_ held: wakes the thread if `t` is due before it would wake.
  void wake_for(time_point t);

  /// Takes the timeouts due by now out of the schedule (with mutex_ held).
  std::vector<unique_delayed_event_ptr> take_due();

  mutable std::mutex mutex_;
  std::condition_variable wake_;
  time_point sleeps_until_ = time_point::min(); // min: awake, reads the schedule next
  bool stopped_ = false;
  size_t wakeups_ = 0;
  size_t rounds_ = 0;
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
