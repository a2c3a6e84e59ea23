#include "actors/daemon/standby_actor.hpp"

#include "actors/daemon/store_setup.hpp"
#include "protocol/errors.hpp"

#include <caf/typed_event_based_actor.hpp>

#include <optional>

namespace tutti::actors {

namespace {

namespace p = tutti::protocol;

/// "api=HOST:PORT cluster=... host=..." (controller_id) -> "HOST:PORT".
std::string api_of(const std::string& controller) {
  auto at = controller.find("api=");
  if (at == std::string::npos)
    return controller;
  auto from = at + 4;
  return controller.substr(from, controller.find(' ', from) - from);
}

struct standby_state {
  standby_context ctx;
  std::shared_ptr<persistence::store> db; // opened at the first read that reaches etcd

  /// The store, read-only: its writes are fenced by a leadership nobody holds
  /// (no key is created at revision -1), so a bug here cannot write.
  caf::expected<persistence::store*> store() {
    if (db)
      return db.get();
    auto opened = open_configured_store(
        ctx.cfg, persistence::write_fence{ctx.cfg.store.etcd.prefix + "leader", -1}, ctx.cache);
    if (!opened)
      return p::make_error(p::code_of(opened.error()),
                           "this control process stands by and cannot read the store: " +
                               p::message_of(opened.error()));
    db = std::move(opened->store);
    return db.get();
  }

  /// A read failed: the store is opened again next time.
  caf::error failed(caf::error err) {
    db.reset();
    return err;
  }
};

using standby_actor = cluster_actor::stateful_pointer<standby_state>;

caf::result<std::vector<p::spec_record>> history_of(standby_actor self, const std::string& name) {
  auto db = self->state.store();
  if (!db)
    return std::move(db.error());
  auto xs = (*db)->history(name);
  if (!xs)
    return self->state.failed(std::move(xs.error()));
  if (xs->empty())
    return p::make_error(p::error_code::not_found, "no service named '" + name + "'");
  std::vector<p::spec_record> out;
  for (auto& x : *xs)
    out.push_back({x.name, x.revision, x.yaml, x.time_ms});
  return out;
}

caf::result<std::vector<p::event>> events_of(standby_actor self, uint64_t after, uint32_t limit,
                                             const std::string& service) {
  auto db = self->state.store();
  if (!db)
    return std::move(db.error());
  auto xs = after == 0 ? (*db)->last_events(limit, service)
                       : (*db)->events_after(after, limit, service);
  if (!xs)
    return self->state.failed(std::move(xs.error()));
  return std::move(*xs);
}

cluster_actor::behavior_type standby(standby_actor self, standby_context ctx) {
  self->state.ctx = std::move(ctx);
  auto refuse = [self] { return self->state.ctx.status->not_leader(); };
  return {
      [self](p::history_atom, const std::string& name) { return history_of(self, name); },
      [self](p::events_atom, uint64_t after, uint32_t limit, const std::string& service) {
        return events_of(self, after, limit, service);
      },
      [refuse](p::apply_atom, const std::string&, const std::string&, bool,
               const std::string&) -> caf::result<p::apply_result> { return refuse(); },
      [refuse](p::get_atom) -> caf::result<std::vector<p::service_status>> { return refuse(); },
      [refuse](p::get_atom, const std::string&) -> caf::result<std::vector<p::replica_status>> {
        return refuse();
      },
      [refuse](p::nodes_atom) -> caf::result<std::vector<p::node_status>> { return refuse(); },
      [refuse](p::import_atom, const std::string&) -> caf::result<node_actor> { return refuse(); },
      [refuse](p::volumes_atom) -> caf::result<std::vector<p::volume_info>> { return refuse(); },
      [refuse](p::volumes_atom, p::delete_atom, const std::string&, const std::string&,
               const std::string&) -> caf::result<bool> { return refuse(); },
      [refuse](p::describe_atom, const std::string&,
               uint32_t) -> caf::result<p::service_detail> { return refuse(); },
      [refuse](p::scale_atom, const std::string&, int32_t) -> caf::result<int64_t> {
        return refuse();
      },
      [refuse](p::delete_atom, const std::string&) -> caf::result<bool> { return refuse(); },
      [refuse](p::follow_atom, uint64_t, const std::string&,
               event_sink_actor) -> caf::result<bool> { return refuse(); },
      [refuse](p::logs_atom, const std::string&, int32_t, const std::string&,
               uint64_t) -> caf::result<std::string, std::string> { return refuse(); },
      [](p::child_atom, const std::string&) { return caf::actor{}; },
      [refuse](p::endpoints_atom,
               const std::string&) -> caf::result<std::vector<p::service_endpoints>> {
        return refuse();
      },
      [refuse](p::watch_atom, const std::string&, endpoints_sink_actor) -> caf::result<bool> {
        return refuse();
      },
      [refuse](p::rollout_atom, const std::string&) -> caf::result<p::rollout_status> {
        return refuse();
      },
      [refuse](p::rollback_atom, const std::string&, int64_t,
               const std::string&) -> caf::result<int64_t> { return refuse(); },
      [](p::sweep_atom, const std::string&) {},
      [](p::flush_atom) {},
      [refuse](p::cordon_atom, const std::string&, p::node_state) -> caf::result<p::node_status> {
        return refuse();
      },
      [](p::tick_atom, const std::string&) {},
      [refuse](p::tree_atom) -> caf::result<std::vector<p::actor_info>> { return refuse(); },
      [refuse](p::kill_atom, const std::string&, const std::string&) -> caf::result<std::string> {
        return refuse();
      },
      [refuse](p::objects_atom, p::object_kind, const std::string&, const std::string&,
               bool) -> caf::result<std::vector<p::object_info>> { return refuse(); },
      [refuse](p::objects_atom, p::delete_atom, p::object_kind,
               const std::string&) -> caf::result<bool> { return refuse(); },
      [refuse](p::payload_atom, const p::service_spec&) -> caf::result<p::shared_payloads> {
        return refuse();
      },
  };
}

} // namespace

void standby_status::set(std::string leader, std::string problem) {
  std::lock_guard<std::mutex> guard{mtx_};
  leader_ = std::move(leader);
  problem_ = std::move(problem);
}

p::role_report standby_status::report() const {
  std::lock_guard<std::mutex> guard{mtx_};
  p::role_report out;
  out.role = p::control_role::standby;
  out.leader = leader_.empty() ? std::string{} : api_of(leader_);
  out.detail = problem_;
  return out;
}

caf::error standby_status::not_leader() const {
  auto r = report();
  std::string why = "this control process stands by";
  if (!r.detail.empty())
    why += " (" + r.detail + ")";
  if (!r.leader.empty())
    return p::make_error(p::error_code::not_leader,
                         why + "; the leader at " + r.leader +
                             " serves this: give tutti --api every control address, or --api " +
                             r.leader);
  return p::make_error(p::error_code::not_leader,
                       why + " and no control process leads now; try again in a few seconds");
}

cluster_actor spawn_standby(caf::actor_system& sys, standby_context ctx) {
  return sys.spawn<caf::detached>(standby, std::move(ctx));
}

} // namespace tutti::actors
