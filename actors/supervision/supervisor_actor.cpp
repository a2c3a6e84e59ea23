#include "actors/supervision/supervisor_actor.hpp"

#include "metrics/recorder.hpp"
#include "protocol/messages.hpp"

#include <spdlog/spdlog.h>

#include <caf/all.hpp>

namespace tutti::actors {

namespace {

struct supervisor_state {
  std::unique_ptr<supervision> sup;
  static inline const char* name = "supervisor";
};

caf::behavior supervisor(caf::stateful_actor<supervisor_state>* self, std::string name,
                         restart_strategy strategy, restart_limit limit, metrics::recorder* metrics,
                         std::vector<child_spec> children) {
  self->state.sup = std::make_unique<supervision>(self, name, strategy, limit, *metrics);
  self->set_down_handler([self](caf::down_msg& msg) { self->state.sup->handle_down(msg); });
  for (auto& c : children)
    self->state.sup->start_child(c.name, std::move(c.start), c.supervises);
  return {
      [self](protocol::shutdown_atom) {
        spdlog::debug("{}: shutting down", self->state.sup ? "supervisor" : "?");
        self->state.sup->stop_all(caf::exit_reason::user_shutdown);
        self->quit();
      },
      [self](protocol::child_atom, const std::string& name) {
        return self->state.sup->child(name);
      },
      [self](protocol::tree_atom) { return self->state.sup->tree(); },
      [self](protocol::kill_atom, const std::string& path, const std::string& reason) {
        return self->state.sup->kill(path, reason);
      },
  };
}

} // namespace

caf::actor spawn_supervisor(caf::actor_system& sys, std::string name, restart_strategy strategy,
                            restart_limit limit, metrics::recorder& metrics,
                            std::vector<child_spec> children) {
  // CAF passes spawn arguments on by value: the recorder goes as a pointer to it.
  return sys.spawn(supervisor, std::move(name), strategy, limit, &metrics, std::move(children));
}

} // namespace tutti::actors
