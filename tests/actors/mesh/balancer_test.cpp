// The routing mesh's choice of replica: round robin, least connections, the
// retry order after refusals, and the <SERVICE>_ADDR / published port rules.

#include "actors/mesh/balancer.hpp"
#include "actors/cluster/published_ports.hpp"

#include <gtest/gtest.h>

#include <map>
#include <set>

namespace {

using namespace tutti::actors;
namespace p = tutti::protocol;

std::vector<upstream> three() {
  return {
      {"web-0", "127.0.0.1", 20001}, {"web-1", "127.0.0.1", 20002}, {"web-2", "127.0.0.1", 20003}};
}

std::string pick_replica(balancer& b, const std::vector<std::string>& tried = {}) {
  auto* x = b.pick(tried);
  return x == nullptr ? "none" : x->replica;
}

TEST(Balancer, EmptySetPicksNothing) {
  balancer b;
  EXPECT_EQ(b.pick(), nullptr);
}

TEST(Balancer, RoundRobinRotatesThroughEveryUpstream) {
  balancer b;
  b.set_upstreams(three());
  std::vector<std::string> seen;
  for (int i = 0; i < 6; ++i)
    seen.push_back(pick_replica(b));
  EXPECT_EQ(seen, (std::vector<std::string>{"web-0", "web-1", "web-2", "web-0", "web-1", "web-2"}));
}

TEST(Balancer, RoundRobinIgnoresOpenConnections) {
  balancer b;
  b.set_upstreams(three());
  for (int i = 0; i < 5; ++i)
    b.opened("127.0.0.1:20002");
  EXPECT_EQ(pick_replica(b), "web-0");
  EXPECT_EQ(pick_replica(b), "web-1");
}

TEST(Balancer, RoundRobinSurvivesAShrinkingSet) {
  balancer b;
  b.set_upstreams(three());
  pick_replica(b);
  pick_replica(b);
  pick_replica(b); // the rotation points past the end of a smaller set now
  b.set_upstreams({{"web-0", "127.0.0.1", 20001}});
  EXPECT_EQ(pick_replica(b), "web-0");
  EXPECT_EQ(pick_replica(b), "web-0");
}

TEST(Balancer, LeastConnectionsTakesTheLeastLoaded) {
  balancer b{p::load_balancing::least_connections};
  b.set_upstreams(three());
  b.opened("127.0.0.1:20001");
  b.opened("127.0.0.1:20001");
  b.opened("127.0.0.1:20003");
  EXPECT_EQ(pick_replica(b), "web-1");
  b.opened("127.0.0.1:20002");
  b.opened("127.0.0.1:20002");
  EXPECT_EQ(pick_replica(b), "web-2"); // 2, 2, 1
  b.closed("127.0.0.1:20001");
  b.closed("127.0.0.1:20001");
  EXPECT_EQ(pick_replica(b), "web-0"); // 0, 2, 1
}

TEST(Balancer, LeastConnectionsRotatesAmongEquals) {
  balancer b{p::load_balancing::least_connections};
  b.set_upstreams(three());
  std::map<std::string, int> count;
  for (int i = 0; i < 9; ++i)
    ++count[pick_replica(b)]; // none is ever opened: all stay equal
  EXPECT_EQ(count, (std::map<std::string, int>{{"web-0", 3}, {"web-1", 3}, {"web-2", 3}}));
}

TEST(Balancer, CountsOutliveAnUpdateOfTheSet) {
  balancer b{p::load_balancing::least_connections};
  b.set_upstreams(three());
  b.opened("127.0.0.1:20001");
  b.set_upstreams(three()); // the same replicas, e.g. after another service changed
  EXPECT_EQ(b.active("127.0.0.1:20001"), 1);
  EXPECT_NE(pick_replica(b), "web-0");
  b.set_upstreams({{"web-1", "127.0.0.1", 20002}});
  b.closed("127.0.0.1:20001"); // a connection to a removed replica ends normally
  EXPECT_EQ(b.active("127.0.0.1:20001"), 0);
  b.closed("127.0.0.1:20001"); // and never goes negative
  EXPECT_EQ(b.active("127.0.0.1:20001"), 0);
}

TEST(Balancer, RetryAfterARefusalTriesEachOtherUpstreamOnce) {
  for (auto policy : {p::load_balancing::round_robin, p::load_balancing::least_connections}) {
    SCOPED_TRACE(p::to_string(policy));
    balancer b{policy};
    b.set_upstreams(three());
    std::vector<std::string> tried;
    std::vector<std::string> order;
    while (auto* x = b.pick(tried)) {
      order.push_back(x->replica);
      tried.push_back(key_of(*x)); // it refused
    }
    EXPECT_EQ(order.size(), 3u);
    EXPECT_EQ(std::set<std::string>(order.begin(), order.end()).size(), 3u);
    EXPECT_EQ(b.pick(tried), nullptr) << "all refused: the client gets an error";
  }
}

TEST(Balancer, ARefusedUpstreamIsSkippedNotForgotten) {
  balancer b;
  b.set_upstreams(three());
  EXPECT_EQ(pick_replica(b, {"127.0.0.1:20001"}), "web-1");
  EXPECT_EQ(pick_replica(b), "web-2");
  EXPECT_EQ(pick_replica(b), "web-0"); // the next connection may try it again
}

p::service_spec published(const std::string& name, std::vector<p::port_spec> ports) {
  p::service_spec spec;
  spec.name = name;
  spec.ports = std::move(ports);
  return spec;
}

TEST(PublishedPorts, DiscoveryEnvNamesEveryPublishedPort) {
  auto env = discovery_env({published("web", {{"http", 8080}, {"admin", 8081}}),
                            published("my-api", {{"grpc", 0}, {"http", 9000}}),
                            published("worker", {{"metrics", 0}})},
                           "127.0.0.1");
  EXPECT_EQ(env, (std::map<std::string, std::string>{{"WEB_ADDR", "127.0.0.1:8080"},
                                                     {"WEB_ADDR_HTTP", "127.0.0.1:8080"},
                                                     {"WEB_ADDR_ADMIN", "127.0.0.1:8081"},
                                                     {"MY_API_ADDR", "127.0.0.1:9000"},
                                                     {"MY_API_ADDR_HTTP", "127.0.0.1:9000"}}));
}

TEST(PublishedPorts, APortOfAnotherServiceIsRefusedNamingBoth) {
  std::vector<p::service_spec> current{published("web", {{"http", 8080}})};
  auto errors = published_conflicts(current, "api.yaml", {published("api", {{"http", 8080}})});
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].file, "api.yaml");
  EXPECT_EQ(errors[0].field, "ports[0].published");
  EXPECT_NE(errors[0].message.find("'api'"), std::string::npos) << errors[0].message;
  EXPECT_NE(errors[0].message.find("'web'"), std::string::npos) << errors[0].message;
  EXPECT_NE(errors[0].message.find("8080"), std::string::npos) << errors[0].message;
}

TEST(PublishedPorts, AServiceMayKeepOrMoveItsOwnPorts) {
  std::vector<p::service_spec> current{published("web", {{"http", 8080}}),
                                       published("api", {{"http", 9000}})};
  EXPECT_TRUE(published_conflicts(current, "f", {published("web", {{"http", 8080}})}).empty());
  // web gives 8080 up and api takes it in the same input.
  EXPECT_TRUE(
      published_conflicts(current, "f",
                          {published("web", {{"http", 8081}}), published("api", {{"http", 8080}})})
          .empty());
  EXPECT_TRUE(published_conflicts(current, "f", {published("db", {{"sql", 0}})}).empty());
}

} // namespace
