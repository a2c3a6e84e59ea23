#include "actors/service/rollout.hpp"

#include "actors/service/place_queue.hpp"
#include "actors/node/replica_actor.hpp"
#include "config/spec_parser.hpp"
#include "protocol/errors.hpp"

#include <caf/all.hpp>

#include <algorithm>

#include <spdlog/spdlog.h>

namespace tutti::actors::service_impl {

census count_slots(self_ptr self) {
  census c;
  for (auto& [slot, s] : self->state.slots) {
    if (s.stopping)
      continue;
    // A slot on a draining node is replaced like one of an older template.
    bool current = s.tmpl == self->state.target && !leaving(self, s);
    (current ? c.current : c.old).push_back(slot);
    if (is_ready(s))
      ++c.ready;
    else if (current)
      ++c.current_unready;
  }
  return c;
}

void check_rollout_done(self_ptr self, const census& c) {
  auto& r = self->state.rollout;
  if (r.phase != p::rollout_state::progressing && r.phase != p::rollout_state::rolling_back)
    return;
  if (!c.old.empty() || c.current_unready > 0 ||
      static_cast<int32_t>(c.current.size()) < self->state.spec.replicas)
    return;
  r.phase = p::rollout_state::complete;
  r.completed_at = clock::now();
  r.message = "all " + std::to_string(c.current.size()) + " replicas run revision " +
              std::to_string(r.revision);
  emit(self, "rollout_completed", "revision " + std::to_string(r.revision) + ": " + r.message, {});
}

/// Replicas with a persistent volume keep their slot (the volume is the
/// slot's): an update replaces them in place, on their node.
bool in_place(const p::service_spec& spec) {
  return std::any_of(spec.volumes.begin(), spec.volumes.end(),
                     [](const auto& v) { return v.type == p::volume_type::persistent; });
}

/// Slot `slot` runs the target template from now on: its replica replaces its
/// container on its node, and counts as not ready until it reports again.
void replace_in_place(self_ptr self, int32_t slot) {
  auto& st = self->state;
  auto& s = st.slots[slot];
  auto was_running = counts_as_running(s);
  auto was_ready = is_ready(s);
  s.tmpl = st.target;
  auto status = s.status.unpack();
  status.state = p::replica_state::starting;
  status.ready = false;
  status.message = "replacing in place with revision " + std::to_string(st.revision);
  set_status(self, s, std::move(status));
  if (was_running)
    --st.running;
  if (was_ready) {
    --st.ready;
    queue_publish(self);
  }
  queue_metrics(self);
  rerun_in_place(self, slot);
}

/// Slots of `c.old` that run an older template (not those on a draining node).
std::vector<int32_t> stale_slots(self_ptr self, const census& c) {
  std::vector<int32_t> out;
  for (auto slot : c.old)
    if (auto i = self->state.slots.find(slot);
        i != self->state.slots.end() && i->second.tmpl != self->state.target)
      out.push_back(slot);
  return out;
}

/// A rolling update in place: slots beyond `replicas` stop (stale ones
/// first), then stale slots take the new template, at most max_unavailable
/// (at least one) of the rest not ready at a time. A slot waiting for a node
/// is placed anew instead (it runs the new template wherever it lands).
void step_in_place(self_ptr self, const census& c, std::vector<int32_t> stale) {
  auto& st = self->state;
  auto n = st.spec.replicas;
  auto total = static_cast<int32_t>(c.current.size() + c.old.size());
  auto ready_of = [&](int32_t slot) { return is_ready(st.slots[slot]); };
  // Not ready first, then the highest slots: what stops costs the least.
  std::sort(stale.begin(), stale.end(), [&](int32_t a, int32_t b) {
    return ready_of(a) != ready_of(b) ? !ready_of(a) : a > b;
  });
  std::vector<int32_t> going;
  auto ready = c.ready;
  while (total > n && !stale.empty()) {
    going.push_back(stale.front());
    ready -= ready_of(stale.front()) ? 1 : 0;
    stale.erase(stale.begin());
    --total;
  }
  stop_slots(self, going);
  auto allowed = std::max(1, st.spec.update.max_unavailable);
  auto budget = allowed - (std::min(n, total) - ready);
  for (auto slot : stale) {
    auto& s = st.slots[slot];
    if (s.in_flight || s.stopping)
      continue;
    if (s.node.empty() || s.node_lost) {
      s.tmpl = st.target;
      continue; // placed by the reconcile, with the new template
    }
    if (is_ready(s)) {
      if (budget <= 0)
        continue;
      --budget;
    }
    replace_in_place(self, slot);
  }
}

/// The next step of the desired state: new replicas where some are missing,
/// stops where there are too many, old replicas replaced within the update's
/// limits (k8s' rolling-update arithmetic, with ready replicas as available).
void step(self_ptr self) {
  auto& st = self->state;
  const auto& u = st.spec.update;
  auto n = st.spec.replicas;
  auto c = count_slots(self);
  bool rolling = !c.old.empty();
  bool frozen = rolling && st.rollout.phase == p::rollout_state::paused;
  if (rolling && in_place(st.spec)) {
    // Stale replicas are replaced in place, without a surge; slots of a
    // draining node move as for any service once none is stale.
    if (auto stale = stale_slots(self, c); !stale.empty()) {
      if (!frozen)
        step_in_place(self, c, std::move(stale));
      c = count_slots(self);
      rolling = false;
    }
  }
  auto total = static_cast<int32_t>(c.current.size() + c.old.size());
  // Start new replicas.
  auto want = n - static_cast<int32_t>(c.current.size());
  auto room = n + (rolling ? u.max_surge : 0) - total;
  if (rolling)
    room = std::min(room, u.parallelism - c.current_unready);
  int32_t next = 0; // free_slot from 0 for each new slot costs O(n^2) for n new ones
  for (int32_t k = 0; !frozen && k < std::min(want, room); ++k) {
    auto slot = free_slot(self, next);
    next = slot + 1;
    new_epoch(self, slot).tmpl = st.target;
    queue_place(self, slot); // sent by pump, within the place window
    ++total;
    ++c.current_unready;
  }
  // Too many of the current template: the newest go. (Stopped together at the
  // end: one endpoint publication for all of them.)
  std::vector<int32_t> going;
  for (auto i = static_cast<int32_t>(c.current.size()) - 1; i >= n; --i) {
    going.push_back(c.current[i]);
    --total;
  }
  if (!rolling || frozen) {
    stop_slots(self, going);
    return;
  }
  // Old replicas go as far as availability allows: those not ready first (they
  // count for nothing), then ready ones while enough others stay ready.
  auto min_available = n - u.max_unavailable;
  auto budget = total - min_available - c.current_unready;
  auto available = c.ready;
  for (bool ready_ones : {false, true})
    for (auto slot : c.old) {
      auto i = st.slots.find(slot);
      if (i == st.slots.end() || budget <= 0 || i->second.stopping ||
          is_ready(i->second) != ready_ones)
        continue;
      if (ready_ones && available - 1 < min_available)
        continue;
      // Not picked twice: each pass picks by readiness, which stays as it is.
      going.push_back(slot);
      --budget;
      if (ready_ones)
        --available;
    }
  stop_slots(self, going);
}

/// A replica of the template being rolled out crashed or failed its probes while
/// the rollout ran, or within update.monitor after it completed.
std::optional<std::string> rollout_failure(self_ptr self, const slot_state& s) {
  const auto& st = self->state;
  const auto& r = st.rollout;
  if (s.tmpl != st.target || s.stopping)
    return std::nullopt;
  bool watching = r.phase == p::rollout_state::progressing ||
                  (r.phase == p::rollout_state::complete &&
                   clock::now() - r.completed_at < st.spec.update.monitor &&
                   r.revision == st.revision && r.revision > 0);
  if (!watching)
    return std::nullopt;
  const auto& x = s.status;
  switch (x.state) {
    case p::replica_state::backoff:
    case p::replica_state::failed:
    case p::replica_state::exited:
      return std::string{x.id()} + " " +
             (x.message().empty() ? p::to_string(x.state) : std::string{x.message()});
    default:
      break;
  }
  if (x.unhealthy)
    return std::string{x.id()} + " failed its health probe: " + std::string{x.health()};
  return std::nullopt;
}

void request_rollback(self_ptr self, const std::string& why) {
  auto& r = self->state.rollout;
  r.phase = p::rollout_state::rolling_back;
  r.message = why;
  auto name = self->state.spec.name;
  auto failed = r.revision;
  self->request(self->state.ctx.cluster, std::chrono::seconds{30}, p::rollback_atom::value, name,
                int64_t{0}, "revision " + std::to_string(failed) + " failed: " + why)
      .then(
          [self](int64_t revision) {
            if (self->state.rollout.revision == revision)
              self->state.rollout.is_rollback = true;
          },
          [self, why](caf::error& err) {
            auto& r = self->state.rollout;
            r.phase = p::rollout_state::paused;
            r.message = why + "; cannot roll back: " + p::message_of(err);
            emit(self, "rollout_paused", r.message, {});
          });
}

void fail_rollout(self_ptr self, const std::string& why) {
  auto& r = self->state.rollout;
  auto action = self->state.spec.update.on_failure;
  auto head = "revision " + std::to_string(r.revision) + " failed: " + why;
  if (action == p::failure_action::resume) {
    emit(self, "rollout_failure_ignored", head + "; failure_action continue goes on", {});
    return;
  }
  if (action == p::failure_action::rollback && !r.is_rollback && self->state.ctx.cluster) {
    emit(self, "rollout_failed", head + "; rolling back", {});
    request_rollback(self, why);
    return;
  }
  r.phase = p::rollout_state::paused;
  r.message = why;
  emit(self, "rollout_paused",
       head + (r.is_rollback ? "; this was a rollback already: paused"
                             : "; paused (apply a fixed spec or `tutti rollout undo`)"),
       {});
}

p::rollout_status rollout_view(self_ptr self) {
  const auto& r = self->state.rollout;
  auto c = count_slots(self);
  p::rollout_status out;
  out.service = self->state.spec.name;
  out.revision = r.revision;
  out.state = r.phase;
  out.desired = self->state.spec.replicas;
  out.updated = static_cast<int32_t>(c.current.size());
  out.ready = out.updated - c.current_unready;
  out.available = c.ready;
  out.old = static_cast<int32_t>(c.old.size());
  out.message = r.message;
  return out;
}

void remember(self_ptr self, int64_t revision, const p::service_spec& spec) {
  auto& known = self->state.templates[template_hash(spec)];
  if (revision >= known.revision)
    known = {revision, spec};
}

void start_rollout(self_ptr self) {
  auto& r = self->state.rollout;
  r = rollout_state{self->state.revision, p::rollout_state::progressing, {}, {}, r.is_rollback};
  const auto& u = self->state.spec.update;
  r.message = "replacing replicas of earlier revisions (parallelism " +
              std::to_string(u.parallelism) + ", max_surge " + std::to_string(u.max_surge) +
              ", max_unavailable " + std::to_string(u.max_unavailable) + ")";
  emit(self, "rollout_started", "revision " + std::to_string(r.revision) + ": " + r.message, {});
}

/// Slots of older templates need those templates' specs (to adopt them on their
/// nodes while the rollout replaces them): from the revision history.
void load_history(self_ptr self) {
  bool old = false;
  for (auto& [slot, s] : self->state.slots)
    old = old || s.tmpl != self->state.target;
  if (!old) {
    reconcile(self);
    return;
  }
  self->request(self->state.ctx.store, std::chrono::seconds{30}, p::history_atom::value,
                self->state.spec.name)
      .await(
          [self](std::vector<p::spec_record>& records) {
            for (auto& rec : records) {
              auto parsed =
                  config::parse_specs(rec.yaml, "revision " + std::to_string(rec.revision));
              if (parsed.ok() && parsed.specs.size() == 1)
                remember(self, rec.revision, parsed.specs.front());
            }
            remember(self, self->state.revision, self->state.spec);
            start_rollout(self); // it goes on where the previous incarnation was
            reconcile(self);
          },
          [self](caf::error& err) {
            spdlog::error("service {}: cannot load its revision history: {}", self->state.spec.name,
                          p::message_of(err));
            reconcile(self);
          });
}

} // namespace tutti::actors::service_impl
