#include "runtime-drivers/containerd/registry_client.hpp"

#include "protocol/errors.hpp"
#include "runtime-drivers/containerd/registry_http.hpp"
#include "runtime-drivers/containerd/registry_parse.hpp"
#include "runtime-drivers/containerd/sha256.hpp"

#include <curl/curl.h>

#include <map>
#include <mutex>
#include <utility>

namespace tutti::runtime_drivers::containerd {

namespace {

using protocol::error_code;
using protocol::make_error;
using steady = std::chrono::steady_clock;

/// Manifests and indexes are a few KiB; the distribution spec lets registries
/// refuse more than 4 MiB, so a bigger one is not a manifest.
constexpr size_t max_manifest_size = 4 << 20;
constexpr size_t max_token_size = 1 << 20;
constexpr int max_redirects = 5;
/// An index naming an index: deeper is a loop or an attack.
constexpr int max_index_depth = 4;

constexpr const char* manifest_accept =
    "Accept: application/vnd.oci.image.index.v1+json, application/vnd.oci.image.manifest.v1+json, "
    "application/vnd.docker.distribution.manifest.list.v2+json, "
    "application/vnd.docker.distribution.manifest.v2+json";

using chunk_sink = std::function<bool(const char* data, size_t size)>;

/// One GET of the registry API, redirects included.
struct request {
  http_request http;  // its url is the registry's; Accept headers
  std::string what;   // "tag 1", "blob sha256:...", for messages
  std::string bearer; // sent to the registry's origin only
};

bool is_redirect(long status) {
  return status == 301 || status == 302 || status == 303 || status == 307 || status == 308;
}

struct cached_token {
  std::string token;
  steady::time_point expires;
};

/// What copies of a client share.
struct client_state {
  http_pool pool;
  std::mutex mutex;                                                   // guards tokens
  std::map<std::pair<std::string, std::string>, cached_token> tokens; // by (host, repository)

  std::string token(const std::string& host, const std::string& repository) {
    std::lock_guard<std::mutex> guard{mutex};
    auto i = tokens.find({host, repository});
    if (i == tokens.end())
      return {};
    if (steady::now() < i->second.expires)
      return i->second.token;
    tokens.erase(i);
    return {};
  }

  void remember(const std::string& host, const std::string& repository, const bearer_token& t) {
    std::lock_guard<std::mutex> guard{mutex};
    tokens[{host, repository}] = {t.token, steady::now() + std::chrono::seconds{t.expires_in}};
  }
};

/// The requests of one resolve() or fetch_blob(): one reference at one registry.
class registry_call {
public:
  registry_call(client_state& state, const image_reference& ref, const registry_options& options)
    : state_(state), ref_(ref), options_(options), host_(registry_host(ref.domain)),
      base_(registry_base_url(host_)) {}

  const std::string& host() const { return host_; }
  const image_reference& ref() const { return ref_; }

  /// GET base + `path` with a cached token; on a 401 asking for a Bearer
  /// token, fetches an anonymous one and tries once more.
  caf::expected<http_response> authorized_get(request req, const std::string& path) {
    req.http.url = base_ + path;
    req.bearer = state_.token(host_, ref_.repository);
    auto r = perform(req);
    if (!r || r->status != 401)
      return r;
    std::optional<auth_challenge> bearer;
    bool basic = false;
    for (const auto& header : r->authenticate)
      for (auto& challenge : parse_www_authenticate(header)) {
        basic = basic || challenge.scheme == "basic";
        if (challenge.scheme == "bearer" && !bearer)
          bearer = std::move(challenge);
      }
    if (!bearer && basic)
      return make_error(error_code::driver_failure,
                        "registry " + host_ +
                            " asks for a user name and password (Basic auth) for " + ref_.name +
                            "; registry credentials are not supported yet: give the spec an "
                            "image_archive instead");
    if (!bearer)
      return r; // a 401 without a challenge we know: status_error tells
    auto token = fetch_token(*bearer, req.http.deadline.value_or(resolve_deadline()));
    if (!token)
      return std::move(token.error());
    req.bearer = std::move(*token);
    return perform(req);
  }

  /// The error for an answer other than 200.
  caf::error status_error(const http_response& r, const std::string& what) const {
    auto text = registry_error_text(r.body);
    auto said = "HTTP " + std::to_string(r.status) + (text.empty() ? "" : ": " + text);
    if (r.status == 404) {
      if (registry_error_code(r.body) == "NAME_UNKNOWN")
        return make_error(error_code::not_found, "registry " + host_ + " has no repository " +
                                                     ref_.repository + " (looking for " +
                                                     ref_.name + "; " + said + ")");
      return make_error(error_code::not_found,
                        "registry " + host_ + " has no " + what + " in repository " +
                            ref_.repository + " (looking for " + ref_.name + "; " + said + ")");
    }
    if (r.status == 401 || r.status == 403)
      return make_error(error_code::driver_failure,
                        "registry " + host_ + " refused anonymous access to " + ref_.name + " (" +
                            said +
                            "): is the name misspelled, or the repository private? Registry "
                            "credentials are not supported yet");
    if (r.status == 429)
      return make_error(error_code::driver_failure,
                        "registry " + host_ + " refused " + what + " of " + ref_.name +
                            ": too many requests (" + said +
                            ", its pull rate limit); try again later or give the spec an "
                            "image_archive instead");
    return make_error(error_code::driver_failure, "registry " + host_ + " answered " + said +
                                                      " to the request for " + what + " of " +
                                                      ref_.name);
  }

  /// The deadline of manifest and token requests started now.
  steady::time_point resolve_deadline() const { return steady::now() + options_.resolve_timeout; }

private:
  /// One GET, following redirects by hand: the token must not follow the
  /// client to a CDN on another host.
  caf::expected<http_response> perform(const request& req) {
    auto origin = url_origin(base_);
    auto url = req.http.url;
    for (int hop = 0;; ++hop) {
      auto r = perform_once(url, url_origin(url) == origin ? req.bearer : std::string{}, req);
      if (!r || !is_redirect(r->status) || r->redirect_url.empty())
        return r;
      if (hop == max_redirects)
        return make_error(error_code::driver_failure,
                          "registry " + host_ + " redirected the request for " + req.what + " of " +
                              ref_.name + " more than " + std::to_string(max_redirects) +
                              " times (last to " + r->redirect_url + ")");
      url = r->redirect_url;
    }
  }

  caf::expected<http_response> perform_once(const std::string& url, const std::string& bearer,
                                            const request& req) {
    if (req.http.deadline && steady::now() >= *req.http.deadline)
      return timed_out(req);
    auto http = req.http;
    http.url = url;
    if (!bearer.empty())
      http.headers.push_back("Authorization: Bearer " + bearer);
    auto out = state_.pool.get(http);
    if (out.curl_code == CURLE_OK)
      return out;
    if (out.too_big)
      return make_error(error_code::invalid_argument, "registry " + host_ + " served " + req.what +
                                                          " of " + ref_.name + " larger than " +
                                                          std::to_string(req.http.max_body >> 10) +
                                                          " KiB, too big to be what we asked for");
    if (out.sink_refused)
      return make_error(error_code::driver_failure,
                        "streaming " + req.what + " of " + ref_.name + " stopped");
    return curl_error(static_cast<CURLcode>(out.curl_code), out.error, req);
  }

  caf::error timed_out(const request& req) const {
    return make_error(error_code::driver_failure,
                      "registry " + host_ + " did not answer the request for " + req.what + " of " +
                          ref_.name + " within " +
                          std::to_string(options_.resolve_timeout.count()) +
                          " ms; is the node's network down or the registry overloaded?");
  }

  caf::error curl_error(CURLcode rc, const std::string& detail, const request& req) const {
    switch (rc) {
      case CURLE_COULDNT_RESOLVE_HOST:
      case CURLE_COULDNT_RESOLVE_PROXY:
      case CURLE_COULDNT_CONNECT:
        return make_error(error_code::driver_failure,
                          "cannot reach registry " + host_ + " for " + ref_.name + ": " + detail +
                              "; is the node offline? Give the spec an image_archive instead");
      case CURLE_OPERATION_TIMEDOUT:
        if (req.http.deadline)
          return timed_out(req);
        return make_error(error_code::driver_failure, "the download of " + req.what + " of " +
                                                          ref_.name + " from registry " + host_ +
                                                          " stalled: " + detail);
      case CURLE_PEER_FAILED_VERIFICATION:
      case CURLE_SSL_CACERT_BADFILE:
      case CURLE_SSL_CONNECT_ERROR:
        return make_error(error_code::driver_failure,
                          "cannot make a TLS connection to registry " + host_ + " for " +
                              ref_.name + ": " + detail +
                              "; is the system trust store (ca-certificates) current, or does a "
                              "proxy intercept TLS?");
      default:
        return make_error(error_code::driver_failure, "lost the connection to registry " + host_ +
                                                          " while fetching " + req.what + " of " +
                                                          ref_.name + ": " + detail);
    }
  }

  /// An anonymous token for the challenge's scope, cached for the next calls;
  /// within the resolve's deadline, or resolve_timeout for a blob's.
  caf::expected<std::string> fetch_token(const auth_challenge& challenge,
                                         steady::time_point deadline) {
    auto url = token_url(challenge, ref_.repository);
    if (url.empty())
      return make_error(error_code::driver_failure,
                        "registry " + host_ + " asks for a bearer token for " + ref_.name +
                            " without an http(s) realm to get one from");
    request req;
    req.http.url = url;
    req.http.max_body = max_token_size;
    req.http.deadline = deadline;
    req.what = "an anonymous token";
    auto r = perform(req);
    if (!r)
      return std::move(r.error());
    auto realm = challenge.params.at("realm");
    if (r->status != 200)
      return make_error(error_code::driver_failure,
                        "the token service " + realm + " of registry " + host_ +
                            " refused an anonymous token for " + ref_.name + " (HTTP " +
                            std::to_string(r->status) + ": " + registry_error_text(r->body) + ")");
    auto token = parse_token_response(r->body, "the token answer of " + realm + " for registry " +
                                                   host_ + " (for " + ref_.name + ")");
    if (!token)
      return make_error(error_code::driver_failure, protocol::message_of(token.error()));
    state_.remember(host_, ref_.repository, *token);
    return token->token;
  }

  client_state& state_;
  const image_reference& ref_;
  const registry_options& options_;
  std::string host_;
  std::string base_;
};

struct fetched_manifest {
  descriptor d;
  std::string bytes;
};

caf::expected<fetched_manifest> get_manifest(registry_call& call, const std::string& reference,
                                             steady::time_point deadline) {
  request req;
  req.what = (is_sha256_digest(reference) ? "manifest " : "tag ") + reference;
  req.http.headers.push_back(manifest_accept);
  req.http.max_body = max_manifest_size;
  req.http.deadline = deadline;
  auto r = call.authorized_get(req, "/v2/" + call.ref().repository + "/manifests/" + reference);
  if (!r)
    return std::move(r.error());
  if (r->status != 200)
    return call.status_error(*r, req.what);
  fetched_manifest out;
  out.bytes = std::move(r->body);
  sha256 hash;
  hash.update(out.bytes.data(), out.bytes.size());
  out.d.digest = hash.digest();
  out.d.size = static_cast<int64_t>(out.bytes.size());
  auto where = "registry " + call.host() + " served " + req.what + " of " + call.ref().name;
  // A header with another algorithm (sha512) cannot be checked; ours is the sha256 of the bytes.
  if (r->docker_digest.rfind("sha256:", 0) == 0 && r->docker_digest != out.d.digest)
    return make_error(error_code::invalid_argument, where + " as bytes of digest " + out.d.digest +
                                                        " where its Docker-Content-Digest says " +
                                                        r->docker_digest);
  out.d.media_type = manifest_media_type(r->content_type, out.bytes);
  if (out.d.media_type.empty())
    return make_error(error_code::invalid_argument,
                      where + " as '" + r->content_type +
                          "', which is neither an OCI or Docker schema 2 manifest nor an index "
                          "(Docker schema 1 manifests are not supported)");
  return out;
}

} // namespace

struct registry_client::shared : client_state {};

registry_client::registry_client(registry_options options)
  : options_(options), shared_(std::make_shared<shared>()) {}

caf::expected<resolved_image> registry_client::resolve(const std::string& full_name) {
  auto ref = parse_reference(full_name);
  if (!ref)
    return std::move(ref.error());
  registry_call call{*shared_, *ref, options_};
  auto deadline = call.resolve_deadline();
  auto target = get_manifest(call, ref->manifest_reference(), deadline);
  if (!target)
    return std::move(target.error());
  auto at = " of " + ref->name + " at registry " + call.host();
  if (!ref->digest.empty() && target->d.digest != ref->digest)
    return make_error(error_code::invalid_argument, "the manifest" + at + " has digest " +
                                                        target->d.digest +
                                                        ", not the one the name asks for");
  resolved_image out;
  out.target = target->d;
  out.target_json = target->bytes;
  auto current = std::move(*target);
  for (int depth = 0; is_index_media_type(current.d.media_type); ++depth) {
    if (depth == max_index_depth)
      return make_error(error_code::invalid_argument,
                        "the index" + at + " nests indexes more than " +
                            std::to_string(max_index_depth) + " deep");
    auto entry = pick_linux_amd64(current.bytes, "the index " + current.d.digest + at);
    if (!entry)
      return std::move(entry.error());
    if (entry->size > static_cast<int64_t>(max_manifest_size))
      return make_error(error_code::invalid_argument,
                        "the index " + current.d.digest + at + " names a linux/amd64 manifest of " +
                            std::to_string(entry->size) + " bytes, more than a manifest can be");
    auto child = get_manifest(call, entry->digest, deadline);
    if (!child)
      return std::move(child.error());
    if (child->d.digest != entry->digest || child->d.size != entry->size)
      return make_error(error_code::invalid_argument,
                        "the manifest " + entry->digest + at + " came as " +
                            std::to_string(child->d.size) + " bytes of digest " + child->d.digest +
                            " where the index says " + std::to_string(entry->size) + " bytes");
    current = std::move(*child);
  }
  auto parts = parse_manifest(current.bytes, "the manifest " + current.d.digest + at);
  if (!parts)
    return std::move(parts.error());
  out.manifest = current.d;
  out.manifest_json = std::move(current.bytes);
  out.config = std::move(parts->config);
  out.layers = std::move(parts->layers);
  return out;
}

caf::error registry_client::fetch_blob(const std::string& full_name, const descriptor& blob,
                                       const chunk_sink& sink) {
  auto ref = parse_reference(full_name);
  if (!ref)
    return std::move(ref.error());
  if (!is_sha256_digest(blob.digest) || blob.size < 0)
    return make_error(error_code::invalid_argument, "cannot fetch blob '" + blob.digest + "' of " +
                                                        ref->name +
                                                        ": not a sha256 digest with a size");
  registry_call call{*shared_, *ref, options_};
  auto where = "blob " + blob.digest + " of " + ref->name + " from registry " + call.host();
  sha256 hash;
  int64_t received = 0;
  bool too_long = false;
  bool refused = false;
  chunk_sink checked = [&](const char* data, size_t size) {
    if (received + static_cast<int64_t>(size) > blob.size) {
      too_long = true;
      return false;
    }
    received += static_cast<int64_t>(size);
    hash.update(data, size);
    refused = !sink(data, size);
    return !refused;
  };
  request req;
  req.what = "blob " + blob.digest;
  req.http.sink = &checked;
  req.http.stall_timeout = options_.stall_timeout;
  auto r = call.authorized_get(req, "/v2/" + ref->repository + "/blobs/" + blob.digest);
  if (too_long)
    return make_error(error_code::invalid_argument, "the " + where + " has more than the " +
                                                        std::to_string(blob.size) +
                                                        " bytes its descriptor says");
  if (refused)
    return make_error(error_code::driver_failure,
                      "streaming the " + where + " stopped: its receiver failed");
  if (!r)
    return std::move(r.error());
  if (r->status != 200)
    return call.status_error(*r, req.what);
  if (received != blob.size)
    return make_error(error_code::invalid_argument,
                      "the " + where + " has " + std::to_string(received) +
                          " bytes where its descriptor says " + std::to_string(blob.size));
  if (auto digest = hash.digest(); digest != blob.digest)
    return make_error(error_code::invalid_argument,
                      "the " + where + " has bytes of digest " + digest + ": corrupted");
  return {};
}

} // namespace tutti::runtime_drivers::containerd
