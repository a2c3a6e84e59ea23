// What the etcd backend adds to the store's contract (store_contract_test.cpp):
// fenced writes, etcd's limit of operations per transaction, writers that race,
// and an etcd that does not answer. Against real etcd members on loopback.

#include "persistence/etcd_mirror.hpp"
#include "persistence/etcd_store.hpp"
#include "tests/persistence/store_test_support.hpp"
#include "tests/support/etcd_client.hpp"
#include "tests/support/net.hpp"
#include "tests/support/wait.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace {

using namespace tutti::persistence;
using namespace tutti::persistence::test_support;
using namespace std::chrono_literals;
using tutti::protocol::code_of;
using tutti::protocol::error_code;
using tutti::protocol::message_of;
namespace s = tutti::tests::support;

assignment at(std::string replica, std::string service, std::string node) {
  return {std::move(replica), std::move(service), std::move(node), {}, 0};
}

class EtcdStore : public ::testing::Test {
protected:
  void SetUp() override {
    TUTTI_START_ETCD_OR_SKIP(cluster_, 1);
    client_ = s::etcd_client_of(*cluster_);
  }

  std::unique_ptr<etcd_store> open(etcd_store_options eopts = {},
                                   store_options opts = test_options()) {
    return must(etcd_store::open(client_, std::move(opts), std::move(eopts)));
  }

  std::unique_ptr<s::etcd_cluster> cluster_;
  std::shared_ptr<etcd::client> client_;
};

TEST_F(EtcdStore, AFencedWriteOfALeaderWhoseElectionKeyIsGoneWritesNothing) {
  auto lease = must(client_->grant(10s));
  auto created = must(client_->put("/election/leader", "control-1", lease.id));
  auto store = open();
  store->set_fence(write_fence{"/election/leader", created});
  must(store->put_specs({{"web", "v: 1\n"}}));
  must(store->append_events({make_event("web")}));

  // The lease ends (a leader cut from etcd); another process leads: its key is
  // a new creation with the same name.
  ASSERT_TRUE(client_->revoke(lease.id));
  must(client_->put("/election/leader", "control-2"));
  auto put = store->put_specs({{"web", "v: 2\n"}});
  ASSERT_FALSE(put);
  EXPECT_EQ(code_of(put.error()), error_code::not_leader) << message_of(put.error());
  EXPECT_NE(message_of(put.error()).find("/election/leader"), std::string::npos);
  EXPECT_EQ(code_of(store->delete_service("web")), error_code::not_leader);
  EXPECT_EQ(code_of(store->put_assignment(at("web-0", "web", "n1"))), error_code::not_leader);
  auto events = store->append_events({make_event("web")});
  ASSERT_FALSE(events);
  EXPECT_EQ(code_of(events.error()), error_code::not_leader);

  auto reader = open();
  EXPECT_EQ(must(reader->current_spec("web"))->yaml, "v: 1\n");
  EXPECT_TRUE(must(reader->assignments("web")).empty());
  EXPECT_EQ(reader->last_seq(), 1u);
}

TEST_F(EtcdStore, AnApplyBeyondEtcdsOperationsPerTransactionIsRefusedNamingTheLimit) {
  etcd_store_options eopts;
  eopts.max_txn_ops = 16;
  auto store = open(eopts);
  std::vector<std::pair<std::string, std::string>> specs;
  for (int i = 0; i < 6; ++i)
    specs.emplace_back("svc" + std::to_string(i), "v\n");
  auto put = store->put_specs(specs); // 6 compares, 12 puts
  ASSERT_FALSE(put);
  EXPECT_EQ(code_of(put.error()), error_code::invalid_argument);
  EXPECT_NE(message_of(put.error()).find("--max-txn-ops"), std::string::npos)
      << message_of(put.error());
  EXPECT_TRUE(must(store->current_specs()).empty());
  specs.resize(4); // 4 compares, 8 puts
  EXPECT_EQ(must(store->put_specs(specs)).size(), 4u);
}

TEST_F(EtcdStore, AGroupCommitLargerThanOneTransactionLandsWholeInOrder) {
  etcd_store_options eopts;
  eopts.max_txn_ops = 16;
  auto store = open(eopts);
  store::write_batch batch;
  for (int i = 0; i < 50; ++i)
    batch.assignments.push_back({at("web-" + std::to_string(i), "web", "n1"), false});
  for (int i = 0; i < 30; ++i)
    batch.events.push_back(make_event(i % 2 ? "web" : "db"));
  auto events = must(store->commit(std::move(batch)));
  ASSERT_EQ(events.size(), 30u);
  EXPECT_EQ(events.front().seq, 1u);
  EXPECT_EQ(events.back().seq, 30u);
  auto reader = open();
  EXPECT_EQ(must(reader->assignments("web")).size(), 50u);
  EXPECT_EQ(reader->last_seq(), 30u);
  EXPECT_EQ(must(reader->events_after(0, 100, "web")).size(), 15u);
}

TEST_F(EtcdStore, TwoWritersOfOneServiceGetDistinctRevisions) {
  auto a = open();
  auto b = open();
  must(a->put_specs({{"web", "a\n"}}));
  must(b->put_specs({{"web", "b\n"}})); // read its head after a's write
  must(a->put_specs({{"web", "a2\n"}}));
  EXPECT_EQ(must(open()->history("web")).size(), 3u);
  EXPECT_EQ(must(open()->current_spec("web"))->revision, 3);
}

TEST_F(EtcdStore, EventsOfTwoWritersNeverShareASeq) {
  auto a = open();
  auto b = open();
  must(a->append_events({make_event("web")}));
  auto stale = b->append_events({make_event("web")}); // b read seq 0 at open
  ASSERT_FALSE(stale);
  EXPECT_EQ(code_of(stale.error()), error_code::store_failure);
  EXPECT_EQ(must(b->append_events({make_event("web")}))[0].seq, 2u); // b re-read the seq
}

TEST_F(EtcdStore, AnEtcdThatDoesNotAnswerIsUnavailableNamingIt) {
  etcd::client_options opts;
  auto port = std::to_string(s::free_port());
  opts.endpoints = {"http://127.0.0.1:" + port};
  opts.timeout = 500ms;
  auto client = std::shared_ptr<etcd::client>(must(etcd::client::make(opts)));
  auto store = etcd_store::open(client);
  ASSERT_FALSE(store);
  EXPECT_EQ(code_of(store.error()), error_code::unavailable);
  EXPECT_NE(message_of(store.error()).find("127.0.0.1:" + port), std::string::npos);
}

} // namespace

namespace {

/// A store whose reads come from a mirror of etcd (a standby's), beside one
/// that writes to etcd (a leader's).
class EtcdMirror : public EtcdStore {};

TEST_F(EtcdMirror, FollowsPutsAndDeletesAndAnswersRangesAsEtcdDoes) {
  etcd::etcd_mirror mirror{client_, "/m/"};
  ASSERT_TRUE(s::wait_until([&] { return mirror.revision() > 0; }, 10s)) << "no first read";
  ASSERT_TRUE(client_->put("/m/a", "1"));
  ASSERT_TRUE(client_->put("/m/b", "2"));
  ASSERT_TRUE(client_->put("/m/c", "3"));
  ASSERT_TRUE(client_->put("/other", "x"));
  ASSERT_TRUE(client_->erase("/m/b"));
  auto seen = [&](size_t n) {
    auto r = mirror.range("/m/", etcd::prefix_end("/m/"));
    return r && r->kvs.size() == n;
  };
  ASSERT_TRUE(s::wait_until([&] { return seen(2); }, 10s));
  auto all = mirror.range("/m/", etcd::prefix_end("/m/"));
  ASSERT_TRUE(all);
  EXPECT_EQ(all->kvs[0].key, "/m/a");
  EXPECT_EQ(all->kvs[1].value, "3");
  auto one = mirror.range("/m/c");
  ASSERT_TRUE(one);
  ASSERT_EQ(one->kvs.size(), 1u);
  EXPECT_EQ(one->kvs[0].value, "3");
  EXPECT_TRUE(mirror.range("/m/b")->kvs.empty());
  auto newest = mirror.range("/m/", etcd::prefix_end("/m/"), 1, 0, true);
  ASSERT_TRUE(newest);
  ASSERT_EQ(newest->kvs.size(), 1u);
  EXPECT_EQ(newest->kvs[0].key, "/m/c");
  EXPECT_TRUE(newest->more);
  EXPECT_TRUE(mirror.range("/other")->kvs.empty()) << "outside its prefix";
}

TEST_F(EtcdMirror, AStoreReadingTheMirrorSeesWhatAnotherStoreWrote) {
  auto writer = open();
  ASSERT_TRUE(writer->put_specs({{"web", "replicas: 1\n"}}));
  ASSERT_TRUE(writer->put_specs({{"web", "replicas: 2\n"}}));
  tutti::protocol::event e;
  e.kind = "service_applied";
  e.service = "web";
  ASSERT_TRUE(writer->append_events({e}));
  auto mirror = std::make_shared<etcd::etcd_mirror>(client_, "/tutti/");
  ASSERT_TRUE(s::wait_until([&] { return mirror->revision() > 0; }, 10s));
  auto reader = must(etcd_store::open(client_, test_options(), {}, mirror));
  auto history = must(reader->history("web"));
  ASSERT_EQ(history.size(), 2u);
  EXPECT_EQ(history[1].yaml, "replicas: 2\n");
  ASSERT_TRUE(writer->put_specs({{"web", "replicas: 3\n"}}));
  ASSERT_TRUE(s::wait_until([&] { return must(reader->history("web")).size() == 3; }, 10s));
  auto events = must(reader->last_events(10, "web"));
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].kind, "service_applied");
}

} // namespace
