#pragma once

// Bearer tokens: a secret made from the system's CSPRNG, shown once to its
// creator; the store keeps only its SHA-256, which is what a presented secret
// is compared with.

#include <caf/expected.hpp>

#include <string>
#include <string_view>

namespace tutti::access {

/// A new secret: "tutti_" and 64 hex digits (32 random bytes from OpenSSL's
/// RAND_bytes). An error when the CSPRNG refuses.
caf::expected<std::string> new_secret();

/// The SHA-256 of `secret`, in lowercase hex.
std::string sha256_hex(std::string_view secret);

/// Whether two hex digests (or two secrets) are equal, in time that does not
/// depend on where they differ.
bool same_digest(std::string_view a, std::string_view b);

/// Checks a token's name: 1 to 63 of [a-z0-9-], starting with a letter or digit.
caf::error check_token_name(const std::string& name);

} // namespace tutti::access
