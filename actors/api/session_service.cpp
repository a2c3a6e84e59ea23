#include "actors/api/session_service.hpp"

#include "actors/api/api_tls.hpp"
#include "actors/api/backup_sender.hpp"
#include "actors/api/call_inspection.hpp"
#include "actors/api/image_upload_server.hpp"
#include "actors/api/policy_apply.hpp"

#include "access/authorizer.hpp"

#include "config/spec_parser.hpp"
#include "protocol/capnp_convert.hpp"
#include "protocol/namespaces.hpp"

#include <capnp/rpc-twoparty.h>
#include <kj/debug.h>

#include <unistd.h>

namespace tutti::actors::api_internal {

namespace {

namespace rpc = protocol::rpc;
using clock = std::chrono::steady_clock;
using api_calls::refusal;
using api_calls::reply_box;

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
    call_facts facts;
    try {
      target = audit_target(*which, context.getParams());
      facts = facts_of(*which, context.getParams(), !session_.who.namespaces.empty());
    } catch (const kj::Exception& e) {
      return {in_utf8(e), false};
    }
    auto refused = check(*which, facts.namespaces);
    if (!refused && facts.sets_policy)
      refused = api_internal::quota_setter_refusal(session_.who);
    if (!refused)
      refused = api_internal::object_writer_refusal(parts_.policy, session_.who, facts.objects,
                                                    facts.namespaces);
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

  kj::Promise<void> listConfigs(ListConfigsContext ctx) override {
    auto params = ctx.getParams();
    auto name = text(params.getName());
    return list_objects(ctx, "listConfigs", p::object_kind::config, text(params.getNamespace()),
                        name, params.getWithData() && !name.empty());
  }

  kj::Promise<void> removeConfig(RemoveConfigContext ctx) override {
    return remove_object(ctx, "removeConfig", p::object_kind::config, ctx.getParams().getName());
  }

  kj::Promise<void> listSecrets(ListSecretsContext ctx) override {
    auto params = ctx.getParams();
    return list_objects(ctx, "listSecrets", p::object_kind::secret, text(params.getNamespace()),
                        text(params.getName()), false);
  }

  kj::Promise<void> removeSecret(RemoveSecretContext ctx) override {
    return remove_object(ctx, "removeSecret", p::object_kind::secret, ctx.getParams().getName());
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
    auto container = text(params.getContainer());
    if (!dest)
      return fail(ctx, "logs", start,
                  p::make_error(p::error_code::unavailable, "control plane restarting; retry"));
    sys_.spawn([dest, box, timeout, service, slot, container,
                max_bytes](caf::event_based_actor* self) {
      self->request(dest, timeout, p::logs_atom::value, service, slot, container, max_bytes)
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

  /// An apply of custom roles and bindings (policy_apply.hpp).
  kj::Promise<void> apply_policy(ApplyContext ctx, config::parse_result parsed, bool dry_run,
                                 clock::time_point start) {
    return api_internal::apply_policy(parts_, kj::mv(parsed), dry_run)
        .then([this, ctx, start](caf::expected<std::vector<p::service_change>> r) mutable {
          if (!r)
            return void(fail(ctx, "apply", start, r.error()));
          fill(ctx.getResults().initChanges(r->size()), *r);
          record("apply", {}, start);
        });
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

  /// The versions of configs or secrets this session sees.
  template <class Context>
  kj::Promise<void> list_objects(Context& ctx, const char* method, p::object_kind kind,
                                 std::string ns, std::string name, bool with_data) {
    return call<std::vector<p::object_info>>(
        ctx, method,
        [this](auto results, auto& xs) {
          visible(xs, [](const p::object_info& x) { return x.name; });
          fill(results.initObjects(xs.size()), xs);
        },
        p::objects_atom::value, kind, std::move(ns), std::move(name), with_data);
  }

  template <class Context>
  kj::Promise<void> remove_object(Context& ctx, const char* method, p::object_kind kind,
                                  capnp::Text::Reader name) {
    return call<bool>(
        ctx, method, [](auto, auto&) {}, p::objects_atom::value, p::delete_atom::value, kind,
        text(name));
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

} // namespace

kj::Own<protocol::rpc::Tutti::Server> make_session(const server_parts& parts,
                                                  session_info session) {
  return kj::heap<tutti_service>(parts, std::move(session));
}

} // namespace tutti::actors::api_internal
