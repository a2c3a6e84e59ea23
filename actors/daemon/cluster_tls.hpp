#pragma once

// TLS between node agents and the control plane (CAF's openssl module), and the
// checks that make its failures readable. CAF 0.17's openssl module reads the
// PEM files again for every connection and throws from its I/O thread when it
// cannot (a crash), and a peer that fails the handshake is just a closed
// socket there: so the files are checked once at startup, and a node probes the
// control plane's TLS before it joins, to say *why* it cannot.
//
// What CAF 0.17 verifies with certificate, key and cafile set (mutual TLS, the
// same context on both ends): each side presents its certificate chain and
// requires the peer's (SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT), and
// the peer's chain must lead to the CA file (signature, validity period,
// purpose). It does not check host names or IP addresses in certificates:
// any certificate the cluster CA signed is accepted from any address.

#include "config/daemon_config.hpp"

#include <caf/error.hpp>
#include <caf/expected.hpp>

#include <chrono>
#include <string>
#include <vector>

namespace tutti::actors {

/// The TLS files of a process, checked and copied into memory at startup.
/// CAF reads its files again for every connection (and throws from its I/O
/// thread, ending the process, when one is gone or broken), so it is given
/// sealed in-memory copies (memfds, close-on-exec) by their /proc/self/fd
/// paths: a file changed or removed later changes nothing; rotate certificates
/// by restarting. Move-only; the copies live as long as it does, which must be
/// longer than the actor system that uses them.
class pinned_tls {
public:
  pinned_tls() = default; // TLS off
  pinned_tls(pinned_tls&& other) noexcept;
  pinned_tls& operator=(pinned_tls&& other) noexcept;
  pinned_tls(const pinned_tls&) = delete;
  pinned_tls& operator=(const pinned_tls&) = delete;
  ~pinned_tls();

  bool enabled() const { return !fds_.empty(); }

  /// The files as configured, with absolute paths: what messages name.
  const config::tls_config& files() const { return files_; }

  /// What CAF (and the join probe) read: the in-memory copies.
  const config::tls_config& copies() const { return copies_; }

private:
  friend caf::expected<pinned_tls> check_tls_files(const config::tls_config& tls);
  void close_all();

  config::tls_config files_;
  config::tls_config copies_;
  std::vector<int> fds_;
};

/// Checks that the certificate, key and CA of an enabled tls config are
/// readable PEM files that fit together: the key is unencrypted and belongs to
/// the certificate, and the certificate chains to the CA (for TLS clients and
/// servers both: CAF uses one certificate for both roles). Returns them pinned
/// (the very bytes checked), or an error that names the file and what to do.
/// Blocking file I/O: call at startup.
caf::expected<pinned_tls> check_tls_files(const config::tls_config& tls);

/// What a node learned from a trial connection to the control plane.
struct join_probe {
  enum class verdict {
    ok,          // speaks what we speak (or is too slow to tell): go on and join
    unreachable, // no connection: retry later
    refused,     // a TLS mismatch that retrying will not fix; `message` says which
  };
  verdict outcome = verdict::ok;
  std::string message;
};

/// One trial connection to the control plane at `where` with this node's `tls`
/// (off: plain TCP). Blocks up to `timeout` on the calling thread (not a CAF
/// worker). Detects: a plain node at a TLS control plane, a TLS node at a plain
/// one, a control plane whose certificate does not chain to our CA, and one
/// that refuses our certificate.
join_probe probe_join(const config::endpoint& where, const pinned_tls& tls,
                      std::chrono::milliseconds timeout);

} // namespace tutti::actors
