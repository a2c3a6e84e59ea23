#include "actors/node/replica_probes.hpp"

#include "actors/node/replica_lifecycle.hpp"
#include "metrics/recorder.hpp"
#include "protocol/errors.hpp"
#include "runtime-drivers/pod_driver.hpp"

#include <caf/all.hpp>

#include <spdlog/spdlog.h>

#include <algorithm>

namespace tutti::actors::replica_impl {

namespace {

/// Probe `index` of the current spec; nullopt when the spec has no such probe
/// (a message of an incarnation whose spec had more).
std::optional<p::replica_probe> probe_of(self_ptr self, int32_t index) {
  auto probes = p::probes_of(*self->state.req->spec);
  if (index < 0 || static_cast<size_t>(index) >= probes.size())
    return std::nullopt;
  return probes[static_cast<size_t>(index)];
}

/// "readiness: ok (...)", or with a container "readiness of app: ok (...)".
std::string result_label(const p::replica_probe& probe) {
  std::string out = probe.readiness ? "readiness" : "liveness";
  if (!probe.spec->container.empty())
    out += " of " + probe.spec->container;
  return out;
}

std::string health_text(self_ptr self, const std::vector<p::replica_probe>& list) {
  const auto& probes = *self->state.probes;
  std::string out;
  for (size_t i = 0; i < list.size() && i < probes.results.size(); ++i)
    if (!probes.results[i].empty())
      out += (out.empty() ? "" : "; ") + result_label(list[i]) + ": " + probes.results[i];
  return out;
}

/// Whether every readiness probe passes (true without any).
bool all_ready(self_ptr self, const std::vector<p::replica_probe>& list) {
  const auto& trackers = self->state.probes->trackers;
  for (size_t i = 0; i < list.size() && i < trackers.size(); ++i)
    if (list[i].readiness && !trackers[i].passing())
      return false;
  return true;
}

void on_probe_result(self_ptr self, int32_t index, const rd::probe_outcome& outcome) {
  auto& st = self->state;
  auto list = p::probes_of(*st.req->spec);
  auto i = static_cast<size_t>(index);
  // A probe of a spec that had none (or fewer) when it started: no verdict.
  if (!st.probes || index < 0 || i >= list.size() || i >= st.probes->trackers.size())
    return;
  auto& probes = *st.probes;
  const auto* probe = &list[i];
  bool in_start = clock::now() - st.started_at < probe->spec->start_period;
  probes.results[i] = (outcome.healthy ? "ok (" : "failed (") + outcome.message + ")";
  auto before = st.status;
  st.ctx.metrics->count_probe(st.req->service, probe->readiness ? "readiness" : "liveness",
                              outcome.healthy);
  auto& tracker = probes.trackers[i];
  auto change = tracker.record(*probe->spec, outcome.healthy, in_start);
  st.status.unhealthy = std::any_of(probes.trackers.begin(), probes.trackers.end(),
                                    [](const auto& t) { return t.failed(); });
  st.status.set_health(health_text(self, list));
  auto label = result_label(*probe);
  if (probe->readiness && change == probe_tracker::change::passed && all_ready(self, list)) {
    st.status.ready = true;
    emit(self, "replica_ready", label + " probe passed: " + outcome.message);
  } else if (probe->readiness && change == probe_tracker::change::failed) {
    st.status.ready = false;
    emit(self, "replica_not_ready",
         label + " probe failed " + std::to_string(tracker.failures()) +
             " times in a row: " + outcome.message);
  } else if (!probe->readiness && change == probe_tracker::change::failed) {
    emit(self, "replica_unhealthy",
         label + " probe failed " + std::to_string(tracker.failures()) +
             " times in a row: " + outcome.message + "; restarting it");
    probes.liveness_failure = probes.results[i];
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
  auto list = p::probes_of(*st.req->spec);
  st.probes.reset();
  if (!list.empty()) {
    st.probes = std::make_unique<replica_state_data::probe_state>();
    st.probes->trackers.resize(list.size());
    st.probes->results.resize(list.size());
  }
  st.status.unhealthy = false;
  st.status.set_health({});
  // Without a readiness probe a running replica is ready.
  st.status.ready = std::none_of(list.begin(), list.end(), [](const auto& x) { return x.readiness; });
  for (size_t i = 0; i < list.size(); ++i)
    self->send(self, p::probe_atom::value, static_cast<int32_t>(i), st.probe_generation);
}

void run_probe(self_ptr self, int32_t index, uint64_t generation) {
  auto& st = self->state;
  if (generation != st.probe_generation || st.status.state != p::replica_state::running ||
      st.stop_requested || st.replace_pending)
    return;
  auto probe = probe_of(self, index);
  if (!probe)
    return;
  auto next = [self, index, generation, interval = probe->spec->interval] {
    self->delayed_send(self, interval, p::probe_atom::value, index, generation);
  };
  if (!st.ctx.prober) {
    on_probe_result(self, index, {false, "this node cannot run probes"});
    next();
    return;
  }
  // An exec probe of one container of several runs in that one.
  auto container = probe->spec->container.empty()
                       ? std::string{st.status.id()}
                       : rd::part_name(std::string{st.status.id()}, probe->spec->container);
  rd::probe_target target{std::move(container), std::string{st.status.address()},
                          st.status.ports};
  auto limit =
      probe->spec->timeout + std::chrono::duration_cast<caf::timespan>(std::chrono::seconds{5});
  self->request(st.ctx.prober, limit, p::probe_atom::value, st.req->spec->driver, *probe->spec,
                target)
      .then(
          [self, index, generation, next](rd::probe_outcome& outcome) {
            if (generation != self->state.probe_generation)
              return; // the replica restarted meanwhile
            on_probe_result(self, index, outcome);
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
