#include "actors/node/replica_lifecycle.hpp"

#include "actors/node/driver_actor.hpp"
#include "actors/node/replica_containers.hpp"
#include "actors/node/replica_probes.hpp"
#include "actors/node/replica_restart.hpp"
#include "metrics/recorder.hpp"
#include "protocol/errors.hpp"

#include <caf/all.hpp>

#include <spdlog/spdlog.h>

#include <utility>

namespace tutti::actors::replica_impl {

namespace {

replica_place place_of(self_ptr self) {
  const auto& st = self->state.status;
  return {std::string{st.id()}, std::string{st.node()}, std::string{st.address()}, st.ports};
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

namespace {

/// Creates, starts and watches the replica's container (or containers), in
/// one driver call or request.
void run_main(self_ptr self, rd::container_spec spec) {
  auto failed = [self](const caf::error& err) {
    emit(self, "replica_failed", p::message_of(err));
    schedule_restart(self, p::message_of(err));
  };
  if (const auto& direct = self->state.ctx.inline_driver; direct && spec.parts.empty()) {
    auto me = caf::actor_cast<replica_actor>(self);
    auto info = direct->run(std::move(spec), [&me](const rd::container_info& x) {
      return exit_notice(me, x.runtime_id);
    });
    if (info)
      on_running(self, *info, false, true);
    else
      failed(info.error());
    return;
  }
  self->request(self->state.ctx.driver, caf::infinite, p::run_atom::value, std::move(spec),
                caf::actor_cast<replica_actor>(self))
      .then([self](rd::container_info& info) { on_running(self, info, false, true); },
            [failed](caf::error& err) { failed(err); });
}

std::string init_name(const replica_state_data::init_phase& init) {
  return init.steps[init.next].labels.at(rd::label::container);
}

/// Runs the next init container, or the replica's own once none is left.
void run_next_init(self_ptr self) {
  auto& init = *self->state.init;
  if (self->state.stop_requested || self->state.replace_pending) {
    // Asked meanwhile: nothing more of this revision runs.
    self->state.init.reset();
    if (self->state.stop_requested) {
      finish_stop(self);
    } else {
      self->state.replace_pending = false;
      remove_then(self, [self] { create_and_start(self); });
    }
    return;
  }
  if (init.next == init.steps.size()) {
    auto main = std::move(init.main);
    self->state.init.reset();
    run_main(self, std::move(main));
    return;
  }
  report(self, p::replica_state::starting,
         "init container " + init_name(init) + " running (" + std::to_string(init.next + 1) +
             " of " + std::to_string(init.steps.size()) + ")");
  init.runtime_id.clear();
  self->request(self->state.ctx.driver, caf::infinite, p::run_atom::value,
                init.steps[init.next], caf::actor_cast<replica_actor>(self))
      .then(
          [self](rd::container_info& info) {
            auto& init = *self->state.init;
            init.runtime_id = info.runtime_id;
            if (self->state.stop_requested || self->state.replace_pending)
              stop_container(self);
            if (auto early = std::exchange(init.early_exit, nullptr))
              on_init_exit(self, *early);
          },
          [self](caf::error& err) {
            auto why = "init container " + init_name(*self->state.init) + ": " +
                       p::message_of(err);
            self->state.init.reset();
            emit(self, "replica_failed", why);
            schedule_restart(self, why);
          });
}

} // namespace

void on_init_exit(self_ptr self, const p::replica_exited& msg) {
  auto& init = *self->state.init;
  if (init.runtime_id.empty()) { // its run has not answered yet
    init.early_exit = std::make_unique<p::replica_exited>(msg);
    return;
  }
  if (msg.runtime_id != init.runtime_id)
    return; // an earlier one's
  auto name = init_name(init);
  if (self->state.stop_requested || self->state.replace_pending || msg.exit_code != 0)
    self->state.init.reset();
  if (self->state.stop_requested) {
    finish_stop(self);
  } else if (self->state.replace_pending) {
    self->state.replace_pending = false;
    remove_then(self, [self] { create_and_start(self); });
  } else if (msg.exit_code != 0) {
    auto why = "init container " + name + " exited with code " + std::to_string(msg.exit_code);
    emit(self, "replica_failed", why);
    schedule_restart(self, why);
  } else {
    ++init.next;
    run_next_init(self);
  }
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
  auto specs = containers_of(*self->state.req, place_of(self), *volumes, *objects);
  if (!specs) {
    emit(self, "replica_failed", p::message_of(specs.error()));
    report(self, p::replica_state::failed, p::message_of(specs.error()));
    return; // a bad spec does not heal by retrying; a new revision replaces it
  }
  self->state.start_requested = clock::now();
  self->state.replace_pending = false; // what starts now is the newest revision already
  if (self->state.ctx.report_starting)
    report(self, p::replica_state::starting, "");
  else
    self->state.status.state = p::replica_state::starting; // on_exit, on_stop see it
  if (specs->inits.empty()) {
    run_main(self, std::move(specs->main));
    return;
  }
  // Init containers run anew with every new container of the replica: what
  // an earlier one left (a failed init container) goes first.
  self->state.init = std::make_unique<replica_state_data::init_phase>();
  self->state.init->steps = std::move(specs->inits);
  self->state.init->main = std::move(specs->main);
  remove_then(self, [self] { run_next_init(self); });
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
  if (self->state.status.state != p::replica_state::starting) {
    remove_then(self, [self] { create_and_start(self); });
    return;
  }
  self->state.replace_pending = true;
  if (self->state.init && !self->state.init->runtime_id.empty())
    stop_container(self); // an init container runs: its exit brings the new revision
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
      if (self->state.init && !self->state.init->runtime_id.empty())
        stop_container(self); // an init container runs: its exit finishes the stop
      break; // else on_running or the failure path sees stop_requested
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
