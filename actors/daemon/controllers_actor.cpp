#include "actors/daemon/controllers_actor.hpp"

#include "actors/daemon/dev_daemon.hpp"
#include "actors/daemon/store_setup.hpp"

#include <caf/event_based_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include <nlohmann/json.hpp>

namespace tutti::actors {

namespace {

using nlohmann::json;

p::controller_status self_status(const controllers_context& ctx) {
  p::controller_status x;
  x.api = ctx.cfg.api.to_string();
  x.cluster = ctx.cfg.cluster.listen.to_string();
  x.host = host_name();
  x.leading = ctx.leading;
  x.since_ms = ctx.leading_since_ms;
  return x;
}

/// The live control processes, the leader marked; errors leave the list as
/// far as it was read.
std::vector<p::controller_status> registered(const controllers_context& ctx) {
  const auto& prefix = ctx.cfg.store.etcd.prefix;
  auto leader = ctx.etcd->range(prefix + "leader");
  std::string leader_id = leader && !leader->kvs.empty() ? leader->kvs.front().value : "";
  auto registry = prefix + "controllers/";
  auto r = ctx.etcd->range(registry, persistence::etcd::prefix_end(registry));
  std::vector<p::controller_status> out;
  if (!r)
    return {self_status(ctx)};
  for (const auto& kv : r->kvs) {
    auto j = json::parse(kv.value, nullptr, false);
    if (!j.is_object())
      continue;
    p::controller_status x;
    x.api = j.value("api", "");
    x.cluster = j.value("cluster", "");
    x.host = j.value("host", "");
    x.since_ms = j.value("since_ms", int64_t{0});
    x.leading = kv.key.substr(registry.size()) == leader_id;
    if (x.leading && leader_id == controller_id(ctx.cfg))
      x.since_ms = ctx.leading_since_ms;
    out.push_back(std::move(x));
  }
  return out;
}

/// Each etcd endpoint asked on its own: its version and role, or why not.
std::vector<p::store_endpoint> endpoint_health(const controllers_context& ctx) {
  std::vector<p::store_endpoint> out;
  auto one = ctx.cfg;
  for (const auto& ep : ctx.cfg.store.etcd.endpoints) {
    p::store_endpoint x;
    x.endpoint = ep.to_string();
    one.store.etcd.endpoints = {ep};
    one.store.etcd.timeout = std::chrono::seconds{1};
    auto client = make_etcd_client(one.store.etcd);
    auto status = client ? (*client)->status() : caf::expected<persistence::etcd::member_status>{
                                                     client.error()};
    if (status) {
      x.healthy = true;
      x.message = "etcd " + status->version + ", " +
                  (status->member_id == status->leader_id ? "leader" : "follower") + ", " +
                  std::to_string(status->db_size / 1024) + " KiB";
    } else {
      x.message = p::message_of(status.error());
    }
    out.push_back(std::move(x));
  }
  return out;
}

} // namespace

std::string controller_id(const config::daemon_config& cfg) {
  return "api=" + cfg.api.to_string() + " cluster=" + cfg.cluster.listen.to_string() +
         " host=" + host_name();
}

std::string controller_record(const config::daemon_config& cfg, int64_t since_ms) {
  return json{{"api", cfg.api.to_string()},
              {"cluster", cfg.cluster.listen.to_string()},
              {"host", host_name()},
              {"since_ms", since_ms}}
      .dump();
}

controllers_actor spawn_controllers(caf::actor_system& sys, controllers_context ctx) {
  return sys.spawn<caf::detached>(
      [ctx](controllers_actor::pointer) -> controllers_actor::behavior_type {
        return {[ctx](p::get_atom) {
          p::controllers_report report;
          report.store = describe_store(ctx.cfg);
          if (!ctx.etcd) {
            report.controllers = {self_status(ctx)};
            return report;
          }
          report.controllers = registered(ctx);
          report.endpoints = endpoint_health(ctx);
          return report;
        }};
      });
}

} // namespace tutti::actors
