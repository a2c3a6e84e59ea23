#include "access/certificates.hpp"

#include "access/digest.hpp"

#include "protocol/errors.hpp"

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <arpa/inet.h>

#include <algorithm>
#include <functional>
#include <memory>

namespace tutti::access {

namespace {

namespace p = tutti::protocol;

template <class T, void (*Free)(T*)> struct freer {
  void operator()(T* x) const noexcept { Free(x); }
};
using key_ptr = std::unique_ptr<EVP_PKEY, freer<EVP_PKEY, EVP_PKEY_free>>;
using cert_ptr = std::unique_ptr<X509, freer<X509, X509_free>>;
using req_ptr = std::unique_ptr<X509_REQ, freer<X509_REQ, X509_REQ_free>>;
using bio_ptr = std::unique_ptr<BIO, freer<BIO, BIO_free_all>>;
using ext_ptr = std::unique_ptr<X509_EXTENSION, freer<X509_EXTENSION, X509_EXTENSION_free>>;

caf::error failed(const std::string& doing) {
  std::string why;
  while (auto code = ERR_get_error()) {
    char buf[256];
    ERR_error_string_n(code, buf, sizeof buf);
    why = buf; // the last one is the innermost reason
  }
  return p::make_error(p::error_code::invalid_argument,
                       "cannot " + doing + (why.empty() ? "" : ": " + why));
}

key_ptr new_key() {
  return key_ptr{EVP_EC_gen("P-256")};
}

std::string to_pem(const std::function<int(BIO*)>& write) {
  bio_ptr bio{BIO_new(BIO_s_mem())};
  if (!bio || write(bio.get()) != 1)
    return {};
  char* data = nullptr;
  auto size = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(size));
}

std::string key_pem(EVP_PKEY* key) {
  return to_pem([key](BIO* b) {
    return PEM_write_bio_PrivateKey(b, key, nullptr, nullptr, 0, nullptr, nullptr);
  });
}

std::string cert_pem(X509* cert) {
  return to_pem([cert](BIO* b) { return PEM_write_bio_X509(b, cert); });
}

cert_ptr read_cert(const std::string& pem) {
  bio_ptr bio{BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()))};
  return cert_ptr{PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr)};
}

key_ptr read_key(const std::string& pem) {
  bio_ptr bio{BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()))};
  return key_ptr{PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr)};
}

bool set_name(X509_NAME* name, const std::string& cn, const std::vector<std::string>& orgs) {
  auto add = [name](const char* field, const std::string& value) {
    return X509_NAME_add_entry_by_txt(name, field, MBSTRING_UTF8,
                                      reinterpret_cast<const unsigned char*>(value.c_str()), -1,
                                      -1, 0) == 1;
  };
  for (const auto& o : orgs)
    if (!add("O", o))
      return false;
  return add("CN", cn);
}

bool add_extension(X509* cert, X509* issuer, int nid, const std::string& value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  ext_ptr ext{X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str())};
  return ext && X509_add_ext(cert, ext.get(), -1) == 1;
}

/// Each IP address twice: as an IP entry for CAF's peers, and as a DNS entry,
/// which is what KJ's TLS client compares the host it dialled with.
std::string alt_names(const std::vector<std::string>& hosts) {
  std::vector<std::string> entries;
  auto add = [&entries](std::string x) {
    if (std::find(entries.begin(), entries.end(), x) == entries.end())
      entries.push_back(std::move(x));
  };
  for (const auto& h : hosts) {
    unsigned char buf[16];
    if (inet_pton(AF_INET, h.c_str(), buf) == 1 || inet_pton(AF_INET6, h.c_str(), buf) == 1)
      add("IP:" + h);
    add("DNS:" + h);
  }
  std::string out;
  for (const auto& x : entries)
    out += (out.empty() ? "" : ",") + x;
  return out;
}

/// A certificate for `key` with a random serial, valid from now for `days`.
cert_ptr new_cert(EVP_PKEY* key, int days) {
  cert_ptr cert{X509_new()};
  if (!cert || X509_set_version(cert.get(), 2) != 1)
    return nullptr;
  unsigned char serial[16];
  if (RAND_bytes(serial, sizeof serial) != 1)
    return nullptr;
  serial[0] &= 0x7f; // positive
  auto* bn = BN_bin2bn(serial, sizeof serial, nullptr);
  bool ok = bn && BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(cert.get())) != nullptr;
  BN_free(bn);
  // Valid from a minute ago: clocks of the hosts of a cluster differ a little.
  ok = ok && X509_gmtime_adj(X509_getm_notBefore(cert.get()), -60) != nullptr &&
       X509_gmtime_adj(X509_getm_notAfter(cert.get()), long{days} * 24 * 3600) != nullptr &&
       X509_set_pubkey(cert.get(), key) == 1;
  return ok ? std::move(cert) : nullptr;
}

/// Signs `key` for `who` with the CA.
caf::expected<std::string> issue(const pem_pair& ca, EVP_PKEY* key, const subject& who) {
  auto ca_cert = read_cert(ca.certificate);
  auto ca_key = read_key(ca.key);
  if (!ca_cert || !ca_key)
    return failed("read the cluster CA's certificate and key");
  if (X509_check_private_key(ca_cert.get(), ca_key.get()) != 1)
    return failed("sign with a key that is not the CA certificate's");
  if (who.common_name.empty())
    return p::make_error(p::error_code::invalid_argument, "a certificate needs a name (CN)");
  auto cert = new_cert(key, who.days);
  bool ok = cert && set_name(X509_get_subject_name(cert.get()), who.common_name,
                             who.organizations) &&
            X509_set_issuer_name(cert.get(), X509_get_subject_name(ca_cert.get())) == 1 &&
            add_extension(cert.get(), ca_cert.get(), NID_basic_constraints, "critical,CA:FALSE") &&
            add_extension(cert.get(), ca_cert.get(), NID_key_usage,
                          "critical,digitalSignature,keyEncipherment") &&
            add_extension(cert.get(), ca_cert.get(), NID_ext_key_usage, "serverAuth,clientAuth") &&
            add_extension(cert.get(), ca_cert.get(), NID_subject_key_identifier, "hash") &&
            add_extension(cert.get(), ca_cert.get(), NID_authority_key_identifier, "keyid");
  if (ok && !who.hosts.empty())
    ok = add_extension(cert.get(), ca_cert.get(), NID_subject_alt_name, alt_names(who.hosts));
  if (!ok || X509_sign(cert.get(), ca_key.get(), EVP_sha256()) == 0)
    return failed("sign a certificate for " + who.common_name);
  return cert_pem(cert.get());
}

} // namespace

caf::expected<pem_pair> make_ca(const std::string& common_name, int days) {
  auto key = new_key();
  auto cert = key ? new_cert(key.get(), days) : nullptr;
  bool ok = cert && set_name(X509_get_subject_name(cert.get()), common_name, {}) &&
            X509_set_issuer_name(cert.get(), X509_get_subject_name(cert.get())) == 1 &&
            add_extension(cert.get(), cert.get(), NID_basic_constraints, "critical,CA:TRUE") &&
            add_extension(cert.get(), cert.get(), NID_key_usage, "critical,keyCertSign,cRLSign") &&
            add_extension(cert.get(), cert.get(), NID_subject_key_identifier, "hash") &&
            X509_sign(cert.get(), key.get(), EVP_sha256()) != 0;
  if (!ok)
    return failed("make the cluster CA");
  return pem_pair{cert_pem(cert.get()), key_pem(key.get())};
}

caf::expected<pem_pair> make_certificate(const pem_pair& ca, const subject& who) {
  auto key = new_key();
  if (!key)
    return failed("make a key");
  auto cert = issue(ca, key.get(), who);
  if (!cert)
    return std::move(cert.error());
  return pem_pair{std::move(*cert), key_pem(key.get())};
}

caf::expected<pem_pair> make_request(const std::string& common_name) {
  auto key = new_key();
  req_ptr req{X509_REQ_new()};
  bool ok = key && req && X509_REQ_set_version(req.get(), 0) == 1 &&
            set_name(X509_REQ_get_subject_name(req.get()), common_name, {}) &&
            X509_REQ_set_pubkey(req.get(), key.get()) == 1 &&
            X509_REQ_sign(req.get(), key.get(), EVP_sha256()) != 0;
  if (!ok)
    return failed("make a certificate request");
  auto pem = to_pem([&req](BIO* b) { return PEM_write_bio_X509_REQ(b, req.get()); });
  return pem_pair{pem, key_pem(key.get())};
}

caf::expected<std::string> sign_request(const pem_pair& ca, const std::string& csr_pem,
                                        const subject& who) {
  bio_ptr bio{BIO_new_mem_buf(csr_pem.data(), static_cast<int>(csr_pem.size()))};
  req_ptr req{PEM_read_bio_X509_REQ(bio.get(), nullptr, nullptr, nullptr)};
  if (!req)
    return failed("read the certificate request (PEM)");
  key_ptr key{X509_REQ_get_pubkey(req.get())};
  if (!key || X509_REQ_verify(req.get(), key.get()) != 1)
    return failed("verify the certificate request's signature");
  return issue(ca, key.get(), who);
}

caf::expected<std::string> certificate_sha256(const std::string& pem) {
  auto cert = read_cert(pem);
  if (!cert)
    return failed("read the certificate (PEM)");
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  if (X509_digest(cert.get(), EVP_sha256(), md, &size) != 1)
    return failed("hash the certificate");
  return to_hex(md, size);
}

} // namespace tutti::access
