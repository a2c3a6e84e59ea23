#pragma once

// A throwaway certificate authority for TLS tests, made with the `openssl`
// binary in a temporary directory: EC P-256 keys, certificates valid for two
// days, each usable as TLS server and client (every tutti process is both).

#include "tests/support/temp_dir.hpp"

#include <string>

namespace tutti::tests::support {

/// A certificate with its (unencrypted) key, as PEM file paths.
struct issued_cert {
  std::string cert;
  std::string key;
};

class test_ca {
public:
  /// Makes `<dir>/<name>-ca.crt` and its key. Throws std::runtime_error with
  /// openssl's output when it fails (or when there is no openssl binary).
  test_ca(const temp_dir& dir, std::string name);

  /// The CA certificate (what --tls-ca names).
  const std::string& cert() const { return cert_; }

  /// A certificate for `subject` signed by this CA: `<dir>/<subject>.crt` and
  /// `.key`. `extended_key_usage` as openssl writes it ("serverAuth,clientAuth").
  issued_cert issue(const std::string& subject,
                    const std::string& extended_key_usage = "serverAuth,clientAuth") const;

  /// A client certificate of a user: `<dir>/<file>.crt` and `.key` with the
  /// distinguished name `subject` ("/CN=alice/O=tutti:deployer"), valid for
  /// `days` (negative: it expired that many days ago).
  issued_cert issue_user(const std::string& file, const std::string& subject, int days = 2) const;

private:
  issued_cert issue_as(const std::string& file, const std::string& subject,
                       const std::string& extensions, int days) const;

  const temp_dir& dir_;
  std::string name_;
  std::string cert_;
  std::string key_;
};

/// Where the openssl binary is, or "" when there is none.
std::string openssl_binary();

} // namespace tutti::tests::support
