#include "runtime-drivers/substitute.hpp"

#include "protocol/errors.hpp"

#include <gtest/gtest.h>

namespace tutti::runtime_drivers {
namespace {

using protocol::code_of;
using protocol::error_code;
using protocol::message_of;

const std::map<std::string, std::string> env{
    {"PORT", "20001"}, {"HOST", "127.0.0.2"}, {"EMPTY", ""}};

TEST(substitute_env, replaces_known_variables) {
  EXPECT_EQ(substitute_env("${PORT}", env), "20001");
  EXPECT_EQ(substitute_env("${HOST}:${PORT}/x", env), "127.0.0.2:20001/x");
  EXPECT_EQ(substitute_env("a${EMPTY}b", env), "ab");
  EXPECT_EQ(substitute_env("no variables", env), "no variables");
  EXPECT_EQ(substitute_env("", env), "");
}

TEST(substitute_env, leaves_other_dollars_alone) {
  EXPECT_EQ(substitute_env("echo $HOME $$ $", env), "echo $HOME $$ $");
  EXPECT_EQ(substitute_env("$${PORT} is ${PORT}", env), "${PORT} is 20001");
}

TEST(substitute_env, refuses_unknown_and_malformed_references) {
  auto unknown = substitute_env("-p ${PROT}", env);
  ASSERT_FALSE(unknown);
  EXPECT_EQ(code_of(unknown.error()), error_code::invalid_argument);
  EXPECT_EQ(message_of(unknown.error()), "unknown variable ${PROT} in '-p ${PROT}'");
  for (std::string text : {"${PORT", "${}", "${1X}", "${A-B}"}) {
    auto result = substitute_env(text, env);
    ASSERT_FALSE(result) << text;
    EXPECT_EQ(code_of(result.error()), error_code::invalid_argument) << text;
  }
}

TEST(substitute_env, expands_every_argument_of_a_command) {
  std::vector<std::string> command{"/bin/httpd", "-f", "-p", "${HOST}:${PORT}"};
  auto expanded = substitute_env(command, env);
  ASSERT_TRUE(expanded) << message_of(expanded.error());
  EXPECT_EQ(*expanded, (std::vector<std::string>{"/bin/httpd", "-f", "-p", "127.0.0.2:20001"}));
  EXPECT_FALSE(substitute_env(std::vector<std::string>{"ok", "${NOPE}"}, env));
}

} // namespace
} // namespace tutti::runtime_drivers
