#include "actors/node/replica_actor.hpp"

#include <gtest/gtest.h>

namespace {

using namespace tutti::actors;
namespace p = tutti::protocol;
using namespace std::chrono_literals;

TEST(Replica, BackoffDoublesUpToTheMaximum) {
  p::backoff_spec spec;
  spec.initial = std::chrono::duration_cast<caf::timespan>(100ms);
  spec.max = std::chrono::duration_cast<caf::timespan>(1s);
  auto x = spec.initial;
  std::vector<int64_t> seen;
  for (int i = 0; i < 6; ++i) {
    seen.push_back(std::chrono::duration_cast<std::chrono::milliseconds>(x).count());
    x = next_backoff(x, spec);
  }
  EXPECT_EQ(seen, (std::vector<int64_t>{100, 200, 400, 800, 1000, 1000}));
}

TEST(Replica, EnvironmentCarriesPortsAndTheSpecEnv) {
  p::service_spec spec;
  spec.env = {{"GREETING", "hi"}};
  auto env = replica_env(spec, {{"http", 20001}, {"admin-api", 20002}});
  EXPECT_EQ(env.at("GREETING"), "hi");
  EXPECT_EQ(env.at("PORT"), "20001");
  EXPECT_EQ(env.at("PORT_HTTP"), "20001");
  EXPECT_EQ(env.at("PORT_ADMIN_API"), "20002");
}

TEST(Replica, TemplateHashIgnoresTheReplicaCountOnly) {
  p::service_spec a;
  a.name = "web";
  a.command = {"/bin/true"};
  auto b = a;
  b.replicas = 7;
  EXPECT_EQ(template_hash(a), template_hash(b)) << "scaling must not restart replicas";
  b.command = {"/bin/false"};
  EXPECT_NE(template_hash(a), template_hash(b));
  EXPECT_EQ(template_hash(a).size(), 16u);
}

TEST(Replica, TemplateHashSeesPlacementFieldsOnlyWhenSet) {
  p::service_spec a;
  a.name = "web";
  a.command = {"/bin/true"};
  auto before = template_hash(a);
  EXPECT_EQ(template_hash(a), before) << "the remembered hash is the computed one";
  auto b = a;
  b.placement.anti_affinity = {"db"};
  EXPECT_NE(template_hash(b), before);
  b = a;
  b.placement.spread_over = "zone";
  EXPECT_NE(template_hash(b), before);
}

TEST(Replica, TemplateHashIgnoresRouting) {
  p::service_spec a;
  a.name = "web";
  a.command = {"/bin/true"};
  a.ports = {{"http", 0}};
  auto b = a;
  b.ports[0].published = 8080;
  b.balancing = p::load_balancing::least_connections;
  EXPECT_EQ(template_hash(a), template_hash(b)) << "publishing must not restart replicas";
  b.ports[0].name = "web";
  EXPECT_NE(template_hash(a), template_hash(b)) << "a port's name is in PORT_<NAME>";
}

} // namespace
