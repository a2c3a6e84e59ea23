#include "tools/tutti/client.hpp"
#include "tools/tutti/client_impl.hpp"

#include "protocol/api.capnp.h"
#include "protocol/capnp_convert.hpp"

#include <capnp/rpc-twoparty.h>
#include <kj/async-io.h>
#include <kj/async-unix.h>
#include <kj/compat/tls.h>

#include <sys/stat.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

#include <csignal>
#include <cstdio>
#include <optional>

namespace tutti::cli {

namespace rpc = protocol::rpc;

std::string to_string(client_code x) {
  switch (x) {
    case client_code::unreachable:
      return "unreachable";
    case client_code::disconnected:
      return "disconnected";
    case client_code::timeout:
      return "timeout";
    case client_code::unimplemented:
      return "unimplemented";
    case client_code::rpc_failure:
      return "rpc_failure";
    case client_code::invalid_argument:
      return "invalid_argument";
  }
  return "unknown";
}

std::optional<client_error> error_of(rpc::Error::Reader r) {
  auto err = protocol::from_capnp(r);
  if (!err)
    return std::nullopt;
  if (!err->code)
    return client_error{client_code::rpc_failure,
                        "tuttid failed with an error code this tutti does not know: " +
                            err->message + "; run a tutti of the same version as tuttid"};
  return client_error{*err->code, err->message};
}

std::string seconds_text(kj::Duration d) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%gs", static_cast<double>(d / kj::MILLISECONDS) / 1000);
  return buf;
}

client_error from_exception(const kj::Exception& e) {
  auto description = std::string{e.getDescription().cStr()};
  // With TLS 1.3 the server checks a client certificate after the client's
  // handshake ended: its refusal arrives as an alert on the first read.
  if (auto at = description.find(" alert "); at != std::string::npos) {
    auto start = description.rfind(':', at);
    auto reason = description.substr(start == std::string::npos ? 0 : start + 1);
    while (!reason.empty() && reason.front() == ' ')
      reason.erase(0, 1);
    return {client_code::disconnected,
            "tuttid refused the TLS connection (" + reason +
                "): give --cert and --key of a certificate its client CA signed and that has not "
                "expired, or no certificate and a token"};
  }
  switch (e.getType()) {
    case kj::Exception::Type::DISCONNECTED:
      return {client_code::disconnected, "connection to tuttid lost"};
    case kj::Exception::Type::UNIMPLEMENTED:
      return {client_code::unimplemented, "this tuttid does not implement the call (" +
                                              description +
                                              "); run a tuttid of the same version as this client"};
    default:
      break;
  }
  // A refusal of the gate or of a session: "CODE: message" (actors/api).
  for (auto code : {protocol::error_code::unauthenticated, protocol::error_code::forbidden}) {
    auto prefix = protocol::to_string(code) + ": ";
    if (auto at = description.find(prefix); at != std::string::npos)
      return {code, description.substr(at + prefix.size())};
  }
  return {client_code::rpc_failure, "the call to tuttid failed: " + description};
}

namespace {

std::string text(capnp::Text::Reader r) {
  return {r.cStr(), r.size()};
}

template <class Value, class Reader> std::vector<Value> read_list(Reader list) {
  std::vector<Value> out;
  out.reserve(list.size());
  for (auto r : list)
    out.push_back(protocol::from_capnp(r));
  return out;
}




// kj reports a refused connect as a DISCONNECTED exception whose description
// carries the errno text; people need the short reason, not kj's source location.
std::string connect_failure(const kj::Exception& e) {
  std::string description = e.getDescription().cStr();
  if (description.find("ECONNREFUSED") != std::string::npos ||
      description.find("Connection refused") != std::string::npos)
    return "connection refused";
  return description;
}

// Lets the sink end follow() early without pointing into follow()'s stack frame,
// which is gone when a late push arrives after follow() returned.
struct follow_stop final : public kj::Refcounted {
  kj::Own<kj::PromiseFulfiller<void>> fulfiller;
};

class event_sink final : public rpc::EventSink::Server {
public:
  event_sink(client::event_handler on_events, kj::Own<follow_stop> stop)
    : on_events_(std::move(on_events)), stop_(kj::mv(stop)) {}

protected:
  kj::Promise<void> push(PushContext context) override {
    if (stopped_)
      return kj::READY_NOW;
    if (!on_events_(read_list<protocol::event>(context.getParams().getEvents()))) {
      stopped_ = true;
      stop_->fulfiller->fulfill();
    }
    return kj::READY_NOW;
  }

private:
  client::event_handler on_events_;
  kj::Own<follow_stop> stop_;
  bool stopped_ = false;
};

class endpoint_sink final : public rpc::EndpointSink::Server {
public:
  endpoint_sink(client::endpoints_handler on_change, kj::Own<follow_stop> stop)
    : on_change_(std::move(on_change)), stop_(kj::mv(stop)) {}

protected:
  kj::Promise<void> push(PushContext context) override {
    if (stopped_)
      return kj::READY_NOW;
    if (!on_change_(protocol::from_capnp(context.getParams().getEndpoints()))) {
      stopped_ = true;
      stop_->fulfiller->fulfill();
    }
    return kj::READY_NOW;
  }

private:
  client::endpoints_handler on_change_;
  kj::Own<follow_stop> stop_;
  bool stopped_ = false;
};

/// The host part of "HOST:PORT" (brackets of an IPv6 address removed).
std::string host_of(const std::string& api) {
  auto colon = api.rfind(':');
  auto host = colon == std::string::npos ? api : api.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  return host;
}

/// OpenSSL's reason in KJ's description of a failed handshake, for people.
std::string tls_failure(const kj::Exception& e) {
  std::string description = e.getDescription().cStr();
  for (const char* reason : {"certificate verify failed", "certificate has expired",
                             "unable to get local issuer certificate", "self-signed certificate",
                             "hostname mismatch", "tlsv13 alert certificate required",
                             "sslv3 alert bad certificate", "tlsv1 alert unknown ca",
                             "wrong version number", "unexpected eof"})
    if (description.find(reason) != std::string::npos)
      return reason;
  return description;
}

result<std::string> read_file(const std::string& path, const char* what) {
  std::ifstream in{path, std::ios::binary};
  if (!in)
    return client_error{client_code::invalid_argument,
                        std::string{"cannot read the "} + what + " " + path + ": " +
                            std::strerror(errno)};
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

} // namespace

/// KJ's TLS as a client: trusts the given CA only, and presents a client
/// certificate when one is given.
struct client_tls {
  kj::Array<kj::TlsCertificate> trusted;
  kj::Maybe<kj::TlsKeypair> keypair;
  kj::Own<kj::TlsContext> context;

  static result<kj::Own<client_tls>> make(const credentials& creds) {
    auto out = kj::heap<client_tls>();
    try {
      if (!creds.ca_file.empty()) {
        auto ca = read_file(creds.ca_file, "CA file (--ca)");
        if (!ca)
          return ca.error();
        auto builder = kj::heapArrayBuilder<kj::TlsCertificate>(1);
        builder.add(kj::StringPtr{ca->c_str()});
        out->trusted = builder.finish();
      }
      if (creds.cert_file.empty() != creds.key_file.empty())
        return client_error{client_code::invalid_argument,
                            "a client certificate needs both --cert and --key"};
      if (!creds.cert_file.empty()) {
        auto cert = read_file(creds.cert_file, "client certificate (--cert)");
        if (!cert)
          return cert.error();
        auto key = read_file(creds.key_file, "client key (--key)");
        if (!key)
          return key.error();
        out->keypair = kj::TlsKeypair{kj::TlsPrivateKey(kj::StringPtr{key->c_str()}),
                                      kj::TlsCertificate(kj::StringPtr{cert->c_str()})};
      }
    } catch (const kj::Exception& e) {
      return client_error{client_code::invalid_argument,
                          std::string{"a TLS file is not usable: "} + e.getDescription().cStr()};
    }
    kj::TlsContext::Options opts;
    opts.useSystemTrustStore = creds.ca_file.empty();
    opts.trustedCertificates = out->trusted;
    KJ_IF_MAYBE (pair, out->keypair)
      opts.defaultKeypair = *pair;
    out->context = kj::heap<kj::TlsContext>(kj::mv(opts));
    return out;
  }
};

namespace {

std::string env(const char* name) {
  const char* value = std::getenv(name);
  return value ? value : "";
}

} // namespace

result<std::string> credentials::read_token_file(const std::string& path) {
  auto text = read_file(path, "token file");
  if (!text)
    return text.error();
  auto token = text->substr(0, text->find('\n'));
  while (!token.empty() && (token.back() == '\r' || token.back() == ' '))
    token.pop_back();
  if (token.empty())
    return client_error{client_code::invalid_argument, "the token file " + path + " is empty"};
  return token;
}

result<credentials> credentials::from_environment() {
  credentials out;
  out.ca_file = env("TUTTI_CA");
  out.cert_file = env("TUTTI_CERT");
  out.key_file = env("TUTTI_KEY");
  out.server_name = env("TUTTI_SERVER_NAME");
  out.token = env("TUTTI_TOKEN");
  if (!out.token.empty())
    return out;
  // Set but empty: no token file at all (a client certificate alone).
  if (const char* named = std::getenv("TUTTI_TOKEN_FILE"); named != nullptr && *named == '\0')
    return out;
  auto file = env("TUTTI_TOKEN_FILE");
  if (file.empty()) {
    struct stat st {};
    if (::stat(".tutti/admin.token", &st) != 0)
      return out;
    file = ".tutti/admin.token";
  }
  auto token = read_token_file(file);
  if (!token)
    return token.error();
  out.token = std::move(*token);
  return out;
}

client::impl::impl(std::string api, kj::Duration timeout)
  : api(std::move(api)), timeout(timeout) {}

client::impl::~impl() = default;

client::client(std::unique_ptr<impl> state) : impl_(std::move(state)) {}

client::~client() = default;

result<std::unique_ptr<client>> client::connect(const std::string& api,
                                                std::chrono::milliseconds timeout,
                                                const credentials& creds, bool session) {
  auto state = std::make_unique<impl>(api, timeout.count() * kj::MILLISECONDS);
  if (!creds.ca_file.empty() || !creds.cert_file.empty()) {
    auto tls = client_tls::make(creds);
    if (!tls)
      return tls.error();
    state->tls = kj::mv(*tls);
  }
  auto server_name = creds.server_name.empty() ? host_of(api) : creds.server_name;
  try {
    auto connecting = state->io.provider->getNetwork().parseAddress(api).then(
        [](kj::Own<kj::NetworkAddress> address) {
          return address->connect().attach(kj::mv(address));
        });
    KJ_IF_MAYBE (stream, state->wait(kj::mv(connecting)))
      state->stream = kj::mv(*stream);
    else
      return state->unreachable("no answer within " + seconds_text(state->timeout));
  } catch (const kj::Exception& e) {
    return state->unreachable(connect_failure(e));
  }
  if (state->tls) {
    try {
      auto handshake = state->tls->context->wrapClient(kj::mv(state->stream), server_name);
      KJ_IF_MAYBE (stream, state->wait(kj::mv(handshake)))
        state->stream = kj::mv(*stream);
      else
        return state->unreachable("no TLS handshake within " + seconds_text(state->timeout));
    } catch (const kj::Exception& e) {
      return client_error{client_code::unreachable,
                          "TLS with tuttid at " + api + " failed: " + tls_failure(e) +
                              "; check --ca (the CA of tuttid's API certificate), --cert/--key "
                              "and that the certificate names " + server_name +
                              " (or give --tls-server-name)"};
    }
  }
  state->network = kj::heap<capnp::TwoPartyClient>(*state->stream);
  state->gate = state->network->bootstrap().castAs<rpc::Gate>();
  if (!session)
    return std::unique_ptr<client>{new client(std::move(state))};
  auto req = state->gate.sessionRequest();
  req.setToken(creds.token);
  auto answer = req.send();
  // Pipelined: calls go out at once and fail with the gate's refusal, if any.
  state->tutti = answer.getSession();
  state->session = answer.ignoreResult().catch_([](kj::Exception&&) {});
  return std::unique_ptr<client>{new client(std::move(state))};
}

result<std::unique_ptr<client>> client::connect_any(const std::vector<std::string>& apis,
                                                    std::chrono::milliseconds timeout,
                                                    const credentials& creds) {
  if (apis.size() == 1)
    return connect(apis.front(), timeout, creds);
  std::string problems;
  std::string standby;
  for (const auto& api : apis) {
    // One client at a time: each runs a KJ event loop, and a thread has one.
    auto c = connect(api, timeout, creds);
    auto v = c ? (*c)->version() : result<server_version>{c.error()};
    if (v && v->role.role != protocol::control_role::standby)
      return c;
    if (v && standby.empty())
      standby = api;
    if (!v)
      problems += (problems.empty() ? "" : "; ") + api + ": " + v.error().message;
  }
  if (!standby.empty())
    return connect(standby, timeout, creds);
  std::string all;
  for (const auto& api : apis)
    all += (all.empty() ? "" : ",") + api;
  return client_error{client_code::unreachable, "no tuttid answered at " + all + ": " + problems};
}

result<server_version> client::version() {
  return impl_->call(impl_->tutti.versionRequest().send(), [](auto& r) -> result<server_version> {
    server_version out{text(r.getVersion()), text(r.getNode()), {}};
    out.role.role = protocol::from_capnp(r.getRole()).value_or(protocol::control_role::single);
    out.role.leader = text(r.getLeader());
    out.role.detail = text(r.getDetail());
    out.dashboard = text(r.getDashboard());
    return out;
  });
}

result<protocol::apply_result> client::apply(const std::string& file_name,
                                             const std::string& source, bool dry_run,
                                             const std::string& name_space) {
  auto req = impl_->tutti.applyRequest();
  req.setFileName(file_name);
  req.setSource(source);
  req.setDryRun(dry_run);
  req.setNamespace(name_space);
  return impl_->call(req.send(), [dry_run](auto& r) -> result<protocol::apply_result> {
    protocol::apply_result out;
    out.dry_run = dry_run;
    out.errors = read_list<protocol::spec_error>(r.getSpecErrors());
    // A refused spec may come with error=invalid_spec too; the spec errors say more.
    if (out.errors.empty())
      if (auto err = error_of(r.getError()))
        return *err;
    out.changes = read_list<protocol::service_change>(r.getChanges());
    return out;
  });
}

result<std::vector<protocol::service_status>> client::get_services() {
  using value = std::vector<protocol::service_status>;
  return impl_->call(impl_->tutti.getServicesRequest().send(), [](auto& r) -> result<value> {
    if (auto err = error_of(r.getError()))
      return *err;
    return read_list<protocol::service_status>(r.getServices());
  });
}

result<std::vector<protocol::replica_status>> client::get_replicas(const std::string& service) {
  using value = std::vector<protocol::replica_status>;
  auto req = impl_->tutti.getReplicasRequest();
  req.setService(service);
  return impl_->call(req.send(), [](auto& r) -> result<value> {
    if (auto err = error_of(r.getError()))
      return *err;
    return read_list<protocol::replica_status>(r.getReplicas());
  });
}

result<std::vector<protocol::node_status>> client::get_nodes() {
  using value = std::vector<protocol::node_status>;
  return impl_->call(impl_->tutti.getNodesRequest().send(), [](auto& r) -> result<value> {
    if (auto err = error_of(r.getError()))
      return *err;
    return read_list<protocol::node_status>(r.getNodes());
  });
}

result<std::vector<protocol::volume_info>> client::list_volumes() {
  using value = std::vector<protocol::volume_info>;
  return impl_->call(impl_->tutti.listVolumesRequest().send(), [](auto& r) -> result<value> {
    if (auto err = error_of(r.getError()))
      return *err;
    return read_list<protocol::volume_info>(r.getVolumes());
  });
}

result<std::vector<protocol::object_info>> client::list_objects(protocol::object_kind kind,
                                                                const std::string& ns,
                                                                const std::string& name,
                                                                bool with_data) {
  using value = std::vector<protocol::object_info>;
  auto read = [kind](auto& r) -> result<value> {
    if (auto err = error_of(r.getError()))
      return *err;
    value out;
    for (auto x : r.getObjects())
      out.push_back(protocol::from_capnp(x, kind));
    return out;
  };
  if (kind == protocol::object_kind::secret) {
    auto req = impl_->tutti.listSecretsRequest();
    req.setNamespace(ns);
    req.setName(name);
    return impl_->call(req.send(), read);
  }
  auto req = impl_->tutti.listConfigsRequest();
  req.setNamespace(ns);
  req.setName(name);
  req.setWithData(with_data);
  return impl_->call(req.send(), read);
}

result<done> client::remove_object(protocol::object_kind kind, const std::string& name) {
  auto check = [](auto& r) -> result<done> {
    if (auto err = error_of(r.getError()))
      return *err;
    return done{};
  };
  if (kind == protocol::object_kind::secret) {
    auto req = impl_->tutti.removeSecretRequest();
    req.setName(name);
    return impl_->call(req.send(), check);
  }
  auto req = impl_->tutti.removeConfigRequest();
  req.setName(name);
  return impl_->call(req.send(), check);
}

result<done> client::remove_volume(const std::string& node, const std::string& replica,
                                   const std::string& volume) {
  auto req = impl_->tutti.removeVolumeRequest();
  req.setNode(node);
  req.setReplica(replica);
  req.setVolume(volume);
  return impl_->call(req.send(), [](auto& r) -> result<done> {
    if (auto err = error_of(r.getError()))
      return *err;
    return done{};
  });
}

result<protocol::node_status> client::set_node_state(const std::string& node,
                                                     protocol::node_state state) {
  auto req = impl_->tutti.setNodeStateRequest();
  req.setNode(node);
  req.setState(protocol::to_capnp(state));
  return impl_->call(req.send(), [](auto& r) -> result<protocol::node_status> {
    if (auto err = error_of(r.getError()))
      return *err;
    return protocol::from_capnp(r.getNode());
  });
}

result<protocol::service_detail> client::describe_service(const std::string& service,
                                                          uint32_t event_limit) {
  auto req = impl_->tutti.describeServiceRequest();
  req.setService(service);
  req.setEventLimit(event_limit);
  return impl_->call(req.send(), [](auto& r) -> result<protocol::service_detail> {
    if (auto err = error_of(r.getError()))
      return *err;
    return protocol::from_capnp(r.getDetail());
  });
}

result<int64_t> client::scale(const std::string& service, int32_t replicas) {
  auto req = impl_->tutti.scaleRequest();
  req.setService(service);
  req.setReplicas(replicas);
  return impl_->call(req.send(), [](auto& r) -> result<int64_t> {
    if (auto err = error_of(r.getError()))
      return *err;
    return r.getRevision();
  });
}

result<protocol::rollout_status> client::rollout_status(const std::string& service) {
  auto req = impl_->tutti.rolloutStatusRequest();
  req.setService(service);
  return impl_->call(req.send(), [](auto& r) -> result<protocol::rollout_status> {
    if (auto err = error_of(r.getError()))
      return *err;
    return protocol::from_capnp(r.getStatus());
  });
}

result<std::vector<protocol::spec_record>> client::rollout_history(const std::string& service) {
  using value = std::vector<protocol::spec_record>;
  auto req = impl_->tutti.rolloutHistoryRequest();
  req.setService(service);
  return impl_->call(req.send(), [](auto& r) -> result<value> {
    if (auto err = error_of(r.getError()))
      return *err;
    return read_list<protocol::spec_record>(r.getRevisions());
  });
}

result<int64_t> client::rollout_undo(const std::string& service, int64_t to_revision) {
  auto req = impl_->tutti.rolloutUndoRequest();
  req.setService(service);
  req.setToRevision(to_revision);
  return impl_->call(req.send(), [](auto& r) -> result<int64_t> {
    if (auto err = error_of(r.getError()))
      return *err;
    return r.getRevision();
  });
}

result<std::vector<protocol::actor_info>> client::tree() {
  using value = std::vector<protocol::actor_info>;
  auto req = impl_->tutti.treeRequest();
  return impl_->call(req.send(), [](auto& r) -> result<value> {
    if (auto err = error_of(r.getError()))
      return *err;
    return read_list<protocol::actor_info>(r.getActors());
  });
}

result<protocol::controllers_report> client::get_controllers() {
  auto req = impl_->tutti.getControllersRequest();
  return impl_->call(req.send(), [](auto& r) -> result<protocol::controllers_report> {
    if (auto err = error_of(r.getError()))
      return *err;
    protocol::controllers_report out;
    out.store = text(r.getStore());
    out.controllers = read_list<protocol::controller_status>(r.getControllers());
    out.endpoints = read_list<protocol::store_endpoint>(r.getEndpoints());
    return out;
  });
}

result<std::string> client::kill_actor(const std::string& path, const std::string& reason) {
  auto req = impl_->tutti.killActorRequest();
  req.setPath(path);
  req.setReason(reason);
  return impl_->call(req.send(), [](auto& r) -> result<std::string> {
    if (auto err = error_of(r.getError()))
      return *err;
    return std::string{r.getPath().cStr()};
  });
}

result<done> client::delete_service(const std::string& service) {
  auto req = impl_->tutti.deleteServiceRequest();
  req.setService(service);
  return impl_->call(req.send(), [](auto& r) -> result<done> {
    if (auto err = error_of(r.getError()))
      return *err;
    return done{};
  });
}

result<std::vector<protocol::event>> client::events(uint64_t after, uint32_t limit,
                                                    const std::string& service) {
  using value = std::vector<protocol::event>;
  auto req = impl_->tutti.eventsRequest();
  req.setAfter(after);
  req.setLimit(limit);
  req.setService(service);
  return impl_->call(req.send(), [](auto& r) -> result<value> {
    if (auto err = error_of(r.getError()))
      return *err;
    return read_list<protocol::event>(r.getEvents());
  });
}

result<done> client::follow(uint64_t after, const std::string& service, event_handler on_events,
                            bool stop_on_interrupt) {
  using ending = kj::Maybe<client_error>; // nullptr: stopped on purpose
  auto& io = impl_->io;
  auto stopped = kj::newPromiseAndFulfiller<void>();
  auto stop = kj::refcounted<follow_stop>();
  stop->fulfiller = kj::mv(stopped.fulfiller);

  auto req = impl_->tutti.followRequest();
  req.setAfter(after);
  req.setService(service);
  req.setSink(kj::heap<event_sink>(std::move(on_events), kj::addRef(*stop)));
  kj::Promise<ending> ended = req.send().then([](auto response) -> ending {
    if (auto err = error_of(response.getError()))
      return *err;
    return client_error{client_code::disconnected, "tuttid ended the event stream"};
  });
  ended = ended.exclusiveJoin(stopped.promise.then([]() -> ending { return nullptr; }));
  if (stop_on_interrupt) {
    kj::UnixEventPort::captureSignal(SIGINT);
    ended = ended.exclusiveJoin(
        io.unixEventPort.onSignal(SIGINT).then([](siginfo_t) -> ending { return nullptr; }));
  }
  try {
    KJ_IF_MAYBE (err, ended.wait(io.waitScope))
      return *err;
    return done{};
  } catch (const kj::Exception& e) {
    return from_exception(e);
  }
}

result<log_tail> client::logs(const std::string& service, int32_t slot, uint32_t max_bytes,
                              const std::string& container) {
  auto req = impl_->tutti.logsRequest();
  req.setService(service);
  req.setSlot(slot);
  req.setMaxBytes(max_bytes);
  req.setContainer(container);
  return impl_->call(req.send(), [](auto& r) -> result<log_tail> {
    if (auto err = error_of(r.getError()))
      return *err;
    return log_tail{text(r.getReplica()), text(r.getText())};
  });
}

result<done> client::watch_endpoints(const std::string& service, endpoints_handler on_change,
                                     bool stop_on_interrupt) {
  using ending = kj::Maybe<client_error>; // nullptr: stopped on purpose
  auto& io = impl_->io;
  auto stopped = kj::newPromiseAndFulfiller<void>();
  auto stop = kj::refcounted<follow_stop>();
  stop->fulfiller = kj::mv(stopped.fulfiller);
  auto req = impl_->tutti.watchEndpointsRequest();
  req.setService(service);
  req.setSink(kj::heap<endpoint_sink>(std::move(on_change), kj::addRef(*stop)));
  kj::Promise<ending> ended = req.send().then([](auto response) -> ending {
    if (auto err = error_of(response.getError()))
      return *err;
    return client_error{client_code::disconnected, "tuttid ended the endpoint stream"};
  });
  ended = ended.exclusiveJoin(stopped.promise.then([]() -> ending { return nullptr; }));
  if (stop_on_interrupt) {
    kj::UnixEventPort::captureSignal(SIGINT);
    ended = ended.exclusiveJoin(
        io.unixEventPort.onSignal(SIGINT).then([](siginfo_t) -> ending { return nullptr; }));
  }
  try {
    KJ_IF_MAYBE (err, ended.wait(io.waitScope))
      return *err;
    return done{};
  } catch (const kj::Exception& e) {
    return from_exception(e);
  }
}

result<std::vector<protocol::service_endpoints>> client::get_endpoints(const std::string& service) {
  using value = std::vector<protocol::service_endpoints>;
  auto req = impl_->tutti.getEndpointsRequest();
  req.setService(service);
  return impl_->call(req.send(), [](auto& r) -> result<value> {
    if (auto err = error_of(r.getError()))
      return *err;
    return read_list<protocol::service_endpoints>(r.getEndpoints());
  });
}

result<protocol::identity> client::whoami() {
  return impl_->call(impl_->tutti.whoamiRequest().send(), [](auto& r) -> result<protocol::identity> {
    if (auto err = error_of(r.getError()))
      return *err;
    return protocol::from_capnp(r.getIdentity());
  });
}

result<std::pair<std::string, protocol::token_record>>
client::create_token(const std::string& name, protocol::access_role role,
                     std::chrono::milliseconds ttl, const std::string& name_space) {
  using value = std::pair<std::string, protocol::token_record>;
  auto req = impl_->tutti.createTokenRequest();
  req.setName(name);
  req.setRole(protocol::to_capnp(role));
  req.setTtlMs(ttl.count());
  req.setNamespace(name_space);
  return impl_->call(req.send(), [](auto& r) -> result<value> {
    if (auto err = error_of(r.getError()))
      return *err;
    return value{text(r.getToken()), protocol::from_capnp(r.getInfo())};
  });
}

result<done> client::revoke_token(const std::string& name) {
  auto req = impl_->tutti.revokeTokenRequest();
  req.setName(name);
  return impl_->call(req.send(), [](auto& r) -> result<done> {
    if (auto err = error_of(r.getError()))
      return *err;
    return done{};
  });
}

result<std::vector<protocol::token_record>> client::list_tokens() {
  using value = std::vector<protocol::token_record>;
  return impl_->call(impl_->tutti.listTokensRequest().send(), [](auto& r) -> result<value> {
    if (auto err = error_of(r.getError()))
      return *err;
    return read_list<protocol::token_record>(r.getTokens());
  });
}

result<std::vector<protocol::audit_record>> client::audit(const std::string& after,
                                                          uint32_t limit) {
  using value = std::vector<protocol::audit_record>;
  auto req = impl_->tutti.auditRequest();
  req.setAfter(after);
  req.setLimit(limit);
  return impl_->call(req.send(), [](auto& r) -> result<value> {
    if (auto err = error_of(r.getError()))
      return *err;
    return read_list<protocol::audit_record>(r.getRecords());
  });
}

} // namespace tutti::cli
