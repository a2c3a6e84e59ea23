#include "actors/coordinator.hpp"

#include <caf/detail/set_thread_name.hpp>

namespace tutti::actors {

void lean_clock::note(caf::abstract_actor* self) {
  std::lock_guard<std::mutex> guard{mutex_};
  timed_.insert(self);
}

void lean_clock::set_ordinary_timeout(time_point t, caf::abstract_actor* self, caf::atom_value type,
                                      uint64_t id) {
  note(self);
  super::set_ordinary_timeout(t, self, type, id);
}

void lean_clock::set_request_timeout(time_point t, caf::abstract_actor* self, caf::message_id id) {
  note(self);
  super::set_request_timeout(t, self, id);
}

void lean_clock::set_multi_timeout(time_point t, caf::abstract_actor* self, caf::atom_value type,
                                   uint64_t id) {
  note(self);
  super::set_multi_timeout(t, self, type, id);
}

void lean_clock::cancel_timeouts(caf::abstract_actor* self) {
  {
    // An actor's timeouts are set and cancelled from its own context, one call
    // at a time: what it set before is in the set when it ends.
    std::lock_guard<std::mutex> guard{mutex_};
    if (timed_.erase(self) == 0)
      return;
    ++passed_on_;
  }
  super::cancel_timeouts(self);
}

size_t lean_clock::timed_actors() const {
  std::lock_guard<std::mutex> guard{mutex_};
  return timed_.size();
}

size_t lean_clock::cancels_passed_on() const {
  std::lock_guard<std::mutex> guard{mutex_};
  return passed_on_;
}

coordinator::coordinator(caf::actor_system& sys) : super(sys) {
  // nop
}

lean_clock& coordinator::clock() noexcept {
  return lean_clock_;
}

caf::actor_system::module* coordinator::make(caf::actor_system& sys, caf::detail::type_list<>) {
  return new coordinator(sys);
}

void coordinator::start() {
  lean_timer_ = std::thread{[this] {
    caf::detail::set_thread_name("tutti.clock");
    system().thread_started();
    lean_clock_.run_dispatch_loop();
    system().thread_terminates();
  }};
  super::start();
}

void coordinator::stop() {
  super::stop(); // the workers first: they may still set timeouts
  lean_clock_.cancel_dispatch_loop();
  lean_timer_.join();
}

} // namespace tutti::actors
