// Which tuttid versions join each other: one minor release apart at most.

#include "protocol/errors.hpp"
#include "protocol/versions.hpp"

#include <gtest/gtest.h>

namespace {

namespace p = tutti::protocol;

TEST(Versions, ANodeOneMinorReleaseApartJoins) {
  for (const char* node : {"1.4.0", "1.4.7", "1.3.9", "1.5.0", "1.5.2-rc1"})
    EXPECT_FALSE(p::join_refusal("1.4.2", node, "n2")) << node;
}

TEST(Versions, FurtherApartIsRefusedNamingBoth) {
  auto err = p::join_refusal("1.4.2", "1.6.0", "n2");
  ASSERT_TRUE(err);
  EXPECT_EQ(p::code_of(err), p::error_code::invalid_argument);
  EXPECT_EQ(p::message_of(err),
            "node n2 runs tuttid 1.6.0, the control plane 1.4.2: nodes work with a control plane "
            "of the same major version at most one minor release apart; upgrade the older one "
            "(docs/operations.md, Restarts and upgrades)");
  EXPECT_TRUE(p::join_refusal("1.4.2", "1.2.0", "n2"));
  EXPECT_TRUE(p::join_refusal("1.4.2", "2.4.2", "n2"));
  EXPECT_TRUE(p::join_refusal("1.4.2", "0.4.2", "n2"));
}

TEST(Versions, BeforeOnePointZeroOnlyTheSameMinorReleaseJoins) {
  EXPECT_FALSE(p::join_refusal("0.2.0", "0.2.5", "n2"));
  auto err = p::join_refusal("0.2.0", "0.1.0", "n2");
  ASSERT_TRUE(err);
  EXPECT_NE(p::message_of(err).find("before 1.0, nodes work with a control plane of the same "
                                    "minor release only"),
            std::string::npos)
      << p::message_of(err);
  EXPECT_TRUE(p::join_refusal("0.1.0", "0.2.0", "n2"));
}

TEST(Versions, AMalformedVersionIsRefused) {
  for (const char* node : {"", "x", "1", "1.x", "1.2x", "-1.2.0", "1.-2.0"})
    EXPECT_TRUE(p::join_refusal("1.4.2", node, "n2")) << node;
}

} // namespace
