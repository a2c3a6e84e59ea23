#include "access/token_book.hpp"
#include "access/tokens.hpp"

#include "protocol/errors.hpp"

#include <gtest/gtest.h>

#include <set>

namespace tutti::access {
namespace {

namespace p = tutti::protocol;

p::token_record record(const std::string& name, const std::string& secret, p::access_role role,
                       int64_t expires_ms = 0) {
  p::token_record x;
  x.name = name;
  x.secret_sha256 = sha256_hex(secret);
  x.role = role;
  x.expires_ms = expires_ms;
  return x;
}

TEST(Tokens, SecretsAreRandomAndHashedWithSha256) {
  std::set<std::string> seen;
  for (int i = 0; i < 100; ++i) {
    auto s = new_secret();
    ASSERT_TRUE(s);
    EXPECT_EQ(s->size(), 6u + 64u);
    EXPECT_EQ(s->rfind("tutti_", 0), 0u);
    EXPECT_TRUE(seen.insert(*s).second);
  }
  EXPECT_EQ(sha256_hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_TRUE(same_digest(sha256_hex("x"), sha256_hex("x")));
  EXPECT_FALSE(same_digest(sha256_hex("x"), sha256_hex("y")));
  EXPECT_FALSE(same_digest("ab", "abc"));
}

TEST(Tokens, NamesAreChecked) {
  EXPECT_FALSE(check_token_name("ci-2"));
  for (const char* bad : {"", "-x", "Upper", "a b", "a/b", "\xff"})
    EXPECT_EQ(p::code_of(check_token_name(bad)), p::error_code::invalid_argument) << bad;
  EXPECT_TRUE(check_token_name(std::string(64, 'a')));
}

TEST(TokenBook, IdentifiesTheAdminTokenAndBearerTokens) {
  token_book book;
  book.set_admin_digest(sha256_hex("root-secret"));
  book.load({record("ci", "ci-secret", p::access_role::deployer)});
  auto admin = book.identify("root-secret", 0);
  ASSERT_TRUE(admin);
  EXPECT_EQ(admin->role, p::access_role::admin);
  EXPECT_EQ(admin->via, p::credential_kind::admin_token);
  auto ci = book.identify("ci-secret", 0);
  ASSERT_TRUE(ci);
  EXPECT_EQ(ci->name, "ci");
  EXPECT_EQ(ci->role, p::access_role::deployer);
  auto nobody = book.identify("guess", 0);
  ASSERT_FALSE(nobody);
  EXPECT_EQ(p::code_of(nobody.error()), p::error_code::unauthenticated);
}

TEST(TokenBook, ARevokedOrReplacedTokenNoLongerHolds) {
  token_book book;
  book.put(record("ci", "first", p::access_role::deployer));
  auto ci = book.identify("first", 0);
  ASSERT_TRUE(ci);
  EXPECT_FALSE(book.still_valid(*ci, sha256_hex("first"), 0));
  book.remove("ci");
  auto err = book.still_valid(*ci, sha256_hex("first"), 0);
  EXPECT_EQ(p::message_of(err), "the token ci was revoked; ask an admin for a new one");
  book.put(record("ci", "second", p::access_role::deployer));
  EXPECT_TRUE(book.still_valid(*ci, sha256_hex("first"), 0)) << "another token of the same name";
}

TEST(TokenBook, AnExpiredTokenIsRefused) {
  token_book book;
  book.put(record("brief", "s", p::access_role::viewer, 1000));
  auto x = book.identify("s", 999);
  ASSERT_TRUE(x);
  EXPECT_FALSE(book.still_valid(*x, sha256_hex("s"), 999));
  EXPECT_TRUE(book.still_valid(*x, sha256_hex("s"), 1000));
  auto later = book.identify("s", 1000);
  ASSERT_FALSE(later);
  EXPECT_EQ(p::message_of(later.error()), "the token brief has expired; ask an admin for a new one");
}

TEST(TokenBook, CertificatesHoldForTheirConnection) {
  token_book book;
  p::identity alice;
  alice.name = "alice";
  alice.via = p::credential_kind::client_certificate;
  EXPECT_FALSE(book.still_valid(alice, "", 0));
}

} // namespace
} // namespace tutti::access
