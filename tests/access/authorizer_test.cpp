#include "access/authorizer.hpp"

#include "protocol/errors.hpp"

#include <gtest/gtest.h>

namespace tutti::access {
namespace {

namespace p = tutti::protocol;

p::identity who(const std::string& name, p::access_role role,
                p::credential_kind via = p::credential_kind::token) {
  p::identity x;
  x.name = name;
  x.role = role;
  x.via = via;
  return x;
}

TEST(Authorizer, EachMethodOrdinalIsACall) {
  for (uint16_t i = 0; i <= static_cast<uint16_t>(api_call::join_secret); ++i) {
    auto call = api_call_of(i);
    ASSERT_TRUE(call) << i;
    EXPECT_NE(to_string(*call), "unknown") << i;
  }
  EXPECT_FALSE(api_call_of(static_cast<uint16_t>(api_call::remove_secret) + 1));
}

TEST(Authorizer, RolesAllowWhatTheDocsSay) {
  auto viewer = who("v", p::access_role::viewer);
  auto deployer = who("d", p::access_role::deployer);
  auto op = who("o", p::access_role::operator_);
  auto admin = who("a", p::access_role::admin);
  EXPECT_FALSE(authorize(viewer, api_call::get_services));
  EXPECT_FALSE(authorize(viewer, api_call::logs));
  EXPECT_TRUE(authorize(viewer, api_call::apply));
  EXPECT_FALSE(authorize(deployer, api_call::apply));
  EXPECT_FALSE(authorize(deployer, api_call::scale));
  EXPECT_FALSE(authorize(deployer, api_call::rollout_undo));
  EXPECT_TRUE(authorize(deployer, api_call::delete_service));
  EXPECT_TRUE(authorize(deployer, api_call::set_node_state));
  EXPECT_TRUE(authorize(deployer, api_call::import_image));
  EXPECT_FALSE(authorize(op, api_call::import_image));
  EXPECT_FALSE(authorize(op, api_call::delete_service));
  EXPECT_FALSE(authorize(op, api_call::set_node_state));
  EXPECT_TRUE(authorize(op, api_call::kill_actor));
  EXPECT_TRUE(authorize(op, api_call::create_token));
  EXPECT_TRUE(authorize(op, api_call::audit));
  EXPECT_TRUE(authorize(op, api_call::backup));
  EXPECT_TRUE(authorize(op, api_call::join_secret));
  for (uint16_t i = 0; i <= static_cast<uint16_t>(api_call::join_secret); ++i)
    EXPECT_FALSE(authorize(admin, *api_call_of(i))) << to_string(*api_call_of(i));
}

TEST(Authorizer, ARefusalSaysWhoWhatAndWhichRolesMay) {
  auto err = authorize(who("looker", p::access_role::viewer), api_call::apply);
  EXPECT_EQ(p::code_of(err), p::error_code::forbidden);
  EXPECT_EQ(p::message_of(err),
            "looker (token, viewer) may not apply services (apply): the roles deployer, operator "
            "or admin may; ask an admin for a credential with such a role");
  err = authorize(who("alice", p::access_role::operator_, p::credential_kind::client_certificate),
                  api_call::revoke_token);
  EXPECT_EQ(p::message_of(err),
            "alice (client certificate, operator) may not revoke tokens (revokeToken): only the "
            "role admin may; ask an admin for a credential with such a role");
}

TEST(Authorizer, OnlyChangesAreMutations) {
  EXPECT_TRUE(mutates(api_call::apply));
  EXPECT_TRUE(mutates(api_call::revoke_token));
  EXPECT_TRUE(mutates(api_call::import_image));
  EXPECT_FALSE(mutates(api_call::get_services));
  EXPECT_FALSE(mutates(api_call::audit));
  EXPECT_FALSE(mutates(api_call::follow));
  EXPECT_FALSE(mutates(api_call::backup));
}

TEST(Authorizer, TheAuditLogKeepsChangesBackupsAndTheJoinSecret) {
  EXPECT_TRUE(audited(api_call::apply));
  EXPECT_TRUE(audited(api_call::backup));
  EXPECT_TRUE(audited(api_call::join_secret));
  EXPECT_FALSE(audited(api_call::get_services));
  EXPECT_FALSE(audited(api_call::audit));
}

} // namespace
} // namespace tutti::access
