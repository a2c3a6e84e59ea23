// Leader election against a real etcd member on loopback: one candidate of two
// leads, the other sees who; a resignation hands over at once; a leader whose
// key is gone learns it from hold().

#include "actors/daemon/leader_election.hpp"

#include "protocol/errors.hpp"
#include "tests/support/etcd_client.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <string>

namespace {

using namespace tutti::actors;
namespace etcd = tutti::persistence::etcd;
namespace p = tutti::protocol;
namespace s = tutti::tests::support;
using namespace std::chrono_literals;
using clock_type = std::chrono::steady_clock;

class LeaderElection : public ::testing::Test {
protected:
  void SetUp() override {
    TUTTI_START_ETCD_OR_SKIP(cluster_, 1);
    client_ = s::etcd_client_of(*cluster_, 500ms);
  }

  std::unique_ptr<leader_election> candidate(const std::string& name) {
    election_options opts;
    opts.key = "/test/leader";
    opts.candidate = name;
    opts.ttl = 1s;
    opts.poll = 20ms;
    opts.registry_key = "/test/controllers/" + name;
    opts.registry_value = name;
    return std::make_unique<leader_election>(client_, opts);
  }

  /// Campaigns for at most `limit`; the fence when it leads.
  static caf::expected<tutti::persistence::write_fence>
  campaign_for(leader_election& e, std::chrono::milliseconds limit, std::string* seen = nullptr) {
    auto until = clock_type::now() + limit;
    return e.campaign([until] { return clock_type::now() >= until; },
                      [seen](const std::string& leader, const std::string&) {
                        if (seen)
                          *seen = leader;
                      });
  }

  std::unique_ptr<s::etcd_cluster> cluster_;
  std::shared_ptr<etcd::client> client_;
};

TEST_F(LeaderElection, OneLeadsTheOtherSeesWhoAndTakesOverWhenItResigns) {
  auto a = candidate("a");
  auto b = candidate("b");
  auto fence = campaign_for(*a, 5s);
  ASSERT_TRUE(fence) << p::message_of(fence.error());
  EXPECT_EQ(fence->key, "/test/leader");
  std::string seen;
  EXPECT_FALSE(campaign_for(*b, 300ms, &seen));
  EXPECT_EQ(seen, "a");
  auto registry = client_->range("/test/controllers/", etcd::prefix_end("/test/controllers/"));
  ASSERT_TRUE(registry);
  EXPECT_EQ(registry->kvs.size(), 2u) << "both registered while alive";

  a->resign();
  auto start = clock_type::now();
  auto next = campaign_for(*b, 5s);
  ASSERT_TRUE(next) << p::message_of(next.error());
  EXPECT_LT(clock_type::now() - start, 1s) << "a resignation needs no lease to expire";
  EXPECT_NE(next->create_revision, fence->create_revision);
}

TEST_F(LeaderElection, ALeaderWhoseKeyIsGoneLearnsItFromHold) {
  auto a = candidate("a");
  auto fence = campaign_for(*a, 5s);
  ASSERT_TRUE(fence) << p::message_of(fence.error());
  ASSERT_TRUE(client_->erase("/test/leader"));
  auto until = clock_type::now() + 5s;
  auto lost = a->hold([until] { return clock_type::now() >= until; });
  EXPECT_EQ(p::code_of(lost), p::error_code::not_leader) << p::message_of(lost);
  EXPECT_NE(p::message_of(lost).find("/test/leader"), std::string::npos) << p::message_of(lost);
}

TEST_F(LeaderElection, ALeaderHoldsWhileEtcdAnswersAndStopsWhenAsked) {
  auto a = candidate("a");
  ASSERT_TRUE(campaign_for(*a, 5s));
  auto until = clock_type::now() + 2500ms; // longer than the lease's TTL
  auto held = a->hold([until] { return clock_type::now() >= until; });
  EXPECT_FALSE(held) << p::message_of(held);
  auto key = client_->range("/test/leader");
  ASSERT_TRUE(key);
  EXPECT_EQ(key->kvs.size(), 1u) << "the lease was kept alive past its TTL";
}

} // namespace
