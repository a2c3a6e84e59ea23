#pragma once

// The credentials a control process accepts, in memory, shared by the API's
// sessions (KJ's thread) and whoever loads them from the store: the bootstrap
// admin token (its file's SHA-256) and the bearer tokens of `tutti token
// create`. A session asks again on every call whether its token still holds,
// so a revoked or expired token stops working at once, on open connections
// too. Thread-safe.

#include "protocol/access.hpp"

#include <caf/expected.hpp>

#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <vector>

namespace tutti::access {

class token_book {
public:
  /// The bootstrap admin token's SHA-256; empty: none.
  void set_admin_digest(std::string sha256);

  /// Replaces every bearer token (as loaded from the store).
  void load(std::vector<protocol::token_record> xs);
  void put(protocol::token_record x);
  void remove(const std::string& name);
  std::vector<protocol::token_record> tokens() const;

  /// The identity of the token whose secret is `secret`, at `now_ms`: the
  /// admin token, or a bearer token that has not expired. unauthenticated
  /// otherwise, saying why.
  caf::expected<protocol::identity> identify(const std::string& secret, int64_t now_ms) const;

  /// Whether the token `who` came from is still accepted at `now_ms`: not
  /// revoked, not expired, not replaced by another of the same name.
  /// Certificates and unix peers hold for their connection.
  caf::error still_valid(const protocol::identity& who, const std::string& secret_sha256,
                         int64_t now_ms) const;

private:
  mutable std::mutex mtx_;
  std::string admin_sha256_;
  std::map<std::string, protocol::token_record> by_name_;
};

} // namespace tutti::access
