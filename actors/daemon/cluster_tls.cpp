#include "actors/daemon/cluster_tls.hpp"

#include "protocol/errors.hpp"

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <sstream>
#include <tuple>
#include <utility>

namespace tutti::actors {

namespace {

namespace p = tutti::protocol;
namespace fs = std::filesystem;
using clock_type = std::chrono::steady_clock;

template <class T, void (*Free)(T*)> struct openssl_deleter {
  void operator()(T* x) const { Free(x); }
};
using bio_ptr = std::unique_ptr<BIO, openssl_deleter<BIO, BIO_free_all>>;
using x509_ptr = std::unique_ptr<X509, openssl_deleter<X509, X509_free>>;
using pkey_ptr = std::unique_ptr<EVP_PKEY, openssl_deleter<EVP_PKEY, EVP_PKEY_free>>;
using store_ptr = std::unique_ptr<X509_STORE, openssl_deleter<X509_STORE, X509_STORE_free>>;
using store_ctx_ptr =
    std::unique_ptr<X509_STORE_CTX, openssl_deleter<X509_STORE_CTX, X509_STORE_CTX_free>>;
using ssl_ctx_ptr = std::unique_ptr<SSL_CTX, openssl_deleter<SSL_CTX, SSL_CTX_free>>;
using ssl_ptr = std::unique_ptr<SSL, openssl_deleter<SSL, SSL_free>>;

void free_chain(STACK_OF(X509) * s) {
  sk_X509_pop_free(s, X509_free);
}
using chain_ptr = std::unique_ptr<STACK_OF(X509), openssl_deleter<STACK_OF(X509), free_chain>>;

/// OpenSSL's queued errors as one line (and the queue emptied).
std::string openssl_errors() {
  std::string out;
  while (auto code = ERR_get_error()) {
    char buf[256];
    ERR_error_string_n(code, buf, sizeof(buf));
    out += (out.empty() ? "" : "; ") + std::string{buf};
  }
  return out.empty() ? "no detail from OpenSSL" : out;
}

/// One of the three files, named the way a person configured it.
struct tls_file {
  const char* what; // "certificate"
  const char* how;  // "--tls-cert / cluster.tls.certificate"
  std::string path;
};

caf::error file_error(const tls_file& f, const std::string& problem, const std::string& fix) {
  return p::make_error(p::error_code::invalid_argument, std::string{"TLS "} + f.what + " '" +
                                                            f.path + "' (" + f.how +
                                                            "): " + problem + "; " + fix);
}

caf::expected<std::string> read_file(const tls_file& f) {
  std::error_code ec;
  auto status = fs::status(f.path, ec);
  if (ec || !fs::exists(status))
    return file_error(f, "no such file", "give the path of a PEM file (see the README: TLS)");
  if (!fs::is_regular_file(status))
    return file_error(f, "not a regular file", "give the path of a PEM file");
  std::ifstream in{f.path, std::ios::binary};
  if (!in)
    return file_error(f, std::string{"cannot be read: "} + std::strerror(errno),
                      "make it readable by the user tuttid runs as");
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

bio_ptr memory_bio(const std::string& text) {
  return bio_ptr{BIO_new_mem_buf(text.data(), static_cast<int>(text.size()))};
}

/// Every certificate of a PEM text, in order.
chain_ptr read_certificates(const std::string& text) {
  chain_ptr out{sk_X509_new_null()};
  auto bio = memory_bio(text);
  while (X509* cert = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr))
    sk_X509_push(out.get(), cert);
  ERR_clear_error(); // the end of the text reads as an error
  return out;
}

/// Refuses to prompt for a passphrase (OpenSSL's default reads the terminal) and
/// notes that one was asked for.
int no_passphrase(char*, int, int, void* asked) {
  *static_cast<bool*>(asked) = true;
  return -1;
}

caf::error verify_against(const tls_file& cert, const tls_file& ca, X509* leaf,
                          STACK_OF(X509) * chain, X509_STORE* store) {
  for (int purpose : {X509_PURPOSE_SSL_SERVER, X509_PURPOSE_SSL_CLIENT}) {
    store_ctx_ptr ctx{X509_STORE_CTX_new()};
    if (!ctx || X509_STORE_CTX_init(ctx.get(), store, leaf, chain) != 1)
      return p::make_error(p::error_code::internal,
                           "cannot verify certificates: " + openssl_errors());
    X509_STORE_CTX_set_purpose(ctx.get(), purpose);
    if (X509_verify_cert(ctx.get()) == 1)
      continue;
    auto code = X509_STORE_CTX_get_error(ctx.get());
    std::string reason = X509_verify_cert_error_string(code);
    if (code == X509_V_ERR_INVALID_PURPOSE)
      return file_error(cert,
                        "not usable as a TLS " +
                            std::string{purpose == X509_PURPOSE_SSL_SERVER ? "server" : "client"} +
                            " certificate (" + reason + ")",
                        "every tutti process is both: its extendedKeyUsage must allow serverAuth "
                        "and clientAuth, or be absent");
    return file_error(cert, "does not verify against the CA '" + ca.path + "' (" + reason + ")",
                      "sign it with that CA, and give --tls-ca the CA that signed the cluster's "
                      "certificates (see the README: TLS)");
  }
  return {};
}

/// A sealed in-memory copy of `text`; its fd, or -1.
int memory_copy(const char* name, const std::string& text) {
  int fd = ::memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING);
  if (fd < 0)
    return -1;
  size_t done = 0;
  while (done < text.size()) {
    auto n = ::write(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0) {
      ::close(fd);
      return -1;
    }
    done += static_cast<size_t>(n);
  }
  ::fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL);
  return fd;
}

} // namespace

pinned_tls::pinned_tls(pinned_tls&& other) noexcept
  : files_(std::move(other.files_)), copies_(std::move(other.copies_)),
    fds_(std::exchange(other.fds_, {})) {}

pinned_tls& pinned_tls::operator=(pinned_tls&& other) noexcept {
  if (this != &other) {
    close_all();
    files_ = std::move(other.files_);
    copies_ = std::move(other.copies_);
    fds_ = std::exchange(other.fds_, {});
  }
  return *this;
}

pinned_tls::~pinned_tls() {
  close_all();
}

void pinned_tls::close_all() {
  for (int fd : fds_)
    ::close(fd);
  fds_.clear();
}

caf::expected<pinned_tls> check_tls_files(const config::tls_config& tls) {
  if (auto missing = config::missing_tls_fields(tls); !missing.empty()) {
    std::string flags;
    for (const auto& m : missing)
      flags +=
          (flags.empty() ? "--tls-" : ", --tls-") + (m == "certificate" ? std::string{"cert"} : m);
    return p::make_error(p::error_code::invalid_argument,
                         "TLS needs a certificate, its key and the cluster CA together; missing: " +
                             flags + " (or cluster.tls." + missing.front() + " in the config)");
  }
  tls_file cert{"certificate", "--tls-cert / cluster.tls.certificate", tls.certificate};
  tls_file key{"key", "--tls-key / cluster.tls.key", tls.key};
  tls_file ca{"CA", "--tls-ca / cluster.tls.ca", tls.ca};
  auto cert_text = read_file(cert);
  if (!cert_text)
    return cert_text.error();
  auto key_text = read_file(key);
  if (!key_text)
    return key_text.error();
  auto ca_text = read_file(ca);
  if (!ca_text)
    return ca_text.error();

  auto chain = read_certificates(*cert_text);
  if (sk_X509_num(chain.get()) == 0)
    return file_error(cert, "holds no PEM certificate (-----BEGIN CERTIFICATE-----)",
                      "give the certificate, not the key or a DER file");
  x509_ptr leaf{sk_X509_shift(chain.get())}; // the rest is the chain towards the CA

  bool asked = false;
  auto key_bio = memory_bio(*key_text);
  pkey_ptr pkey{PEM_read_bio_PrivateKey(key_bio.get(), nullptr, no_passphrase, &asked)};
  if (!pkey) {
    ERR_clear_error();
    if (asked)
      return file_error(key, "is encrypted with a passphrase",
                        "tuttid needs an unencrypted key: openssl pkey -in " + key.path +
                            " -out plain.key (and keep it readable by tuttid only)");
    return file_error(key, "holds no PEM private key (-----BEGIN PRIVATE KEY-----)",
                      "give the private key that belongs to " + cert.path);
  }
  if (X509_check_private_key(leaf.get(), pkey.get()) != 1) {
    ERR_clear_error();
    return file_error(key, "does not belong to the certificate '" + cert.path + "'",
                      "give the key the certificate was made from");
  }

  auto authorities = read_certificates(*ca_text);
  if (sk_X509_num(authorities.get()) == 0)
    return file_error(ca, "holds no PEM certificate (-----BEGIN CERTIFICATE-----)",
                      "give the cluster CA's certificate");
  store_ptr store{X509_STORE_new()};
  for (int i = 0; i < sk_X509_num(authorities.get()); ++i)
    X509_STORE_add_cert(store.get(), sk_X509_value(authorities.get(), i));
  if (auto err = verify_against(cert, ca, leaf.get(), chain.get(), store.get()))
    return err;

  pinned_tls out;
  out.files_ = {fs::absolute(tls.certificate).string(), fs::absolute(tls.key).string(),
                fs::absolute(tls.ca).string()};
  for (auto [name, text, target] :
       {std::tuple{"tutti-tls-certificate", &*cert_text, &out.copies_.certificate},
        std::tuple{"tutti-tls-key", &*key_text, &out.copies_.key},
        std::tuple{"tutti-tls-ca", &*ca_text, &out.copies_.ca}}) {
    int fd = memory_copy(name, *text);
    if (fd < 0)
      return p::make_error(p::error_code::internal,
                           std::string{"cannot keep a copy of the TLS files in memory: "} +
                               std::strerror(errno));
    out.fds_.push_back(fd);
    *target = "/proc/self/fd/" + std::to_string(fd);
  }
  return out;
}

// ----- the probe -------------------------------------------------------------

namespace {

/// Blocks SIGPIPE on this thread while OpenSSL writes to a socket the peer may
/// have closed, and swallows one that came meanwhile.
class sigpipe_guard {
public:
  sigpipe_guard() {
    sigemptyset(&pipe_);
    sigaddset(&pipe_, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe_, &saved_);
  }
  ~sigpipe_guard() {
    timespec zero{};
    while (sigtimedwait(&pipe_, nullptr, &zero) > 0) {
    }
    pthread_sigmask(SIG_SETMASK, &saved_, nullptr);
  }

private:
  sigset_t pipe_;
  sigset_t saved_;
};

class socket_fd {
public:
  explicit socket_fd(int fd = -1) : fd_(fd) {}
  ~socket_fd() {
    if (fd_ >= 0)
      ::close(fd_);
  }
  socket_fd(const socket_fd&) = delete;
  socket_fd& operator=(const socket_fd&) = delete;
  socket_fd& operator=(socket_fd&& other) noexcept {
    std::swap(fd_, other.fd_);
    return *this;
  }
  int get() const { return fd_; }

private:
  int fd_;
};

/// Waits until `fd` is ready for `events`; false at the deadline.
bool wait_for(int fd, short events, clock_type::time_point deadline) {
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - clock_type::now());
    if (left.count() <= 0)
      return false;
    pollfd pfd{fd, events, 0};
    auto n = ::poll(&pfd, 1, static_cast<int>(left.count()));
    if (n > 0)
      return true;
    if (n < 0 && errno != EINTR)
      return false;
  }
}

/// A non-blocking TCP connection to `where`, or the reason there is none.
std::optional<std::string> connect_to(const config::endpoint& where,
                                      clock_type::time_point deadline, socket_fd& out) {
  auto host = where.host;
  if (host.size() > 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  auto port = std::to_string(where.port);
  if (int rc = ::getaddrinfo(host.c_str(), port.c_str(), &hints, &found); rc != 0)
    return std::string{"cannot resolve "} + host + ": " + gai_strerror(rc);
  std::unique_ptr<addrinfo, void (*)(addrinfo*)> guard{found, ::freeaddrinfo};
  std::string why = "no address";
  for (auto* ai = found; ai; ai = ai->ai_next) {
    socket_fd fd{::socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)};
    if (fd.get() < 0) {
      why = std::strerror(errno);
      continue;
    }
    if (::connect(fd.get(), ai->ai_addr, ai->ai_addrlen) != 0) {
      if (errno != EINPROGRESS) {
        why = std::strerror(errno);
        continue;
      }
      if (!wait_for(fd.get(), POLLOUT, deadline)) {
        why = "connection timed out";
        continue;
      }
      int err = 0;
      socklen_t len = sizeof(err);
      ::getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &err, &len);
      if (err != 0) {
        why = std::strerror(err);
        continue;
      }
    }
    out = std::move(fd);
    return std::nullopt;
  }
  return why;
}

enum class step { done, failed, timed_out };

/// Runs a non-blocking OpenSSL call until it completes, fails or the deadline.
template <class F>
step drive(SSL* ssl, int fd, clock_type::time_point deadline, int& ssl_error, F call) {
  for (;;) {
    ERR_clear_error();
    auto rc = call();
    if (rc > 0)
      return step::done;
    ssl_error = SSL_get_error(ssl, rc);
    if (ssl_error == SSL_ERROR_WANT_READ || ssl_error == SSL_ERROR_WANT_WRITE) {
      if (!wait_for(fd, ssl_error == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT, deadline))
        return step::timed_out;
      continue;
    }
    return step::failed;
  }
}

/// The reason of the newest OpenSSL error ("tlsv1 alert unknown ca"), or "".
std::string last_reason(unsigned long& code) {
  code = ERR_peek_last_error();
  const char* text = code != 0 ? ERR_reason_error_string(code) : nullptr;
  ERR_clear_error();
  return text ? text : "";
}

bool is_alert(const std::string& reason) {
  return reason.find("alert") != std::string::npos;
}

/// Bytes that cannot start a TLS record: the peer spoke something else first.
bool is_not_tls(unsigned long code) {
  if (ERR_GET_LIB(code) != ERR_LIB_SSL)
    return false;
  auto r = ERR_GET_REASON(code);
  return r == SSL_R_WRONG_VERSION_NUMBER || r == SSL_R_PACKET_LENGTH_TOO_LONG ||
         r == SSL_R_UNKNOWN_PROTOCOL || r == SSL_R_RECORD_LENGTH_MISMATCH ||
         r == SSL_R_UNEXPECTED_RECORD || r == SSL_R_HTTP_REQUEST;
}

join_probe make_probe(join_probe::verdict v, std::string message) {
  return join_probe{v, std::move(message)};
}

join_probe probe_plain(int fd, const std::string& at, clock_type::time_point deadline) {
  // A plain CAF endpoint greets first (its BASP handshake); a TLS one waits for
  // the client's hello.
  auto quiet_until = std::min(deadline, clock_type::now() + std::chrono::seconds{2});
  if (wait_for(fd, POLLIN, quiet_until)) {
    char byte = 0;
    if (::recv(fd, &byte, 1, MSG_PEEK) > 0)
      return make_probe(join_probe::verdict::ok, {});
    return make_probe(join_probe::verdict::unreachable,
                      "the control plane at " + at + " closed the connection at once");
  }
  // Silent: say hello in TLS and see whether it answers in TLS.
  ssl_ctx_ptr ctx{SSL_CTX_new(TLS_client_method())};
  if (!ctx)
    return make_probe(join_probe::verdict::ok, {});
  SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_NONE, nullptr);
  ssl_ptr ssl{SSL_new(ctx.get())};
  SSL_set_fd(ssl.get(), fd);
  int ssl_error = 0;
  auto result = drive(ssl.get(), fd, deadline, ssl_error, [&] { return SSL_connect(ssl.get()); });
  unsigned long code = 0;
  auto reason = last_reason(code);
  if (SSL_get0_peer_certificate(ssl.get()) != nullptr ||
      (result == step::failed && is_alert(reason)))
    return make_probe(join_probe::verdict::refused,
                      "the control plane at " + at +
                          " requires TLS (it answered in TLS with its certificate), and this node "
                          "has none: give it --tls-cert, --tls-key and --tls-ca (cluster.tls) with "
                          "a certificate signed by the cluster's CA");
  return make_probe(join_probe::verdict::ok, {});
}

join_probe probe_tls(int fd, const std::string& at, const pinned_tls& pinned,
                     clock_type::time_point deadline) {
  const auto& tls = pinned.copies();
  ssl_ctx_ptr ctx{SSL_CTX_new(TLS_client_method())};
  if (!ctx || SSL_CTX_use_certificate_chain_file(ctx.get(), tls.certificate.c_str()) != 1 ||
      SSL_CTX_use_PrivateKey_file(ctx.get(), tls.key.c_str(), SSL_FILETYPE_PEM) != 1 ||
      SSL_CTX_load_verify_locations(ctx.get(), tls.ca.c_str(), nullptr) != 1)
    return make_probe(join_probe::verdict::refused,
                      "cannot load this node's TLS files: " + openssl_errors());
  SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_PEER, nullptr);
  ssl_ptr ssl{SSL_new(ctx.get())};
  SSL_set_fd(ssl.get(), fd);
  int ssl_error = 0;
  auto result = drive(ssl.get(), fd, deadline, ssl_error, [&] { return SSL_connect(ssl.get()); });
  unsigned long code = 0;
  auto reason = last_reason(code);
  if (result == step::timed_out)
    return make_probe(join_probe::verdict::ok, {}); // slow, not wrong: let the join tell
  auto refused_ours = [&](const std::string& why) {
    return make_probe(join_probe::verdict::refused,
                      "the control plane at " + at + " refused this node's certificate (" + why +
                          "): it must be signed by the CA the control plane trusts (its --tls-ca)");
  };
  if (result == step::failed) {
    auto verified = SSL_get_verify_result(ssl.get());
    if (verified != X509_V_OK)
      return make_probe(
          join_probe::verdict::refused,
          "the control plane at " + at +
              " presented a certificate that does not verify against this node's CA '" +
              pinned.files().ca + "' (" + X509_verify_cert_error_string(verified) +
              "): both sides need certificates of the same cluster CA");
    if (is_not_tls(code))
      return make_probe(join_probe::verdict::refused,
                        "the control plane at " + at + " does not speak TLS (" + reason +
                            "): start it with --tls-cert, --tls-key and --tls-ca too, or join "
                            "without TLS");
    if (is_alert(reason))
      return refused_ours(reason);
    return make_probe(join_probe::verdict::unreachable,
                      "TLS handshake with the control plane at " + at +
                          " failed: " + (reason.empty() ? "connection closed" : reason));
  }
  // TLS 1.3: the server judges our certificate after our side finished; its
  // verdict is its first record (an alert, or CAF's greeting).
  char byte = 0;
  result = drive(ssl.get(), fd, deadline, ssl_error, [&] { return SSL_read(ssl.get(), &byte, 1); });
  reason = last_reason(code);
  if (result == step::failed && is_alert(reason))
    return refused_ours(reason);
  // Closed without an alert: not a verdict on us (a control plane going down).
  if (result == step::failed)
    return make_probe(join_probe::verdict::unreachable,
                      "the control plane at " + at + " closed the connection after the handshake");
  return make_probe(join_probe::verdict::ok, {});
}

} // namespace

join_probe probe_join(const config::endpoint& where, const pinned_tls& tls,
                      std::chrono::milliseconds timeout) {
  sigpipe_guard no_sigpipe;
  auto deadline = clock_type::now() + timeout;
  auto at = where.to_string();
  socket_fd fd;
  if (auto why = connect_to(where, deadline, fd))
    return make_probe(join_probe::verdict::unreachable, *why);
  return tls.enabled() ? probe_tls(fd.get(), at, tls, deadline)
                       : probe_plain(fd.get(), at, deadline);
}

} // namespace tutti::actors
