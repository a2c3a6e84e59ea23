// The store interface (persistence/store.hpp) as every backend keeps it: each
// test runs on LMDB and on etcd (one real member on loopback, a key prefix of
// its own per test). "Reopen" is a new store object on the same directory or
// prefix: what it reads is what the backend kept, not what an object cached.

#include "persistence/etcd_store.hpp"
#include "persistence/lmdb_store.hpp"
#include "tests/persistence/store_test_support.hpp"
#include "tests/support/etcd.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <memory>
#include <string>
#include <vector>

namespace {

using namespace tutti::persistence;
using namespace tutti::persistence::test_support;
using tutti::protocol::code_of;
using tutti::protocol::driver_kind;
using tutti::protocol::error_code;
using tutti::protocol::message_of;
using tutti::protocol::node_state;
using tutti::protocol::node_status;
namespace s = tutti::tests::support;

assignment at(std::string replica, std::string service, std::string node) {
  return {std::move(replica), std::move(service), std::move(node), {}, 0};
}
using seqs = std::vector<uint64_t>;

std::vector<int64_t> revisions_of(const std::vector<stored_spec>& xs) {
  std::vector<int64_t> out;
  for (const auto& x : xs)
    out.push_back(x.revision);
  return out;
}

seqs seqs_of(const std::vector<tutti::protocol::event>& xs) {
  seqs out;
  for (const auto& x : xs)
    out.push_back(x.seq);
  return out;
}

/// The one etcd member the etcd half of the suite shares (keys apart by prefix).
class shared_etcd {
public:
  static shared_etcd& get() {
    static shared_etcd instance;
    return instance;
  }
  bool available() const { return cluster_ != nullptr; }
  const std::string& why() const { return why_; }
  bool failed() const { return !cluster_ && !unavailable_; }
  std::shared_ptr<etcd::client> client() const { return client_; }
  s::etcd_cluster& cluster() { return *cluster_; }

private:
  shared_etcd() {
    cluster_ = s::etcd_cluster::start(1, why_, unavailable_);
    if (!cluster_)
      return;
    etcd::client_options opts;
    opts.endpoints = cluster_->client_urls();
    auto c = etcd::client::make(opts);
    if (!c) {
      why_ = message_of(c.error());
      cluster_.reset();
      return;
    }
    client_ = std::shared_ptr<etcd::client>(std::move(*c));
  }
  std::unique_ptr<s::etcd_cluster> cluster_;
  std::shared_ptr<etcd::client> client_;
  std::string why_;
  bool unavailable_ = false;
};

class StoreContract : public ::testing::TestWithParam<std::string> {
protected:
  void SetUp() override {
    if (GetParam() != "etcd")
      return;
    auto& e = shared_etcd::get();
    if (e.failed())
      FAIL() << e.why();
    if (!e.available())
      GTEST_SKIP() << "no etcd on this machine (Debian package etcd-server)";
    static std::atomic<int> n{0};
    prefix_ = "/contract-" + std::to_string(::getpid()) + "-" + std::to_string(++n) + "/";
  }

  /// A store object on this test's directory or prefix.
  std::unique_ptr<store> open(store_options opts = test_options()) {
    if (GetParam() == "lmdb")
      return open_store(tmp_.path(), std::move(opts));
    etcd_store_options eopts;
    eopts.prefix = prefix_;
    eopts.max_txn_ops = max_txn_ops_;
    auto x = etcd_store::open(shared_etcd::get().client(), std::move(opts), eopts);
    if (!x)
      throw std::runtime_error("open failed: " + message_of(x.error()));
    return std::move(*x);
  }

  temp_dir tmp_;
  std::string prefix_;
  size_t max_txn_ops_ = 128;
};

INSTANTIATE_TEST_SUITE_P(Backends, StoreContract, ::testing::Values("lmdb", "etcd"),
                         [](const auto& info) { return info.param; });

// -- specs --------------------------------------------------------------------------

TEST_P(StoreContract, PutSpecsGivesEachServiceItsNextRevision) {
  auto store = open();
  auto first = must(store->put_specs({{"web", "v: 1\n"}, {"db", "v: 1\n"}}));
  ASSERT_EQ(first.size(), 2u);
  EXPECT_EQ(first[0], (stored_spec{"web", 1, "v: 1\n", fixed_now}));
  EXPECT_EQ(first[1], (stored_spec{"db", 1, "v: 1\n", fixed_now}));
  auto second = must(store->put_specs({{"web", "v: 2\n"}}));
  ASSERT_EQ(second.size(), 1u);
  EXPECT_EQ(second[0].revision, 2);
  EXPECT_EQ(must(store->current_spec("web")), second[0]);
  EXPECT_EQ(must(store->current_spec("nope")), std::nullopt);
  auto all = must(store->current_specs());
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[0].name, "db"); // ordered by name
  EXPECT_EQ(all[1], second[0]);
}

TEST_P(StoreContract, ANameTwiceInOneWriteGetsTwoRevisions) {
  auto store = open();
  auto stored = must(store->put_specs({{"web", "v: 1\n"}, {"web", "v: 2\n"}}));
  EXPECT_EQ(revisions_of(stored), (std::vector<int64_t>{1, 2}));
  EXPECT_EQ(must(store->current_spec("web"))->yaml, "v: 2\n");
  EXPECT_EQ(revisions_of(must(store->history("web"))), (std::vector<int64_t>{1, 2}));
}

TEST_P(StoreContract, RevisionsAndHistorySurviveReopenPrunedToMaxRevisions) {
  auto opts = test_options();
  opts.max_revisions = 3;
  {
    auto store = open(opts);
    for (int i = 1; i <= 4; ++i)
      must(store->put_specs({{"web", "v: " + std::to_string(i) + "\n"}}));
  }
  auto store = open(opts);
  must(store->put_specs({{"web", "v: 5\n"}}));
  must(store->put_specs({{"web2", "other\n"}})); // shares a prefix with "web"
  auto history = must(store->history("web"));
  EXPECT_EQ(revisions_of(history), (std::vector<int64_t>{3, 4, 5}));
  EXPECT_EQ(history.front().yaml, "v: 3\n");
  EXPECT_EQ(must(store->current_spec("web"))->yaml, "v: 5\n");
  EXPECT_EQ(revisions_of(must(store->history("web2"))), (std::vector<int64_t>{1}));
  EXPECT_TRUE(must(store->history("we")).empty());
}

TEST_P(StoreContract, DeleteKeepsHistoryAndRevisionNumbers) {
  {
    auto store = open();
    must(store->put_specs({{"web", "v: 1\n"}}));
    must(store->put_specs({{"web", "v: 2\n"}}));
    ASSERT_FALSE(store->delete_service("web"));
    EXPECT_EQ(must(store->current_spec("web")), std::nullopt);
    EXPECT_TRUE(must(store->current_specs()).empty());
    EXPECT_EQ(revisions_of(must(store->history("web"))), (std::vector<int64_t>{1, 2}));
  }
  auto store = open();
  auto recreated = must(store->put_specs({{"web", "v: 3\n"}}));
  EXPECT_EQ(recreated[0].revision, 3);
  EXPECT_EQ(must(store->current_spec("web")), recreated[0]);
}

TEST_P(StoreContract, DeletingAnAbsentServiceIsNotFound) {
  auto store = open();
  auto err = store->delete_service("ghost");
  EXPECT_EQ(code_of(err), error_code::not_found);
  EXPECT_EQ(message_of(err), "service ghost not found");
  must(store->put_specs({{"web", "v\n"}}));
  ASSERT_FALSE(store->delete_service("web"));
  EXPECT_EQ(code_of(store->delete_service("web")), error_code::not_found);
}

TEST_P(StoreContract, InvalidNamesAreRejectedBeforeAnyWrite) {
  auto store = open();
  std::string with_nul{"we\0b", 4};
  for (const auto& name : {std::string{}, with_nul, std::string(600, 'x')}) {
    auto put = store->put_specs({{"fine", "v\n"}, {name, "v\n"}});
    ASSERT_FALSE(put);
    EXPECT_EQ(code_of(put.error()), error_code::invalid_argument) << message_of(put.error());
  }
  EXPECT_EQ(must(store->current_spec("fine")), std::nullopt);
  EXPECT_EQ(code_of(store->put_assignment(at("", "web", "n1"))), error_code::invalid_argument);
  EXPECT_EQ(code_of(store->put_node(node_status{})), error_code::invalid_argument);
  auto events = store->append_events({make_event(with_nul)});
  ASSERT_FALSE(events);
  EXPECT_EQ(code_of(events.error()), error_code::invalid_argument);
  EXPECT_EQ(store->last_seq(), 0u);
  EXPECT_TRUE(must(store->put_specs({})).empty());
  EXPECT_TRUE(must(store->append_events({})).empty());
}

// -- assignments and nodes ----------------------------------------------------------

TEST_P(StoreContract, AssignmentsAreKeptPerServiceApartFromServicesTheirNamePrefixes) {
  auto store = open();
  ASSERT_FALSE(store->put_assignment(at("web-0", "web", "n1")));
  ASSERT_FALSE(store->put_assignment(at("web-1", "web", "n2")));
  ASSERT_FALSE(store->put_assignment(at("web-a-0", "web-a", "n1")));
  ASSERT_FALSE(store->put_assignment(at("db-0", "db", "n1")));
  ASSERT_FALSE(store->put_assignment(at("web-1", "web", "n3"))); // moved
  EXPECT_EQ(must(store->assignments("web")),
            (std::vector<assignment>{at("web-0", "web", "n1"), at("web-1", "web", "n3")}));
  EXPECT_EQ(must(store->assignments("web-a")),
            (std::vector<assignment>{at("web-a-0", "web-a", "n1")}));
  auto all = must(store->assignments(""));
  ASSERT_EQ(all.size(), 4u);
  EXPECT_EQ(all.front().replica, "db-0"); // ordered by replica
  EXPECT_EQ(all.back().replica, "web-a-0");
  EXPECT_TRUE(must(store->assignments("we")).empty());
  ASSERT_FALSE(store->remove_assignment("web-0"));
  ASSERT_FALSE(store->remove_assignment("web-0")); // absent: nothing to do
  store.reset();
  EXPECT_EQ(must(open()->assignments("web")), (std::vector<assignment>{at("web-1", "web", "n3")}));
}

TEST_P(StoreContract, DeletingAServiceRemovesOnlyItsAssignments) {
  auto store = open();
  must(store->put_specs({{"web", "v\n"}, {"web-a", "v\n"}}));
  ASSERT_FALSE(store->put_assignment(at("web-0", "web", "n1")));
  ASSERT_FALSE(store->put_assignment(at("web-a-0", "web-a", "n1")));
  ASSERT_FALSE(store->delete_service("web"));
  EXPECT_TRUE(must(store->assignments("web")).empty());
  EXPECT_EQ(must(store->assignments("web-a")).size(), 1u);
}

TEST_P(StoreContract, NodesRoundTripEveryFieldAcrossReopen) {
  node_status n1;
  n1.name = "n1";
  n1.address = "10.0.0.1:7100";
  n1.state = node_state::draining;
  n1.capacity = {3.5, int64_t{8} << 30};
  n1.allocated = {0.25, 512 << 20};
  n1.replicas = 7;
  n1.labels = {{"zone", "a"}, {"disk", "ssd"}};
  n1.drivers = {driver_kind::process, driver_kind::docker};
  node_status n0;
  n0.name = "n0";
  n0.state = node_state::lost;
  {
    auto store = open();
    ASSERT_FALSE(store->put_node(n1));
    ASSERT_FALSE(store->put_node(n0));
    n1.state = node_state::cordoned; // an update overwrites
    ASSERT_FALSE(store->put_node(n1));
  }
  auto nodes = must(open()->nodes());
  ASSERT_EQ(nodes.size(), 2u);
  EXPECT_EQ(nodes[0].name, "n0"); // ordered by name
  EXPECT_EQ(nodes[0].state, node_state::lost);
  EXPECT_EQ(nodes[1].address, n1.address);
  EXPECT_EQ(nodes[1].state, node_state::cordoned);
  EXPECT_EQ(nodes[1].capacity, n1.capacity);
  EXPECT_EQ(nodes[1].allocated, n1.allocated);
  EXPECT_EQ(nodes[1].replicas, 7);
  EXPECT_EQ(nodes[1].labels, n1.labels);
  EXPECT_EQ(nodes[1].drivers, n1.drivers);
}

// -- group commit and events --------------------------------------------------------

TEST_P(StoreContract, AGroupCommitWritesAssignmentsNodesAndEventsTheLastChangeOfAKeyWinning) {
  auto store = open();
  store::write_batch batch;
  batch.assignments.push_back({at("web-0", "web", "n3"), false});
  batch.assignments.push_back({at("web-0", "", ""), true});
  batch.assignments.push_back({at("web-0", "web", "n4"), false});
  batch.assignments.push_back({at("web-1", "web", "n1"), false});
  batch.assignments.push_back({at("web-1", "", ""), true});
  node_status n;
  n.name = "n1";
  batch.nodes.push_back(n);
  batch.events = {make_event("web"), make_event("")};
  auto events = must(store->commit(std::move(batch)));
  EXPECT_EQ(seqs_of(events), (seqs{1, 2}));
  store.reset();
  auto again = open();
  EXPECT_EQ(must(again->assignments("web")), (std::vector<assignment>{at("web-0", "web", "n4")}));
  EXPECT_EQ(must(again->nodes()).size(), 1u);
  EXPECT_EQ(again->last_seq(), 2u);
}

TEST_P(StoreContract, EventsGetConsecutiveSeqsThatContinueAfterReopen) {
  {
    auto store = open();
    auto timed = make_event("web");
    timed.time_ms = 42;
    auto stored = must(store->append_events({make_event("web"), timed, make_event("")}));
    EXPECT_EQ(seqs_of(stored), (seqs{1, 2, 3}));
    EXPECT_EQ(stored[0].time_ms, fixed_now);
    EXPECT_EQ(stored[1].time_ms, 42);
    EXPECT_EQ(must(store->events_after(0, 10)), stored);
  }
  auto store = open();
  EXPECT_EQ(store->last_seq(), 3u);
  EXPECT_EQ(seqs_of(must(store->append_events({make_event("db")}))), (seqs{4}));
}

TEST_P(StoreContract, EventsAfterAndLastEventsWithAndWithoutService) {
  auto store = open();
  // seq:              1      2     3      4      5     6       7
  must(store->append_events({make_event("web"), make_event("db"), make_event("web"),
                             make_event("web2"), make_event(""), make_event("web"),
                             make_event("db")}));
  EXPECT_EQ(seqs_of(must(store->events_after(0, 100))), (seqs{1, 2, 3, 4, 5, 6, 7}));
  EXPECT_EQ(seqs_of(must(store->events_after(2, 3))), (seqs{3, 4, 5}));
  EXPECT_EQ(seqs_of(must(store->events_after(7, 10))), seqs{});
  EXPECT_EQ(seqs_of(must(store->events_after(0, 0))), seqs{});
  EXPECT_EQ(seqs_of(must(store->events_after(UINT64_MAX, 10))), seqs{});
  EXPECT_EQ(seqs_of(must(store->events_after(0, 100, "web"))), (seqs{1, 3, 6}));
  EXPECT_EQ(seqs_of(must(store->events_after(1, 1, "web"))), (seqs{3}));
  EXPECT_EQ(seqs_of(must(store->events_after(0, 10, "we"))), seqs{});
  EXPECT_EQ(seqs_of(must(store->last_events(3))), (seqs{5, 6, 7}));
  EXPECT_EQ(seqs_of(must(store->last_events(2, "web"))), (seqs{3, 6}));
  EXPECT_EQ(seqs_of(must(store->last_events(10, "web2"))), (seqs{4}));
  EXPECT_EQ(seqs_of(must(store->last_events(10, "nope"))), seqs{});
  auto web = must(store->last_events(1, "web"));
  ASSERT_EQ(web.size(), 1u);
  EXPECT_EQ(web[0].replica, "web-0");
  EXPECT_EQ(web[0].message, "because a test said so");
}

TEST_P(StoreContract, EventsArePrunedOldestFirstWithTheirIndexEntries) {
  auto opts = test_options();
  opts.max_events = 4;
  {
    auto store = open(opts);
    for (int i = 0; i < 3; ++i)
      must(store->append_events({make_event("web")}));                 // 1..3
    must(store->append_events({make_event("db"), make_event("web"),    // 4, 5
                               make_event("db"), make_event("web")})); // 6, 7
    EXPECT_EQ(seqs_of(must(store->events_after(0, 100))), (seqs{4, 5, 6, 7}));
    EXPECT_EQ(seqs_of(must(store->events_after(0, 100, "web"))), (seqs{5, 7}));
    EXPECT_EQ(seqs_of(must(store->last_events(100, "db"))), (seqs{4, 6}));
  }
  auto store = open(opts);
  EXPECT_EQ(store->last_seq(), 7u);
  // More events in one write than are kept: the oldest of them are pruned at once.
  must(store->append_events({make_event("web"), make_event("web"), make_event("db"),
                             make_event("web"), make_event("web"), make_event("db")}));
  EXPECT_EQ(seqs_of(must(store->last_events(100))), (seqs{10, 11, 12, 13}));
  EXPECT_EQ(seqs_of(must(store->events_after(0, 100, "db"))), (seqs{10, 13}));
}

} // namespace

// -- objects (tokens, audit records) ------------------------------------------------

namespace objects_test {

using tutti::protocol::object_kind;
using tutti::protocol::stored_object;

std::vector<std::string> names_of(const std::vector<stored_object>& xs) {
  std::vector<std::string> out;
  for (const auto& x : xs)
    out.push_back(x.name);
  return out;
}

} // namespace objects_test

TEST_P(StoreContract, ObjectsArePutReplacedPagedAndRemovedByKind) {
  using namespace objects_test;
  auto store = open();
  for (const char* name : {"b", "a", "c"})
    ASSERT_FALSE(store->put_object({object_kind::audit, name, std::string{"v-"} + name}));
  ASSERT_FALSE(store->put_object({object_kind::token, "a", "token a"}));
  ASSERT_FALSE(store->put_object({object_kind::token, "a", "token a again"}));
  auto audit = must(store->objects(object_kind::audit, "", 100));
  EXPECT_EQ(names_of(audit), (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_EQ(audit[1].value, "v-b");
  EXPECT_EQ(names_of(must(store->objects(object_kind::audit, "a", 1))),
            (std::vector<std::string>{"b"}));
  EXPECT_TRUE(must(store->objects(object_kind::audit, "c", 10)).empty());
  auto tokens = must(store->objects(object_kind::token, "", 100));
  ASSERT_EQ(tokens.size(), 1u);
  EXPECT_EQ(tokens[0].value, "token a again");
  ASSERT_FALSE(store->remove_object(object_kind::audit, "b"));
  ASSERT_FALSE(store->remove_object(object_kind::audit, "absent"));
  store.reset();
  auto again = open();
  EXPECT_EQ(names_of(must(again->objects(object_kind::audit, "", 100))),
            (std::vector<std::string>{"a", "c"}));
  EXPECT_EQ(must(again->objects(object_kind::token, "", 100)).size(), 1u);
  EXPECT_EQ(code_of(again->put_object({object_kind::token, "", "x"})), error_code::invalid_argument);
}

TEST_P(StoreContract, PruningObjectsKeepsTheNewestByName) {
  using namespace objects_test;
  auto store = open();
  for (const char* name : {"05", "01", "03", "02", "04"})
    ASSERT_FALSE(store->put_object({object_kind::audit, name, "x"}));
  ASSERT_FALSE(store->put_object({object_kind::token, "00", "a token"}));
  EXPECT_EQ(must(store->prune_objects(object_kind::audit, 10)), 0u);
  EXPECT_EQ(must(store->prune_objects(object_kind::audit, 2)), 3u);
  EXPECT_EQ(names_of(must(store->objects(object_kind::audit, "", 100))),
            (std::vector<std::string>{"04", "05"}));
  EXPECT_EQ(must(store->objects(object_kind::token, "", 100)).size(), 1u) << "other kinds stay";
}
