#include "actors/node/replica_actor.hpp"

#include "actors/node/driver_actor.hpp"
#include "actors/node/packed_status.hpp"
#include "actors/node/probe_tracker.hpp"
#include "config/spec_parser.hpp"
#include "metrics/recorder.hpp"
#include "protocol/errors.hpp"
#include "runtime-drivers/substitute.hpp"

#include <caf/all.hpp>

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <optional>
#include <unordered_map>

namespace tutti::actors {

namespace {

using std::chrono::duration_cast;
using clock = std::chrono::steady_clock;

/// A replica that ran at least this long before it exited is considered healthy:
/// its back-off starts over. Shorter runs keep doubling it, so a command that
/// exits at once cannot spin.
constexpr auto stable_uptime = std::chrono::seconds{1};

/// Exits in a row, each before stable_uptime, that make a replica crash-looping.
constexpr int crash_loop_after = 3;
constexpr size_t log_tail_bytes = 2048;

int64_t now_ms() {
  return duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

/// Label value that changes exactly when what a replica runs changes: a scale
/// commits a new revision but must not restart anything.
constexpr const char* template_label = "tutti.template";

std::string format_ms(caf::timespan x) {
  return std::to_string(duration_cast<std::chrono::milliseconds>(x).count()) + "ms";
}

struct replica_state_data {
  replica_links ctx;
  // Shared with the node's record of this replica: one copy of the request
  // (and of its spec) per replica, not one in each. Replaced, never changed.
  std::shared_ptr<const p::replica_request> req;
  packed_status status; // what it reports, packed: it is paid a million times
  caf::timespan backoff{0};
  clock::time_point started_at;      // of the current incarnation
  clock::time_point start_requested; // for the start latency metric
  std::string restart_token;         // the pending back-off timer; others are stale
  uint64_t token_counter = 0;
  bool replace_pending = false; // stop, then start the new revision
  bool stop_requested = false;
  std::vector<caf::typed_response_promise<bool>> stop_promises;
  // Health: probes of the current incarnation carry its generation.
  uint64_t probe_generation = 0;
  // Only for a spec with probes: a replica actor's state is paid a million times.
  struct probe_state {
    probe_tracker readiness;
    probe_tracker liveness;
    std::string readiness_result; // last outcome, for people
    std::string liveness_result;
  };
  std::unique_ptr<probe_state> probes;
  bool liveness_kill = false; // the running container is stopped for failing liveness
  int crash_streak = 0;       // exits in a row that came too soon
  // An exit reported while the container was being started: the driver watches
  // a container it runs before its answer reaches us, and the exit notice comes
  // from another thread, so it can overtake the answer. Handled after it.
  // Rare, so held by pointer: a replica actor's state is paid a million times.
  std::unique_ptr<p::replica_exited> early_exit;
  static inline const char* name = "replica";
};

using self_ptr = replica_actor::stateful_pointer<replica_state_data>;

/// Its status to its service, or to the node, which passes it on.
void send_status(self_ptr self) {
  if (self->state.ctx.service)
    self->send(self->state.ctx.service, self->state.status.unpack());
  else
    self->send(self->state.ctx.parent, self->state.status.unpack());
}

p::event event_of(self_ptr self, std::string kind, std::string message) {
  p::event e;
  e.kind = std::move(kind);
  e.service = self->state.req->service;
  e.replica = self->state.status.id();
  e.message = std::move(message);
  return e;
}

void send_event(self_ptr self, p::event e) {
  if (self->state.ctx.service)
    self->send(self->state.ctx.service, p::append_atom::value, std::move(e));
  else
    self->send(self->state.ctx.store, p::append_atom::value, std::move(e));
}

void emit(self_ptr self, std::string kind, std::string message) {
  send_event(self, event_of(self, std::move(kind), std::move(message)));
}

/// A new state, reported; with `e`, the event that tells of it, in the same
/// message when the report goes to the service (a replica start: a million
/// messages fewer at a million replicas).
void report(self_ptr self, p::replica_state state, std::string message,
            std::optional<p::event> e = std::nullopt) {
  auto& st = self->state.status;
  st.state = state;
  st.set_message(message);
  st.since_ms = now_ms();
  if (state != p::replica_state::running) {
    st.pid = 0;
    st.ready = false;
    ++self->state.probe_generation; // probes of the old incarnation are void
  }
  if (e && self->state.ctx.service) {
    self->send(self->state.ctx.service, st.unpack(), std::move(*e));
    return;
  }
  send_status(self);
  if (e)
    send_event(self, std::move(*e));
}

caf::expected<rd::container_spec> container_spec_of(self_ptr self) {
  const auto& req = *self->state.req;
  rd::container_spec out;
  out.name = self->state.status.id();
  out.image = req.spec->image;
  out.env = replica_env(*req.spec, self->state.status.ports);
  // Where its ports are expected to listen (the node's address), unless the spec says.
  out.env.emplace("TUTTI_ADDRESS", self->state.status.address());
  for (const auto& [key, value] : req.discovery_env)
    out.env.emplace(key, value); // the spec's own env wins
  for (const auto& arg : req.spec->command) {
    auto expanded = rd::substitute_env(arg, out.env);
    if (!expanded)
      return std::move(expanded.error());
    out.command.push_back(std::move(*expanded));
  }
  out.resources = req.spec->resources;
  std::string ports;
  for (const auto& b : self->state.status.ports)
    ports += (ports.empty() ? "" : ",") + b.name + "=" + std::to_string(b.host_port);
  out.labels = {{rd::label::service, req.service},
                {rd::label::replica, out.name},
                {rd::label::node, std::string{self->state.status.node()}},
                {rd::label::revision, std::to_string(req.revision)},
                {template_label, template_hash(req.spec)},
                {rd::label::ports, ports}};
  return out;
}

void schedule_restart(self_ptr self, std::string why);
void create_and_start(self_ptr self);

const p::probe_spec& probe_of(self_ptr self, bool readiness) {
  const auto& health = self->state.req->spec->health;
  return readiness ? health.readiness : health.liveness;
}

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
    self->request(st.ctx.driver, caf::infinite, p::stop_atom::value, std::string{st.status.id()},
                  st.req->spec->stop_grace)
        .then([](bool) {}, [](caf::error&) {});
  }
  if (st.status.ready != before.ready || st.status.unhealthy != before.unhealthy ||
      st.status.health() != before.health())
    send_status(self);
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
  rd::probe_target target{std::string{st.status.id()}, std::string{st.status.address()},
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
void finish_stop(self_ptr self);
void on_exit(self_ptr self, const p::replica_exited& msg);

/// `watched`: the driver watches it already (it ran it with `run`).
void on_running(self_ptr self, const rd::container_info& info, bool adopted,
                bool watched = false) {
  auto& st = self->state.status;
  st.pid = info.pid;
  st.set_runtime_id(info.runtime_id);
  st.revision = self->state.req->revision;
  self->state.started_at = clock::now();
  if (!adopted) {
    std::chrono::duration<double> took = clock::now() - self->state.start_requested;
    self->state.ctx.metrics->observe_replica_start(
        self->state.req->service, p::to_string(self->state.req->spec->driver), took.count());
  }
  auto what = adopted ? std::string{"adopted running "} : std::string{"started "};
  start_probes(self);
  report(self, p::replica_state::running, "",
         event_of(self, adopted ? "replica_adopted" : "replica_started",
                  what + (info.pid != 0 ? "pid " + std::to_string(info.pid) : info.runtime_id)));
  if (!watched)
    self->request(self->state.ctx.driver, caf::infinite, p::watch_atom::value, info.name,
                  info.runtime_id, caf::actor_cast<replica_actor>(self))
        .then([](bool) {},
              [self](caf::error& err) {
                schedule_restart(self, "cannot watch: " + p::message_of(err));
              });
  if (self->state.stop_requested || self->state.replace_pending)
    self->request(self->state.ctx.driver, caf::infinite, p::stop_atom::value,
                  std::string{self->state.status.id()}, self->state.req->spec->stop_grace)
        .then([](bool) {}, [](caf::error&) {});
  if (auto early = std::exchange(self->state.early_exit, nullptr))
    on_exit(self, *early); // ignored unless it is of the incarnation just started
}

void start_existing(self_ptr self) {
  self->state.start_requested = clock::now();
  report(self, p::replica_state::starting, "");
  self->request(self->state.ctx.driver, caf::infinite, p::start_atom::value,
                std::string{self->state.status.id()})
      .then([self](rd::container_info& info) { on_running(self, info, false); },
            [self](caf::error& err) {
              emit(self, "replica_failed", p::message_of(err));
              schedule_restart(self, p::message_of(err));
            });
}

void create_and_start(self_ptr self) {
  auto spec = container_spec_of(self);
  if (!spec) {
    emit(self, "replica_failed", p::message_of(spec.error()));
    report(self, p::replica_state::failed, p::message_of(spec.error()));
    return; // a bad spec does not heal by retrying; a new revision replaces it
  }
  self->state.start_requested = clock::now();
  if (self->state.ctx.report_starting)
    report(self, p::replica_state::starting, "");
  else
    self->state.status.state = p::replica_state::starting; // on_exit, on_stop see it
  auto failed = [self](const caf::error& err) {
    emit(self, "replica_failed", p::message_of(err));
    schedule_restart(self, p::message_of(err));
  };
  // Create, start and watch in one call, or in one request.
  if (const auto& direct = self->state.ctx.inline_driver) {
    auto me = caf::actor_cast<replica_actor>(self);
    auto info = direct->run(std::move(*spec), [&me](const rd::container_info& x) {
      return exit_notice(me, x.runtime_id);
    });
    if (info)
      on_running(self, *info, false, true);
    else
      failed(info.error());
    return;
  }
  self->request(self->state.ctx.driver, caf::infinite, p::run_atom::value, std::move(*spec),
                caf::actor_cast<replica_actor>(self))
      .then([self](rd::container_info& info) { on_running(self, info, false, true); },
            [failed](caf::error& err) { failed(err); });
}

/// Removes whatever container of this name exists, then runs `next`.
template <class F> void remove_then(self_ptr self, F next) {
  self->request(self->state.ctx.driver, caf::infinite, p::remove_atom::value,
                std::string{self->state.status.id()}, true)
      .then([next](bool) { next(); },
            [self, next](caf::error& err) {
              if (p::code_of(err) != p::error_code::not_found)
                spdlog::warn("replica {}: remove failed: {}", self->state.status.id(),
                             p::message_of(err));
              next();
            });
}

void recover(self_ptr self) {
  self->request(self->state.ctx.driver, caf::infinite, p::inspect_atom::value,
                std::string{self->state.status.id()})
      .then(
          [self](rd::container_info& info) {
            auto tmpl = info.labels.find(template_label);
            bool same_rev =
                tmpl != info.labels.end() && tmpl->second == template_hash(self->state.req->spec);
            if (info.state == rd::container_state::running && same_rev) {
              on_running(self, info, true);
              return;
            }
            if (info.state == rd::container_state::running) {
              // An older revision is running: replace it like an update would.
              self->state.replace_pending = true;
              self->state.status.set_runtime_id(info.runtime_id);
              on_running(self, info, true);
              return;
            }
            remove_then(self, [self] { create_and_start(self); });
          },
          [self](caf::error& err) {
            if (p::code_of(err) == p::error_code::not_found) {
              create_and_start(self);
              return;
            }
            emit(self, "replica_failed", p::message_of(err));
            schedule_restart(self, p::message_of(err));
          });
}

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

void finish_stop(self_ptr self) {
  report(self, p::replica_state::stopping, "removing");
  remove_then(self, [self] {
    emit(self, "replica_stopped", "stopped and removed");
    for (auto& promise : self->state.stop_promises)
      promise.deliver(true);
    self->quit();
  });
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

void on_exit(self_ptr self, const p::replica_exited& msg) {
  auto& st = self->state.status;
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
  auto uptime = clock::now() - self->state.started_at;
  if (uptime >= stable_uptime) {
    self->state.backoff = caf::timespan{0};
    self->state.crash_streak = 0;
    self->state.status.set_log_tail({});
  } else {
    ++self->state.crash_streak;
  }
  std::string how = msg.exit_code < 0 ? std::string{"exited (code unknown)"}
                                      : "exited with code " + std::to_string(msg.exit_code);
  bool liveness_kill = std::exchange(self->state.liveness_kill, false);
  if (liveness_kill)
    how = "stopped for failing its liveness probe (" +
          (self->state.probes ? self->state.probes->liveness_result : std::string{}) + ")";
  bool restart = liveness_kill ? self->state.req->spec->restart.policy != p::restart_policy::never
                               : should_restart(self, msg.exit_code);
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

void on_update(self_ptr self, p::replica_request& req) {
  if (req.revision == self->state.req->revision) {
    auto next = std::make_shared<p::replica_request>(*self->state.req);
    next->discovery_env = std::move(req.discovery_env); // for the next start
    self->state.req = std::move(next);
    send_status(self);
    return;
  }
  bool running = self->state.status.state == p::replica_state::running;
  if (template_hash(req.spec) == template_hash(self->state.req->spec)) {
    self->state.req = std::make_shared<const p::replica_request>(std::move(req));
    self->state.status.revision = self->state.req->revision;
    send_status(self);
    return;
  }
  self->state.req = std::make_shared<const p::replica_request>(std::move(req));
  self->state.status.set_template_hash(template_hash(self->state.req->spec));
  self->state.backoff = caf::timespan{0};
  self->state.crash_streak = 0;
  self->state.restart_token.clear();
  if (running) {
    self->state.replace_pending = true;
    report(self, p::replica_state::stopping,
           "replacing with revision " + std::to_string(self->state.req->revision));
    self->request(self->state.ctx.driver, caf::infinite, p::stop_atom::value,
                  std::string{self->state.status.id()}, self->state.req->spec->stop_grace)
        .then([](bool) {}, [](caf::error&) {});
    return;
  }
  if (self->state.status.state != p::replica_state::starting)
    remove_then(self, [self] { create_and_start(self); });
  else
    self->state.replace_pending = true;
}

caf::result<bool> on_stop(self_ptr self) {
  auto promise = self->make_response_promise<bool>();
  self->state.stop_promises.push_back(promise);
  if (self->state.stop_requested)
    return promise;
  self->state.stop_requested = true;
  self->state.restart_token.clear();
  switch (self->state.status.state) {
    case p::replica_state::running:
      report(self, p::replica_state::stopping, "stopping");
      self->request(self->state.ctx.driver, caf::infinite, p::stop_atom::value,
                    std::string{self->state.status.id()}, self->state.req->spec->stop_grace)
          .then([](bool) {}, [self](caf::error&) { finish_stop(self); });
      break;
    case p::replica_state::starting:
      break; // on_running or the failure path sees stop_requested
    default:
      finish_stop(self);
  }
  return promise;
}

replica_actor::behavior_type replica(self_ptr self, replica_context ctx,
                                     std::shared_ptr<const p::replica_request> req) {
  self->state.ctx = std::move(ctx.links);
  self->state.req = std::move(req);
  p::replica_status st;
  st.service = self->state.req->service;
  st.slot = self->state.req->slot;
  st.id = p::replica_id(st.service, st.slot);
  st.node = std::move(ctx.node);
  st.revision = self->state.req->revision;
  st.ports = std::move(ctx.ports);
  st.address = std::move(ctx.address);
  st.template_hash = template_hash(self->state.req->spec);
  self->state.status = packed_status{st};
  if (self->state.ctx.fresh)
    create_and_start(self);
  else
    recover(self);
  return {
      [self](p::replica_request& r) { on_update(self, r); },
      [self](p::route_atom, service_actor& service) {
        self->state.ctx.service = std::move(service);
      },
      [self](p::replica_exited& msg) { on_exit(self, msg); },
      [self](p::restart_atom, const std::string& token) { on_restart_timer(self, token); },
      [self](p::probe_atom, bool readiness, uint64_t generation) {
        run_probe(self, readiness, generation);
      },
      [self](p::stop_atom) { return on_stop(self); },
      [self](p::status_atom) { return self->state.status.unpack(); },
  };
}

} // namespace

std::map<std::string, std::string> replica_env(const p::service_spec& spec,
                                               const std::vector<p::port_binding>& ports) {
  auto env = spec.env;
  for (size_t i = 0; i < ports.size(); ++i) {
    auto value = std::to_string(ports[i].host_port);
    if (i == 0)
      env["PORT"] = value;
    std::string key = "PORT_";
    for (char c : ports[i].name)
      key += c == '-' ? '_' : static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    env[key] = value;
  }
  return env;
}

namespace {

std::string compute_template_hash(const p::service_spec& spec) {
  // Routing (published ports, balancing) is the mesh's business: changing it must
  // not replace replicas. The balancing line is cut from the text, so replicas
  // started before the mesh existed keep their hash; so are the placement
  // fields added later (anti_affinity, spread_over) while they are unset.
  auto copy = spec;
  copy.replicas = 0;
  copy.balancing = p::load_balancing::round_robin;
  copy.update = {}; // how to roll out is not what runs
  for (auto& port : copy.ports)
    port.published = 0;
  auto text = config::emit_spec(copy);
  for (const std::string line :
       {"load_balancing: round_robin\n", "  anti_affinity: []\n", "  spread_over: \"\"\n"})
    if (auto at = text.find(line); at != std::string::npos)
      text.erase(at, line.size());
  uint64_t h = 1469598103934665603ull; // FNV-1a: stable across runs and builds
  for (unsigned char c : text)
    h = (h ^ c) * 1099511628211ull;
  char buf[17];
  std::snprintf(buf, sizeof(buf), "%016llx", static_cast<unsigned long long>(h));
  return buf;
}

} // namespace

namespace {

/// Emitting the YAML costs tens of microseconds and every replica of a revision
/// asks with the same spec: the hash of the last spec per service name, per
/// thread. The spec is held shared: one a revision's replicas share is found by
/// the object, without comparing it (its address is not reused while held).
struct template_entry {
  p::shared_spec spec;
  std::string hash;
};

std::unordered_map<std::string, template_entry>& template_cache() {
  thread_local std::unordered_map<std::string, template_entry> cache;
  return cache;
}

const std::string& remember_template(const p::shared_spec& spec) {
  auto& cache = template_cache();
  if (cache.size() >= 4096)
    cache.clear(); // bounded: a long-lived process sees many names come and go
  return (cache[spec->name] = template_entry{spec, compute_template_hash(*spec)}).hash;
}

} // namespace

std::string template_hash(const p::service_spec& spec) {
  auto& cache = template_cache();
  if (auto i = cache.find(spec.name); i != cache.end() && *i->second.spec == spec)
    return i->second.hash;
  return remember_template(p::shared_spec{spec});
}

std::string template_hash(const p::shared_spec& spec) {
  auto& cache = template_cache();
  if (auto i = cache.find(spec->name); i != cache.end()) {
    auto& e = i->second;
    if (e.spec.same(spec))
      return e.hash;
    if (*e.spec == *spec) {
      e.spec = spec; // the same revision, shared now: found by the object next time
      return e.hash;
    }
  }
  return remember_template(spec);
}

caf::timespan next_backoff(caf::timespan current, const p::backoff_spec& spec) {
  return std::min(current * 2, spec.max);
}

replica_actor spawn_replica(caf::actor_system& sys, replica_context ctx,
                            std::shared_ptr<const p::replica_request> req) {
  metrics::required(ctx.links.metrics, "replica_links");
  return sys.spawn(replica, std::move(ctx), std::move(req));
}

} // namespace tutti::actors
