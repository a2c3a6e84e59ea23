#include "actors/api/api_server.hpp"

#include "actors/api/server_parts.hpp"
#include "actors/api/session_service.hpp"

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

using namespace api_internal;

namespace {

namespace rpc = protocol::rpc;
using clock = std::chrono::steady_clock;
using api_calls::ask_actor;
using api_calls::refusal;
using api_calls::reply_box;

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
    results.setSession(make_session(parts_, session_info{*who, std::move(secret_sha256), peer_}));
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
