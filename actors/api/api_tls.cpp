#include "actors/api/api_tls.hpp"

#include "protocol/errors.hpp"
#include "protocol/utf8.hpp"

#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

namespace tutti::actors {

namespace p = tutti::protocol;

namespace {

// KJ 0.9's TLS keeps the OpenSSL objects private: it either requires a client
// certificate from every client (verifyClients) or asks none, and it exposes a
// peer certificate's CN but not its O. The API needs both "ask, verify when
// given" and the groups, so it reaches the two members through the standard's
// rule that explicit instantiations ignore access (a rename in a later KJ is a
// build error here, not a silent change).
template <class Pointer, Pointer Member, class Tag> struct member_of {
  friend Pointer member(Tag) { return Member; }
};

struct context_ssl_ctx {
  friend void* kj::TlsContext::*member(context_ssl_ctx);
};
template struct member_of<void* kj::TlsContext::*, &kj::TlsContext::ctx, context_ssl_ctx>;

struct peer_x509 {
  friend void* kj::TlsPeerIdentity::*member(peer_x509);
};
template struct member_of<void* kj::TlsPeerIdentity::*, &kj::TlsPeerIdentity::cert, peer_x509>;

caf::error bad_pem(const std::string& what, const kj::Exception& e) {
  return p::make_error(p::error_code::invalid_argument,
                       "the API's " + what + " is not usable: " +
                           std::string{e.getDescription().cStr()});
}

std::vector<std::string> subject_entries(X509* cert, int nid) {
  std::vector<std::string> out;
  X509_NAME* name = X509_get_subject_name(cert);
  for (int i = X509_NAME_get_index_by_NID(name, nid, -1); i >= 0;
       i = X509_NAME_get_index_by_NID(name, nid, i)) {
    ASN1_STRING* data = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, i));
    unsigned char* utf8 = nullptr;
    int n = ASN1_STRING_to_UTF8(&utf8, data);
    if (n >= 0)
      out.push_back(p::sanitize_utf8({reinterpret_cast<const char*>(utf8), static_cast<size_t>(n)}));
    OPENSSL_free(utf8);
  }
  return out;
}

std::optional<p::access_role> role_of_group(const std::string& group) {
  static constexpr std::string_view prefix = "tutti:";
  if (group.rfind(prefix, 0) != 0)
    return std::nullopt;
  return p::access_role_from(group.substr(prefix.size()));
}

/// The client CA as a store to verify certificates with.
caf::expected<X509_STORE*> client_ca_store(const std::string& pem) {
  BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  X509_STORE* store = X509_STORE_new();
  int added = 0;
  while (X509* ca = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr)) {
    added += X509_STORE_add_cert(store, ca) == 1 ? 1 : 0;
    X509_free(ca);
  }
  BIO_free(bio);
  if (added == 0) {
    X509_STORE_free(store);
    return p::make_error(p::error_code::invalid_argument,
                         "the API's client CA holds no certificate that can be read");
  }
  return store;
}

/// Nothing when `cert` chains to a CA of `cas` and is valid now (as a TLS
/// client's); else unauthenticated with OpenSSL's reason.
caf::error verify(X509* cert, X509_STORE* cas) {
  if (cas == nullptr)
    return p::make_error(p::error_code::unauthenticated,
                         "this API takes no client certificates (it has no client CA); use a token");
  X509_STORE_CTX* ctx = X509_STORE_CTX_new();
  X509_STORE_CTX_init(ctx, cas, cert, nullptr);
  X509_STORE_CTX_set_purpose(ctx, X509_PURPOSE_SSL_CLIENT);
  bool ok = X509_verify_cert(ctx) == 1;
  std::string why = ok ? "" : X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx));
  X509_STORE_CTX_free(ctx);
  if (ok)
    return {};
  return p::make_error(p::error_code::unauthenticated,
                       "the client certificate is refused: " + why +
                           " (it must be signed by the API's client CA and be valid now)");
}

} // namespace

caf::expected<std::unique_ptr<api_tls>> api_tls::make(const api_tls_files& files) {
  std::unique_ptr<api_tls> out{new api_tls};
  try {
    out->key_ = kj::heap<kj::TlsPrivateKey>(files.key);
  } catch (const kj::Exception& e) {
    return bad_pem("key", e);
  }
  try {
    out->certificate_ = kj::heap<kj::TlsCertificate>(files.certificate);
  } catch (const kj::Exception& e) {
    return bad_pem("certificate", e);
  }
  out->keypair_ = kj::heap<kj::TlsKeypair>(kj::TlsKeypair{kj::mv(*out->key_), kj::mv(*out->certificate_)});
  if (!files.client_ca.empty()) {
    try {
      auto builder = kj::heapArrayBuilder<kj::TlsCertificate>(1);
      builder.add(files.client_ca);
      out->trusted_ = builder.finish();
    } catch (const kj::Exception& e) {
      return bad_pem("client CA", e);
    }
  }
  kj::TlsContext::Options opts;
  opts.useSystemTrustStore = false;
  opts.verifyClients = false;
  opts.trustedCertificates = out->trusted_;
  opts.defaultKeypair = *out->keypair_;
  try {
    out->context_ = kj::heap<kj::TlsContext>(kj::mv(opts));
  } catch (const kj::Exception& e) {
    return bad_pem("certificate and key", e);
  }
  if (!files.client_ca.empty()) {
    auto store = client_ca_store(files.client_ca);
    if (!store)
      return store.error();
    out->client_cas_ = *store;
    // Ask every client for a certificate and accept whatever it presents:
    // identify() checks it (see the header).
    auto* ctx = static_cast<SSL_CTX*>(out->context_.get()->*member(context_ssl_ctx{}));
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, [](int, X509_STORE_CTX*) { return 1; });
  }
  return out;
}

api_tls::~api_tls() {
  X509_STORE_free(static_cast<X509_STORE*>(client_cas_));
}

caf::expected<p::identity> api_tls::identify(kj::TlsPeerIdentity& peer) const {
  auto* cert = static_cast<X509*>(peer.*member(peer_x509{}));
  if (auto err = verify(cert, static_cast<X509_STORE*>(client_cas_)))
    return err;
  p::identity out;
  out.via = p::credential_kind::client_certificate;
  auto names = subject_entries(cert, NID_commonName);
  out.name = names.empty() ? std::string{} : names.front();
  out.groups = subject_entries(cert, NID_organizationName);
  std::optional<p::access_role> role;
  static constexpr std::string_view namespace_group = "tutti:namespace:";
  for (const auto& g : out.groups) {
    if (auto r = role_of_group(g); r && (!role || *r > *role))
      role = r;
    if (g.rfind(namespace_group, 0) == 0 && g.size() > namespace_group.size())
      out.namespaces.push_back(g.substr(namespace_group.size()));
  }
  if (out.name.empty())
    return p::make_error(p::error_code::unauthenticated,
                         "the client certificate has no CN (the user's name)");
  if (!role)
    return p::make_error(p::error_code::unauthenticated,
                         "the client certificate of " + out.name +
                             " names no role group: add O=tutti:viewer, tutti:deployer, "
                             "tutti:operator or tutti:admin to its subject");
  out.role = *role;
  return out;
}

} // namespace tutti::actors
