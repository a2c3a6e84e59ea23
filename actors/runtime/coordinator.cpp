#include "actors/runtime/coordinator.hpp"

#include <caf/detail/set_thread_name.hpp>
#include <caf/group.hpp>
#include <caf/mailbox_element.hpp>

namespace tutti::actors {

// Every call edits the schedule under mutex_. What the schedule drops (fired or
// cancelled in bulk) is destroyed after the lock is released: an entry may hold
// the last reference to its actor, whose end cancels its timeouts here.

void lean_clock::wake_for(time_point t) {
  if (t + slack >= sleeps_until_)
    return; // fires when the thread wakes anyway, at most `slack` late
  ++wakeups_;
  sleeps_until_ = time_point::min();
  wake_.notify_one();
}

void lean_clock::set_ordinary_timeout(time_point t, caf::abstract_actor* self, caf::atom_value type,
                                      uint64_t id) {
  std::lock_guard<std::mutex> guard{mutex_};
  simple::set_ordinary_timeout(t, self, type, id);
  wake_for(t);
}

void lean_clock::set_request_timeout(time_point t, caf::abstract_actor* self, caf::message_id id) {
  std::lock_guard<std::mutex> guard{mutex_};
  simple::set_request_timeout(t, self, id);
  wake_for(t);
}

void lean_clock::set_multi_timeout(time_point t, caf::abstract_actor* self, caf::atom_value type,
                                   uint64_t id) {
  std::lock_guard<std::mutex> guard{mutex_};
  simple::set_multi_timeout(t, self, type, id);
  wake_for(t);
}

// The cancels below drop entries that reference `self` only, which the caller
// holds: none of them ends an actor.

void lean_clock::cancel_ordinary_timeout(caf::abstract_actor* self, caf::atom_value type) {
  std::lock_guard<std::mutex> guard{mutex_};
  simple::cancel_ordinary_timeout(self, type);
}

void lean_clock::cancel_request_timeout(caf::abstract_actor* self, caf::message_id id) {
  std::lock_guard<std::mutex> guard{mutex_};
  simple::cancel_request_timeout(self, id);
}

void lean_clock::cancel_timeouts(caf::abstract_actor* self) {
  std::lock_guard<std::mutex> guard{mutex_};
  simple::cancel_timeouts(self);
}

void lean_clock::schedule_message(time_point t, caf::strong_actor_ptr receiver,
                                  caf::mailbox_element_ptr content) {
  std::lock_guard<std::mutex> guard{mutex_};
  simple::schedule_message(t, std::move(receiver), std::move(content));
  wake_for(t);
}

void lean_clock::schedule_message(time_point t, caf::group target, caf::strong_actor_ptr sender,
                                  caf::message content) {
  std::lock_guard<std::mutex> guard{mutex_};
  simple::schedule_message(t, std::move(target), std::move(sender), std::move(content));
  wake_for(t);
}

void lean_clock::cancel_all() {
  schedule_map dropped;
  std::lock_guard<std::mutex> guard{mutex_};
  actor_lookup_.clear();
  dropped.swap(schedule_);
  // `dropped` ends after the guard (declared before it): outside the lock.
}

std::vector<lean_clock::unique_delayed_event_ptr> lean_clock::take_due() {
  std::vector<unique_delayed_event_ptr> out;
  auto now = clock_type::now();
  auto i = schedule_.begin();
  while (i != schedule_.end() && i->first <= now) {
    if (i->second->backlink != actor_lookup_.end())
      actor_lookup_.erase(i->second->backlink);
    out.push_back(std::move(i->second));
    i = schedule_.erase(i);
  }
  return out;
}

void lean_clock::dispatch() {
  std::unique_lock<std::mutex> guard{mutex_};
  auto woken = [this] { return stopped_ || sleeps_until_ == time_point::min(); };
  while (!stopped_) {
    auto due = take_due();
    if (!due.empty()) {
      ++rounds_;
      guard.unlock();
      for (auto& x : due)
        ship(*x);
      due.clear();
      guard.lock();
      continue;
    }
    if (schedule_.empty()) {
      sleeps_until_ = time_point::max();
      wake_.wait(guard, woken);
    } else {
      // Whatever falls due within `slack` of the next fires with it.
      sleeps_until_ = schedule_.begin()->first + slack;
      auto until = sleeps_until_;
      wake_.wait_until(guard, until, woken);
    }
    sleeps_until_ = time_point::min();
  }
}

void lean_clock::stop_dispatch() {
  {
    std::lock_guard<std::mutex> guard{mutex_};
    stopped_ = true;
    wake_.notify_one();
  }
  cancel_all();
}

size_t lean_clock::scheduled() const {
  std::lock_guard<std::mutex> guard{mutex_};
  return schedule_.size();
}

bool lean_clock::idle() const {
  std::lock_guard<std::mutex> guard{mutex_};
  return sleeps_until_ != time_point::min();
}

size_t lean_clock::rounds() const {
  std::lock_guard<std::mutex> guard{mutex_};
  return rounds_;
}

size_t lean_clock::wakeups() const {
  std::lock_guard<std::mutex> guard{mutex_};
  return wakeups_;
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
    lean_clock_.dispatch();
    system().thread_terminates();
  }};
  super::start();
}

void coordinator::stop() {
  super::stop(); // the workers first: they may still set timeouts
  lean_clock_.stop_dispatch();
  lean_timer_.join();
}

} // namespace tutti::actors
