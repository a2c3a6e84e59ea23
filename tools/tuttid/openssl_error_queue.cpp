// Every TLS read, write and handshake of tuttid starts with an empty OpenSSL
// error queue.
//
// OpenSSL's error queue is per thread, and SSL_get_error() reads it: an error
// left there from an earlier call makes the next call's harmless "try again"
// look like a fatal error. CAF 0.17's openssl module never empties it, and runs
// every connection of the cluster port on one thread: since OpenSSL 3 a peer
// that closes without close_notify (a node agent stopped or killed) leaves
// "unexpected eof while reading" there, and CAF then drops the next connection
// that reads, a healthy node's. So these wrappers empty the queue first, as
// OpenSSL asks of every caller; libcaf_openssl's calls bind to them because
// the executable defines them (the linker exports a definition that a linked
// library uses), and they pass on to libssl's own (RTLD_NEXT). The other TLS
// users of the process (KJ, libcurl) empty it themselves; once more costs
// nothing.

#include <openssl/err.h>
#include <openssl/ssl.h>

#include <dlfcn.h>

#include <cstdlib>

namespace {

template <class F> F libssl(const char* name) {
  auto f = reinterpret_cast<F>(dlsym(RTLD_NEXT, name));
  if (f == nullptr)
    std::abort(); // libssl is linked: its functions are always there
  return f;
}

} // namespace

extern "C" {

int SSL_read(SSL* ssl, void* buf, int num) {
  static const auto next = libssl<int (*)(SSL*, void*, int)>("SSL_read");
  ERR_clear_error();
  return next(ssl, buf, num);
}

int SSL_write(SSL* ssl, const void* buf, int num) {
  static const auto next = libssl<int (*)(SSL*, const void*, int)>("SSL_write");
  ERR_clear_error();
  return next(ssl, buf, num);
}

int SSL_connect(SSL* ssl) {
  static const auto next = libssl<int (*)(SSL*)>("SSL_connect");
  ERR_clear_error();
  return next(ssl);
}

int SSL_accept(SSL* ssl) {
  static const auto next = libssl<int (*)(SSL*)>("SSL_accept");
  ERR_clear_error();
  return next(ssl);
}

} // extern "C"
