// What a joining host asks: the cluster CA, trusted by its pin before anything
// secret is sent, and its certificate, signed by the control plane.

#include "tools/tutti/join_client.hpp"

#include "tools/tutti/client_impl.hpp"

#include "access/digest.hpp"

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>

#include <cstring>
#include <memory>

#include <netdb.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

namespace tutti::cli {

namespace {

template <class T, void (*Free)(T*)> struct freer {
  void operator()(T* x) const noexcept { Free(x); }
};
using ctx_ptr = std::unique_ptr<SSL_CTX, freer<SSL_CTX, SSL_CTX_free>>;
using ssl_ptr = std::unique_ptr<SSL, freer<SSL, SSL_free>>;
using store_ptr = std::unique_ptr<X509_STORE, freer<X509_STORE, X509_STORE_free>>;
using store_ctx_ptr = std::unique_ptr<X509_STORE_CTX, freer<X509_STORE_CTX, X509_STORE_CTX_free>>;

struct socket_fd {
  int fd = -1;
  ~socket_fd() {
    if (fd >= 0)
      ::close(fd);
  }
};

std::string hex_sha256(X509* cert) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  X509_digest(cert, EVP_sha256(), md, &size);
  return access::to_hex(md, size);
}

/// A TCP connection to HOST:PORT with `timeout` on connect, sends and reads.
result<int> dial(const std::string& api, std::chrono::milliseconds timeout) {
  auto colon = api.rfind(':');
  if (colon == std::string::npos)
    return client_error{client_code::invalid_argument, "expected HOST:PORT, got '" + api + "'"};
  auto host = api.substr(0, colon);
  if (host.size() > 2 && host.front() == '[')
    host = host.substr(1, host.size() - 2);
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  if (int rc = ::getaddrinfo(host.c_str(), api.substr(colon + 1).c_str(), &hints, &found); rc != 0)
    return client_error{client_code::unreachable,
                        "cannot resolve " + api + ": " + ::gai_strerror(rc)};
  std::string why = "no address";
  int fd = -1;
  for (auto* a = found; a != nullptr && fd < 0; a = a->ai_next) {
    fd = ::socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
    if (fd < 0)
      continue;
    timeval tv{static_cast<time_t>(timeout.count() / 1000),
               static_cast<suseconds_t>(timeout.count() % 1000 * 1000)};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    if (::connect(fd, a->ai_addr, a->ai_addrlen) != 0) {
      why = std::strerror(errno);
      ::close(fd);
      fd = -1;
    }
  }
  ::freeaddrinfo(found);
  if (fd < 0)
    return client_error{client_code::unreachable, "cannot reach tuttid at " + api + ": " + why};
  return fd;
}

/// Checks that `leaf` chains to `ca`.
bool verifies(X509* leaf, X509* ca) {
  store_ptr store{X509_STORE_new()};
  store_ctx_ptr ctx{X509_STORE_CTX_new()};
  return store && ctx && X509_STORE_add_cert(store.get(), ca) == 1 &&
         X509_STORE_CTX_init(ctx.get(), store.get(), leaf, nullptr) == 1 &&
         X509_verify_cert(ctx.get()) == 1;
}

std::string pem_of(X509* cert) {
  std::unique_ptr<BIO, freer<BIO, BIO_free_all>> bio{BIO_new(BIO_s_mem())};
  PEM_write_bio_X509(bio.get(), cert);
  char* data = nullptr;
  auto size = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(size));
}

} // namespace

result<std::string> fetch_pinned_ca(const std::string& api, const std::string& ca_sha256,
                                    std::chrono::milliseconds timeout) {
  auto fd = dial(api, timeout);
  if (!fd)
    return fd.error();
  socket_fd sock{*fd};
  // Nothing is verified here: the pin is what makes the CA trusted, and
  // nothing secret goes over this connection.
  ctx_ptr ctx{SSL_CTX_new(TLS_client_method())};
  ssl_ptr ssl{ctx ? SSL_new(ctx.get()) : nullptr};
  if (!ssl || SSL_set_fd(ssl.get(), sock.fd) != 1)
    return client_error{client_code::rpc_failure, "cannot set up TLS"};
  SSL_set_verify(ssl.get(), SSL_VERIFY_NONE, nullptr);
  if (SSL_connect(ssl.get()) != 1)
    return client_error{client_code::unreachable,
                        "tuttid at " + api + " did not complete a TLS handshake; is it the "
                        "control plane's API (tuttid control with a certificate)?"};
  auto* chain = SSL_get_peer_cert_chain(ssl.get());
  X509* leaf = SSL_get0_peer_certificate(ssl.get());
  std::string shown;
  for (int i = 0; chain != nullptr && i < sk_X509_num(chain); ++i) {
    auto* cert = sk_X509_value(chain, i);
    auto pin = hex_sha256(cert);
    if (pin != ca_sha256) {
      shown += (shown.empty() ? "" : ", ") + pin;
      continue;
    }
    if (leaf == nullptr || !verifies(leaf, cert))
      return client_error{client_code::invalid_argument,
                          "tuttid at " + api + " showed the pinned CA but a certificate it did "
                          "not sign; this is not the cluster's control plane"};
    SSL_shutdown(ssl.get());
    return pem_of(cert);
  }
  return client_error{client_code::invalid_argument,
                      "tuttid at " + api + " showed no certificate with SHA-256 " + ca_sha256 +
                          " (it showed " + (shown.empty() ? "none" : shown) +
                          "): the command was copied wrong, or this is not the cluster's "
                          "control plane; print it again with `tutti cluster join-command`"};
}

result<join_answer> client::join_cluster(const std::string& token, const std::string& node,
                                         const std::string& csr) {
  auto& io = *impl_;
  auto req = io.gate.joinRequest();
  req.setToken(token);
  req.setNode(node);
  req.setCsr(csr);
  return io.call(req.send(), [](auto& r) -> result<join_answer> {
    return join_answer{r.getCertificate().cStr(), r.getCa().cStr(), r.getJoin().cStr()};
  });
}

result<join_secret> client::get_join_secret() {
  auto& io = *impl_;
  return io.call(io.tutti.joinSecretRequest().send(), [](auto& r) -> result<join_secret> {
    if (auto err = error_of(r.getError()))
      return *err;
    return join_secret{r.getToken().cStr(), r.getCaSha256().cStr()};
  });
}

} // namespace tutti::cli
