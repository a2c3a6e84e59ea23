#include "actors/daemon/standby_plane.hpp"

#include "actors/api/api_server.hpp"
#include "actors/daemon/api_access.hpp"
#include "actors/daemon/controllers_actor.hpp"
#include "actors/daemon/dev_daemon.hpp"
#include "actors/runtime/system_config.hpp"
#include "persistence/etcd_mirror.hpp"
#include "protocol/errors.hpp"

#include <caf/all.hpp>

namespace tutti::actors {

namespace p = tutti::protocol;

struct standby_plane::impl {
  std::shared_ptr<persistence::etcd::etcd_mirror> cache;
  system_config sys_cfg;
  std::unique_ptr<caf::actor_system> sys;
  std::unique_ptr<api_server> api;
  cluster_actor standby;
  controllers_actor controllers;
  uint16_t port = 0;

  ~impl() {
    if (api)
      api->stop();
    api.reset();
    if (standby)
      caf::anon_send_exit(standby, caf::exit_reason::user_shutdown);
    if (controllers)
      caf::anon_send_exit(controllers, caf::exit_reason::user_shutdown);
    // A detached actor's thread ends only once the last handle to it is gone.
    standby = cluster_actor{};
    controllers = controllers_actor{};
    sys.reset();
  }
};

caf::expected<std::unique_ptr<standby_plane>> standby_plane::start(standby_context ctx,
                                                                   metrics::recorder& metrics) {
  auto x = std::make_unique<impl>();
  x->cache = std::make_shared<persistence::etcd::etcd_mirror>(ctx.etcd, ctx.cfg.store.etcd.prefix);
  ctx.cache = x->cache;
  x->sys = std::make_unique<caf::actor_system>(x->sys_cfg);
  const auto& cfg = ctx.cfg;
  auto opts = api_options(cfg);
  if (auto err = configure_api_access(cfg, false, opts))
    return err;
  opts.role = [status = ctx.status] { return status->report(); };
  x->api = std::make_unique<api_server>(*x->sys, opts, metrics);
  x->controllers =
      spawn_controllers(*x->sys, controllers_context{cfg, ctx.etcd, 0, false});
  x->standby = spawn_standby(*x->sys, std::move(ctx));
  x->api->set_cluster(x->standby);
  x->api->set_admin(caf::actor_cast<supervising_actor>(x->standby));
  x->api->set_controllers(x->controllers);
  auto port = x->api->start();
  if (!port)
    return p::make_error(p::error_code::invalid_argument,
                         p::message_of(port.error()) +
                             "; is another tuttid running? choose another --api address");
  x->port = *port;
  return std::unique_ptr<standby_plane>(new standby_plane(std::move(x)));
}

standby_plane::standby_plane(std::unique_ptr<impl> x) : impl_(std::move(x)) {}

standby_plane::~standby_plane() = default;

uint16_t standby_plane::api_port() const {
  return impl_->port;
}

} // namespace tutti::actors
