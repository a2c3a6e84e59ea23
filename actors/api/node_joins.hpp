#pragma once

// The control plane's side of `tutti cluster join`: it signs the certificate
// request of a host that proves it holds the cluster's join token.

#include "access/certificates.hpp"

#include <caf/expected.hpp>

#include <string>

namespace tutti::actors {

struct join_authority {
  std::string token;     // cluster.join_token
  access::pem_pair ca;   // the cluster CA's certificate and key
  std::string ca_sha256; // access::certificate_sha256 of ca.certificate
  std::string join;      // cluster.listen, HOST:PORT: where node agents join
};

/// Reads the CA's certificate and key files and checks that they belong
/// together; an error names the file and what to do.
caf::expected<join_authority> load_join_authority(const std::string& token,
                                                  const std::string& ca_file,
                                                  const std::string& ca_key_file,
                                                  const std::string& join);

/// The certificate for node `node`'s request `csr` (a year; TLS server and
/// client; no group, so it is no API user). A wrong token is unauthenticated,
/// a bad name or request invalid_argument.
caf::expected<std::string> sign_join(const join_authority& authority, const std::string& token,
                                     const std::string& node, const std::string& csr);

} // namespace tutti::actors
