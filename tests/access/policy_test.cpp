#include "access/policy.hpp"

#include <gtest/gtest.h>

namespace tutti::access {
namespace {

namespace p = tutti::protocol;

p::identity token_identity(const std::string& name) {
  p::identity x;
  x.name = name;
  x.role = p::access_role::viewer;
  x.via = p::credential_kind::token;
  return x;
}

TEST(Policy, ABindingGrantsItsRolesVerbsToItsSubjectsInItsScope) {
  policy pol;
  pol.load({{"scaler", {{{"scale"}, {"services"}}}}, {"all", {{{"*"}, {"*"}}}}},
           {{"ci-scales", "scaler", "team-a", {{p::subject_kind::token, "ci"}}},
            {"ops-all", "all", "", {{p::subject_kind::group, "ops"}}}});
  auto ci = token_identity("ci");
  EXPECT_EQ(pol.grant(ci, api_call::scale, {"team-a"}), "ci-scales");
  EXPECT_EQ(pol.grant(ci, api_call::scale, {"team-b"}), "");
  EXPECT_EQ(pol.grant(ci, api_call::scale, {}), "") << "a namespace's binding names services";
  EXPECT_EQ(pol.grant(ci, api_call::delete_service, {"team-a"}), "");
  EXPECT_EQ(pol.grant(token_identity("other"), api_call::scale, {"team-a"}), "");
  auto op = token_identity("someone");
  op.via = p::credential_kind::client_certificate;
  op.groups = {"ops"};
  EXPECT_EQ(pol.grant(op, api_call::kill_actor, {}), "ops-all");
  pol.put(p::role_binding{"ci-scales", "scaler", "", {{p::subject_kind::token, "ci"}}});
  EXPECT_EQ(pol.grant(ci, api_call::scale, {"team-b"}), "ci-scales") << "rebound cluster-wide";
}

TEST(Policy, EveryCallHasAVerbAndAResourceOfTheVocabulary) {
  for (uint16_t i = 0; i <= static_cast<uint16_t>(api_call::remove_secret); ++i) {
    auto [verb, resource] = rule_of(*api_call_of(i));
    if (*api_call_of(i) == api_call::join_secret) {
      EXPECT_EQ(verb, "") << "the join secret is the built-in admin's alone";
      continue;
    }
    const auto& verbs = p::role_verbs();
    const auto& resources = p::role_resources();
    EXPECT_NE(std::find(verbs.begin(), verbs.end(), verb), verbs.end()) << i;
    EXPECT_NE(std::find(resources.begin(), resources.end(), resource), resources.end()) << i;
  }
}

TEST(Policy, NoCustomRoleGrantsTheJoinSecret) {
  policy pol;
  pol.load({{"everything", {{{"*"}, {"*"}}}}},
           {{"ops-all", "everything", "", {{p::subject_kind::group, "ops"}}}});
  auto op = token_identity("someone");
  op.via = p::credential_kind::client_certificate;
  op.groups = {"ops"};
  EXPECT_EQ(pol.grant(op, api_call::backup, {}), "ops-all");
  EXPECT_EQ(pol.grant(op, api_call::join_secret, {}), "") << "it admits hosts to the cluster";
}

} // namespace
} // namespace tutti::access
