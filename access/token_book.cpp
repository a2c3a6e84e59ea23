#include "access/token_book.hpp"

#include "access/tokens.hpp"
#include "protocol/errors.hpp"

namespace tutti::access {

namespace p = tutti::protocol;

namespace {

constexpr const char* admin_name = "admin";

p::identity identity_of(const p::token_record& x) {
  p::identity out;
  out.name = x.name;
  out.role = x.role;
  out.via = p::credential_kind::token;
  out.expires_ms = x.expires_ms;
  if (!x.name_space.empty())
    out.namespaces.push_back(x.name_space);
  return out;
}

bool expired(const p::token_record& x, int64_t now_ms) {
  return x.expires_ms != 0 && x.expires_ms <= now_ms;
}

} // namespace

void token_book::set_admin_digest(std::string sha256) {
  std::lock_guard<std::mutex> guard{mtx_};
  admin_sha256_ = std::move(sha256);
}

void token_book::load(std::vector<p::token_record> xs) {
  std::lock_guard<std::mutex> guard{mtx_};
  by_name_.clear();
  for (auto& x : xs)
    by_name_.emplace(x.name, std::move(x));
}

void token_book::put(p::token_record x) {
  std::lock_guard<std::mutex> guard{mtx_};
  auto name = x.name;
  by_name_.insert_or_assign(name, std::move(x));
}

void token_book::remove(const std::string& name) {
  std::lock_guard<std::mutex> guard{mtx_};
  by_name_.erase(name);
}

std::vector<p::token_record> token_book::tokens() const {
  std::lock_guard<std::mutex> guard{mtx_};
  std::vector<p::token_record> out;
  for (const auto& [name, x] : by_name_)
    out.push_back(x);
  return out;
}

caf::expected<p::identity> token_book::identify(const std::string& secret, int64_t now_ms) const {
  auto digest = sha256_hex(secret);
  std::lock_guard<std::mutex> guard{mtx_};
  if (!admin_sha256_.empty() && same_digest(digest, admin_sha256_)) {
    p::identity out;
    out.name = admin_name;
    out.role = p::access_role::admin;
    out.via = p::credential_kind::admin_token;
    return out;
  }
  for (const auto& [name, x] : by_name_) {
    if (!same_digest(digest, x.secret_sha256))
      continue;
    if (expired(x, now_ms))
      return p::make_error(p::error_code::unauthenticated,
                           "the token " + name + " has expired; ask an admin for a new one");
    return identity_of(x);
  }
  return p::make_error(p::error_code::unauthenticated,
                       "the token is not known to this cluster (revoked, or from another "
                       "cluster); ask an admin for a token (`tutti token create`)");
}

caf::error token_book::still_valid(const p::identity& who, const std::string& secret_sha256,
                                   int64_t now_ms) const {
  std::lock_guard<std::mutex> guard{mtx_};
  switch (who.via) {
    case p::credential_kind::client_certificate:
    case p::credential_kind::unix_peer:
      return {};
    case p::credential_kind::admin_token:
      if (same_digest(secret_sha256, admin_sha256_))
        return {};
      return p::make_error(p::error_code::unauthenticated,
                           "the admin token of this session was replaced; use the new one");
    case p::credential_kind::token:
      break;
  }
  auto i = by_name_.find(who.name);
  if (i == by_name_.end() || !same_digest(i->second.secret_sha256, secret_sha256))
    return p::make_error(p::error_code::unauthenticated,
                         "the token " + who.name + " was revoked; ask an admin for a new one");
  if (expired(i->second, now_ms))
    return p::make_error(p::error_code::unauthenticated,
                         "the token " + who.name + " has expired; ask an admin for a new one");
  return {};
}

} // namespace tutti::access
