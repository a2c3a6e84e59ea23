#include "access/tokens.hpp"

#include "access/digest.hpp"

#include "protocol/errors.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include <array>

namespace tutti::access {

namespace p = tutti::protocol;

caf::expected<std::string> new_secret() {
  std::array<unsigned char, 32> bytes{};
  if (RAND_bytes(bytes.data(), static_cast<int>(bytes.size())) != 1)
    return p::make_error(p::error_code::internal,
                         "the system's random number generator refused to make a token");
  return "tutti_" + to_hex(bytes.data(), bytes.size());
}

std::string sha256_hex(std::string_view secret) {
  std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
  unsigned int n = 0;
  EVP_Digest(secret.data(), secret.size(), digest.data(), &n, EVP_sha256(), nullptr);
  return to_hex(digest.data(), n);
}

bool same_digest(std::string_view a, std::string_view b) {
  return a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

caf::error check_token_name(const std::string& name) {
  auto ok = [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'; };
  bool valid = !name.empty() && name.size() <= 63 && name.front() != '-';
  for (char c : name)
    valid = valid && ok(c);
  if (valid)
    return {};
  return p::make_error(p::error_code::invalid_argument,
                       "token name '" + name +
                           "' is not valid: use 1 to 63 of a-z, 0-9 and '-', not starting with '-'");
}

} // namespace tutti::access
