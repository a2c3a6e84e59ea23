#include "actors/cluster/cluster_actor.hpp"

#include "actors/cluster/cluster_state.hpp"
#include "actors/cluster/cluster_nodes.hpp"
#include "actors/cluster/cluster_objects.hpp"
#include "actors/cluster/cluster_reads.hpp"
#include "actors/cluster/cluster_specs.hpp"
#include "actors/cluster/cluster_sweep.hpp"

#include "actors/cluster/published_ports.hpp"
#include "actors/service/service_actor.hpp"
#include "config/spec_parser.hpp"
#include "metrics/recorder.hpp"
#include "protocol/errors.hpp"

#include <caf/all.hpp>

#include <spdlog/spdlog.h>

#include <memory>

namespace tutti::actors {

namespace cluster_impl {

namespace {

std::string service_child(const std::string& name) {
  return "service/" + name;
}

} // namespace

service_actor service_of(self_ptr self, const std::string& name) {
  return self->state.sup->child_as<service_actor>(service_child(name));
}

caf::error unknown_service(const std::string& name) {
  return p::make_error(p::error_code::not_found,
                       "service " + name + " not found; `tutti get services` lists them");
}

void emit(self_ptr self, std::string kind, std::string service, std::string message) {
  p::event e;
  e.kind = std::move(kind);
  e.service = std::move(service);
  e.message = std::move(message);
  self->send(self->state.ctx.store, p::append_atom::value, std::move(e));
}

void start_service(self_ptr self, const std::string& name) {
  self->state.sup->start_child(service_child(name), [self, name]() -> caf::actor {
    // A restarted service starts from the newest acknowledged spec.
    const auto& entry = self->state.services.at(name);
    service_context sc;
    sc.store = self->state.ctx.store;
    sc.placement = self->state.ctx.placement;
    sc.metrics = self->state.ctx.metrics;
    sc.discovery = self->state.ctx.discovery;
    sc.discovery_env = self->state.discovery_env;
    sc.cluster = caf::actor_cast<cluster_actor>(self);
    return caf::actor_cast<caf::actor>(
        spawn_service(self->system(), sc, entry.spec, entry.revision));
  });
}

std::vector<std::string> service_names(self_ptr self) {
  std::vector<std::string> out;
  for (auto& [name, entry] : self->state.services)
    out.push_back(name);
  return out;
}

std::vector<p::service_spec> current_specs(self_ptr self) {
  std::vector<p::service_spec> out;
  for (const auto& [name, entry] : self->state.services)
    out.push_back(entry.spec);
  return out;
}

void refresh_env(self_ptr self) {
  auto env = discovery_env(current_specs(self), self->state.ctx.mesh_host);
  if (env == self->state.discovery_env)
    return;
  self->state.discovery_env = env;
  for (const auto& [name, entry] : self->state.services)
    if (auto svc = service_of(self, name))
      self->send(svc, p::env_atom::value, env);
}

namespace {

/// Loads the namespaces' quotas (before any apply can be answered).
void load_quotas(self_ptr self) {
  self->request(self->state.ctx.store, std::chrono::seconds{60}, p::get_atom::value,
                p::object_kind::quota, std::string{}, uint32_t{1} << 20)
      .await(
          [self](std::vector<p::stored_object>& xs) {
            for (auto& x : xs) {
              auto parsed = config::parse_specs(x.value, "store:quota/" + x.name);
              if (!parsed.ok() || parsed.quotas.size() != 1) {
                spdlog::error("cluster: the stored quota of namespace {} no longer parses", x.name);
                continue;
              }
              self->state.quotas[x.name] = parsed.quotas.front();
            }
          },
          [self](caf::error& err) {
            spdlog::error("cluster: cannot load quotas: {}", p::message_of(err));
            self->quit(err);
          });
}

/// Loads every stored spec and starts its service actor, then the sweeps.
void load_services(self_ptr self) {
  self->request(self->state.ctx.store, std::chrono::seconds{60}, p::load_atom::value)
      .await(
          [self](std::vector<p::spec_record>& recs) {
            for (auto& rec : recs) {
              auto parsed = config::parse_specs(rec.yaml, "store:" + rec.name);
              if (!parsed.ok() || parsed.specs.size() != 1) {
                spdlog::error("cluster: stored spec of {} (revision {}) no longer parses: {}",
                              rec.name, rec.revision,
                              parsed.errors.empty() ? "" : p::to_string(parsed.errors.front()));
                continue;
              }
              self->state.services[rec.name] =
                  service_entry{parsed.specs.front(), rec.revision, rec.yaml, rec.time_ms};
            }
            self->state.discovery_env =
                discovery_env(current_specs(self), self->state.ctx.mesh_host);
            for (auto& [name, entry] : self->state.services)
              start_service(self, name);
            spdlog::info("cluster: {} services loaded from the store", self->state.services.size());
            sweep_all(self);
          },
          [self](caf::error& err) {
            spdlog::error("cluster: cannot load specs: {}", p::message_of(err));
            self->quit(err);
          });
}

/// Sets up the supervision of the services, loads the stored node states and
/// then the services, and announces this incarnation to the RPC edge.
void start(self_ptr self, cluster_context ctx) {
  self->state.ctx = std::move(ctx);
  auto& st = self->state;
  st.sup = std::make_unique<supervision>(self, "cluster", restart_strategy::one_for_one,
                                         st.ctx.limit, *st.ctx.metrics);
  self->set_down_handler([self](caf::down_msg& msg) { self->state.sup->handle_down(msg); });
  load_nodes(self, [self] {
    load_quotas(self);
    load_objects(self, [self] { load_services(self); });
  });
  if (st.ctx.announce)
    st.ctx.announce(caf::actor_cast<cluster_actor>(self));
}

} // namespace

cluster_actor::behavior_type cluster(self_ptr self, cluster_context ctx) {
  start(self, std::move(ctx));
  return {
      // Specs: apply, scale, rollback, delete (cluster_specs).
      [self](p::apply_atom, const std::string& file, const std::string& text, bool dry_run,
             const std::string& ns) { return apply(self, file, text, dry_run, ns); },
      [self](p::scale_atom, const std::string& name, int32_t n) { return scale(self, name, n); },
      [self](p::rollback_atom, const std::string& name, int64_t to, const std::string& reason) {
        return rollback(self, name, to, reason);
      },
      [self](p::delete_atom, const std::string& name) { return remove_service(self, name); },
      // Reads (cluster_reads).
      [self](p::get_atom) { return get_services(self); },
      [self](p::get_atom, const std::string& name) { return get_replicas(self, name); },
      [self](p::rollout_atom, const std::string& name) { return rollout_of(self, name); },
      [self](p::history_atom, const std::string& name) { return history_of(self, name); },
      [self](p::describe_atom, const std::string& name, uint32_t limit) {
        return describe(self, name, limit);
      },
      [self](p::events_atom, uint64_t after, uint32_t limit, const std::string& service) {
        return events(self, after, limit, service);
      },
      [self](p::follow_atom, uint64_t after, const std::string& service, event_sink_actor sink) {
        return follow(self, after, service, std::move(sink));
      },
      [self](p::logs_atom, const std::string& name, int32_t slot, const std::string& container,
             uint64_t max_bytes) { return logs(self, name, slot, container, max_bytes);
      },
      [self](p::endpoints_atom, const std::string& name) { return get_endpoints(self, name); },
      [self](p::watch_atom, const std::string& name, endpoints_sink_actor sink) {
        return watch_endpoints(self, name, std::move(sink));
      },
      // Nodes: cordon, drain, uncordon (cluster_nodes).
      [self](p::cordon_atom, const std::string& name, p::node_state state) {
        return set_node_state(self, name, state);
      },
      [self](p::tick_atom, const std::string& node) { check_drained(self, node); },
      [self](p::nodes_atom) { return nodes(self); },
      [self](p::import_atom, const std::string& node) { return node_agent(self, node); },
      [self](p::volumes_atom) { return volumes(self); },
      [self](p::volumes_atom, p::delete_atom, const std::string& node, const std::string& replica,
             const std::string& volume) { return remove_volume(self, node, replica, volume); },
      // Configs and secrets (cluster_objects).
      [self](p::objects_atom, p::object_kind kind, const std::string& ns, const std::string& name,
             bool with_data) { return list_objects(self, kind, ns, name, with_data); },
      [self](p::objects_atom, p::delete_atom, p::object_kind kind, const std::string& name) {
        return remove_object(self, kind, name);
      },
      [self](p::payload_atom, const p::service_spec& spec) -> caf::result<p::shared_payloads> {
        auto out = payloads_of(self, spec);
        if (!out)
          return std::move(out.error());
        return std::move(*out);
      },
      // Fencing sweeps (cluster_sweep).
      [self](p::sweep_atom, const std::string& node) { sweep(self, node); },
      [self](p::flush_atom) { sweep_joined(self); },
      // Supervision of the services.
      [self](p::child_atom, const std::string& name) { return self->state.sup->child(name); },
      [self](p::tree_atom) { return self->state.sup->tree(); },
      [self](p::kill_atom, const std::string& path, const std::string& reason) {
        return self->state.sup->kill(path, reason);
      },
  };
}

} // namespace cluster_impl

cluster_actor spawn_cluster(caf::actor_system& sys, cluster_context ctx) {
  metrics::required(ctx.metrics, "cluster_context");
  return sys.spawn(cluster_impl::cluster, std::move(ctx));
}

} // namespace tutti::actors
