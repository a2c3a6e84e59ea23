#include "actors/node/replica_probes.hpp"

#include "actors/node/replica_lifecycle.hpp"
#include "metrics/recorder.hpp"
#include "protocol/errors.hpp"
#include "runtime-drivers/pod_driver.hpp"

#include <caf/all.hpp>

#include <spdlog/spdlog.h>

namespace tutti::actors::replica_impl {

namespace {

const p::probe_spec& probe_of(self_ptr self, bool readiness) {
  const auto& health = self->state.req->spec->health;
  return readiness ? health.readiness : health.liveness;
}

std::string health_text(const replica_state_data::probe_state& probes) {
  std::string out;
  if (!probes.readiness_result.empty())
    out = "readiness: " + probes.readiness_result;
  if (!probes.liveness_result.empty())
    out += (out.empty() ? "" : "; ") + std::string{"liveness: "} + probes.liveness_result;
  return out;
}

void on_probe_result(self_ptr self, bool readiness, const rd::probe_outcome& outcome) {
  auto& st = self->state;
  if (!st.probes) // a probe of a spec that had none when it started
    return;
  auto& probes = *st.probes;
  const auto& probe = probe_of(self, readiness);
  bool in_start = clock::now() - st.started_at < probe.start_period;
  auto& tracker = readiness ? probes.readiness : probes.liveness;
  (readiness ? probes.readiness_result : probes.liveness_result) =
      (outcome.healthy ? "ok (" : "failed (") + outcome.message + ")";
  auto before = st.status;
  st.ctx.metrics->count_probe(st.req->service, readiness ? "readiness" : "liveness",
                              outcome.healthy);
  auto change = tracker.record(probe, outcome.healthy, in_start);
  st.status.unhealthy = probes.readiness.failed() || probes.liveness.failed();
  st.status.set_health(health_text(probes));
  if (readiness && change == probe_tracker::change::passed) {
    st.status.ready = true;
    emit(self, "replica_ready", "readiness probe passed: " + outcome.message);
  } else if (readiness && change == probe_tracker::change::failed) {
    st.status.ready = false;
    emit(self, "replica_not_ready",
         "readiness probe failed " + std::to_string(tracker.failures()) +
             " times in a row: " + outcome.message);
  } else if (!readiness && change == probe_tracker::change::failed) {
    emit(self, "replica_unhealthy",
         "liveness probe failed " + std::to_string(tracker.failures()) +
             " times in a row: " + outcome.message + "; restarting it");
    st.liveness_kill = true;
    stop_container(self);
  }
  if (st.status.ready != before.ready || st.status.unhealthy != before.unhealthy ||
      st.status.health() != before.health())
    send_status(self);
}

} // namespace

void start_probes(self_ptr self) {
  auto& st = self->state;
  ++st.probe_generation;
  bool any = probe_of(self, true).kind != p::probe_kind::none ||
             probe_of(self, false).kind != p::probe_kind::none;
  st.probes = any ? std::make_unique<replica_state_data::probe_state>() : nullptr;
  st.status.unhealthy = false;
  st.status.set_health({});
  // Without a readiness probe a running replica is ready.
  st.status.ready = probe_of(self, true).kind == p::probe_kind::none;
  for (bool readiness : {true, false})
    if (probe_of(self, readiness).kind != p::probe_kind::none)
      self->send(self, p::probe_atom::value, readiness, st.probe_generation);
}

void run_probe(self_ptr self, bool readiness, uint64_t generation) {
  auto& st = self->state;
  if (generation != st.probe_generation || st.status.state != p::replica_state::running ||
      st.stop_requested || st.replace_pending)
    return;
  const auto& probe = probe_of(self, readiness);
  auto next = [self, readiness, generation, interval = probe.interval] {
    self->delayed_send(self, interval, p::probe_atom::value, readiness, generation);
  };
  if (!st.ctx.prober) {
    on_probe_result(self, readiness, {false, "this node cannot run probes"});
    next();
    return;
  }
  // An exec probe of one container of several runs in that one.
  auto container = probe.container.empty() ? std::string{st.status.id()}
                                           : rd::part_name(std::string{st.status.id()},
                                                           probe.container);
  rd::probe_target target{std::move(container), std::string{st.status.address()},
                          st.status.ports};
  auto limit = probe.timeout + std::chrono::duration_cast<caf::timespan>(std::chrono::seconds{5});
  self->request(st.ctx.prober, limit, p::probe_atom::value, st.req->spec->driver, probe, target)
      .then(
          [self, readiness, generation, next](rd::probe_outcome& outcome) {
            if (generation != self->state.probe_generation)
              return; // the replica restarted meanwhile
            on_probe_result(self, readiness, outcome);
            next();
          },
          [self, next](caf::error& err) {
            // The prober itself failed (restarting): no verdict on the replica.
            spdlog::warn("replica {}: probe not run: {}", self->state.status.id(),
                         p::message_of(err));
            next();
          });
}

} // namespace tutti::actors::replica_impl
