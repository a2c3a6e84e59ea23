#include "actors/api/dashboard_server.hpp"

#include "actors/api/embedded_files.hpp"

#include "protocol/capnp_convert.hpp"
#include "protocol/errors.hpp"

#include <capnp/compat/json.h>
#include <kj/compat/http.h>
#include <kj/compat/url.h>

#include <nlohmann/json.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace tutti::actors {

namespace {

namespace rpc = protocol::rpc;
namespace p = tutti::protocol;
using json = nlohmann::json;

constexpr uint64_t max_request_body = 64 * 1024;
constexpr uint32_t overview_events = 30;
constexpr uint32_t max_page = 1000;
constexpr uint32_t max_log_bytes = 1 << 20;
/// Nodes on the overview; the nodes page searches and pages the rest.
constexpr uint32_t overview_nodes = 100;
/// A comment line on an idle event stream, so that proxies keep it open.
constexpr auto keepalive_interval = 15 * kj::SECONDS;
/// Event streams open at once, of all clients: each holds a follow call.
constexpr uint32_t max_streams = 256;
/// How long a stream whose follow call ended stays open to write why.
constexpr auto flush_delay = 100 * kj::MILLISECONDS;

struct header_ids {
  kj::HttpHeaderId authorization;
  kj::HttpHeaderId cache_control;
  kj::HttpHeaderId content_security_policy;
  kj::HttpHeaderId content_type_options;
  kj::HttpHeaderId location;
};

/// What every connection's service shares.
struct shared_state {
  kj::Timer& timer;
  gate_factory gates;
  kj::Own<kj::HttpHeaderTable> table;
  header_ids ids;
  capnp::JsonCodec codec;
  uint32_t streams = 0; // event streams open, of every connection
};

/// An answer for the client: a status and a JSON body.
struct reply {
  unsigned status = 200;
  std::string body;
};

const char* status_text(unsigned status) {
  switch (status) {
    case 200: return "OK";
    case 302: return "Found";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 409: return "Conflict";
    case 413: return "Payload Too Large";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    default: return "Internal Server Error";
  }
}

unsigned status_of(p::error_code code) {
  using c = p::error_code;
  switch (code) {
    case c::invalid_argument:
    case c::invalid_spec: return 400;
    case c::unauthenticated: return 401;
    case c::forbidden: return 403;
    case c::not_found: return 404;
    case c::already_exists:
    case c::unschedulable: return 409;
    case c::unavailable:
    case c::not_leader: return 503;
    case c::timeout: return 504;
    default: return 500;
  }
}

reply error_reply(unsigned status, const std::string& code, const std::string& message) {
  return {status, json{{"error", {{"code", code}, {"message", message}}}}.dump()};
}

reply error_reply(p::error_code code, const std::string& message) {
  return error_reply(status_of(code), p::to_string(code), message);
}

/// A refusal of the gate or a session ("CODE: message"), or a failure of the call.
reply from_exception(const kj::Exception& e) {
  std::string text = e.getDescription().cStr();
  for (auto code : {p::error_code::unauthenticated, p::error_code::forbidden,
                    p::error_code::invalid_argument, p::error_code::not_found,
                    p::error_code::unavailable, p::error_code::timeout,
                    p::error_code::not_leader}) {
    auto prefix = p::to_string(code) + ": ";
    if (auto at = text.find(prefix); at != std::string::npos)
      return error_reply(code, text.substr(at + prefix.size()));
  }
  if (e.getType() == kj::Exception::Type::OVERLOADED)
    return error_reply(503, "unavailable", text);
  return error_reply(500, "internal", text);
}

/// The answer's error field, when it holds one.
template <class Results> std::optional<reply> failed(const Results& r) {
  if constexpr (requires { r.getError(); }) {
    if (!r.hasError())
      return std::nullopt;
    auto err = p::from_capnp(r.getError());
    if (!err)
      return std::nullopt;
    if (!err->code)
      return error_reply(500, "internal", err->message);
    return error_reply(*err->code, err->message);
  }
  return std::nullopt;
}

std::string content_type_of(std::string_view name) {
  auto ends = [&name](std::string_view suffix) {
    return name.size() >= suffix.size() && name.substr(name.size() - suffix.size()) == suffix;
  };
  if (ends(".html"))
    return "text/html; charset=utf-8";
  if (ends(".js"))
    return "text/javascript; charset=utf-8";
  if (ends(".css"))
    return "text/css; charset=utf-8";
  if (ends(".svg"))
    return "image/svg+xml";
  return "application/octet-stream";
}

std::string peer_of(kj::AsyncIoStream& stream) {
  sockaddr_storage addr{};
  uint len = sizeof addr;
  try {
    stream.getpeername(reinterpret_cast<sockaddr*>(&addr), &len);
  } catch (const kj::Exception&) {
    return "http";
  }
  char host[INET6_ADDRSTRLEN] = {};
  uint16_t port = 0;
  if (addr.ss_family == AF_INET) {
    auto* a = reinterpret_cast<sockaddr_in*>(&addr);
    inet_ntop(AF_INET, &a->sin_addr, host, sizeof host);
    port = ntohs(a->sin_port);
  } else if (addr.ss_family == AF_INET6) {
    auto* a = reinterpret_cast<sockaddr_in6*>(&addr);
    inet_ntop(AF_INET6, &a->sin6_addr, host, sizeof host);
    port = ntohs(a->sin6_port);
  } else {
    return "http";
  }
  return std::string{host} + ":" + std::to_string(port) + " (dashboard)";
}

/// The request's path segments and query parameters.
struct request_target {
  std::vector<std::string> path;
  std::map<std::string, std::string> query;

  std::string param(const std::string& name) const {
    auto i = query.find(name);
    return i == query.end() ? std::string{} : i->second;
  }
  uint32_t number(const std::string& name, uint32_t otherwise) const {
    auto text = param(name);
    if (text.empty() || text.size() > 9 || text.find_first_not_of("0123456789") != std::string::npos)
      return otherwise;
    return static_cast<uint32_t>(std::stoul(text));
  }
};

std::optional<request_target> parse_target(kj::StringPtr url) {
  KJ_IF_MAYBE (parsed, kj::Url::tryParse(url, kj::Url::HTTP_REQUEST)) {
    request_target out;
    for (auto& segment : parsed->path)
      out.path.emplace_back(segment.cStr());
    for (auto& q : parsed->query)
      out.query[q.name.cStr()] = q.value.cStr();
    return out;
  }
  return std::nullopt;
}

/// The texts waiting to go out on one stream of server-sent events. The
/// request that serves the stream writes them, one after another, and marks
/// the stream closed when it ends (the client left, or the server stops): the
/// event sink, which the API may hold a while longer, then only refuses.
struct event_stream {
  static constexpr size_t max_queued = 1024;

  std::deque<kj::String> queue;
  kj::Own<kj::PromiseFulfiller<void>> waiter; // the writer, waiting for text
  bool closed = false;

  /// False when the stream is closed or its client reads too slowly.
  bool put(kj::String text) {
    if (closed || queue.size() >= max_queued)
      return false;
    queue.push_back(kj::mv(text));
    if (waiter) {
      waiter->fulfill();
      waiter = nullptr;
    }
    return true;
  }

  kj::Promise<void> ready() {
    if (!queue.empty())
      return kj::READY_NOW;
    auto paf = kj::newPromiseAndFulfiller<void>();
    waiter = kj::mv(paf.fulfiller);
    return kj::mv(paf.promise);
  }

  void close() {
    closed = true;
    queue.clear();
    waiter = nullptr;
  }
};

kj::Promise<void> write_queued(std::shared_ptr<event_stream> s, kj::AsyncOutputStream& out) {
  return s->ready().then([s, &out]() mutable {
    auto text = kj::mv(s->queue.front());
    s->queue.pop_front();
    auto written = out.write(text.begin(), text.size());
    return written.attach(kj::mv(text)).then([s, &out]() mutable { return write_queued(s, out); });
  });
}

/// Receives the events a follow call pushes and queues them on the stream.
class sse_sink final : public rpc::EventSink::Server {
public:
  sse_sink(std::shared_ptr<event_stream> stream, const capnp::JsonCodec& codec)
    : stream_(std::move(stream)), codec_(codec) {}

  kj::Promise<void> push(PushContext ctx) override {
    if (stream_->closed)
      return KJ_EXCEPTION(DISCONNECTED, "the dashboard's event stream ended");
    auto text = kj::str("event: events\ndata: ", codec_.encode(ctx.getParams().getEvents()), "\n\n");
    if (!stream_->put(kj::mv(text)))
      return KJ_EXCEPTION(DISCONNECTED, "the dashboard's client reads its events too slowly");
    return kj::READY_NOW;
  }

private:
  std::shared_ptr<event_stream> stream_;
  const capnp::JsonCodec& codec_; // the server's: used only while the stream is open
};

class dashboard_service final : public kj::HttpService {
public:
  dashboard_service(shared_state& s, std::string peer) : s_(s), peer_(std::move(peer)) {}

  kj::Promise<void> request(kj::HttpMethod method, kj::StringPtr url, const kj::HttpHeaders& headers,
                            kj::AsyncInputStream& body, Response& response) override {
    auto target = parse_target(url);
    if (!target)
      return send(response, error_reply(400, "invalid_argument", "a malformed URL"));
    auto& path = target->path;
    if (path.empty() || (path.size() == 1 && path[0] == "ui" && !url.endsWith("/")))
      return redirect(response, "/ui/");
    if (path[0] == "ui")
      return static_file(method, path.size() == 1 ? "index.html" : path[1], path.size() > 2,
                         response);
    if (path.size() >= 2 && path[0] == "api" && path[1] == "v1") {
      path.erase(path.begin(), path.begin() + 2);
      std::string token;
      KJ_IF_MAYBE (auth, headers.get(s_.ids.authorization)) {
        std::string value = auth->cStr();
        if (value.rfind("Bearer ", 0) == 0)
          token = value.substr(7);
      }
      return api(method, std::move(*target), std::move(token), body, response);
    }
    return send(response, error_reply(404, "not_found", "no such page: " + std::string{url.cStr()}));
  }

private:
  // -- responses ----------------------------------------------------------------

  kj::Promise<void> send(Response& response, reply r) {
    kj::HttpHeaders headers(*s_.table);
    headers.set(kj::HttpHeaderId::CONTENT_TYPE, "application/json");
    headers.set(s_.ids.cache_control, "no-store");
    auto text = kj::heapString(r.body.data(), r.body.size());
    auto out = response.send(r.status, status_text(r.status), headers, text.size());
    auto written = out->write(text.begin(), text.size());
    return written.attach(kj::mv(out), kj::mv(text));
  }

  kj::Promise<void> redirect(Response& response, const char* to) {
    kj::HttpHeaders headers(*s_.table);
    headers.set(s_.ids.location, to);
    response.send(302, "Found", headers, uint64_t{0});
    return kj::READY_NOW;
  }

  kj::Promise<void> static_file(kj::HttpMethod method, const std::string& name, bool nested,
                                Response& response) {
    if (method != kj::HttpMethod::GET && method != kj::HttpMethod::HEAD)
      return send(response, error_reply(405, "invalid_argument", "the dashboard's files are read-only"));
    const auto& files = dashboard_files();
    auto file = files.find(name);
    if (nested || file == files.end())
      return send(response, error_reply(404, "not_found", "no such file: " + name));
    // Header values are not copied: each must outlive send().
    auto type = content_type_of(name);
    kj::HttpHeaders headers(*s_.table);
    headers.set(kj::HttpHeaderId::CONTENT_TYPE, type);
    headers.set(s_.ids.cache_control, "no-cache");
    headers.set(s_.ids.content_type_options, "nosniff");
    headers.set(s_.ids.content_security_policy,
                "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'");
    auto data = file->second;
    auto out = response.send(200, "OK", headers, data.size());
    if (method == kj::HttpMethod::HEAD)
      return kj::READY_NOW;
    auto written = out->write(data.data(), data.size());
    return written.attach(kj::mv(out));
  }

  // -- the JSON API ---------------------------------------------------------------

  kj::Promise<void> api(kj::HttpMethod method, request_target target, std::string token,
                        kj::AsyncInputStream& body, Response& response) {
    if (token.empty())
      return send(response, error_reply(401, "unauthenticated",
                                        "no token: open the link `tutti dashboard` prints, or "
                                        "log in with a token"));
    auto gate = s_.gates(peer_);
    auto session = gate.sessionRequest();
    session.setToken(token);
    rpc::Tutti::Client tutti = session.send().getSession();
    const auto& path = target.path;
    if (method == kj::HttpMethod::GET && path.size() == 1 && path[0] == "stream")
      return authorized_stream(tutti, kj::mv(target), response);
    kj::Promise<reply> answer = nullptr;
    if (method == kj::HttpMethod::GET)
      answer = get(tutti, target);
    else if (method == kj::HttpMethod::POST || method == kj::HttpMethod::DELETE)
      answer = body.readAllText(max_request_body)
                   .then(
                       [this, tutti, method, target = kj::mv(target)](kj::String text) mutable {
                         return change(tutti, method, target, std::string{text.cStr()});
                       },
                       [](kj::Exception&&) -> kj::Promise<reply> {
                         return error_reply(413, "invalid_argument",
                                            "the request body is larger than 64 KiB, or broken");
                       });
    else
      answer = reply{405, json{{"error", {{"code", "invalid_argument"},
                                          {"message", "use GET, POST or DELETE"}}}}.dump()};
    return answer.catch_([](kj::Exception&& e) { return from_exception(e); })
        .then([this, &response](reply r) { return send(response, std::move(r)); });
  }

  kj::Promise<reply> get(rpc::Tutti::Client tutti, const request_target& target) {
    const auto& path = target.path;
    auto one = [&path](const char* name) { return path.size() == 1 && path[0] == name; };
    if (one("whoami"))
      return encoded(tutti.whoamiRequest().send());
    if (one("overview"))
      return overview(tutti);
    if (one("services"))
      return encoded(tutti.getServicesRequest().send());
    if (one("nodes"))
      return nodes(tutti, target);
    if (one("tree"))
      return encoded(tutti.treeRequest().send());
    if (one("configs")) // versions, sizes and users; never the data here
      return encoded(tutti.listConfigsRequest().send());
    if (one("secrets"))
      return encoded(tutti.listSecretsRequest().send());
    if (one("version"))
      return encoded(tutti.versionRequest().send());
    if (one("events")) {
      auto req = tutti.eventsRequest();
      req.setAfter(0);
      req.setLimit(std::min(target.number("limit", 100), max_page));
      req.setService(target.param("service"));
      return encoded(req.send());
    }
    if (one("replicas"))
      return replicas(tutti, target);
    if (path.size() == 2 && path[0] == "services")
      return service(tutti, path[1]);
    if (path.size() == 3 && path[0] == "services" && path[2] == "logs") {
      auto req = tutti.logsRequest();
      req.setService(path[1]);
      auto slot = target.param("slot");
      req.setSlot(slot.empty() ? -1 : static_cast<int32_t>(target.number("slot", 0)));
      req.setMaxBytes(std::min(target.number("bytes", 16384), max_log_bytes));
      return encoded(req.send());
    }
    if (path.size() == 3 && path[0] == "services" && path[2] == "history") {
      auto req = tutti.rolloutHistoryRequest();
      req.setService(path[1]);
      return encoded(req.send());
    }
    if (path.size() == 3 && path[0] == "services" && path[2] == "rollout") {
      auto req = tutti.rolloutStatusRequest();
      req.setService(path[1]);
      return encoded(req.send());
    }
    return reply{404, error_reply(404, "not_found", "no such resource").body};
  }

  kj::Promise<reply> change(rpc::Tutti::Client tutti, kj::HttpMethod method,
                            const request_target& target, const std::string& text) {
    json in = json::object();
    if (!text.empty()) {
      in = json::parse(text, nullptr, false);
      if (in.is_discarded() || !in.is_object())
        return error_reply(400, "invalid_argument", "the request body is not a JSON object");
    }
    const auto& path = target.path;
    if (method == kj::HttpMethod::DELETE && path.size() == 2 && path[0] == "services") {
      auto req = tutti.deleteServiceRequest();
      req.setService(path[1]);
      return encoded(req.send());
    }
    if (method != kj::HttpMethod::POST || path.size() != 3)
      return error_reply(404, "not_found", "no such action");
    if (path[0] == "services" && path[2] == "scale") {
      auto n = in.find("replicas");
      if (n == in.end() || !n->is_number_integer() || *n < 0 || *n > 1000000)
        return error_reply(400, "invalid_argument", "replicas: give a whole number from 0");
      auto req = tutti.scaleRequest();
      req.setService(path[1]);
      req.setReplicas(n->get<int32_t>());
      return encoded(req.send());
    }
    if (path[0] == "services" && path[2] == "undo") {
      auto req = tutti.rolloutUndoRequest();
      req.setService(path[1]);
      req.setToRevision(0);
      return encoded(req.send());
    }
    if (path[0] == "nodes" && path[2] == "state") {
      auto field = in.find("state");
      auto state = field != in.end() && field->is_string() ? field->get<std::string>() : "";
      auto parsed = p::node_state_from(state);
      if (!parsed)
        return error_reply(400, "invalid_argument",
                           "state: give ready, cordoned or draining, not '" + state + "'");
      auto req = tutti.setNodeStateRequest();
      req.setNode(path[1]);
      req.setState(p::to_capnp(*parsed));
      return encoded(req.send());
    }
    return error_reply(404, "not_found", "no such action");
  }

  /// The answer as JSON, or its error.
  template <class T> kj::Promise<reply> encoded(capnp::RemotePromise<T> answer) {
    return answer.then([this](capnp::Response<T> r) {
      if (auto err = failed(r))
        return *err;
      return reply{200, s_.codec.encode(typename T::Reader(r)).cStr()};
    });
  }

  /// A service without its replicas (the replicas endpoint pages those): a
  /// service of 100,000 replicas is not sent whole.
  kj::Promise<reply> service(rpc::Tutti::Client tutti, const std::string& name) {
    auto req = tutti.describeServiceRequest();
    req.setService(name);
    req.setEventLimit(overview_events);
    return req.send().then([this](auto r) -> reply {
      if (auto err = failed(r))
        return *err;
      auto d = r.getDetail();
      return {200, kj::str("{\"detail\":{\"status\":", s_.codec.encode(d.getStatus()),
                           ",\"specYaml\":", s_.codec.encode(d.getSpecYaml()),
                           ",\"replicaCount\":", d.getReplicas().size(),
                           ",\"events\":", s_.codec.encode(d.getEvents()), "}}")
                       .cStr()};
    });
  }

  /// Nodes, searched (`q` in the name) and paged like replicas; the overview
  /// of 5,000 nodes shows a page.
  kj::Promise<reply> nodes(rpc::Tutti::Client tutti, const request_target& target) {
    auto q = target.param("q");
    auto offset = target.number("offset", 0);
    auto limit = std::min(target.number("limit", max_page), max_page);
    return tutti.getNodesRequest().send().then([this, q, offset, limit](auto r) -> reply {
      if (auto err = failed(r))
        return *err;
      std::string items;
      uint32_t matched = 0;
      for (auto x : r.getNodes()) {
        if (!q.empty() && std::string{x.getName().cStr()}.find(q) == std::string::npos)
          continue;
        if (matched++ < offset || matched > offset + limit)
          continue;
        items += (items.empty() ? "" : ",") + std::string{s_.codec.encode(x).cStr()};
      }
      return {200, "{\"total\":" + std::to_string(matched) + ",\"offset\":" +
                       std::to_string(offset) + ",\"nodes\":[" + items + "]}"};
    });
  }

  /// Services, nodes and the newest events at once: what the first page shows.
  kj::Promise<reply> overview(rpc::Tutti::Client tutti) {
    auto events = tutti.eventsRequest();
    events.setAfter(0);
    events.setLimit(overview_events);
    auto services = tutti.getServicesRequest().send();
    auto nodes = tutti.getNodesRequest().send();
    auto recent = events.send();
    return services.then([this, nodes = kj::mv(nodes), recent = kj::mv(recent)](auto s) mutable {
      return nodes.then([this, s = kj::mv(s), recent = kj::mv(recent)](auto n) mutable {
        return recent.then([this, s = kj::mv(s), n = kj::mv(n)](auto e) mutable -> reply {
          for (auto err : {failed(s), failed(n), failed(e)})
            if (err)
              return *err;
          std::string nodes;
          uint32_t shown = 0;
          for (auto x : n.getNodes())
            if (shown++ < overview_nodes)
              nodes += (nodes.empty() ? "" : ",") + std::string{s_.codec.encode(x).cStr()};
          return {200, kj::str("{\"services\":", s_.codec.encode(s.getServices()),
                               ",\"nodeCount\":", n.getNodes().size(), ",\"nodes\":[",
                               nodes.c_str(), "],\"events\":", s_.codec.encode(e.getEvents()),
                               "}")
                           .cStr()};
        });
      });
    });
  }

  /// Replicas, searched (`q` in the id, node or state) and paged on the server:
  /// a cluster of 100,000 is never sent whole.
  kj::Promise<reply> replicas(rpc::Tutti::Client tutti, const request_target& target) {
    auto req = tutti.getReplicasRequest();
    req.setService(target.param("service"));
    auto q = target.param("q");
    auto offset = target.number("offset", 0);
    auto limit = std::min(target.number("limit", 100), max_page);
    return req.send().then([this, q, offset, limit](auto r) -> reply {
      if (auto err = failed(r))
        return *err;
      std::string items;
      uint32_t matched = 0;
      for (auto x : r.getReplicas()) {
        if (!q.empty() && std::string{x.getId().cStr()}.find(q) == std::string::npos &&
            std::string{x.getNode().cStr()}.find(q) == std::string::npos)
          continue;
        if (matched++ < offset || matched > offset + limit)
          continue;
        items += (items.empty() ? "" : ",") + std::string{s_.codec.encode(x).cStr()};
      }
      return {200, "{\"total\":" + std::to_string(matched) + ",\"offset\":" +
                       std::to_string(offset) + ",\"replicas\":[" + items + "]}"};
    });
  }

  /// The event stream, once the token is known good: a bad one is a 401, not
  /// a stream that ends at once (and a client that keeps coming back).
  kj::Promise<void> authorized_stream(rpc::Tutti::Client tutti, request_target target,
                                      Response& response) {
    if (s_.streams >= max_streams)
      return send(response, error_reply(503, "unavailable",
                                        "the dashboard serves " + std::to_string(max_streams) +
                                            " event streams already; close a tab"));
    return tutti.whoamiRequest().send().then(
        [this, tutti, target = kj::mv(target), &response](auto) mutable {
          ++s_.streams;
          return stream(tutti, target, response).attach(kj::defer([this] { --s_.streams; }));
        },
        [this, &response](kj::Exception&& e) { return send(response, from_exception(e)); });
  }

  /// Server-sent events: every event committed after `after` (the newest when
  /// absent), until the client goes away.
  kj::Promise<void> stream(rpc::Tutti::Client tutti, const request_target& target,
                           Response& response) {
    kj::HttpHeaders headers(*s_.table);
    headers.set(kj::HttpHeaderId::CONTENT_TYPE, "text/event-stream");
    headers.set(s_.ids.cache_control, "no-store");
    auto out = response.send(200, "OK", headers);
    auto state = std::make_shared<event_stream>();
    state->put(kj::str(": connected\n\n"));
    uint64_t after = target.number("after", 0);
    // Without `after`: from the newest event on, so the client gets what is new.
    kj::Promise<uint64_t> from = after;
    if (after == 0) {
      auto req = tutti.eventsRequest();
      req.setAfter(0);
      req.setLimit(1);
      from = req.send().then([](auto r) {
        auto xs = r.getEvents();
        return xs.size() == 0 ? uint64_t{0} : uint64_t{xs[0].getSeq()};
      });
    }
    auto following = from.then([this, tutti, state](uint64_t seq) mutable {
      auto req = tutti.followRequest();
      req.setAfter(seq);
      req.setSink(kj::heap<sse_sink>(state, s_.codec));
      return req.send().then([state](auto r) {
        auto err = failed(r);
        auto text = err ? err->body : std::string{"{}"};
        state->put(kj::str("event: failed\ndata: ", text.c_str(), "\n\n"));
      });
    });
    auto& stream_out = *out;
    // `out` outlives the write in progress: an attachment is destroyed after
    // the promise it is attached to.
    return write_queued(state, stream_out)
        // A follow that ends (it failed) ends the stream once its reason is
        // written, and the client connects again.
        .exclusiveJoin(following.then([this] { return s_.timer.afterDelay(flush_delay); }))
        .exclusiveJoin(keepalive(state))
        .catch_([](kj::Exception&&) {})
        .attach(kj::defer([state] { state->close(); }), kj::mv(out));
  }

  kj::Promise<void> keepalive(std::shared_ptr<event_stream> state) {
    return s_.timer.afterDelay(keepalive_interval).then([this, state] {
      state->put(kj::str(": ping\n\n"));
      return keepalive(state);
    });
  }

  shared_state& s_;
  std::string peer_;
};

} // namespace

struct dashboard_server::impl {
  shared_state shared;
  kj::HttpServer server;

  static shared_state make_shared(kj::Timer& timer, gate_factory gates) {
    kj::HttpHeaderTable::Builder builder;
    header_ids ids{builder.add("Authorization"), builder.add("Cache-Control"),
                   builder.add("Content-Security-Policy"), builder.add("X-Content-Type-Options"),
                   builder.add("Location")};
    return shared_state{timer, std::move(gates), builder.build(), ids, {}};
  }

  impl(kj::Timer& timer, gate_factory gates)
    : shared(make_shared(timer, std::move(gates))),
      server(timer, *shared.table, [this](kj::AsyncIoStream& connection) -> kj::Own<kj::HttpService> {
        return kj::heap<dashboard_service>(shared, peer_of(connection));
      }) {}
};

dashboard_server::dashboard_server(kj::Timer& timer, gate_factory gates)
  : impl_(kj::heap<impl>(timer, std::move(gates))) {}

dashboard_server::~dashboard_server() = default;

kj::Promise<void> dashboard_server::listen(kj::ConnectionReceiver& port) {
  return impl_->server.listenHttp(port);
}

} // namespace tutti::actors
