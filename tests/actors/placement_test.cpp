#include "actors/placement_actor.hpp"
#include "protocol/errors.hpp"

#include <gtest/gtest.h>

namespace {

using namespace tutti::actors;
namespace p = tutti::protocol;

node_view node(const std::string& name, double cpu, int64_t mem,
               std::map<std::string, std::string> labels = {}) {
  node_view v;
  v.status.name = name;
  v.status.capacity = {cpu, mem};
  v.status.labels = std::move(labels);
  v.status.drivers = {"process"};
  return v;
}

p::placement_request request(const std::string& replica, double cpu = 0, int64_t mem = 0) {
  p::placement_request r;
  r.replica = replica;
  r.service = "web";
  r.resources = {cpu, mem};
  return r;
}

void add(node_view& n, const std::string& service, double cpu, int64_t mem) {
  n.per_service[service] += 1;
  n.status.allocated.cpu += cpu;
  n.status.allocated.memory += mem;
  n.status.replicas += 1;
}

TEST(Placement, SpreadPrefersTheNodeWithFewestReplicasOfTheService) {
  std::map<std::string, node_view> nodes{{"a", node("a", 4, 1 << 30)},
                                         {"b", node("b", 4, 1 << 30)}};
  add(nodes["a"], "web", 0, 0);
  auto chosen = choose_node(nodes, request("web-1"));
  ASSERT_TRUE(chosen);
  EXPECT_EQ(*chosen, "b");
}

TEST(Placement, SkipsNodesWhoseDriverIsMissingOrUnhealthyAndSaysWhy) {
  std::map<std::string, node_view> nodes{{"a", node("a", 4, 1 << 30)},
                                         {"b", node("b", 4, 1 << 30)}};
  nodes["b"].status.drivers.push_back("docker");
  auto req = request("web-0");
  req.driver = p::driver_kind::docker;
  auto chosen = choose_node(nodes, req);
  ASSERT_TRUE(chosen);
  EXPECT_EQ(*chosen, "b");

  nodes["b"].status.driver_errors["docker"] = "cannot reach the Docker engine";
  chosen = choose_node(nodes, req);
  ASSERT_FALSE(chosen);
  auto why = p::message_of(chosen.error());
  EXPECT_NE(why.find("a: no docker driver"), std::string::npos) << why;
  EXPECT_NE(why.find("b: docker driver unhealthy: cannot reach the Docker engine"),
            std::string::npos)
      << why;
}

TEST(Placement, BinpackPrefersTheFullerNode) {
  std::map<std::string, node_view> nodes{{"a", node("a", 4, 1 << 30)},
                                         {"b", node("b", 4, 1 << 30)}};
  add(nodes["a"], "other", 2, 0);
  auto req = request("web-0", 1);
  req.placement.strategy = p::placement_strategy::binpack;
  auto chosen = choose_node(nodes, req);
  ASSERT_TRUE(chosen);
  EXPECT_EQ(*chosen, "a");
}

TEST(Placement, RefusesWhenNoNodeHasTheMemoryAndSaysWhy) {
  std::map<std::string, node_view> nodes{{"a", node("a", 4, 100)}};
  auto chosen = choose_node(nodes, request("web-0", 0, 200));
  ASSERT_FALSE(chosen);
  EXPECT_EQ(p::code_of(chosen.error()), p::error_code::unschedulable);
  EXPECT_NE(p::message_of(chosen.error()).find("insufficient memory"), std::string::npos);
}

TEST(Placement, HonoursConstraintsOnLabelsAndNodeName) {
  std::map<std::string, node_view> nodes{{"a", node("a", 4, 1 << 30, {{"zone", "x"}})},
                                         {"b", node("b", 4, 1 << 30, {{"zone", "y"}})}};
  auto req = request("web-0");
  req.placement.constraints = {{"zone", true, "y"}};
  EXPECT_EQ(*choose_node(nodes, req), "b");
  req.placement.constraints = {{"node.name", false, "b"}};
  EXPECT_EQ(*choose_node(nodes, req), "a");
  req.placement.constraints = {{"zone", true, "z"}};
  EXPECT_FALSE(choose_node(nodes, req));
}

TEST(Placement, MaxPerNodeLimitsReplicasOfOneService) {
  std::map<std::string, node_view> nodes{{"a", node("a", 4, 1 << 30)}};
  add(nodes["a"], "web", 0, 0);
  auto req = request("web-1");
  req.placement.max_per_node = 1;
  auto chosen = choose_node(nodes, req);
  ASSERT_FALSE(chosen);
  EXPECT_NE(p::message_of(chosen.error()).find("max_per_node"), std::string::npos);
}

TEST(Placement, KeepsThePreferredNodeWhenItStillFits) {
  std::map<std::string, node_view> nodes{{"a", node("a", 4, 1 << 30)},
                                         {"b", node("b", 4, 1 << 30)}};
  add(nodes["b"], "web", 0, 0);
  auto req = request("web-0");
  req.preferred_node = "b";
  EXPECT_EQ(*choose_node(nodes, req), "b");
}

TEST(Placement, SkipsLostNodes) {
  std::map<std::string, node_view> nodes{{"a", node("a", 4, 1 << 30)}};
  nodes["a"].status.state = p::node_state::lost;
  EXPECT_FALSE(choose_node(nodes, request("web-0")));
}

} // namespace
