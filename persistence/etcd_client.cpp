#include "persistence/etcd_client.hpp"

#include "protocol/errors.hpp"

#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <curl/curl.h>
#include <nlohmann/json.hpp>

#include <array>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <atomic>
#include <mutex>
#include <thread>

namespace tutti::persistence::etcd {

namespace p = tutti::protocol;
using nlohmann::json;

namespace {

// ----- the gateway's encodings ---------------------------------------------------

constexpr std::string_view base64_alphabet =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

std::string base64(const std::string& bytes) {
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 2 < bytes.size(); i += 3) {
    uint32_t n = (uint8_t(bytes[i]) << 16) | (uint8_t(bytes[i + 1]) << 8) | uint8_t(bytes[i + 2]);
    for (int shift : {18, 12, 6, 0})
      out += base64_alphabet[(n >> shift) & 63];
  }
  if (size_t rest = bytes.size() - i; rest > 0) {
    uint32_t n = uint8_t(bytes[i]) << 16;
    if (rest == 2)
      n |= uint8_t(bytes[i + 1]) << 8;
    out += base64_alphabet[(n >> 18) & 63];
    out += base64_alphabet[(n >> 12) & 63];
    out += rest == 2 ? base64_alphabet[(n >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

/// nullopt when `text` is not base64.
std::optional<std::string> unbase64(const std::string& text) {
  static const auto table = [] {
    std::array<int8_t, 256> t{};
    t.fill(-1);
    for (size_t i = 0; i < base64_alphabet.size(); ++i)
      t[uint8_t(base64_alphabet[i])] = static_cast<int8_t>(i);
    return t;
  }();
  if (text.size() % 4 != 0)
    return std::nullopt;
  std::string out;
  out.reserve(text.size() / 4 * 3);
  for (size_t i = 0; i < text.size(); i += 4) {
    int pad = (text[i + 3] == '=') + (text[i + 2] == '=' && text[i + 3] == '=');
    if (pad > 0 && i + 4 != text.size())
      return std::nullopt;
    uint32_t n = 0;
    for (size_t j = 0; j < 4; ++j) {
      int8_t v = j >= 4 - size_t(pad) ? 0 : table[uint8_t(text[i + j])];
      if (v < 0)
        return std::nullopt;
      n = (n << 6) | uint32_t(v);
    }
    out += char((n >> 16) & 0xFF);
    if (pad < 2)
      out += char((n >> 8) & 0xFF);
    if (pad < 1)
      out += char(n & 0xFF);
  }
  return out;
}

/// An int64 field: a JSON string of digits, a number, or absent (0).
int64_t number(const json& j, const char* field) {
  auto it = j.find(field);
  if (it == j.end())
    return 0;
  if (it->is_number_integer())
    return it->get<int64_t>();
  if (it->is_string())
    return std::stoll(it->get<std::string>());
  throw std::invalid_argument{std::string{field} + " is not a number"};
}

/// A uint64 field (member ids use the whole range): digits, a number, or absent (0).
uint64_t unsigned_number(const json& j, const char* field) {
  auto it = j.find(field);
  if (it == j.end())
    return 0;
  if (it->is_number_unsigned())
    return it->get<uint64_t>();
  if (it->is_string())
    return std::stoull(it->get<std::string>());
  throw std::invalid_argument{std::string{field} + " is not a number"};
}

std::string bytes(const json& j, const char* field) {
  auto it = j.find(field);
  if (it == j.end())
    return {};
  auto decoded = unbase64(it->get<std::string>());
  if (!decoded)
    throw std::invalid_argument{std::string{field} + " is not base64"};
  return *decoded;
}

json range_request(const std::string& key, const std::string& range_end, int64_t limit,
                   int64_t revision, bool newest_first = false) {
  json j{{"key", base64(key)}};
  if (!range_end.empty())
    j["range_end"] = base64(range_end);
  if (limit > 0)
    j["limit"] = std::to_string(limit);
  if (revision > 0)
    j["revision"] = std::to_string(revision);
  if (newest_first) {
    j["sort_order"] = "DESCEND";
    j["sort_target"] = "KEY";
  }
  return j;
}

key_value read_kv(const json& kv) {
  key_value x;
  x.key = bytes(kv, "key");
  x.value = bytes(kv, "value");
  x.create_revision = number(kv, "create_revision");
  x.mod_revision = number(kv, "mod_revision");
  x.version = number(kv, "version");
  x.lease = number(kv, "lease");
  return x;
}

range_result read_range(const json& j) {
  range_result out;
  out.revision = number(j.value("header", json::object()), "revision");
  out.more = j.value("more", false);
  out.count = number(j, "count");
  for (const auto& kv : j.value("kvs", json::array()))
    out.kvs.push_back(read_kv(kv));
  return out;
}

/// The TLS files of `opts` for one transfer (none: plain HTTP or the system's CAs).
void set_tls(CURL* handle, const client_options& opts) {
  if (!opts.ca.empty())
    curl_easy_setopt(handle, CURLOPT_CAINFO, opts.ca.c_str());
  if (!opts.certificate.empty())
    curl_easy_setopt(handle, CURLOPT_SSLCERT, opts.certificate.c_str());
  if (!opts.key.empty())
    curl_easy_setopt(handle, CURLOPT_SSLKEY, opts.key.c_str());
}

/// curl's socket option callback of a watch: notes its socket, so that a
/// watch_cancel can end the watch (or refuses it when cancelled already).
int watch_socket(void* data, curl_socket_t fd, curlsocktype) {
  auto* cancel = static_cast<watch_cancel*>(data);
  return cancel->note(fd) ? CURL_SOCKOPT_OK : CURL_SOCKOPT_ERROR;
}

/// A watch's stream as it arrives: one JSON message per line.
struct watch_stream {
  const std::function<void(int64_t, std::vector<watch_event>)>* changes;
  const std::function<bool()>* stop;
  const std::atomic<bool>* cancelled;
  std::string buffer;
  std::string problem; // why the stream was ended here
  bool created = false;

  /// One message; false (with `problem`) when the watch cannot go on.
  bool take(const std::string& line) {
    auto j = json::parse(line, nullptr, false);
    if (!j.is_object() || !j.contains("result")) {
      problem = "etcd sent a watch message tutti cannot read: " + line.substr(0, 200);
      return false;
    }
    const auto& r = j["result"];
    created = created || r.value("created", false);
    if (r.value("canceled", false)) {
      problem = "etcd ended the watch: " + r.value("cancel_reason", std::string{"canceled"}) +
                (r.contains("compact_revision")
                     ? " (compacted to revision " + std::to_string(number(r, "compact_revision")) + ")"
                     : std::string{});
      return false;
    }
    std::vector<watch_event> xs;
    for (const auto& e : r.value("events", json::array()))
      xs.push_back({e.value("type", std::string{}) == "DELETE", read_kv(e.at("kv"))});
    if (!xs.empty())
      (*changes)(number(r.value("header", json::object()), "revision"), std::move(xs));
    return true;
  }

  static size_t on_bytes(char* data, size_t size, size_t n, void* self) {
    auto* w = static_cast<watch_stream*>(self);
    w->buffer.append(data, size * n);
    for (auto end = w->buffer.find('\n'); end != std::string::npos; end = w->buffer.find('\n')) {
      auto line = w->buffer.substr(0, end);
      w->buffer.erase(0, end + 1);
      try {
        if (!line.empty() && !w->take(line))
          return 0;
      } catch (const std::exception& e) {
        w->problem = std::string{"etcd sent a watch event tutti cannot read: "} + e.what();
        return 0;
      }
    }
    return size * n;
  }

  static int on_progress(void* self, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
    auto* w = static_cast<watch_stream*>(self);
    return (*w->stop)() || w->cancelled->load() ? 1 : 0;
  }
};

/// A compare target's name on the wire, and the field that holds its operand.
std::pair<const char*, const char*> target_names(compare_target t) {
  switch (t) {
    case compare_target::version:
      return {"VERSION", "version"};
    case compare_target::create_revision:
      return {"CREATE", "create_revision"};
    case compare_target::mod_revision:
      return {"MOD", "mod_revision"};
    case compare_target::value:
      return {"VALUE", "value"};
    case compare_target::lease:
      return {"LEASE", "lease"};
  }
  return {"MOD", "mod_revision"};
}

const char* result_name(compare_result r) {
  switch (r) {
    case compare_result::equal:
      return "EQUAL";
    case compare_result::greater:
      return "GREATER";
    case compare_result::less:
      return "LESS";
    case compare_result::not_equal:
      return "NOT_EQUAL";
  }
  return "EQUAL";
}

json compare_json(const compare& c) {
  auto [name, field] = target_names(c.target);
  json j{{"key", base64(c.key)}, {"target", name}, {"result", result_name(c.result)}};
  if (c.target == compare_target::value)
    j[field] = base64(c.value);
  else
    j[field] = std::to_string(c.number);
  return j;
}

json operation_json(const operation& op) {
  if (auto* put = std::get_if<put_op>(&op)) {
    json j{{"key", base64(put->key)}, {"value", base64(put->value)}};
    if (put->lease != 0)
      j["lease"] = std::to_string(put->lease);
    return json{{"request_put", j}};
  }
  if (auto* del = std::get_if<delete_op>(&op))
    return json{{"request_delete_range", range_request(del->key, del->range_end, 0, 0)}};
  const auto& range = std::get<range_op>(op);
  return json{{"request_range", range_request(range.key, range.range_end, 0, 0)}};
}

// ----- HTTP ----------------------------------------------------------------------

void init_curl_once() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

size_t append_body(char* data, size_t size, size_t count, void* out) {
  static_cast<std::string*>(out)->append(data, size * count);
  return size * count;
}

struct http_answer {
  long status = 0;
  std::string body;
};

/// etcd's answers while its members elect a leader, or while one is
/// overloaded: the same request succeeds a moment later. (A write refused with
/// "leader changed" may have been committed all the same; tutti's writes are
/// puts of whole records, deletes, or transactions whose compares fail when
/// their first attempt already landed.)
bool is_transient(const http_answer& a) {
  for (const char* m : {"leader changed", "no leader", "request timed out", "too many requests",
                        "not leader"})
    if (a.body.find(m) != std::string::npos)
      return true;
  return false;
}

/// etcd refused the request: its message, as store_full when the store or
/// the request is too large, else store_failure.
caf::error refusal(const std::string& endpoint, const http_answer& a) {
  std::string message;
  try {
    auto j = json::parse(a.body);
    message = j.value("message", j.value("error", std::string{}));
  } catch (const json::exception&) {
  }
  if (message.empty())
    message = "HTTP " + std::to_string(a.status) + ": " + a.body.substr(0, 200);
  auto code = message.find("database space exceeded") != std::string::npos ||
                      message.find("request is too large") != std::string::npos
                  ? p::error_code::store_full
              : is_transient(a) ? p::error_code::unavailable
                                : p::error_code::store_failure;
  return p::make_error(code, "etcd at " + endpoint + " refused the request: " + message);
}

bool is_auth_failure(const http_answer& a) {
  return a.status == 401 || a.body.find("invalid auth token") != std::string::npos ||
         a.body.find("user name is empty") != std::string::npos;
}

} // namespace

std::string prefix_end(const std::string& prefix) {
  std::string end = prefix;
  while (!end.empty()) {
    if (static_cast<uint8_t>(end.back()) < 0xFF) {
      end.back() = static_cast<char>(static_cast<uint8_t>(end.back()) + 1);
      return end;
    }
    end.pop_back();
  }
  return std::string(1, '\0'); // every key
}

struct client::impl {
  client_options opts;
  mutable std::mutex mutex;
  CURL* handle = nullptr;
  size_t current = 0; // the endpoint that answered last
  std::string token;  // etcd's auth token, when users are set
  std::atomic<bool> cancelled{false};
  mutable std::mutex reason_mutex; // apart from `mutex`, which a call in progress holds
  std::string cancel_reason;

  /// curl's progress callback: non-zero ends the transfer.
  static int check_cancelled(void* self, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
    return static_cast<impl*>(self)->cancelled.load() ? 1 : 0;
  }

  caf::error cancellation() const {
    std::lock_guard<std::mutex> guard{reason_mutex};
    return p::make_error(p::error_code::not_leader, cancel_reason);
  }

  ~impl() {
    if (handle != nullptr)
      curl_easy_cleanup(handle);
  }

  /// One POST to one endpoint: an answer, or why there is none.
  std::variant<http_answer, std::string>
  post_once(const std::string& endpoint, const std::string& path, const std::string& body) {
    curl_easy_reset(handle);
    http_answer a;
    char error[CURL_ERROR_SIZE] = {};
    auto url = endpoint + path;
    curl_slist* headers = curl_slist_append(nullptr, "Content-Type: application/json");
    if (!token.empty())
      headers = curl_slist_append(headers, ("Authorization: " + token).c_str());
    curl_easy_setopt(handle, CURLOPT_URL, url.c_str());
    curl_easy_setopt(handle, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(handle, CURLOPT_POSTFIELDS, body.c_str());
    curl_easy_setopt(handle, CURLOPT_POSTFIELDSIZE, static_cast<long>(body.size()));
    curl_easy_setopt(handle, CURLOPT_WRITEFUNCTION, append_body);
    curl_easy_setopt(handle, CURLOPT_WRITEDATA, &a.body);
    curl_easy_setopt(handle, CURLOPT_ERRORBUFFER, error);
    curl_easy_setopt(handle, CURLOPT_TIMEOUT_MS, static_cast<long>(opts.timeout.count()));
    curl_easy_setopt(handle, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(handle, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(handle, CURLOPT_XFERINFOFUNCTION, check_cancelled);
    curl_easy_setopt(handle, CURLOPT_XFERINFODATA, this);
    set_tls(handle, opts);
    auto rc = curl_easy_perform(handle);
    curl_slist_free_all(headers);
    if (rc != CURLE_OK)
      return std::string{error[0] != '\0' ? error : curl_easy_strerror(rc)};
    curl_easy_getinfo(handle, CURLINFO_RESPONSE_CODE, &a.status);
    return a;
  }

  /// POSTs to the current endpoint, then to the others in turn while none
  /// answers. Caller holds the mutex.
  caf::expected<http_answer> post_any(const std::string& path, const std::string& body) {
    std::string why;
    for (size_t i = 0; i < opts.endpoints.size(); ++i) {
      if (cancelled)
        return cancellation();
      size_t at = (current + i) % opts.endpoints.size();
      auto answer = post_once(opts.endpoints[at], path, body);
      if (auto* a = std::get_if<http_answer>(&answer)) {
        current = at;
        return std::move(*a);
      }
      why += (why.empty() ? "" : "; ") + opts.endpoints[at] + ": " + std::get<std::string>(answer);
    }
    return p::make_error(p::error_code::unavailable,
                         "cannot reach etcd (" + why + "); is etcd running there?");
  }

  caf::error authenticate() {
    json request{{"name", opts.user}, {"password", opts.password}};
    token.clear();
    auto a = post_any("/v3/auth/authenticate", request.dump());
    if (!a)
      return a.error();
    if (a->status != 200)
      return refusal(opts.endpoints[current], *a);
    token = json::parse(a->body).value("token", std::string{});
    return {};
  }

  /// A call: its answer's JSON when etcd answered 200.
  caf::expected<json> call(const std::string& path, const json& request) {
    std::lock_guard<std::mutex> guard{mutex};
    if (cancelled)
      return cancellation();
    if (!opts.user.empty() && token.empty())
      if (auto err = authenticate())
        return err;
    auto body = request.dump();
    auto a = post_any(path, body);
    if (a && a->status != 200 && !opts.user.empty() && is_auth_failure(*a)) {
      // Tokens expire (etcd's simple tokens after 5 minutes idle): once more.
      if (auto err = authenticate())
        return err;
      a = post_any(path, body);
    }
    // Within the request's timeout, a transient refusal is asked again.
    auto deadline = std::chrono::steady_clock::now() + opts.timeout;
    for (auto pause = std::chrono::milliseconds{25};
         a && a->status != 200 && is_transient(*a) && std::chrono::steady_clock::now() < deadline;
         pause = std::min(pause * 2, std::chrono::milliseconds{200})) {
      std::this_thread::sleep_for(pause);
      a = post_any(path, body);
    }
    if (!a)
      return a.error();
    if (a->status != 200)
      return refusal(opts.endpoints[current], *a);
    try {
      return json::parse(a->body);
    } catch (const json::exception& e) {
      return p::make_error(p::error_code::store_failure,
                           "etcd at " + opts.endpoints[current] +
                               " sent an answer that is not JSON: " + e.what());
    }
  }

  /// Reads an answer with `read`, turning a malformed one into an error.
  template <class T, class Read>
  caf::expected<T> decode(const caf::expected<json>& answer, Read read) {
    if (!answer)
      return answer.error();
    try {
      return read(*answer);
    } catch (const std::exception& e) {
      return p::make_error(p::error_code::store_failure,
                           "etcd sent an answer tutti cannot read: " + std::string{e.what()});
    }
  }
};

caf::expected<std::unique_ptr<client>> client::make(client_options opts) {
  if (opts.endpoints.empty())
    return p::make_error(p::error_code::invalid_argument, "etcd: no endpoint given");
  for (auto& e : opts.endpoints) {
    if (e.rfind("http://", 0) != 0 && e.rfind("https://", 0) != 0)
      return p::make_error(p::error_code::invalid_argument,
                           "etcd endpoint '" + e +
                               "': expected http://HOST:PORT or https://HOST:PORT");
    while (!e.empty() && e.back() == '/')
      e.pop_back();
  }
  for (const auto& [what, path] :
       {std::pair{"CA", &opts.ca}, std::pair{"certificate", &opts.certificate},
        std::pair{"key", &opts.key}})
    if (!path->empty() && !std::ifstream{*path})
      return p::make_error(p::error_code::invalid_argument,
                           std::string{"etcd TLS "} + what + " '" + *path + "' cannot be read");
  if (!opts.user.empty() && opts.password.empty())
    return p::make_error(p::error_code::invalid_argument, "etcd user given without a password");
  init_curl_once();
  auto x = std::make_unique<impl>();
  x->opts = std::move(opts);
  x->handle = curl_easy_init();
  return std::unique_ptr<client>{new client{std::move(x)}};
}

client::client(std::unique_ptr<impl> x) : impl_(std::move(x)) {}

client::~client() = default;

namespace {

/// A POST whose answer streams into `on_bytes(data)`, on a connection of its
/// own (a watch, a snapshot): the handle, headers, body and error text it
/// needs until it ends. Not movable: curl holds pointers into it.
struct stream_call {
  std::unique_ptr<CURL, void (*)(CURL*)> handle{curl_easy_init(), curl_easy_cleanup};
  std::unique_ptr<curl_slist, void (*)(curl_slist*)> headers{
      curl_slist_append(nullptr, "Content-Type: application/json"), curl_slist_free_all};
  std::string url;
  std::string body;
  char error[CURL_ERROR_SIZE] = {};

  stream_call(std::string url_, const std::string& token, std::string body_,
              curl_write_callback on_bytes, void* data, const client_options& opts)
    : url(std::move(url_)), body(std::move(body_)) {
    if (!token.empty())
      headers.reset(curl_slist_append(headers.release(), ("Authorization: " + token).c_str()));
    auto* h = handle.get();
    curl_easy_setopt(h, CURLOPT_URL, url.c_str());
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers.get());
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, body.c_str());
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, static_cast<long>(body.size()));
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_bytes);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, data);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, error);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(opts.timeout.count()));
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    set_tls(h, opts);
  }
  stream_call(const stream_call&) = delete;
  stream_call& operator=(const stream_call&) = delete;

  /// Why a perform that returned `rc` failed, as curl says it.
  std::string why(CURLcode rc) const {
    return error[0] != '\0' ? error : curl_easy_strerror(rc);
  }
};

} // namespace

caf::expected<std::string> client::stream_token() {
  std::lock_guard<std::mutex> guard{impl_->mutex};
  if (!impl_->opts.user.empty() && impl_->token.empty())
    if (auto err = impl_->authenticate())
      return err;
  return impl_->token;
}

caf::error client::watch(const std::string& key, const std::string& range_end,
                         int64_t start_revision,
                         const std::function<void(int64_t, std::vector<watch_event>)>& changes,
                         const std::function<bool()>& stop, watch_cancel* cancel) {
  auto token = stream_token();
  if (!token)
    return std::move(token.error());
  json create{{"key", base64(key)}, {"start_revision", std::to_string(start_revision)}};
  if (!range_end.empty())
    create["range_end"] = base64(range_end);
  auto body = json{{"create_request", create}}.dump();
  const auto& opts = impl_->opts;
  std::string why;
  for (const auto& endpoint : opts.endpoints) {
    watch_stream w{&changes, &stop, &impl_->cancelled, {}, {}, false};
    stream_call call{endpoint + "/v3/watch", *token, body, watch_stream::on_bytes, &w, opts};
    auto* h = call.handle.get();
    curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, watch_stream::on_progress);
    curl_easy_setopt(h, CURLOPT_XFERINFODATA, &w);
    if (cancel != nullptr) {
      curl_easy_setopt(h, CURLOPT_SOCKOPTFUNCTION, watch_socket);
      curl_easy_setopt(h, CURLOPT_SOCKOPTDATA, cancel);
    }
    auto rc = curl_easy_perform(h);
    if (cancel != nullptr) {
      std::lock_guard<std::mutex> guard{cancel->mtx_};
      cancel->socket_ = -1;
      if (cancel->cancelled_)
        return caf::none;
    }
    if (stop() || impl_->cancelled)
      return caf::none;
    if (!w.problem.empty())
      return p::make_error(p::error_code::unavailable, w.problem);
    auto text = call.why(rc);
    if (w.created) // it ran, then broke: the caller reads again and watches anew
      return p::make_error(p::error_code::unavailable,
                           "the watch of etcd at " + endpoint + " broke: " + text);
    why += (why.empty() ? "" : "; ") + endpoint + ": " + text;
  }
  return p::make_error(p::error_code::unavailable,
                       "cannot watch etcd (" + why + "); is etcd running there?");
}

bool watch_cancel::note(int socket) {
  std::lock_guard<std::mutex> guard{mtx_};
  socket_ = socket;
  return !cancelled_;
}

void watch_cancel::cancel() {
  std::lock_guard<std::mutex> guard{mtx_};
  cancelled_ = true;
  if (socket_ >= 0)
    ::shutdown(socket_, SHUT_RDWR); // curl's read returns at once; curl closes the socket
}

void client::cancel(const std::string& why) {
  {
    std::lock_guard<std::mutex> guard{impl_->reason_mutex};
    if (impl_->cancel_reason.empty())
      impl_->cancel_reason = why;
  }
  impl_->cancelled = true;
}

caf::expected<range_result> client::range(const std::string& key, const std::string& range_end,
                                          int64_t limit, int64_t revision, bool newest_first) {
  return impl_->decode<range_result>(
      impl_->call("/v3/kv/range", range_request(key, range_end, limit, revision, newest_first)),
      read_range);
}

caf::expected<int64_t> client::put(const std::string& key, const std::string& value,
                                   int64_t lease) {
  json request{{"key", base64(key)}, {"value", base64(value)}};
  if (lease != 0)
    request["lease"] = std::to_string(lease);
  return impl_->decode<int64_t>(impl_->call("/v3/kv/put", request),
                                [](const json& j) { return number(j.at("header"), "revision"); });
}

caf::expected<int64_t> client::erase(const std::string& key, const std::string& range_end) {
  return impl_->decode<int64_t>(
      impl_->call("/v3/kv/deleterange", range_request(key, range_end, 0, 0)),
      [](const json& j) { return number(j, "deleted"); });
}

caf::expected<txn_result> client::txn(const std::vector<compare>& compares,
                                      const std::vector<operation>& success,
                                      const std::vector<operation>& failure) {
  json request{{"compare", json::array()}, {"success", json::array()}, {"failure", json::array()}};
  for (const auto& c : compares)
    request["compare"].push_back(compare_json(c));
  for (const auto& op : success)
    request["success"].push_back(operation_json(op));
  for (const auto& op : failure)
    request["failure"].push_back(operation_json(op));
  return impl_->decode<txn_result>(impl_->call("/v3/kv/txn", request), [](const json& j) {
    txn_result out;
    out.succeeded = j.value("succeeded", false);
    out.revision = number(j.at("header"), "revision");
    for (const auto& r : j.value("responses", json::array()))
      if (auto range = r.find("response_range"); range != r.end())
        out.ranges.push_back(read_range(*range));
    return out;
  });
}

caf::expected<lease_grant> client::grant(std::chrono::seconds ttl) {
  json request{{"TTL", std::to_string(ttl.count())}};
  return impl_->decode<lease_grant>(impl_->call("/v3/lease/grant", request), [](const json& j) {
    if (auto error = j.value("error", std::string{}); !error.empty())
      throw std::invalid_argument{"lease not granted: " + error};
    return lease_grant{number(j, "ID"), std::chrono::seconds{number(j, "TTL")}};
  });
}

caf::expected<std::chrono::seconds> client::keep_alive(int64_t lease) {
  json request{{"ID", std::to_string(lease)}};
  return impl_->decode<std::chrono::seconds>(
      impl_->call("/v3/lease/keepalive", request), [](const json& j) {
        return std::chrono::seconds{number(j.value("result", json::object()), "TTL")};
      });
}

caf::expected<void> client::revoke(int64_t lease) {
  json request{{"ID", std::to_string(lease)}};
  auto answer = impl_->call("/v3/lease/revoke", request);
  if (!answer)
    return answer.error();
  return {};
}

caf::expected<member_status> client::status() {
  return impl_->decode<member_status>(
      impl_->call("/v3/maintenance/status", json::object()), [](const json& j) {
        member_status out;
        out.version = j.value("version", std::string{});
        out.member_id = unsigned_number(j.value("header", json::object()), "member_id");
        out.leader_id = unsigned_number(j, "leader");
        out.db_size = number(j, "dbSize");
        return out;
      });
}

namespace {

/// A snapshot's stream as it arrives: one JSON message per line, each with a
/// piece of the file (base64) and how much is left.
struct snapshot_stream {
  std::FILE* out = nullptr;
  std::string buffer;
  std::string problem;
  uint64_t written = 0;
  bool ended = false; // the message that said nothing remains

  bool take(const std::string& line) {
    auto j = json::parse(line, nullptr, false);
    if (!j.is_object() || !j.contains("result")) {
      problem = "etcd sent a snapshot message tutti cannot read: " + line.substr(0, 200);
      return false;
    }
    const auto& r = j["result"];
    auto blob = unbase64(r.value("blob", std::string{}));
    if (!blob) {
      problem = "etcd sent a snapshot piece that is not base64";
      return false;
    }
    if (!blob->empty() && std::fwrite(blob->data(), 1, blob->size(), out) != blob->size()) {
      problem = std::string{"cannot write the snapshot: "} + std::strerror(errno);
      return false;
    }
    written += blob->size();
    ended = number(r, "remaining_bytes") == 0;
    return true;
  }

  static size_t on_bytes(char* data, size_t size, size_t n, void* self) {
    auto* s = static_cast<snapshot_stream*>(self);
    s->buffer.append(data, size * n);
    for (auto end = s->buffer.find('\n'); end != std::string::npos; end = s->buffer.find('\n')) {
      auto line = s->buffer.substr(0, end);
      s->buffer.erase(0, end + 1);
      if (!line.empty() && !s->take(line))
        return 0;
    }
    return size * n;
  }
};

} // namespace

caf::expected<uint64_t> client::snapshot(const std::string& path) {
  auto token = stream_token();
  if (!token)
    return std::move(token.error());
  const auto& opts = impl_->opts;
  std::string why;
  for (const auto& endpoint : opts.endpoints) {
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0)
      return p::make_error(p::error_code::store_failure,
                           "cannot create " + path + ": " + std::strerror(errno));
    snapshot_stream s;
    s.out = ::fdopen(fd, "wb");
    stream_call call{endpoint + "/v3/maintenance/snapshot", *token, "{}", snapshot_stream::on_bytes,
                     &s, opts};
    auto rc = curl_easy_perform(call.handle.get());
    bool synced = s.ended && std::fflush(s.out) == 0 && ::fsync(::fileno(s.out)) == 0;
    std::fclose(s.out);
    if (rc == CURLE_OK && synced)
      return s.written;
    ::unlink(path.c_str());
    if (!s.problem.empty())
      return p::make_error(p::error_code::store_failure, s.problem);
    auto text = rc != CURLE_OK ? call.why(rc)
                               : std::string{"the stream ended before the snapshot did"};
    why += (why.empty() ? "" : "; ") + endpoint + ": " + text;
  }
  return p::make_error(p::error_code::unavailable,
                       "cannot take a snapshot of etcd (" + why + "); is etcd running there?");
}

std::string client::endpoint() const {
  std::lock_guard<std::mutex> guard{impl_->mutex};
  return impl_->opts.endpoints[impl_->current];
}

} // namespace tutti::persistence::etcd
