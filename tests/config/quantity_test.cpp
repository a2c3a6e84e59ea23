// The scalar grammars under the spec fields: byte and cpu quantities, durations,
// service names and placement constraints.

#include "config/spec_parser.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

using namespace std::chrono_literals;
using tutti::protocol::constraint;

namespace config = tutti::config;

TEST(Quantity, ParsesBytes) {
  EXPECT_EQ(config::parse_bytes("100"), 100);
  EXPECT_EQ(config::parse_bytes("0"), 0);
  EXPECT_EQ(config::parse_bytes("512k"), 512000);
  EXPECT_EQ(config::parse_bytes("512K"), 512000);
  EXPECT_EQ(config::parse_bytes("1M"), 1000000);
  EXPECT_EQ(config::parse_bytes("1G"), 1000000000);
  EXPECT_EQ(config::parse_bytes("2T"), 2000000000000);
  EXPECT_EQ(config::parse_bytes("1Ki"), 1024);
  EXPECT_EQ(config::parse_bytes("64Mi"), 64 << 20);
  EXPECT_EQ(config::parse_bytes("1Gi"), int64_t{1} << 30);
  EXPECT_EQ(config::parse_bytes("3Ti"), int64_t{3} << 40);
  EXPECT_EQ(config::parse_bytes("1.5Gi"), int64_t{3} << 29);
  EXPECT_EQ(config::parse_bytes("9223372036854775807"), INT64_MAX);
}

TEST(Quantity, RefusesMalformedBytes) {
  for (std::string text : {"", "64Mx", "-1", "1.5", "Mi", "1 Mi", "1mi", "1MB", "0x10",
                           "9223372036854775808", "8388608Ti", "1.", ".5Ki", "1e3"}) {
    SCOPED_TRACE(text);
    EXPECT_EQ(config::parse_bytes(text), std::nullopt);
  }
}

TEST(Quantity, ParsesCpu) {
  EXPECT_DOUBLE_EQ(*config::parse_cpu("250m"), 0.25);
  EXPECT_DOUBLE_EQ(*config::parse_cpu("0.25"), 0.25);
  EXPECT_DOUBLE_EQ(*config::parse_cpu("2"), 2.0);
  EXPECT_DOUBLE_EQ(*config::parse_cpu("1500m"), 1.5);
  EXPECT_DOUBLE_EQ(*config::parse_cpu("0"), 0.0);
  for (std::string text : {"", "m", "-1", "-250m", "inf", "nan", "1c", "1 ", "two", "1e999"}) {
    SCOPED_TRACE(text);
    EXPECT_EQ(config::parse_cpu(text), std::nullopt);
  }
}

TEST(Quantity, ParsesDurations) {
  EXPECT_EQ(config::parse_duration("100ms"), caf::timespan{100ms});
  EXPECT_EQ(config::parse_duration("1.5s"), caf::timespan{1500ms});
  EXPECT_EQ(config::parse_duration("2m"), caf::timespan{2min});
  EXPECT_EQ(config::parse_duration("1h"), caf::timespan{1h});
  EXPECT_EQ(config::parse_duration("1m30s"), caf::timespan{90s});
  EXPECT_EQ(config::parse_duration("1h2m3s4ms"), caf::timespan{3723004ms});
  EXPECT_EQ(config::parse_duration("7us"), caf::timespan{7us});
  EXPECT_EQ(config::parse_duration("7ns"), caf::timespan{7ns});
  EXPECT_EQ(config::parse_duration("0.1s"), caf::timespan{100ms});
  EXPECT_EQ(config::parse_duration("0s"), caf::timespan{0});
  EXPECT_EQ(config::parse_duration("0"), caf::timespan{0});
  for (std::string text :
       {"", "10", "s", "1x", "-1s", "1.s", "1 s", "1S", "1d", "1m-5s", "99999999999h"}) {
    SCOPED_TRACE(text);
    EXPECT_EQ(config::parse_duration(text), std::nullopt);
  }
}

TEST(Quantity, FormatsDurationsThatParseBack) {
  EXPECT_EQ(config::format_duration(100ms), "100ms");
  EXPECT_EQ(config::format_duration(10s), "10s");
  EXPECT_EQ(config::format_duration(90s), "90s");
  EXPECT_EQ(config::format_duration(2h), "2h");
  EXPECT_EQ(config::format_duration(caf::timespan{0}), "0s");
  for (caf::timespan x : {caf::timespan{1}, caf::timespan{1500us}, caf::timespan{61s},
                          caf::timespan{3600001ms}, caf::timespan{123456789}}) {
    EXPECT_EQ(config::parse_duration(config::format_duration(x)), x) << config::format_duration(x);
  }
}

TEST(Quantity, ValidatesServiceNames) {
  std::vector<std::string> good_names{"a", "web", "web-2", "a1-b2", std::string(63, 'a')};
  for (const auto& good : good_names)
    EXPECT_TRUE(config::valid_service_name(good)) << good;
  std::vector<std::string> bad_names{"",    "1a",  "-a",  "a-",  "A",
                                     "a_b", "a.b", "a/b", "a b", std::string(64, 'a')};
  for (const auto& bad : bad_names)
    EXPECT_FALSE(config::valid_service_name(bad)) << bad;
}

TEST(Quantity, ParsesConstraints) {
  using tutti::protocol::constraint_op;
  EXPECT_EQ(config::parse_constraint("zone == a"),
            (constraint{"zone", constraint_op::equals, {"a"}}));
  EXPECT_EQ(config::parse_constraint("node.name!=n2"),
            (constraint{"node.name", constraint_op::not_equals, {"n2"}}));
  EXPECT_EQ(config::parse_constraint("  disk ==  ssd "),
            (constraint{"disk", constraint_op::equals, {"ssd"}}));
  EXPECT_EQ(config::parse_constraint("zone in (a, b,c)"),
            (constraint{"zone", constraint_op::in, {"a", "b", "c"}}));
  EXPECT_EQ(config::parse_constraint("zone in(a)"), (constraint{"zone", constraint_op::in, {"a"}}));
  EXPECT_EQ(config::parse_constraint(" gpu exists "),
            (constraint{"gpu", constraint_op::exists, {}}));
  for (std::string bad :
       {"", "zone", "zone = a", "== a", "zone ==", "zone == a b", "zone == a == b", "zo ne == a",
        "zone in ()", "zone in (a,)", "zone in a, b", "zone inside", "zone exists now", "in (a)",
        "zone in (a b)"}) {
    SCOPED_TRACE(bad);
    EXPECT_EQ(config::parse_constraint(bad), std::nullopt);
  }
  // Canonical text reads back to the same constraint.
  for (std::string text : {"zone == a", "zone != a", "zone in (a, b)", "gpu exists"})
    EXPECT_EQ(tutti::protocol::to_string(*config::parse_constraint(text)), text);
}
