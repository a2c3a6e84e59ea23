#include "actors/node/replica_restart.hpp"

#include "actors/node/replica_lifecycle.hpp"
#include "metrics/recorder.hpp"
#include "protocol/errors.hpp"

#include <caf/all.hpp>

#include <utility>

namespace tutti::actors {

namespace replica_impl {

namespace {

using std::chrono::duration_cast;

/// A replica that ran at least this long before it exited is considered healthy:
/// its back-off starts over. Shorter runs keep doubling it, so a command that
/// exits at once cannot spin.
constexpr auto stable_uptime = std::chrono::seconds{1};

/// Exits in a row, each before stable_uptime, that make a replica crash-looping.
constexpr int crash_loop_after = 3;

constexpr size_t log_tail_bytes = 2048;

std::string format_ms(caf::timespan x) {
  return std::to_string(duration_cast<std::chrono::milliseconds>(x).count()) + "ms";
}

bool should_restart(self_ptr self, int32_t exit_code) {
  switch (self->state.req->spec->restart.policy) {
    case p::restart_policy::always:
      return true;
    case p::restart_policy::on_failure:
      return exit_code != 0;
    case p::restart_policy::never:
      return false;
  }
  return true;
}

/// Shows the end of a crash-looping replica's output in its status (describe).
void fetch_log_tail(self_ptr self) {
  self->request(self->state.ctx.driver, std::chrono::seconds{10}, p::logs_atom::value,
                std::string{self->state.status.id()}, uint64_t{log_tail_bytes})
      .then(
          [self](std::string& text) {
            self->state.status.set_log_tail(text);
            send_status(self);
          },
          [](caf::error&) {});
}

/// A run of at least stable_uptime starts the back-off over; a shorter one
/// counts towards a crash loop.
void count_uptime(self_ptr self) {
  auto uptime = clock::now() - self->state.started_at;
  if (uptime >= stable_uptime) {
    self->state.backoff = caf::timespan{0};
    self->state.crash_streak = 0;
    self->state.status.set_log_tail({});
  } else {
    ++self->state.crash_streak;
  }
}

/// How the container ended, for people.
std::string exit_text(self_ptr self, int32_t exit_code, bool liveness_kill) {
  if (liveness_kill)
    return "stopped for failing its liveness probe (" +
           (self->state.probes ? self->state.probes->liveness_failure : std::string{}) + ")";
  return exit_code < 0 ? std::string{"exited (code unknown)"}
                       : "exited with code " + std::to_string(exit_code);
}

/// Restarts the container that exited, per policy, or keeps it down.
void restart_or_keep_down(self_ptr self, int32_t exit_code) {
  auto& st = self->state.status;
  bool liveness_kill = std::exchange(self->state.liveness_kill, false);
  auto how = exit_text(self, exit_code, liveness_kill);
  bool restart = liveness_kill ? self->state.req->spec->restart.policy != p::restart_policy::never
                               : should_restart(self, exit_code);
  if (self->state.crash_streak >= crash_loop_after) {
    how = "crash loop: " + how + ", " + std::to_string(self->state.crash_streak) +
          " times in a row within " +
          std::to_string(std::chrono::duration_cast<std::chrono::seconds>(stable_uptime).count()) +
          "s of starting";
    fetch_log_tail(self);
  }
  if (!restart) {
    emit(self, "replica_exited",
         how + "; restart policy " + p::to_string(self->state.req->spec->restart.policy) +
             " keeps it down");
    report(self, p::replica_state::exited, how);
    return;
  }
  ++st.restarts;
  self->state.ctx.metrics->count_replica_restart(self->state.req->service);
  schedule_restart(self, how);
  emit(self, "replica_exited", std::string{st.message()});
}

} // namespace

void schedule_restart(self_ptr self, std::string why) {
  if (self->state.stop_requested) {
    finish_stop(self);
    return;
  }
  const auto& policy = self->state.req->spec->restart.backoff;
  auto& backoff = self->state.backoff;
  backoff = backoff.count() == 0 ? policy.initial : next_backoff(backoff, policy);
  self->state.restart_token = std::to_string(++self->state.token_counter);
  report(self, p::replica_state::backoff, why + "; restarting in " + format_ms(backoff));
  self->delayed_send(self, backoff, p::restart_atom::value, self->state.restart_token);
}

void on_exit(self_ptr self, const p::replica_exited& msg) {
  auto& st = self->state.status;
  if (msg.id != st.id()) { // one of its containers of several: an init container
    if (self->state.init)
      on_init_exit(self, msg);
    return;
  }
  if (st.state == p::replica_state::starting) {
    // on_running decides whether it is this incarnation's
    self->state.early_exit = std::make_unique<p::replica_exited>(msg);
    return;
  }
  bool live = st.state == p::replica_state::running || st.state == p::replica_state::stopping;
  if (msg.runtime_id != st.runtime_id() || !live)
    return; // an earlier incarnation
  st.exit_code = msg.exit_code;
  st.set_runtime_id({});
  if (self->state.stop_requested) {
    finish_stop(self);
    return;
  }
  if (self->state.replace_pending) {
    self->state.replace_pending = false;
    emit(self, "replica_replaced", "revision " + std::to_string(self->state.req->revision));
    remove_then(self, [self] { create_and_start(self); });
    return;
  }
  count_uptime(self);
  restart_or_keep_down(self, msg.exit_code);
}

void on_restart_timer(self_ptr self, const std::string& token) {
  if (token != self->state.restart_token)
    return;
  self->state.restart_token.clear();
  // The container may be gone (failed create) or merely exited (restart in place,
  // keeping its logs).
  self->request(self->state.ctx.driver, caf::infinite, p::inspect_atom::value,
                std::string{self->state.status.id()})
      .then([self](rd::container_info&) { start_existing(self); },
            [self](caf::error&) { create_and_start(self); });
}

} // namespace replica_impl

caf::timespan next_backoff(caf::timespan current, const p::backoff_spec& spec) {
  return std::min(current * 2, spec.max);
}

} // namespace tutti::actors
