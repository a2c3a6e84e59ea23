#pragma once

// Private to actors/api: TLS of the client API (KJ's TLS). The server presents
// its certificate; a client may present one of its own, which must chain to
// the client CA and names the user (CN) and the groups (O). A client without
// one authenticates with a bearer token over the encrypted channel.
//
// The handshake accepts any client certificate; the gate checks it against
// the client CA and refuses a bad one in its answer, which names the reason
// (expired, unknown CA). Refused in the handshake instead, TLS 1.3 would tell
// the client only after it had sent its first request, and often not at all.

#include "protocol/access.hpp"

#include <caf/expected.hpp>

#include <kj/async-io.h>
#include <kj/compat/tls.h>

#include <memory>
#include <optional>
#include <string>

namespace tutti::actors {

/// PEM texts (not paths: read once at startup, so that a file changed later
/// changes nothing until a restart).
struct api_tls_files {
  std::string certificate;
  std::string key;
  std::string client_ca; // empty: client certificates are not asked for
};

class api_tls {
public:
  /// Fails naming what is wrong with a PEM text.
  static caf::expected<std::unique_ptr<api_tls>> make(const api_tls_files& files);

  ~api_tls();
  api_tls(const api_tls&) = delete;
  api_tls& operator=(const api_tls&) = delete;

  kj::TlsContext& context() { return *context_; }

  /// The identity a client certificate gives: it must chain to the client CA
  /// and be valid now; CN is the name, every O a group; the group
  /// tutti:admin, tutti:operator, tutti:deployer or tutti:viewer gives the
  /// role (the highest of them), and each group tutti:namespace:NS binds it
  /// to NS (none: the whole cluster). unauthenticated, saying why, otherwise.
  caf::expected<protocol::identity> identify(kj::TlsPeerIdentity& peer) const;

private:
  api_tls() = default;

  void* client_cas_ = nullptr; // X509_STORE*; null: no client certificates

  kj::Own<kj::TlsPrivateKey> key_;
  kj::Own<kj::TlsCertificate> certificate_;
  kj::Own<kj::TlsKeypair> keypair_;
  kj::Array<kj::TlsCertificate> trusted_;
  kj::Own<kj::TlsContext> context_;
};

} // namespace tutti::actors
