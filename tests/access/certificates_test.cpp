// The certificates `tutti cluster init` makes and the control plane signs for
// joining hosts: they verify against their CA, carry what the signer says
// (never what a request asks for), and a damaged request is refused.

#include "access/certificates.hpp"

#include "protocol/errors.hpp"

#include <gtest/gtest.h>

#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include <memory>

namespace tutti::access {
namespace {

using cert_ptr = std::unique_ptr<X509, decltype(&X509_free)>;

cert_ptr read(const std::string& pem) {
  auto* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  cert_ptr out{PEM_read_bio_X509(bio, nullptr, nullptr, nullptr), &X509_free};
  BIO_free(bio);
  return out;
}

bool verifies(const std::string& leaf_pem, const std::string& ca_pem) {
  auto leaf = read(leaf_pem);
  auto ca = read(ca_pem);
  auto* store = X509_STORE_new();
  auto* ctx = X509_STORE_CTX_new();
  bool ok = leaf && ca && X509_STORE_add_cert(store, ca.get()) == 1 &&
            X509_STORE_CTX_init(ctx, store, leaf.get(), nullptr) == 1 &&
            X509_verify_cert(ctx) == 1;
  X509_STORE_CTX_free(ctx);
  X509_STORE_free(store);
  return ok;
}

std::string common_name(const std::string& pem) {
  auto cert = read(pem);
  char buf[256] = {};
  X509_NAME_get_text_by_NID(X509_get_subject_name(cert.get()), NID_commonName, buf, sizeof buf);
  return buf;
}

TEST(Certificates, ACertificateVerifiesAgainstItsCaAndNamesItsHosts) {
  auto ca = make_ca("test CA", 30);
  ASSERT_TRUE(ca) << protocol::message_of(ca.error());
  auto control = make_certificate(*ca, {"control", {"tutti:admin"}, {"10.0.0.1", "ctl.example"}, 30});
  ASSERT_TRUE(control) << protocol::message_of(control.error());
  EXPECT_TRUE(verifies(control->certificate, ca->certificate));
  EXPECT_EQ(common_name(control->certificate), "control");
  auto cert = read(control->certificate);
  EXPECT_EQ(X509_check_ip_asc(cert.get(), "10.0.0.1", 0), 1);
  EXPECT_EQ(X509_check_host(cert.get(), "ctl.example", 0, 0, nullptr), 1);
  // KJ's client compares an address it dialled with the DNS names.
  EXPECT_EQ(X509_check_host(cert.get(), "10.0.0.1", 0, 0, nullptr), 1);
  auto other = make_ca("other CA", 30);
  ASSERT_TRUE(other);
  EXPECT_FALSE(verifies(control->certificate, other->certificate));
}

TEST(Certificates, ASignedRequestGetsTheSignersNameNotItsOwn) {
  auto ca = make_ca("test CA", 30);
  auto request = make_request("wants-to-be-admin");
  ASSERT_TRUE(ca && request);
  auto cert = sign_request(*ca, request->certificate, {"n1", {}, {}, 30});
  ASSERT_TRUE(cert) << protocol::message_of(cert.error());
  EXPECT_EQ(common_name(*cert), "n1");
  EXPECT_TRUE(verifies(*cert, ca->certificate));
}

TEST(Certificates, AKeyThatIsNotTheCasSignsNothing) {
  auto ca = make_ca("test CA", 30);
  auto other = make_ca("other CA", 30);
  ASSERT_TRUE(ca && other);
  pem_pair mixed{ca->certificate, other->key};
  EXPECT_FALSE(make_certificate(mixed, {"n1", {}, {}, 30}));
}

TEST(Certificates, ADamagedRequestIsRefused) {
  auto ca = make_ca("test CA", 30);
  auto request = make_request("n1");
  ASSERT_TRUE(ca && request);
  auto damaged = request->certificate;
  damaged[damaged.size() / 2] = damaged[damaged.size() / 2] == 'A' ? 'B' : 'A';
  EXPECT_FALSE(sign_request(*ca, damaged, {"n1", {}, {}, 30}));
  EXPECT_FALSE(sign_request(*ca, "not a request", {"n1", {}, {}, 30}));
  auto pin = certificate_sha256(ca->certificate);
  ASSERT_TRUE(pin);
  EXPECT_EQ(pin->size(), 64u);
  EXPECT_FALSE(certificate_sha256("junk"));
}

} // namespace
} // namespace tutti::access
