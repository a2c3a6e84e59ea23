// The assignment log of lmdb_store (persistence/assignments.cpp): moves are
// appended and folded into the tree later; reads see one map either way.

#include "persistence/lmdb_store.hpp"
#include "tests/persistence/store_test_support.hpp"

#include <gtest/gtest.h>

#include <map>
#include <random>
#include <string>
#include <vector>

namespace {

using namespace tutti::persistence::test_support;
using tutti::persistence::assignment;
using tutti::persistence::lmdb_store;
using tutti::protocol::code_of;
using tutti::protocol::error_code;
using tutti::protocol::message_of;

TEST(LmdbStore, ChangedAssignmentsAreLoggedAndReadAsTheNewestAcrossReopenAndFold) {
  temp_dir tmp;
  const std::vector<assignment> want{{"web-0", "web", "n1"}, {"web-1", "web", "n3"}};
  {
    auto store = open_store(tmp.path());
    ASSERT_FALSE(store->put_assignment({"web-0", "web", "n1"}));
    ASSERT_FALSE(store->put_assignment({"web-1", "web", "n2"}));
    ASSERT_FALSE(store->put_assignment({"web-2", "web", "n2"}));
    EXPECT_EQ(store->logged_assignments(), 0u); // new replicas go into the tree
    ASSERT_FALSE(store->put_assignment({"web-1", "web", "n3"}));
    ASSERT_FALSE(store->remove_assignment("web-2"));
    ASSERT_FALSE(store->remove_assignment("web-2")); // removed already: nothing to log
    ASSERT_FALSE(store->remove_assignment("web-9")); // never there
    EXPECT_EQ(store->logged_assignments(), 2u);
    EXPECT_EQ(must(store->assignments("web")), want);
  }
  auto store = open_store(tmp.path()); // closed without a fold: the log is read back
  EXPECT_EQ(store->logged_assignments(), 2u);
  EXPECT_EQ(must(store->assignments("web")), want);
  ASSERT_FALSE(store->fold_assignments());
  EXPECT_EQ(store->logged_assignments(), 0u);
  EXPECT_EQ(must(store->assignments("web")), want);
  store.reset();
  store = open_store(tmp.path());
  EXPECT_EQ(store->logged_assignments(), 0u);
  EXPECT_EQ(must(store->assignments("web")), want);
  EXPECT_EQ(must(store->assignments("")), want);
}

TEST(LmdbStore, AReplicaRemovedThenAssignedAgainIsReadOnce) {
  temp_dir tmp;
  auto store = open_store(tmp.path());
  ASSERT_FALSE(store->put_assignment({"web-0", "web", "n1"}));
  ASSERT_FALSE(store->remove_assignment("web-0"));
  EXPECT_TRUE(must(store->assignments("web")).empty());
  ASSERT_FALSE(store->put_assignment({"web-0", "web", "n2"}));
  EXPECT_EQ(must(store->assignments("web")), (std::vector<assignment>{{"web-0", "web", "n2"}}));
  // Within one commit the later change wins too.
  lmdb_store::write_batch batch;
  batch.assignments.push_back({{"web-0", "web", "n3"}, false});
  batch.assignments.push_back({{"web-0", {}, {}}, true});
  batch.assignments.push_back({{"web-0", "web", "n4"}, false});
  ASSERT_TRUE(store->commit(std::move(batch)));
  EXPECT_EQ(must(store->assignments("web")), (std::vector<assignment>{{"web-0", "web", "n4"}}));
  ASSERT_FALSE(store->fold_assignments());
  EXPECT_EQ(must(store->assignments("web")), (std::vector<assignment>{{"web-0", "web", "n4"}}));
}

TEST(LmdbStore, ReadsOfAServiceLeaveOutLoggedChangesOfAServiceItsNamePrefixes) {
  temp_dir tmp;
  auto store = open_store(tmp.path());
  ASSERT_FALSE(store->put_assignment({"web-0", "web", "n1"}));
  ASSERT_FALSE(store->put_assignment({"web-a-0", "web-a", "n1"}));
  ASSERT_FALSE(store->put_assignment({"web-a-0", "web-a", "n2"}));
  ASSERT_FALSE(store->put_assignment({"web-0", "web", "n2"}));
  EXPECT_EQ(must(store->assignments("web")), (std::vector<assignment>{{"web-0", "web", "n2"}}));
  EXPECT_EQ(must(store->assignments("web-a")),
            (std::vector<assignment>{{"web-a-0", "web-a", "n2"}}));
}

TEST(LmdbStore, TheCommitThatTakesTheLogPastItsLimitFoldsIt) {
  temp_dir tmp;
  auto opts = test_options();
  opts.max_logged_assignments = 3;
  auto store = open_store(tmp.path(), opts);
  std::vector<assignment> want;
  for (int i = 0; i < 5; ++i) {
    want.push_back({"web-" + std::to_string(i), "web", "n1"});
    ASSERT_FALSE(store->put_assignment(want.back()));
  }
  for (int i = 0; i < 5; ++i) {
    want[i].node = "n2";
    ASSERT_FALSE(store->put_assignment(want[i]));
    EXPECT_LE(store->logged_assignments(), 3u) << "after move " << i;
    EXPECT_EQ(must(store->assignments("web")), want) << "after move " << i;
  }
  EXPECT_EQ(store->logged_assignments(), 1u); // folded at the fourth
}

TEST(LmdbStore, DeletingAServiceRemovesItsLoggedAssignmentsForGood) {
  temp_dir tmp;
  auto store = open_store(tmp.path());
  must(store->put_specs({{"web", "v\n"}, {"db", "v\n"}}));
  ASSERT_FALSE(store->put_assignment({"web-0", "web", "n1"}));
  ASSERT_FALSE(store->put_assignment({"db-0", "db", "n1"}));
  ASSERT_FALSE(store->put_assignment({"web-0", "web", "n2"}));
  ASSERT_FALSE(store->put_assignment({"db-0", "db", "n2"}));
  ASSERT_FALSE(store->delete_service("web"));
  EXPECT_TRUE(must(store->assignments("web")).empty());
  EXPECT_EQ(must(store->assignments("db")), (std::vector<assignment>{{"db-0", "db", "n2"}}));
  store.reset();
  store = open_store(tmp.path()); // the log is replayed
  EXPECT_TRUE(must(store->assignments("web")).empty());
  EXPECT_EQ(must(store->assignments("db")), (std::vector<assignment>{{"db-0", "db", "n2"}}));
  ASSERT_FALSE(store->fold_assignments());
  EXPECT_EQ(store->logged_assignments(), 0u);
  EXPECT_TRUE(must(store->assignments("web")).empty());
  EXPECT_EQ(must(store->assignments("db")), (std::vector<assignment>{{"db-0", "db", "n2"}}));
}

TEST(LmdbStore, AFoldInBatchesEmptiesTheLogWithItsLastBatchAndSurvivesAReopenBetween) {
  temp_dir tmp;
  auto store = open_store(tmp.path());
  std::vector<assignment> want;
  for (int i = 0; i < 10; ++i) {
    want.push_back({"web-" + std::to_string(i), "web", "n1"});
    ASSERT_FALSE(store->put_assignment(want.back()));
  }
  for (int i = 0; i < 10; ++i) {
    want[i].node = "n2";
    ASSERT_FALSE(store->put_assignment(want[i]));
  }
  ASSERT_FALSE(store->fold_assignments(4));
  EXPECT_EQ(store->logged_assignments(), 6u);
  EXPECT_EQ(must(store->assignments("web")), want);
  // A crash between batches replays records already folded: the same reads.
  store.reset();
  store = open_store(tmp.path());
  EXPECT_EQ(store->logged_assignments(), 10u);
  EXPECT_EQ(must(store->assignments("web")), want);
  ASSERT_FALSE(store->fold_assignments(4));
  // A replica moved between batches is logged again, after its folded record.
  want[0].node = "n3";
  ASSERT_FALSE(store->put_assignment(want[0]));
  EXPECT_EQ(store->logged_assignments(), 7u);
  for (int batch = 0; batch < 2; ++batch)
    ASSERT_FALSE(store->fold_assignments(4));
  EXPECT_EQ(store->logged_assignments(), 0u);
  EXPECT_EQ(must(store->assignments("web")), want);
  store.reset();
  store = open_store(tmp.path()); // an empty log: nothing replayed
  EXPECT_EQ(store->logged_assignments(), 0u);
  EXPECT_EQ(must(store->assignments("web")), want);
}

TEST(LmdbStore, AFailedCommitOfMovesLeavesTheLogAsItWas) {
  temp_dir tmp;
  auto opts = test_options();
  opts.map_size = 256 * 1024;
  auto store = open_store(tmp.path(), opts);
  ASSERT_FALSE(store->put_assignment({"web-0", "web", "n1"}));
  ASSERT_FALSE(store->put_assignment({"web-1", "web", "n1"}));
  ASSERT_FALSE(store->put_assignment({"web-1", "web", "n2"}));
  // Moves, then more than the map holds: none of it may be seen.
  lmdb_store::write_batch batch;
  batch.assignments.push_back({{"web-0", "web", "n3"}, false});
  batch.assignments.push_back({{"web-1", {}, {}}, true});
  batch.events.assign(4000, make_event("web"));
  auto done = store->commit(std::move(batch));
  ASSERT_FALSE(done);
  EXPECT_EQ(code_of(done.error()), error_code::store_full) << message_of(done.error());
  const std::vector<assignment> want{{"web-0", "web", "n1"}, {"web-1", "web", "n2"}};
  EXPECT_EQ(store->logged_assignments(), 1u);
  EXPECT_EQ(must(store->assignments("web")), want);
  // The next commit's log keys follow the durable ones.
  ASSERT_FALSE(store->put_assignment({"web-0", "web", "n4"}));
  store.reset();
  store = open_store(tmp.path(), opts);
  EXPECT_EQ(store->logged_assignments(), 2u);
  EXPECT_EQ(must(store->assignments("web")),
            (std::vector<assignment>{{"web-0", "web", "n4"}, {"web-1", "web", "n2"}}));
}

TEST(LmdbStore, AReplicaAddedAgainAfterItsRemovalWasFoldedSurvivesAReplayOfTheLog) {
  temp_dir tmp;
  auto store = open_store(tmp.path());
  ASSERT_FALSE(store->put_assignment({"web-0", "web", "n1"}));
  ASSERT_FALSE(store->put_assignment({"web-1", "web", "n1"}));
  ASSERT_FALSE(store->put_assignment({"web-1", "web", "n2"}));
  ASSERT_FALSE(store->remove_assignment("web-0"));
  ASSERT_FALSE(store->fold_assignments(1)); // web-0's removal only: the log stays
  EXPECT_EQ(store->logged_assignments(), 1u);
  // Not in the tree any more, but its removal is still in the log: a new
  // assignment must follow it there, or a replay would remove it again.
  ASSERT_FALSE(store->put_assignment({"web-0", "web", "n3"}));
  const std::vector<assignment> want{{"web-0", "web", "n3"}, {"web-1", "web", "n2"}};
  EXPECT_EQ(must(store->assignments("web")), want);
  store.reset(); // as after a crash: the log is replayed
  store = open_store(tmp.path());
  EXPECT_EQ(must(store->assignments("web")), want);
  while (store->logged_assignments() > 0)
    ASSERT_FALSE(store->fold_assignments(1));
  EXPECT_EQ(must(store->assignments("web")), want);
  store.reset();
  store = open_store(tmp.path());
  EXPECT_EQ(store->logged_assignments(), 0u);
  EXPECT_EQ(must(store->assignments("web")), want);
}

/// A random mix of new, moved, removed and re-added replicas of three services,
/// with folds and reopens between them, reads as a plain map of the same changes.
TEST(LmdbStore, TheLogAndTheTreeReadAsOneMapUnderRandomChanges) {
  temp_dir tmp;
  auto opts = test_options();
  opts.max_logged_assignments = 40;
  auto store = open_store(tmp.path(), opts);
  std::map<std::string, assignment> model;
  std::mt19937 rng{7};
  const std::vector<std::string> services{"a", "a-b", "c"};
  for (int round = 0; round < 30; ++round) {
    lmdb_store::write_batch batch;
    for (int k = 0; k < 20; ++k) {
      auto service = services[rng() % services.size()];
      auto replica = service + "-" + std::to_string(rng() % 15);
      if (rng() % 4 == 0) {
        batch.assignments.push_back({{replica, {}, {}}, true});
        model.erase(replica);
      } else {
        assignment x{replica, service, "n" + std::to_string(rng() % 5), "h", int64_t{round}};
        batch.assignments.push_back({x, false});
        model[replica] = x;
      }
    }
    ASSERT_TRUE(store->commit(std::move(batch))) << "round " << round;
    if (round % 7 == 3)
      ASSERT_FALSE(store->fold_assignments());
    if (round % 3 == 1)
      ASSERT_FALSE(store->fold_assignments(5));
    if (round % 5 == 4) {
      store.reset();
      store = open_store(tmp.path(), opts);
    }
    for (const auto& service : services) {
      std::vector<assignment> want;
      for (const auto& [replica, x] : model)
        if (x.service == service)
          want.push_back(x);
      EXPECT_EQ(must(store->assignments(service)), want) << service << ", round " << round;
    }
    std::vector<assignment> all;
    for (const auto& [replica, x] : model)
      all.push_back(x);
    EXPECT_EQ(must(store->assignments("")), all) << "round " << round;
  }
}

} // namespace
