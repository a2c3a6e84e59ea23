#include "actors/api/api_server.hpp"

#include "actors/api/actor_calls.hpp"
#include "actors/api/api_tls.hpp"
#include "actors/api/backup_sender.hpp"
#include "actors/api/image_upload_server.hpp"
#include "actors/api/node_joins.hpp"
#include "actors/api/call_inspection.hpp"
#include "actors/api/connection_gate.hpp"
#include "actors/api/dashboard_server.hpp"

#include "access/authorizer.hpp"
#include "access/policy.hpp"
#include "access/records.hpp"
#include "access/tokens.hpp"

#include "config/spec_parser.hpp"
#include "metrics/recorder.hpp"
#include "protocol/capnp_convert.hpp"
#include "protocol/errors.hpp"
#include "protocol/namespaces.hpp"
#include "protocol/utf8.hpp"

#include <caf/all.hpp>

#include <capnp/rpc-twoparty.h>
#include <kj/async-io.h>
#include <kj/debug.h>

#include <spdlog/spdlog.h>

#include <chrono>
#include <deque>
#include <future>
#include <mutex>
#include <random>

#include <sys/stat.h>
#include <unistd.h>
#include <thread>

namespace tutti::actors {

namespace {

namespace rpc = protocol::rpc;
using clock = std::chrono::steady_clock;
using api_calls::ask_actor;
using api_calls::refusal;
using api_calls::reply_box;

/// A live actor (the cluster actor, the admin), read by the KJ thread and
/// written by CAF's.
template <class Handle> class actor_slot {
public:
  void set(Handle x) {
    std::lock_guard<std::mutex> guard{mtx_};
    handle_ = std::move(x);
  }
  Handle get() const {
    std::lock_guard<std::mutex> guard{mtx_};
    return handle_;
  }

private:
  mutable std::mutex mtx_;
  Handle handle_;
};

using cluster_slot = actor_slot<cluster_actor>;
using admin_slot = actor_slot<supervising_actor>;
using controllers_slot = actor_slot<controllers_actor>;
using store_slot = actor_slot<store_actor>;

/// Where this process's audit record ids start counting: random, so that two
/// control processes of one store (a failover) do not make the same id.
uint64_t random_base() {
  std::random_device rd;
  return (uint64_t{rd()} << 32) | rd();
}

int64_t now_ms() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

template <class T, class... Ts>
kj::Promise<caf::expected<T>> ask(caf::actor_system& sys, const cluster_slot& slot,
                                  caf::timespan timeout, Ts... xs) {
  return ask_actor<T>(sys, slot.get(), timeout, std::move(xs)...);
}

/// Values an actor pushes to a streaming call (events to a follower, endpoint
/// sets to a watcher), handed from CAF's thread to KJ's.
template <class T> class value_pipe {
public:
  void push(std::vector<T> xs) {
    std::lock_guard<std::mutex> guard{mtx_};
    for (auto& x : xs)
      queue_.push_back(std::move(x));
    if (waiter_) {
      waiter_->fulfill();
      waiter_ = nullptr;
    }
  }

  /// Resolves (on the KJ thread) when events are queued.
  kj::Promise<void> ready() {
    std::lock_guard<std::mutex> guard{mtx_};
    if (!queue_.empty())
      return kj::READY_NOW;
    auto paf = kj::newPromiseAndCrossThreadFulfiller<void>();
    waiter_ = kj::mv(paf.fulfiller);
    return kj::mv(paf.promise);
  }

  std::vector<T> take() {
    std::lock_guard<std::mutex> guard{mtx_};
    std::vector<T> out(std::make_move_iterator(queue_.begin()),
                       std::make_move_iterator(queue_.end()));
    queue_.clear();
    return out;
  }

private:
  std::mutex mtx_;
  std::deque<T> queue_;
  kj::Own<kj::CrossThreadPromiseFulfiller<void>> waiter_;
};

/// The API of one client connection (each connection gets its own, so that the
/// calls and streams it counts are that client's).
/// `e` with its description in valid UTF-8: Cap'n Proto's own checks quote the
/// bytes of a malformed request (a Text without its NUL shows its last byte),
/// and the description goes to the client as the exception's reason, a Text.
kj::Exception in_utf8(const kj::Exception& e) {
  auto description = e.getDescription();
  std::string_view text{description.begin(), description.size()};
  if (p::valid_utf8(text))
    return e;
  return kj::Exception{e.getType(), e.getFile(), e.getLine(),
                       kj::str(p::escape_invalid_utf8(text))};
}

/// What every connection's gate and sessions share: the server's collaborators.
struct server_parts {
  caf::actor_system& sys;
  const api_server::options& opts;
  metrics::recorder& metrics;
  const cluster_slot& slot;
  const admin_slot& admin;
  const controllers_slot& controllers;
  const store_slot& store;
  access::token_book& tokens;
  access::policy& policy;
  bool* policy_loaded; // on the KJ thread only
  uint64_t audit_suffix_base; // random per process, so ids of two processes differ
  uint64_t* audit_count;      // on the KJ thread only
  int64_t* last_token_reload_ms;
  const std::string* dashboard_url; // set before the API serves; empty: no dashboard

  /// Appends `x` to the audit log; a failure is logged, the call goes on.
  /// Every so many records the oldest beyond limits.audit_records go.
  void audit(p::audit_record x) const {
    constexpr uint64_t prune_every = 1024;
    x.time_ms = now_ms();
    x.id = access::audit_id(x.time_ms, audit_suffix_base + (*audit_count)++);
    if (*audit_count % prune_every == 0)
      ask_actor<uint64_t>(sys, store.get(), opts.call_timeout, p::delete_atom::value,
                          p::object_kind::audit, static_cast<uint64_t>(opts.limits.audit_records))
          .detach([](kj::Exception&&) {});
    p::stored_object obj{p::object_kind::audit, x.id, access::encode(x)};
    ask_actor<bool>(sys, store.get(), opts.call_timeout, p::put_atom::value, std::move(obj))
        .then([](caf::expected<bool> r) {
          if (!r)
            spdlog::warn("api: an audit record was not stored: {}", p::message_of(r.error()));
        })
        .detach([](kj::Exception&& e) {
          spdlog::warn("api: an audit record was not stored: {}", e.getDescription().cStr());
        });
  }

  /// Reads the custom roles and their bindings from the store.
  kj::Promise<caf::error> reload_policy() const {
    auto read = [this](p::object_kind kind) {
      return ask_actor<std::vector<p::stored_object>>(sys, store.get(), opts.call_timeout,
                                                      p::get_atom::value, kind, std::string{},
                                                      uint32_t{1} << 20);
    };
    return read(p::object_kind::role).then([this, read](auto roles) mutable {
      return read(p::object_kind::role_binding)
          .then([this, roles = kj::mv(roles)](auto bindings) mutable -> caf::error {
            if (!roles)
              return roles.error();
            if (!bindings)
              return bindings.error();
            std::vector<p::custom_role> rs;
            std::vector<p::role_binding> bs;
            for (const auto& x : *roles) {
              auto parsed = config::parse_specs(x.value, "store:role/" + x.name);
              for (auto& r : parsed.roles)
                rs.push_back(std::move(r));
            }
            for (const auto& x : *bindings) {
              auto parsed = config::parse_specs(x.value, "store:rolebinding/" + x.name);
              for (auto& b : parsed.bindings)
                bs.push_back(std::move(b));
            }
            policy.load(std::move(rs), std::move(bs));
            *policy_loaded = true;
            return {};
          });
    });
  }

  /// Reads the bearer tokens from the store into the book.
  kj::Promise<caf::error> reload_tokens() const {
    *last_token_reload_ms = now_ms();
    return ask_actor<std::vector<p::stored_object>>(sys, store.get(), opts.call_timeout,
                                                    p::get_atom::value, p::object_kind::token,
                                                    std::string{}, uint32_t{1} << 20)
        .then([this](caf::expected<std::vector<p::stored_object>> r) -> caf::error {
          if (!r)
            return r.error();
          std::vector<p::token_record> xs;
          for (const auto& obj : *r) {
            auto x = access::decode_token(obj.value);
            if (!x) {
              spdlog::warn("api: token {} is not usable: {}", obj.name, p::message_of(x.error()));
              continue;
            }
            xs.push_back(std::move(*x));
          }
          tokens.load(std::move(xs));
          return {};
        });
  }
};

/// Who a session acts for, and from where.
struct session_info {
  p::identity who;
  std::string secret_sha256; // of its token; empty for a certificate
  std::string peer;          // the client's address
};

/// The API as one identity may use it: the session a connection's gate hands
/// out. Every call first asks whether the credential still holds and whether
/// the identity's role allows the call, so a revoked token stops working on an
/// open connection at its next call.
class tutti_service final : public rpc::Tutti::Server {
public:
  tutti_service(const server_parts& parts, session_info session)
    : sys_(parts.sys), slot_(parts.slot), opts_(parts.opts), metrics_(parts.metrics),
      admin_(parts.admin), controllers_(parts.controllers), parts_(parts),
      session_(std::move(session)) {}

  /// Every call passes here: one more than limits.calls_per_connection awaiting
  /// an answer is refused, so one client's calls cannot pile up without bound.
  DispatchCallResult
  dispatchCall(uint64_t interface_id, uint16_t method_id,
               capnp::CallContext<capnp::AnyPointer, capnp::AnyPointer> context) override {
    if (in_flight_ >= opts_.limits.calls_per_connection)
      return {
          KJ_EXCEPTION(OVERLOADED, kj::str("too many calls await their answers on this connection "
                                           "(limits.calls_per_connection is ",
                                           opts_.limits.calls_per_connection,
                                           "); wait for answers before sending more")),
          false};
    auto which = access::api_call_of(method_id);
    if (interface_id != capnp::typeId<rpc::Tutti>() || !which)
      return rpc::Tutti::Server::dispatchCall(interface_id, method_id, context);
    std::string target;
    std::vector<std::string> namespaces;
    bool sets_quotas = false;
    try {
      target = audit_target(*which, context.getParams());
      if (!session_.who.namespaces.empty())
        namespaces = target_namespaces(*which, context.getParams());
      sets_quotas = applies_policy(*which, context.getParams());
    } catch (const kj::Exception& e) {
      return {in_utf8(e), false};
    }
    auto refused = check(*which, namespaces);
    if (!refused && sets_quotas)
      refused = check_quota_setter();
    if (refused) {
      audit(*which, target, p::to_string(p::code_of(refused)), p::message_of(refused));
      return {refusal(refused), false};
    }
    ++in_flight_;
    auto call = [&]() -> DispatchCallResult {
      try {
        return rpc::Tutti::Server::dispatchCall(interface_id, method_id, context);
      } catch (const kj::Exception& e) {
        return {in_utf8(e), false};
      }
    }();
    if (access::audited(*which))
      call.promise = call.promise.then(
          [this, which, target, context]() mutable -> kj::Promise<void> {
            auto [result, message] = audit_outcome(*which, context.getResults());
            audit(*which, target, result, message);
            return kj::READY_NOW;
          },
          [this, which, target](kj::Exception&& e) -> kj::Promise<void> {
            audit(*which, target, "failed", e.getDescription().cStr());
            return kj::mv(e);
          });
    call.promise =
        call.promise.catch_([](kj::Exception&& e) -> kj::Promise<void> { return in_utf8(e); })
            .attach(kj::defer([this] { --in_flight_; }));
    return call;
  }

  kj::Promise<void> version(VersionContext ctx) override {
    auto results = ctx.getResults();
    results.setVersion(opts_.version);
    results.setNode(opts_.node_name);
    auto role = opts_.role ? opts_.role() : p::role_report{};
    results.setRole(p::to_capnp(role.role));
    results.setLeader(p::utf8_text(role.leader));
    results.setDetail(p::utf8_text(role.detail));
    results.setDashboard(*parts_.dashboard_url);
    record("version", {}, clock::now());
    return kj::READY_NOW;
  }

  kj::Promise<void> apply(ApplyContext ctx) override {
    auto params = ctx.getParams();
    auto start = clock::now();
    if (params.getSource().size() > opts_.limits.request_bytes)
      return fail(ctx, "apply", start,
                  p::make_error(p::error_code::invalid_argument,
                                "the spec is " + std::to_string(params.getSource().size()) +
                                    " bytes, more than limits.request_bytes (" +
                                    std::to_string(opts_.limits.request_bytes) +
                                    "); split it into several files"));
    if (auto source = raw_text(params.getSource()); source.find("Role") != std::string::npos) {
      auto parsed = config::parse_specs(source, text(params.getFileName()),
                                        text(params.getNamespace()));
      if (parsed.ok() && (!parsed.roles.empty() || !parsed.bindings.empty()))
        return apply_policy(ctx, std::move(parsed), params.getDryRun(), start);
    }
    return ask<p::apply_result>(sys_, slot_, opts_.call_timeout, p::apply_atom::value,
                                text(params.getFileName()), raw_text(params.getSource()),
                                params.getDryRun(), text(params.getNamespace()))
        .then([this, ctx, start](caf::expected<p::apply_result> r) mutable {
          if (!r)
            return void(fail(ctx, "apply", start, r.error()));
          auto results = ctx.getResults();
          fill(results.initChanges(r->changes.size()), r->changes);
          fill(results.initSpecErrors(r->errors.size()), r->errors);
          record("apply",
                 r->errors.empty() ? caf::error{} : p::make_error(p::error_code::invalid_spec, ""),
                 start);
        });
  }

  kj::Promise<void> getServices(GetServicesContext ctx) override {
    return call<std::vector<p::service_status>>(
        ctx, "getServices",
        [this](auto results, auto& xs) {
          visible(xs, [](const p::service_status& x) { return x.name; });
          fill(results.initServices(xs.size()), xs);
        },
        p::get_atom::value);
  }

  kj::Promise<void> getReplicas(GetReplicasContext ctx) override {
    return call<std::vector<p::replica_status>>(
        ctx, "getReplicas",
        [this](auto results, auto& xs) {
          visible(xs, [](const p::replica_status& x) { return x.service; });
          fill(results.initReplicas(xs.size()), xs);
        },
        p::get_atom::value, text(ctx.getParams().getService()));
  }

  kj::Promise<void> getNodes(GetNodesContext ctx) override {
    return call<std::vector<p::node_status>>(
        ctx, "getNodes", [](auto results, auto& xs) { fill(results.initNodes(xs.size()), xs); },
        p::nodes_atom::value);
  }

  kj::Promise<void> listVolumes(ListVolumesContext ctx) override {
    return call<std::vector<p::volume_info>>(
        ctx, "listVolumes",
        [](auto results, auto& xs) { fill(results.initVolumes(xs.size()), xs); },
        p::volumes_atom::value);
  }

  kj::Promise<void> removeVolume(RemoveVolumeContext ctx) override {
    auto params = ctx.getParams();
    return call<bool>(
        ctx, "removeVolume", [](auto, auto&) {}, p::volumes_atom::value, p::delete_atom::value,
        text(params.getNode()), text(params.getReplica()), text(params.getVolume()));
  }

  kj::Promise<void> backup(BackupContext ctx) override {
    auto start = clock::now();
    auto path = opts_.backup_dir.empty()
                    ? caf::expected<std::string>{p::make_error(
                          p::error_code::invalid_argument,
                          "not supported yet: this tuttid keeps no data directory for backups")}
                    : backup_file(opts_.backup_dir);
    if (!path)
      return fail(ctx, "backup", start, path.error());
    auto sink = ctx.getParams().getSink();
    // A copy of a large store takes longer than an ordinary call may.
    auto copy_timeout = std::max(opts_.call_timeout, caf::timespan{std::chrono::minutes{10}});
    // The copy goes however the call ends, a client gone mid-copy included.
    auto removal = kj::defer([path = *path] { ::unlink(path.c_str()); });
    return ask_actor<uint64_t>(sys_, parts_.store.get(), copy_timeout, p::backup_atom::value,
                               *path)
        .then([this, ctx, start, path = *path,
               sink](caf::expected<uint64_t> copied) mutable -> kj::Promise<void> {
          if (!copied) {
            ::unlink(path.c_str());
            return fail(ctx, "backup", start, copied.error());
          }
          return send_backup(path, sink).then(
              [this, ctx, start](caf::expected<backup_sent> sent) mutable {
                if (!sent)
                  return void(fail(ctx, "backup", start, sent.error()));
                auto results = ctx.getResults();
                results.setBytes(sent->bytes);
                results.setSha256(sent->sha256);
                record("backup", {}, start);
              });
        })
        .attach(kj::mv(removal));
  }

  kj::Promise<void> setNodeState(SetNodeStateContext ctx) override {
    auto params = ctx.getParams();
    auto start = clock::now();
    auto wanted = params.getState();
    auto state = p::from_capnp(wanted);
    if (!state || *state == p::node_state::lost || *state == p::node_state::restarting)
      return fail(ctx, "setNodeState", start,
                  p::make_error(p::error_code::invalid_argument,
                                "node state " +
                                    (state ? p::to_string(*state)
                                           : std::to_string(static_cast<uint16_t>(wanted))) +
                                    " cannot be set; use ready, cordoned or draining"));
    return call<p::node_status>(
        ctx, "setNodeState", [](auto results, auto& x) { p::to_capnp(results.initNode(), x); },
        p::cordon_atom::value, text(params.getNode()), *state);
  }

  kj::Promise<void> describeService(DescribeServiceContext ctx) override {
    auto params = ctx.getParams();
    uint32_t limit = params.getEventLimit() == 0 ? 20 : std::min(params.getEventLimit(), 1000u);
    return call<p::service_detail>(
        ctx, "describeService", [](auto results, auto& x) { p::to_capnp(results.initDetail(), x); },
        p::describe_atom::value, text(params.getService()), limit);
  }

  kj::Promise<void> scale(ScaleContext ctx) override {
    auto params = ctx.getParams();
    return call<int64_t>(
        ctx, "scale", [](auto results, int64_t rev) { results.setRevision(rev); },
        p::scale_atom::value, text(params.getService()), params.getReplicas());
  }

  kj::Promise<void> rolloutStatus(RolloutStatusContext ctx) override {
    return call<p::rollout_status>(
        ctx, "rolloutStatus", [](auto results, auto& x) { p::to_capnp(results.initStatus(), x); },
        p::rollout_atom::value, text(ctx.getParams().getService()));
  }

  kj::Promise<void> rolloutHistory(RolloutHistoryContext ctx) override {
    return call<std::vector<p::spec_record>>(
        ctx, "rolloutHistory",
        [](auto results, auto& xs) { fill(results.initRevisions(xs.size()), xs); },
        p::history_atom::value, text(ctx.getParams().getService()));
  }

  kj::Promise<void> rolloutUndo(RolloutUndoContext ctx) override {
    auto params = ctx.getParams();
    return call<int64_t>(
        ctx, "rolloutUndo", [](auto results, int64_t rev) { results.setRevision(rev); },
        p::rollback_atom::value, text(params.getService()), params.getToRevision(),
        std::string{"tutti rollout undo"});
  }

  kj::Promise<void> tree(TreeContext ctx) override {
    auto start = clock::now();
    return ask_actor<std::vector<p::actor_info>>(sys_, admin_.get(), opts_.call_timeout,
                                                 p::tree_atom::value)
        .then([this, ctx, start](caf::expected<std::vector<p::actor_info>> r) mutable {
          if (!r)
            return void(fail(ctx, "tree", start, r.error()));
          fill(ctx.getResults().initActors(r->size()), *r);
          record("tree", {}, start);
        });
  }

  kj::Promise<void> getControllers(GetControllersContext ctx) override {
    auto start = clock::now();
    return ask_actor<p::controllers_report>(sys_, controllers_.get(), opts_.call_timeout,
                                            p::get_atom::value)
        .then([this, ctx, start](caf::expected<p::controllers_report> r) mutable {
          if (!r)
            return void(fail(ctx, "getControllers", start, r.error()));
          auto results = ctx.getResults();
          results.setStore(p::utf8_text(r->store));
          fill(results.initControllers(r->controllers.size()), r->controllers);
          fill(results.initEndpoints(r->endpoints.size()), r->endpoints);
          record("getControllers", {}, start);
        });
  }

  kj::Promise<void> killActor(KillActorContext ctx) override {
    auto start = clock::now();
    auto params = ctx.getParams();
    return ask_actor<std::string>(sys_, admin_.get(), opts_.call_timeout, p::kill_atom::value,
                                  text(params.getPath()), text(params.getReason()))
        .then([this, ctx, start](caf::expected<std::string> r) mutable {
          if (!r)
            return void(fail(ctx, "killActor", start, r.error()));
          ctx.getResults().setPath(p::utf8_text(*r));
          record("killActor", {}, start);
        });
  }

  kj::Promise<void> deleteService(DeleteServiceContext ctx) override {
    return call<bool>(
        ctx, "deleteService", [](auto, bool) {}, p::delete_atom::value,
        text(ctx.getParams().getService()));
  }

  kj::Promise<void> events(EventsContext ctx) override {
    auto params = ctx.getParams();
    uint32_t limit = params.getLimit() == 0 ? 100 : std::min(params.getLimit(), 10000u);
    return call<std::vector<p::event>>(
        ctx, "events",
        [this](auto results, auto& xs) {
          visible(xs, [](const p::event& x) { return x.service; });
          fill(results.initEvents(xs.size()), xs);
        },
        p::events_atom::value, params.getAfter(), limit, text(params.getService()));
  }

  kj::Promise<void> follow(FollowContext ctx) override {
    auto start = clock::now();
    if (auto refused = too_many_streams())
      return fail(ctx, "follow", start, refused);
    auto params = ctx.getParams();
    auto pipe = std::make_shared<value_pipe<p::event>>();
    auto sink_actor = sys_.spawn([pipe](caf::event_based_actor*) -> caf::behavior {
      return {[pipe](std::vector<p::event>& xs) { pipe->push(std::move(xs)); }};
    });
    auto sink = params.getSink();
    record("follow", {}, start);
    // The sink actor ends with the call: when the client goes away KJ drops this
    // promise chain and the guard with it.
    auto guard = kj::defer([this, sink_actor] {
      --streams_;
      caf::anon_send_exit(sink_actor, caf::exit_reason::user_shutdown);
    });
    ++streams_;
    return ask<bool>(sys_, slot_, opts_.call_timeout, p::follow_atom::value, params.getAfter(),
                     text(params.getService()), caf::actor_cast<event_sink_actor>(sink_actor))
        .then([this, ctx, pipe, sink](caf::expected<bool> r) mutable -> kj::Promise<void> {
          if (!r) {
            protocol::to_capnp(ctx.getResults().initError(), r.error());
            return kj::READY_NOW;
          }
          return forward(pipe, sink);
        })
        .attach(kj::mv(guard));
  }

  kj::Promise<void> getEndpoints(GetEndpointsContext ctx) override {
    return call<std::vector<p::service_endpoints>>(
        ctx, "getEndpoints",
        [this](auto results, auto& xs) {
          visible(xs, [](const p::service_endpoints& x) { return x.service; });
          fill(results.initEndpoints(xs.size()), xs);
        },
        p::endpoints_atom::value, text(ctx.getParams().getService()));
  }

  kj::Promise<void> watchEndpoints(WatchEndpointsContext ctx) override {
    auto start = clock::now();
    if (auto refused = too_many_streams())
      return fail(ctx, "watchEndpoints", start, refused);
    auto params = ctx.getParams();
    auto pipe = std::make_shared<value_pipe<p::service_endpoints>>();
    auto sink_actor = sys_.spawn([pipe](caf::event_based_actor*) -> caf::behavior {
      return {[pipe](p::service_endpoints& x) { pipe->push({std::move(x)}); }};
    });
    auto sink = params.getSink();
    record("watchEndpoints", {}, start);
    // As in follow: the sink actor ends with the call.
    auto guard = kj::defer([this, sink_actor] {
      --streams_;
      caf::anon_send_exit(sink_actor, caf::exit_reason::user_shutdown);
    });
    ++streams_;
    return ask<bool>(sys_, slot_, opts_.call_timeout, p::watch_atom::value,
                     text(params.getService()), caf::actor_cast<endpoints_sink_actor>(sink_actor))
        .then([this, ctx, pipe, sink](caf::expected<bool> r) mutable -> kj::Promise<void> {
          if (!r) {
            protocol::to_capnp(ctx.getResults().initError(), r.error());
            return kj::READY_NOW;
          }
          return forward_endpoints(pipe, sink);
        })
        .attach(kj::mv(guard));
  }

  kj::Promise<void> logs(LogsContext ctx) override {
    auto start = clock::now();
    auto params = ctx.getParams();
    uint64_t max_bytes = params.getMaxBytes() == 0 ? 65536 : params.getMaxBytes();
    auto paf =
        kj::newPromiseAndCrossThreadFulfiller<caf::expected<std::pair<std::string, std::string>>>();
    auto box = std::make_shared<reply_box<std::pair<std::string, std::string>>>(
        reply_box<std::pair<std::string, std::string>>{kj::mv(paf.fulfiller)});
    auto dest = slot_.get();
    auto timeout = opts_.call_timeout;
    auto service = text(params.getService());
    auto slot = params.getSlot();
    if (!dest)
      return fail(ctx, "logs", start,
                  p::make_error(p::error_code::unavailable, "control plane restarting; retry"));
    sys_.spawn([dest, box, timeout, service, slot, max_bytes](caf::event_based_actor* self) {
      self->request(dest, timeout, p::logs_atom::value, service, slot, max_bytes)
          .then(
              [box](std::string& id, std::string& out) {
                box->fulfiller->fulfill(std::make_pair(std::move(id), std::move(out)));
              },
              [box](caf::error& err) {
                box->fulfiller->fulfill(
                    caf::expected<std::pair<std::string, std::string>>{std::move(err)});
              });
    });
    return paf.promise.then(
        [this, ctx, start](caf::expected<std::pair<std::string, std::string>> r) mutable {
          if (!r)
            return void(fail(ctx, "logs", start, r.error()));
          auto results = ctx.getResults();
          results.setReplica(p::utf8_text(r->first));
          results.setText(p::utf8_text(r->second)); // a replica's output: any bytes
          record("logs", {}, start);
        });
  }

  kj::Promise<void> joinSecret(JoinSecretContext ctx) override {
    auto start = clock::now();
    if (!opts_.joins)
      return fail(ctx, "joinSecret", start,
                  p::make_error(p::error_code::invalid_argument,
                                "not supported yet by this control plane: it has no CA key to "
                                "sign the certificates of joining hosts; give it "
                                "cluster.tls.ca_key (tutti cluster init does)"));
    auto results = ctx.getResults();
    results.setToken(opts_.joins->token);
    results.setCaSha256(opts_.joins->ca_sha256);
    record("joinSecret", {}, start);
    return kj::READY_NOW;
  }

  kj::Promise<void> whoami(WhoamiContext ctx) override {
    p::to_capnp(ctx.getResults().initIdentity(), session_.who);
    record("whoami", {}, clock::now());
    return kj::READY_NOW;
  }

  kj::Promise<void> createToken(CreateTokenContext ctx) override {
    auto start = clock::now();
    auto params = ctx.getParams();
    auto name = text(params.getName());
    auto role = p::from_capnp(params.getRole());
    if (auto err = access::check_token_name(name))
      return fail(ctx, "createToken", start, err);
    if (!role)
      return fail(ctx, "createToken", start,
                  p::make_error(p::error_code::invalid_argument,
                                "unknown role " + std::to_string(static_cast<uint16_t>(params.getRole())) +
                                    "; use viewer, deployer, operator or admin"));
    auto name_space = text(params.getNamespace());
    if (!name_space.empty() && !config::valid_service_name(name_space))
      return fail(ctx, "createToken", start,
                  p::make_error(p::error_code::invalid_argument,
                                "invalid namespace '" + name_space +
                                    "': use 1-63 of a-z, 0-9 and '-', starting with a letter"));
    if (params.getTtlMs() < 0)
      return fail(ctx, "createToken", start,
                  p::make_error(p::error_code::invalid_argument,
                                "a token's time to live must not be negative"));
    auto secret = access::new_secret();
    if (!secret)
      return fail(ctx, "createToken", start, secret.error());
    p::token_record x;
    x.name = name;
    x.secret_sha256 = access::sha256_hex(*secret);
    x.role = *role;
    x.created_ms = now_ms();
    x.expires_ms = params.getTtlMs() == 0 ? 0 : x.created_ms + params.getTtlMs();
    x.created_by = session_.who.name;
    x.name_space = name_space;
    return parts_.reload_tokens().then([this, ctx, start, x, secret = *secret](caf::error err) mutable
                                       -> kj::Promise<void> {
      if (err)
        return fail(ctx, "createToken", start, err);
      for (const auto& t : parts_.tokens.tokens())
        if (t.name == x.name)
          return fail(ctx, "createToken", start,
                      p::make_error(p::error_code::already_exists,
                                    "a token named " + x.name +
                                        " exists; revoke it first or choose another name"));
      p::stored_object obj{p::object_kind::token, x.name, access::encode(x)};
      return ask_actor<bool>(sys_, parts_.store.get(), opts_.call_timeout, p::put_atom::value,
                             std::move(obj))
          .then([this, ctx, start, x, secret](caf::expected<bool> r) mutable {
            if (!r)
              return void(fail(ctx, "createToken", start, r.error()));
            parts_.tokens.put(x);
            auto results = ctx.getResults();
            results.setToken(secret);
            p::to_capnp(results.initInfo(), x);
            record("createToken", {}, start);
          });
    });
  }

  kj::Promise<void> revokeToken(RevokeTokenContext ctx) override {
    auto start = clock::now();
    auto name = text(ctx.getParams().getName());
    return parts_.reload_tokens().then([this, ctx, start, name](caf::error err) mutable
                                       -> kj::Promise<void> {
      if (err)
        return fail(ctx, "revokeToken", start, err);
      bool known = false;
      for (const auto& t : parts_.tokens.tokens())
        known = known || t.name == name;
      if (!known)
        return fail(ctx, "revokeToken", start,
                    p::make_error(p::error_code::not_found,
                                  "no token named " + name + " (see `tutti token ls`)"));
      return ask_actor<bool>(sys_, parts_.store.get(), opts_.call_timeout, p::delete_atom::value,
                             p::object_kind::token, name)
          .then([this, ctx, start, name](caf::expected<bool> r) mutable {
            if (!r)
              return void(fail(ctx, "revokeToken", start, r.error()));
            parts_.tokens.remove(name);
            record("revokeToken", {}, start);
          });
    });
  }

  kj::Promise<void> listTokens(ListTokensContext ctx) override {
    auto start = clock::now();
    return parts_.reload_tokens().then([this, ctx, start](caf::error err) mutable {
      if (err)
        return void(fail(ctx, "listTokens", start, err));
      auto xs = parts_.tokens.tokens();
      fill(ctx.getResults().initTokens(xs.size()), xs);
      record("listTokens", {}, start);
    });
  }

  kj::Promise<void> audit(AuditContext ctx) override {
    auto start = clock::now();
    auto params = ctx.getParams();
    uint32_t limit = params.getLimit() == 0 ? 100 : std::min(params.getLimit(), 10000u);
    return ask_actor<std::vector<p::stored_object>>(sys_, parts_.store.get(), opts_.call_timeout,
                                                    p::get_atom::value, p::object_kind::audit,
                                                    text(params.getAfter()), limit)
        .then([this, ctx, start](caf::expected<std::vector<p::stored_object>> r) mutable {
          if (!r)
            return void(fail(ctx, "audit", start, r.error()));
          std::vector<p::audit_record> xs;
          for (const auto& obj : *r) {
            auto x = access::decode_audit(obj.value);
            if (x)
              xs.push_back(std::move(*x));
            else
              xs.push_back({obj.name, 0, "", "", "", "", "damaged", p::message_of(x.error())});
          }
          fill(ctx.getResults().initRecords(xs.size()), xs);
          record("audit", {}, start);
        });
  }

  kj::Promise<void> importImage(ImportImageContext ctx) override {
    auto start = clock::now();
    auto params = ctx.getParams();
    auto file = text(params.getFileName());
    auto checked = import_target(text(params.getNode()), p::from_capnp(params.getDriver()), file,
                                 params.getSize(), opts_.call_timeout);
    if (!checked)
      return fail(ctx, "importImage", start, checked.error());
    auto target = std::move(*checked);
    return ask<node_actor>(sys_, slot_, opts_.call_timeout, p::import_atom::value, target.node_name)
        .then([this, ctx, start, target, file](caf::expected<node_actor> r) mutable {
          if (!r)
            return void(fail(ctx, "importImage", start, r.error()));
          target.node = *r;
          auto where = target.node_name + ": " + file;
          // The upload may outlive this session (a client can drop it and
          // keep the upload): its callbacks hold the server's parts and a
          // copy of who asked, never the session.
          auto permit = [parts = &parts_, session = session_] {
            return parts->tokens.still_valid(session.who, session.secret_sha256, now_ms());
          };
          auto outcome = [parts = &parts_, session = session_,
                          where](const caf::expected<std::vector<std::string>>& images) {
            std::string loaded;
            if (images)
              for (const auto& x : *images)
                loaded += (loaded.empty() ? "loaded " : ", ") + x;
            parts->audit({{}, 0, access::describe(session.who), session.peer,
                          access::to_string(access::api_call::import_image), where,
                          images ? "ok" : p::to_string(p::code_of(images.error())),
                          images ? loaded : p::message_of(images.error())});
          };
          ctx.getResults().setUpload(make_image_upload(sys_, std::move(target), std::move(permit),
                                                       std::move(outcome)));
          record("importImage", {}, start);
        });
  }

private:
  /// Nothing when the session's credential still holds and its role allows `call`.
  caf::error check(access::api_call call, const std::vector<std::string>& namespaces) const {
    if (auto err = parts_.tokens.still_valid(session_.who, session_.secret_sha256, now_ms()))
      return err;
    auto refused = access::authorize(session_.who, call, namespaces);
    if (!refused || !parts_.policy.grant(session_.who, call, namespaces).empty())
      return {};
    auto [verb, resource] = access::rule_of(call);
    if (verb.empty())
      return refused; // no custom role may grant it
    return p::make_error(p::code_of(refused),
                         p::message_of(refused) + " (or a RoleBinding to a kind: Role with verb " +
                             verb + " on " + resource + ")");
  }

  /// An apply of custom roles and bindings: stored here (the cluster actor
  /// has no part in who may call what), then in effect at once.
  kj::Promise<void> apply_policy(ApplyContext ctx, config::parse_result parsed, bool dry_run,
                                 clock::time_point start) {
    std::vector<p::stored_object> objects;
    std::vector<p::service_change> changes;
    auto change = [&](std::string name) {
      p::service_change c;
      c.service = std::move(name);
      c.kind = p::change_kind::updated;
      changes.push_back(std::move(c));
    };
    for (const auto& r : parsed.roles) {
      objects.push_back({p::object_kind::role, r.name, config::emit_role(r)});
      change("role/" + r.name);
    }
    for (const auto& b : parsed.bindings) {
      objects.push_back({p::object_kind::role_binding, b.name, config::emit_binding(b)});
      change("rolebinding/" + b.name);
    }
    auto answer = [this, ctx, changes, start]() mutable {
      fill(ctx.getResults().initChanges(changes.size()), changes);
      record("apply", {}, start);
    };
    if (dry_run) {
      answer();
      return kj::READY_NOW;
    }
    kj::Promise<caf::error> stored = caf::error{};
    for (auto& obj : objects)
      stored = stored.then([this, obj](caf::error err) mutable -> kj::Promise<caf::error> {
        if (err)
          return kj::mv(err);
        return ask_actor<bool>(sys_, parts_.store.get(), opts_.call_timeout, p::put_atom::value,
                               obj)
            .then([](caf::expected<bool> r) { return r ? caf::error{} : r.error(); });
      });
    return stored.then([this, ctx, parsed = kj::mv(parsed), answer, start](caf::error err) mutable {
      if (err)
        return void(fail(ctx, "apply", start, err));
      for (auto& r : parsed.roles)
        parts_.policy.put(std::move(r));
      for (auto& b : parsed.bindings)
        parts_.policy.put(std::move(b));
      answer();
    });
  }

  /// Quotas bound a namespace's use: only an admin of the whole cluster sets them.
  caf::error check_quota_setter() const {
    if (session_.who.role == p::access_role::admin && session_.who.namespaces.empty())
      return {};
    return p::make_error(p::error_code::forbidden,
                         access::describe(session_.who) +
                             " may not set quotas or roles (apply of kind: Quota, Role or "
                             "RoleBinding): only the role admin of the whole cluster may");
  }

  /// Whether this session sees the service `name` (a namespaced identity
  /// sees the services of its namespaces only; events without a service are
  /// the cluster's).
  bool sees(const std::string& service) const {
    if (session_.who.namespaces.empty())
      return true;
    return !service.empty() && access::sees(session_.who, p::namespace_of(service));
  }

  /// `xs` without what this session may not see (`service_of` names each one's service).
  template <class T, class ServiceOf> std::vector<T>& visible(std::vector<T>& xs, ServiceOf service_of) const {
    if (!session_.who.namespaces.empty())
      std::erase_if(xs, [&](const T& x) { return !sees(service_of(x)); });
    return xs;
  }

  void audit(access::api_call call, const std::string& target, std::string result,
             std::string message) const {
    parts_.audit({{}, 0, access::describe(session_.who), session_.peer, access::to_string(call),
                  target, std::move(result), std::move(message)});
  }

  /// An error when this connection holds limits.streams_per_connection streams.
  caf::error too_many_streams() const {
    if (streams_ < opts_.limits.streams_per_connection)
      return {};
    return p::make_error(p::error_code::unavailable,
                         "this connection already holds " + std::to_string(streams_) +
                             " event or endpoint streams (limits.streams_per_connection); "
                             "end one first");
  }

  template <class Builder, class Values> static void fill(Builder list, const Values& xs) {
    for (unsigned i = 0; i < xs.size(); ++i)
      p::to_capnp(list[i], xs[i]);
  }

  /// One request to the cluster actor: on success `fill_results(results, value)`,
  /// on failure the error; both counted in the RPC metrics.
  template <class T, class Context, class Fill, class... Ts>
  kj::Promise<void> call(Context& ctx, const char* method, Fill fill_results, Ts... xs) {
    auto start = clock::now();
    return ask<T>(sys_, slot_, opts_.call_timeout, std::move(xs)...)
        .then([this, ctx, method, start, fill_results](caf::expected<T> r) mutable {
          if (!r)
            return void(fail(ctx, method, start, r.error()));
          fill_results(ctx.getResults(), *r);
          record(method, {}, start);
        });
  }

  kj::Promise<void> forward(std::shared_ptr<value_pipe<p::event>> pipe,
                            rpc::EventSink::Client sink) {
    return pipe->ready().then([this, pipe, sink]() mutable -> kj::Promise<void> {
      auto batch = pipe->take();
      visible(batch, [](const p::event& x) { return x.service; });
      if (batch.empty())
        return forward(pipe, sink);
      auto req = sink.pushRequest();
      fill(req.initEvents(batch.size()), batch);
      return req.send().then([this, pipe, sink]() mutable { return forward(pipe, sink); });
    });
  }

  kj::Promise<void> forward_endpoints(std::shared_ptr<value_pipe<p::service_endpoints>> pipe,
                                      rpc::EndpointSink::Client sink) {
    return pipe->ready().then([this, pipe, sink]() mutable -> kj::Promise<void> {
      kj::Promise<void> sent = kj::READY_NOW;
      auto batch = pipe->take();
      visible(batch, [](const p::service_endpoints& x) { return x.service; });
      for (auto& x : batch) {
        auto req = sink.pushRequest();
        p::to_capnp(req.initEndpoints(), x);
        sent = sent.then([req = kj::mv(req)]() mutable { return req.send(); });
      }
      return sent.then([this, pipe, sink]() mutable { return forward_endpoints(pipe, sink); });
    });
  }

  template <class Context>
  kj::Promise<void> fail(Context& ctx, const char* method, clock::time_point start,
                         const caf::error& err) {
    protocol::to_capnp(ctx.getResults().initError(), err);
    record(method, err, start);
    return kj::READY_NOW;
  }

  void record(const char* method, const caf::error& err, clock::time_point start) {
    std::chrono::duration<double> took = clock::now() - start;
    metrics_.count_rpc(method, err ? p::to_string(p::code_of(err)) : "ok", took.count());
  }

  caf::actor_system& sys_;
  const cluster_slot& slot_;
  const api_server::options& opts_;
  metrics::recorder& metrics_;
  const admin_slot& admin_;
  const controllers_slot& controllers_;
  const server_parts& parts_;
  session_info session_;
  int32_t in_flight_ = 0; // calls awaiting their answer
  int32_t streams_ = 0;   // follow and watchEndpoints calls open
};

/// A connection's bootstrap: hands out sessions (see rpc::Gate).
class gate_service final : public rpc::Gate::Server {
public:
  /// `certificate`: the identity the connection's client certificate gives (or
  /// why it gives none); nullopt when the client presented none.
  /// `final_refusal`: a refused transport identity is final (a bad TLS
  /// certificate), or a token may still do (a unix peer of another uid).
  gate_service(const server_parts& parts, std::string peer,
               std::optional<caf::expected<p::identity>> certificate, bool final_refusal = true)
    : parts_(parts), peer_(std::move(peer)), certificate_(std::move(certificate)),
      final_refusal_(final_refusal) {}

  /// As the session's: Cap'n Proto's own checks of a malformed request (a
  /// token Text without its NUL) quote its bytes, and the reason goes to the
  /// client as a Text.
  DispatchCallResult
  dispatchCall(uint64_t interface_id, uint16_t method_id,
               capnp::CallContext<capnp::AnyPointer, capnp::AnyPointer> context) override {
    auto call = [&]() -> DispatchCallResult {
      try {
        return rpc::Gate::Server::dispatchCall(interface_id, method_id, context);
      } catch (const kj::Exception& e) {
        return {in_utf8(e), false};
      }
    }();
    call.promise =
        call.promise.catch_([](kj::Exception&& e) -> kj::Promise<void> { return in_utf8(e); });
    return call;
  }

  kj::Promise<void> session(SessionContext ctx) override {
    if (!*parts_.policy_loaded && parts_.store.get())
      return parts_.reload_policy().then([this, ctx](caf::error err) mutable {
        if (err)
          spdlog::warn("api: custom roles not loaded: {}", p::message_of(err));
        *parts_.policy_loaded = true; // tried: a failure is logged, not retried per session
        return session(ctx);
      });
    auto token = raw_text(ctx.getParams().getToken());
    // A bad certificate is refused even with a token: whoever sent it should
    // learn that it does not work.
    if (certificate_ && !*certificate_ && (final_refusal_ || token.empty()))
      return grant(ctx, *certificate_, "");
    if (token.empty())
      return grant(ctx, from_certificate(), "");
    auto who = parts_.tokens.identify(token, now_ms());
    // A token made by another control process (before a failover), or right
    // after a restart: read the tokens again, at most once a second.
    if (!who && now_ms() - *parts_.last_token_reload_ms >= 1000 && parts_.store.get())
      return parts_.reload_tokens().then([this, ctx, token](caf::error) mutable {
        return grant(ctx, parts_.tokens.identify(token, now_ms()), access::sha256_hex(token));
      });
    return grant(ctx, std::move(who), access::sha256_hex(token));
  }

private:
  caf::expected<p::identity> from_certificate() const {
    if (certificate_)
      return *certificate_;
    return p::make_error(p::error_code::unauthenticated,
                         "no credential: give a token (--token, TUTTI_TOKEN, --token-file or "
                         "TUTTI_TOKEN_FILE) or a client certificate (--cert and --key)");
  }

  kj::Promise<void> grant(SessionContext& ctx, caf::expected<p::identity> who,
                          std::string secret_sha256) {
    if (!who) {
      auto name = certificate_ && *certificate_ ? (*certificate_)->name : std::string{"anonymous"};
      parts_.audit({{}, 0, name, peer_, "session", "", p::to_string(p::code_of(who.error())),
                    p::message_of(who.error())});
      return refusal(who.error());
    }
    auto results = ctx.getResults();
    p::to_capnp(results.initIdentity(), *who);
    results.setSession(kj::heap<tutti_service>(parts_, session_info{*who, std::move(secret_sha256), peer_}));
    return kj::READY_NOW;
  }

  kj::Promise<void> join(JoinContext ctx) override {
    auto params = ctx.getParams();
    auto node = text(params.getNode());
    auto signed_cert = [&]() -> caf::expected<std::string> {
      if (!parts_.opts.joins)
        return p::make_error(p::error_code::forbidden,
                             "not supported yet by this control plane: it has no CA key to sign "
                             "the certificates of joining hosts (cluster.tls.ca_key)");
      return sign_join(*parts_.opts.joins, raw_text(params.getToken()), node,
                       text(params.getCsr()));
    }();
    auto result = signed_cert ? std::string{"ok"} : p::to_string(p::code_of(signed_cert.error()));
    parts_.audit({{}, 0, "node " + node, peer_, "join", node, result,
                  signed_cert ? "certificate signed" : p::message_of(signed_cert.error())});
    if (!signed_cert)
      return refusal(signed_cert.error());
    auto results = ctx.getResults();
    results.setCertificate(*signed_cert);
    results.setCa(parts_.opts.joins->ca.certificate);
    results.setJoin(parts_.opts.joins->join);
    return kj::READY_NOW;
  }

  const server_parts& parts_;
  std::string peer_;
  std::optional<caf::expected<p::identity>> certificate_;
  bool final_refusal_;
};

/// A peer on the unix socket: an admin when it is root or the data
/// directory's owner.
caf::expected<p::identity> unix_identity(const api_server::options& opts,
                                         kj::LocalPeerIdentity& peer) {
  auto creds = peer.getCredentials();
  KJ_IF_MAYBE (uid, creds.uid) {
    if (*uid == 0 || *uid == opts.unix_admin_uid) {
      p::identity out;
      out.name = "uid " + std::to_string(*uid);
      out.role = p::access_role::admin;
      out.via = p::credential_kind::unix_peer;
      return out;
    }
    return p::make_error(p::error_code::unauthenticated,
                         "uid " + std::to_string(*uid) +
                             " is neither root nor the owner of the data directory; use a token");
  }
  return p::make_error(p::error_code::unauthenticated,
                       "the unix socket's peer has no uid this host can tell; use a token");
}

/// The client's address and, with TLS, what its certificate says.
capnp::Capability::Client make_gate(const server_parts& parts, const api_tls* tls_config,
                                    kj::PeerIdentity& peer) {
  if (auto* local = dynamic_cast<kj::LocalPeerIdentity*>(&peer))
    return kj::heap<gate_service>(parts, "unix socket", unix_identity(parts.opts, *local), false);
  if (auto* tls = dynamic_cast<kj::TlsPeerIdentity*>(&peer)) {
    std::optional<caf::expected<p::identity>> certificate;
    if (tls->hasCertificate() && tls_config != nullptr)
      certificate = tls_config->identify(*tls);
    return kj::heap<gate_service>(parts, tls->getNetworkIdentity().toString().cStr(),
                                  std::move(certificate));
  }
  return kj::heap<gate_service>(parts, peer.toString().cStr(), std::nullopt);
}

} // namespace

/// Listens on the unix socket `path`: a stale socket file there is removed
/// first, and the new one is made mode 0600.
kj::Own<kj::ConnectionReceiver> listen_unix(kj::AsyncIoContext& io, const std::string& path) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) == 0 && S_ISSOCK(st.st_mode))
    ::unlink(path.c_str());
  auto addr = io.provider->getNetwork().parseAddress("unix:" + path).wait(io.waitScope);
  auto listener = addr->listen();
  ::chmod(path.c_str(), 0600);
  return listener;
}

bool is_loopback(const std::string& host) {
  return host == "localhost" || host == "::1" || host.rfind("127.", 0) == 0;
}

struct api_server::impl {
  caf::actor_system& sys;
  options opts;
  metrics::recorder& metrics;
  cluster_slot slot;
  admin_slot admin;
  controllers_slot controllers;
  store_slot store;
  uint64_t audit_count = 0;
  int64_t last_token_reload_ms = 0;
  access::policy policy;
  bool policy_loaded = false;
  server_parts parts{sys,           opts,           metrics,      slot,
                     admin,         controllers,    store,        *opts.tokens,
                     policy,        &policy_loaded, random_base(), &audit_count,
                     &last_token_reload_ms, &dashboard_url};
  std::string dashboard_url;
  std::thread thread;
  std::mutex mtx;
  kj::Own<kj::CrossThreadPromiseFulfiller<void>> stop_fulfiller;
  bool running = false;

  /// The dashboard's listener in `out` (TLS-wrapped when the API has TLS), or
  /// none when it is off or its default address is taken.
  caf::error listen_ui(kj::AsyncIoContext& io, api_tls* tls, kj::Own<kj::ConnectionReceiver>& out) {
    if (opts.ui_host.empty())
      return {};
    auto where = opts.ui_host + ":" + std::to_string(opts.ui_port);
    if (!tls && !is_loopback(opts.ui_host))
      return p::make_error(p::error_code::invalid_argument,
                           "the dashboard on " + where + " would be plain HTTP: give the API a "
                           "certificate (the dashboard then serves HTTPS with it), or serve it "
                           "on a loopback address (--ui 127.0.0.1:7780)");
    try {
      auto addr =
          io.provider->getNetwork().parseAddress(opts.ui_host, opts.ui_port).wait(io.waitScope);
      out = addr->listen();
    } catch (const kj::Exception& e) {
      auto why = "cannot serve the dashboard on " + where + ": " + e.getDescription().cStr();
      if (opts.ui_required)
        return p::make_error(p::error_code::invalid_argument, why + "; choose another --ui");
      spdlog::warn("api: {}; the dashboard is off (give --ui HOST:PORT)", why);
      return {};
    }
    auto port = out->getPort();
    if (tls)
      out = tls->context().wrapPort(kj::mv(out));
    dashboard_url = std::string{tls ? "https" : "http"} + "://" + opts.ui_host + ":" +
                    std::to_string(port) + "/ui/";
    return {};
  }

  void serve(std::shared_ptr<std::promise<caf::expected<uint16_t>>> ready) {
    if (!opts.backup_dir.empty())
      clear_backup_files(opts.backup_dir);
    try {
      auto io = kj::setupAsyncIo();
      auto addr = io.provider->getNetwork().parseAddress(opts.host, opts.port).wait(io.waitScope);
      auto listener = addr->listen();
      auto stop = kj::newPromiseAndCrossThreadFulfiller<void>();
      {
        std::lock_guard<std::mutex> guard{mtx};
        stop_fulfiller = kj::mv(stop.fulfiller);
      }
      std::unique_ptr<api_tls> tls;
      if (opts.tls) {
        auto made = api_tls::make({opts.tls->certificate, opts.tls->key, opts.tls->client_ca});
        if (!made)
          return ready->set_value(made.error());
        tls = std::move(*made);
      }
      connection_gate gate{opts.limits, io.provider->getTimer(),
                           [this, &tls](kj::PeerIdentity& peer) {
                             return make_gate(parts, tls.get(), peer);
                           },
                           tls ? &tls->context() : nullptr};
      // The unix socket: no TLS (the kernel tells who the peer is).
      connection_gate local_gate{
          opts.limits, io.provider->getTimer(),
          [this](kj::PeerIdentity& peer) { return make_gate(parts, nullptr, peer); }, nullptr};
      kj::Own<kj::ConnectionReceiver> local;
      if (!opts.unix_socket.empty())
        local = listen_unix(io, opts.unix_socket);
      kj::Own<kj::ConnectionReceiver> ui;
      if (auto err = listen_ui(io, tls.get(), ui))
        return ready->set_value(err);
      std::unique_ptr<dashboard_server> dashboard;
      if (ui)
        dashboard = std::make_unique<dashboard_server>(
            io.provider->getTimer(), [this](const std::string& peer) -> rpc::Gate::Client {
              return kj::heap<gate_service>(parts, peer, std::nullopt);
            });
      ready->set_value(static_cast<uint16_t>(listener->getPort()));
      auto serving = gate.listen(*listener);
      if (local)
        serving = serving.exclusiveJoin(local_gate.listen(*local));
      if (dashboard)
        serving = serving.exclusiveJoin(dashboard->listen(*ui));
      stop.promise.exclusiveJoin(kj::mv(serving)).wait(io.waitScope);
    } catch (const kj::Exception& e) {
      auto msg = "cannot serve the API on " + opts.host + ":" + std::to_string(opts.port) + ": " +
                 std::string{e.getDescription().cStr()};
      try {
        ready->set_value(p::make_error(p::error_code::invalid_argument, msg));
      } catch (const std::future_error&) {
        spdlog::error("api: {}", msg); // failed after start: the loop ended
      }
    }
  }
};

api_server::api_server(caf::actor_system& sys, options opts, metrics::recorder& metrics)
  : impl_(new impl{sys, std::move(opts), metrics}) {}

api_server::~api_server() {
  stop();
}

caf::expected<uint16_t> api_server::start() {
  auto ready = std::make_shared<std::promise<caf::expected<uint16_t>>>();
  auto result = ready->get_future();
  impl_->thread = std::thread([this, ready] { impl_->serve(ready); });
  auto port = result.get();
  if (!port) {
    impl_->thread.join();
    return port;
  }
  impl_->running = true;
  return port;
}

std::string api_server::dashboard_url() const {
  return impl_->dashboard_url;
}

void api_server::set_admin(supervising_actor admin) {
  impl_->admin.set(std::move(admin));
}

void api_server::set_controllers(controllers_actor controllers) {
  impl_->controllers.set(std::move(controllers));
}

void api_server::set_store(store_actor store) {
  impl_->store.set(std::move(store));
}

void api_server::set_cluster(cluster_actor cluster) {
  impl_->slot.set(std::move(cluster));
}

void api_server::stop() {
  if (!impl_->thread.joinable())
    return;
  {
    std::lock_guard<std::mutex> guard{impl_->mtx};
    if (impl_->stop_fulfiller)
      impl_->stop_fulfiller->fulfill();
  }
  impl_->thread.join();
}

} // namespace tutti::actors
