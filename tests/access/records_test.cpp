#include "access/records.hpp"

#include "protocol/errors.hpp"

#include <gtest/gtest.h>

namespace tutti::access {
namespace {

namespace p = tutti::protocol;

TEST(AccessRecords, TokensAndAuditRecordsRoundTrip) {
  p::token_record t{"ci", "abc123", p::access_role::operator_, 5, 10, "admin", "team-a"};
  auto back = decode_token(encode(t));
  ASSERT_TRUE(back);
  EXPECT_EQ(*back, t);
  p::audit_record a{audit_id(1234, 7), 1234, "alice (token, viewer)", "127.0.0.1:5",
                    "apply", "web.yaml", "forbidden", "may not"};
  auto again = decode_audit(encode(a));
  ASSERT_TRUE(again);
  EXPECT_EQ(*again, a);
}

TEST(AccessRecords, AuditIdsSortAsTimes) {
  EXPECT_LT(audit_id(999, 0xffffffff), audit_id(1000, 0));
  EXPECT_LT(audit_id(1000, 1), audit_id(1000, 2));
  EXPECT_EQ(audit_id(42, 0x1ff).size(), 16u + 1 + 8);
}

TEST(AccessRecords, DamagedValuesAreErrorsNotExceptions) {
  for (const char* bad : {"", "{", "[]", "{\"name\": 1}", "{\"name\":\"x\",\"sha256\":\"y\",\"role\":\"king\"}"}) {
    auto t = decode_token(bad);
    ASSERT_FALSE(t) << bad;
    EXPECT_EQ(p::code_of(t.error()), p::error_code::store_failure) << bad;
    EXPECT_FALSE(decode_audit(bad)) << bad;
  }
}

} // namespace
} // namespace tutti::access
