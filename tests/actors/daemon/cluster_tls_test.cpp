// The startup checks of TLS files (actors/cluster_tls): each bad setup is refused
// with a message naming the file and what to do, never left to CAF (which
// throws from its I/O thread at the first connection). Certificates are made
// with the openssl binary in a temporary directory.

#include "actors/daemon/cluster_tls.hpp"

#include "protocol/errors.hpp"
#include "tests/support/child_process.hpp"
#include "tests/support/net.hpp"
#include "tests/support/temp_dir.hpp"
#include "tests/support/test_ca.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include <unistd.h>

namespace tutti::actors {
namespace {

namespace s = tutti::tests::support;
using tutti::protocol::message_of;

class cluster_tls : public ::testing::Test {
protected:
  void SetUp() override {
    if (s::openssl_binary().empty())
      GTEST_SKIP() << "needs the openssl binary (tools/install-deps.sh)";
    ca_ = std::make_unique<s::test_ca>(dir_, "cluster");
    node_ = ca_->issue("n1");
  }

  config::tls_config good() const { return {node_.cert, node_.key, ca_->cert()}; }

  /// The error of check_tls_files, which must fail.
  std::string refusal(const config::tls_config& tls) {
    auto checked = check_tls_files(tls);
    EXPECT_FALSE(checked) << "accepted " << tls.certificate << " " << tls.key << " " << tls.ca;
    return checked ? std::string{} : message_of(checked.error());
  }

  s::temp_dir dir_{"tutti-tls-test-"};
  std::unique_ptr<s::test_ca> ca_;
  s::issued_cert node_;
};

#define EXPECT_MENTIONS(text, part)                                                                \
  EXPECT_NE((text).find(part), std::string::npos) << "'" << (text) << "' lacks '" << (part) << "'"

TEST_F(cluster_tls, AcceptsMatchingFilesAndMakesThePathsAbsolute) {
  auto cwd = std::filesystem::current_path();
  std::filesystem::current_path(dir_.path());
  auto checked = check_tls_files({"n1.crt", "n1.key", "cluster-ca.crt"});
  std::filesystem::current_path(cwd);
  ASSERT_TRUE(checked) << message_of(checked.error());
  EXPECT_TRUE(checked->enabled());
  EXPECT_EQ(checked->files().certificate, node_.cert);
  EXPECT_EQ(checked->files().key, node_.key);
  EXPECT_EQ(checked->files().ca, ca_->cert());
}

TEST_F(cluster_tls, KeepsCopiesThatOutliveTheFiles) {
  auto checked = check_tls_files(good());
  ASSERT_TRUE(checked) << message_of(checked.error());
  auto cert_text = s::read_file(node_.cert);
  auto key_text = s::read_file(node_.key);
  ASSERT_FALSE(cert_text.empty());
  std::filesystem::remove(node_.cert);
  std::ofstream{node_.key} << "garbage";
  // What CAF opens for each connection is the bytes that were checked.
  EXPECT_EQ(s::read_file(checked->copies().certificate), cert_text);
  EXPECT_EQ(s::read_file(checked->copies().key), key_text);
  EXPECT_EQ(s::read_file(checked->copies().ca), s::read_file(ca_->cert()));
  // Moved, the copies stay open; ended, they are closed.
  auto copy_path = checked->copies().certificate;
  {
    pinned_tls moved = std::move(*checked);
    EXPECT_EQ(s::read_file(moved.copies().certificate), cert_text);
  }
  EXPECT_NE(s::read_file(copy_path), cert_text);
}

TEST_F(cluster_tls, NamesTheMissingFlags) {
  auto text = refusal({node_.cert, "", ""});
  EXPECT_MENTIONS(text, "missing: --tls-key, --tls-ca");
  text = refusal({"", "", ca_->cert()});
  EXPECT_MENTIONS(text, "missing: --tls-cert, --tls-key");
}

TEST_F(cluster_tls, NamesAFileThatIsNotThere) {
  auto tls = good();
  tls.key = dir_.file("nope.key");
  auto text = refusal(tls);
  EXPECT_MENTIONS(text, "TLS key '" + tls.key + "'");
  EXPECT_MENTIONS(text, "no such file");
  EXPECT_MENTIONS(text, "--tls-key");
}

TEST_F(cluster_tls, NamesAFileThatCannotBeRead) {
  if (::geteuid() == 0)
    GTEST_SKIP() << "root reads every file";
  std::filesystem::permissions(node_.key, std::filesystem::perms::none);
  auto text = refusal(good());
  EXPECT_MENTIONS(text, "cannot be read");
}

TEST_F(cluster_tls, RefusesAKeyInPlaceOfTheCertificate) {
  auto tls = good();
  tls.certificate = node_.key;
  EXPECT_MENTIONS(refusal(tls), "holds no PEM certificate");
  tls = good();
  tls.ca = dir_.write("empty.pem", "");
  EXPECT_MENTIONS(refusal(tls), "TLS CA '" + tls.ca + "'");
}

TEST_F(cluster_tls, RefusesTheKeyOfAnotherCertificate) {
  auto other = ca_->issue("n2");
  auto tls = good();
  tls.key = other.key;
  EXPECT_MENTIONS(refusal(tls), "does not belong to the certificate '" + node_.cert + "'");
}

TEST_F(cluster_tls, RefusesAnEncryptedKeyWithoutPrompting) {
  auto encrypted = dir_.file("n1-encrypted.key");
  auto r = s::run_command({s::openssl_binary(), "pkey", "-in", node_.key, "-aes256", "-passout",
                           "pass:secret", "-out", encrypted});
  ASSERT_EQ(r.exit_code, 0) << r.describe();
  auto tls = good();
  tls.key = encrypted;
  EXPECT_MENTIONS(refusal(tls), "is encrypted with a passphrase");
}

TEST_F(cluster_tls, RefusesACertificateOfAnotherCa) {
  s::test_ca rogue{dir_, "rogue"};
  auto stranger = rogue.issue("stranger");
  auto text = refusal({stranger.cert, stranger.key, ca_->cert()});
  EXPECT_MENTIONS(text, "does not verify against the CA '" + ca_->cert() + "'");
}

TEST_F(cluster_tls, RefusesACertificateOnlyForServers) {
  auto server_only = ca_->issue("server-only", "serverAuth");
  auto text = refusal({server_only.cert, server_only.key, ca_->cert()});
  EXPECT_MENTIONS(text, "not usable as a TLS client certificate");
}

TEST_F(cluster_tls, ProbeOfAClosedPortIsUnreachable) {
  auto port = s::free_port(); // nobody listens there
  auto tls = check_tls_files(good());
  ASSERT_TRUE(tls) << message_of(tls.error());
  auto probe = probe_join({"127.0.0.1", port}, *tls, std::chrono::seconds{2});
  EXPECT_EQ(probe.outcome, join_probe::verdict::unreachable) << probe.message;
  probe = probe_join({"127.0.0.1", port}, pinned_tls{}, std::chrono::seconds{2});
  EXPECT_EQ(probe.outcome, join_probe::verdict::unreachable) << probe.message;
}

} // namespace
} // namespace tutti::actors
