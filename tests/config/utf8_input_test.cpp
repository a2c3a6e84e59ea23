// Hostile text in specs and daemon configs: bytes that are not UTF-8 are refused
// where they enter, with their place, and no message quotes them raw.

#include "config/daemon_config.hpp"
#include "protocol/utf8.hpp"
#include "tests/config/spec_test_support.hpp"

using namespace tutti::config::spec_testing;
using tutti::protocol::valid_utf8;

namespace {

void expect_readable(const std::vector<spec_error>& errors) {
  for (const auto& e : errors) {
    EXPECT_TRUE(valid_utf8(e.file)) << e.file;
    EXPECT_TRUE(valid_utf8(e.field)) << e.field;
    EXPECT_TRUE(valid_utf8(e.message)) << e.message;
  }
}

} // namespace

TEST(Utf8Input, ACommandArgumentIsRefusedWithItsPlace) {
  auto result = parse("kind: Service\nname: web\ncommand: [/bin/echo, \"a\xFF\"]\n");
  ASSERT_EQ(result.errors.size(), 1u) << describe(result.errors);
  EXPECT_TRUE(result.specs.empty());
  expect_error(result.errors.front(), 3, 22, "command[1]", "not valid UTF-8");
}

TEST(Utf8Input, AnEnvValueIsRefused) {
  auto e = only_error(minimal + "env: {GREETING: \"h\xC3\x28i\"}\n");
  expect_error(e, 4, 17, "env.GREETING", "not valid UTF-8");
}

TEST(Utf8Input, ANameIsRefusedAndTheReplyStaysUtf8) {
  auto result = parse("kind: Service\nname: \"web\xFE\"\ncommand: [/bin/true]\n");
  ASSERT_EQ(result.errors.size(), 1u) << describe(result.errors);
  expect_error(result.errors.front(), 2, 7, "name", "not valid UTF-8");
  expect_readable(result.errors);
}

TEST(Utf8Input, AKeyIsRefusedAndShownEscaped) {
  auto result = parse(minimal + "env: {\"K\x80\": v}\n");
  ASSERT_EQ(result.errors.size(), 1u) << describe(result.errors);
  EXPECT_EQ(result.errors.front().field, "env.K\\x80");
  expect_readable(result.errors);
}

TEST(Utf8Input, EveryBadValueOfADocumentIsReported) {
  auto result = parse("kind: Service\nname: web\ncommand: [\"\xFF\", \"\xFE\"]\nimage: \"\xC0\"\n");
  EXPECT_EQ(result.errors.size(), 3u) << describe(result.errors);
  EXPECT_TRUE(result.specs.empty());
}

TEST(Utf8Input, ValidMultibyteTextIsKept) {
  auto spec = only_spec(minimal + "env: {GREETING: \"gr\xC3\xBC\xC3\x9F \xE2\x82\xAC\"}\n");
  EXPECT_EQ(spec.env.at("GREETING"), "gr\xC3\xBC\xC3\x9F \xE2\x82\xAC");
}

TEST(Utf8Input, AFileNameIsShownEscaped) {
  auto result = tutti::config::parse_specs("replicas: [\n", "bad\xFF.yaml");
  ASSERT_FALSE(result.errors.empty());
  EXPECT_EQ(result.errors.front().file, "bad\\xFF.yaml");
  expect_readable(result.errors);
}

TEST(Utf8Input, ADaemonConfigValueIsRefused) {
  auto result = tutti::config::parse_daemon_config("node: {name: \"n\xFF\"}\n", "tuttid.yaml");
  ASSERT_EQ(result.errors.size(), 1u) << describe(result.errors);
  EXPECT_EQ(result.errors.front().field, "node.name");
  EXPECT_NE(result.errors.front().message.find("not valid UTF-8"), std::string::npos);
}
