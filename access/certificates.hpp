#pragma once

// The cluster's certificates, made without the openssl command: the CA that
// `tutti cluster init` creates, the certificates it signs for control
// processes and admins, and the node certificates the control plane signs
// when a host joins (`tutti cluster join`). Keys are EC P-256; PEM throughout.

#include <caf/expected.hpp>

#include <string>
#include <vector>

namespace tutti::access {

struct pem_pair {
  std::string certificate; // or a certificate signing request, for make_request
  std::string key;         // unencrypted PKCS#8
};

/// What a certificate says about its holder.
struct subject {
  std::string common_name;                // a user, node or control process name
  std::vector<std::string> organizations; // groups (O=tutti:admin gives the role admin)
  std::vector<std::string> hosts;         // IP addresses and DNS names it may serve as
  int days = 365;
};

/// A new CA: a self-signed certificate that may sign others, valid `days`.
caf::expected<pem_pair> make_ca(const std::string& common_name, int days);

/// A new key and a certificate `ca` signed for it: TLS server and client.
caf::expected<pem_pair> make_certificate(const pem_pair& ca, const subject& who);

/// A new key and a certificate signing request naming `common_name`.
caf::expected<pem_pair> make_request(const std::string& common_name);

/// Signs the key of the request `csr_pem` (whose signature must verify) for
/// `who`: the subject, usages and lifetime come from `who`, never from the
/// request, so a requester cannot ask for more than it is given.
caf::expected<std::string> sign_request(const pem_pair& ca, const std::string& csr_pem,
                                        const subject& who);

/// The SHA-256 (hex) of the DER form of the first certificate in `pem`: the
/// pin a joining host checks the cluster CA against.
caf::expected<std::string> certificate_sha256(const std::string& pem);

} // namespace tutti::access
