#pragma once

// The scheduling policy of every tutti process that runs the sharing scheduler
// (all but `tutti-bench --work-stealing`): CAF's work sharing (one central
// queue), with two changes.
//
// - A worker that finds the queue empty spins briefly before it sleeps. Messages
//   between actors come in quick chains, so the next job usually arrives within
//   microseconds; sleeping and being woken costs a futex call on each side and,
//   in a VM, an inter-processor interrupt to a halted vCPU (tens of
//   microseconds). CAF's sharing puts a worker to sleep at once.
// - The queue does not allocate per job (CAF's sharing splices a fresh list
//   node in for every enqueue), and an enqueue wakes a worker only when one
//   sleeps.

#include <caf/policy/unprofiled.hpp>
#include <caf/resumable.hpp>
#include <caf/scheduler/abstract_coordinator.hpp>

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <mutex>

namespace tutti::actors {

class spin_sharing : public caf::policy::unprofiled {
public:
  /// How long an idle worker looks for work before it sleeps: about 20 µs at
  /// ~25 ns a pause, a few message hops; the figures behind it are in
  /// docs/benchmarks.md ("Runtime tuning").
  static constexpr int spin_rounds = 800;

  struct coordinator_data {
    explicit coordinator_data(caf::scheduler::abstract_coordinator*) {
      // nop
    }

    std::mutex lock;
    std::condition_variable cv;
    std::deque<caf::resumable*> queue; // guarded by lock
    size_t sleepers = 0;               // guarded by lock
    std::atomic<size_t> size{0};       // queue.size(), read while spinning
  };

  struct worker_data {
    explicit worker_data(caf::scheduler::abstract_coordinator*) {
      // nop
    }
  };

  template <class Coordinator> void enqueue(Coordinator* self, caf::resumable* job) {
    auto& q = d(self);
    bool wake = false;
    {
      std::lock_guard<std::mutex> guard{q.lock};
      q.queue.push_back(job);
      q.size.store(q.queue.size(), std::memory_order_release);
      wake = q.sleepers > 0;
    }
    if (wake)
      q.cv.notify_one();
  }

  template <class Coordinator> void central_enqueue(Coordinator* self, caf::resumable* job) {
    enqueue(self, job);
  }

  template <class Worker> void external_enqueue(Worker* self, caf::resumable* job) {
    enqueue(self->parent(), job);
  }

  template <class Worker> void internal_enqueue(Worker* self, caf::resumable* job) {
    enqueue(self->parent(), job);
  }

  template <class Worker> void resume_job_later(Worker* self, caf::resumable* job) {
    enqueue(self->parent(), job); // it yielded: to the end of the queue
  }

  template <class Worker> caf::resumable* dequeue(Worker* self) {
    auto& q = d(self->parent());
    for (int round = 0; round < spin_rounds; ++round) {
      if (q.size.load(std::memory_order_acquire) > 0) {
        std::lock_guard<std::mutex> guard{q.lock};
        if (!q.queue.empty())
          return pop(q);
      }
      relax();
    }
    std::unique_lock<std::mutex> guard{q.lock};
    ++q.sleepers;
    q.cv.wait(guard, [&] { return !q.queue.empty(); });
    --q.sleepers;
    return pop(q);
  }

  template <class Worker, class UnaryFunction> void foreach_resumable(Worker*, UnaryFunction) {
    // nop: no queues per worker
  }

  template <class Coordinator, class UnaryFunction>
  void foreach_central_resumable(Coordinator* self, UnaryFunction f) {
    auto& q = d(self);
    std::lock_guard<std::mutex> guard{q.lock};
    while (!q.queue.empty())
      f(pop(q));
  }

private:
  static caf::resumable* pop(coordinator_data& q) {
    auto* job = q.queue.front();
    q.queue.pop_front();
    q.size.store(q.queue.size(), std::memory_order_release);
    return job;
  }

  static void relax() {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    asm volatile("yield");
#endif
  }
};

} // namespace tutti::actors
