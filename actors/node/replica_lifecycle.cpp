#include "actors/node/replica_lifecycle.hpp"

#include "actors/node/driver_actor.hpp"
#include "actors/node/replica_probes.hpp"
#include "actors/node/replica_restart.hpp"
#include "metrics/recorder.hpp"
#include "protocol/errors.hpp"
#include "runtime-drivers/substitute.hpp"

#include <caf/all.hpp>

#include <spdlog/spdlog.h>

#include <utility>

namespace tutti::actors::replica_impl {

namespace {

/// Label value that changes exactly when what a replica runs changes: a scale
/// commits a new revision but must not restart anything.
constexpr const char* template_label = "tutti.template";

caf::expected<rd::container_spec> container_spec_of(self_ptr self,
                                                   const replica_volumes& volumes,
                                                   const replica_objects& objects) {
  const auto& req = *self->state.req;
  rd::container_spec out;
  out.name = self->state.status.id();
  out.image = req.spec->image;
  out.image_archive = req.spec->image_archive;
  out.env = replica_env(*req.spec, self->state.status.ports);
  if (req.spec->driver == p::driver_kind::process || req.spec->driver == p::driver_kind::sim)
    for (const auto& [key, folder] : volumes.env)
      out.env.emplace(key, folder);
  else
    out.mounts = volumes.mounts;
  for (const auto& [key, file] : objects.files)
    out.env.emplace(key, file);
  out.mounts.insert(out.mounts.end(), objects.mounts.begin(), objects.mounts.end());
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
  // After the command's ${VAR}s: a secret's value never shows in a command line.
  for (const auto& [key, value] : objects.values)
    out.env[key] = value;
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

/// `watched`: the driver watches it already (it ran it with `run`).
void on_running(self_ptr self, const rd::container_info& info, bool adopted, bool watched = false) {
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
    stop_container(self);
  if (auto early = std::exchange(self->state.early_exit, nullptr))
    on_exit(self, *early); // ignored unless it is of the incarnation just started
}

} // namespace

void stop_container(self_ptr self) {
  self->request(self->state.ctx.driver, caf::infinite, p::stop_atom::value,
                std::string{self->state.status.id()}, self->state.req->spec->stop_grace)
      .then([](bool) {}, [](caf::error&) {});
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
  // A volume's folder may be missing for reasons that pass (a full disk, a
  // host folder not made yet): tried again with the restart back-off.
  auto volumes = prepare_volumes(*self->state.ctx.volumes, *self->state.req->spec,
                                 std::string{self->state.status.id()});
  if (!volumes) {
    emit(self, "replica_failed", p::message_of(volumes.error()));
    schedule_restart(self, p::message_of(volumes.error()));
    return;
  }
  // A config or secret that cannot be written (a full tmpfs) is retried like a volume.
  auto objects = prepare_objects(*self->state.ctx.objects, *self->state.req->spec,
                                 self->state.req->objects, std::string{self->state.status.id()});
  if (!objects) {
    emit(self, "replica_failed", p::message_of(objects.error()));
    schedule_restart(self, p::message_of(objects.error()));
    return;
  }
  auto spec = container_spec_of(self, *volumes, *objects);
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

void remove_then(self_ptr self, std::function<void()> next) {
  self->request(self->state.ctx.driver, caf::infinite, p::remove_atom::value,
                std::string{self->state.status.id()}, true)
      .then(
          [self, next](bool) {
            self->state.removed = true;
            next();
          },
          [self, next](caf::error& err) {
            self->state.removed = p::code_of(err) == p::error_code::not_found;
            if (!self->state.removed)
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
    stop_container(self);
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

void finish_stop(self_ptr self) {
  report(self, p::replica_state::stopping, "removing");
  remove_then(self, [self] {
    remove_scratch(*self->state.ctx.volumes, std::string{self->state.status.id()});
    remove_objects(*self->state.ctx.objects, std::string{self->state.status.id()});
    emit(self, "replica_stopped", "stopped and removed");
    for (auto& promise : self->state.stop_promises)
      promise.deliver(self->state.removed);
    self->quit();
  });
}

} // namespace tutti::actors::replica_impl
