#include "persistence/lmdb_store.hpp"
#include "tests/persistence/store_test_support.hpp"

#include <gtest/gtest.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <utility>
#include <vector>

#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

namespace {

using namespace tutti::persistence::test_support;
using tutti::persistence::assignment;
using tutti::persistence::lmdb_store;
using tutti::persistence::store_options;
using tutti::persistence::stored_spec;
using tutti::protocol::code_of;
using tutti::protocol::driver_kind;
using tutti::protocol::error_code;
using tutti::protocol::event;
using tutti::protocol::message_of;
using tutti::protocol::node_state;
using tutti::protocol::node_status;

namespace fs = std::filesystem;

/// A forked child that is killed and reaped at scope exit unless waited for.
class child_process {
public:
  explicit child_process(pid_t pid) : pid_(pid) {}
  child_process(const child_process&) = delete;
  child_process& operator=(const child_process&) = delete;
  ~child_process() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      wait();
    }
  }
  pid_t pid() const { return pid_; }
  /// The wait status.
  int wait() {
    int status = 0;
    while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
    }
    pid_ = -1;
    return status;
  }

private:
  pid_t pid_;
};

std::vector<int64_t> revisions_of(const std::vector<stored_spec>& xs) {
  std::vector<int64_t> out;
  for (const auto& x : xs)
    out.push_back(x.revision);
  return out;
}

std::vector<uint64_t> seqs_of(const std::vector<event>& xs) {
  std::vector<uint64_t> out;
  for (const auto& x : xs)
    out.push_back(x.seq);
  return out;
}

std::string read_file(const std::string& path) {
  std::ifstream in{path};
  return std::string{std::istreambuf_iterator<char>{in}, {}};
}

// -- opening and locking ------------------------------------------------------------

TEST(LmdbStore, OpenCreatesMissingDirectoriesAndRecordsThePid) {
  temp_dir tmp;
  auto dir = tmp.sub("a/b/data");
  auto store = open_store(dir);
  EXPECT_EQ(store->dir(), dir);
  EXPECT_TRUE(fs::is_directory(dir));
  EXPECT_EQ(read_file(dir + "/tuttid.lock"), std::to_string(::getpid()) + "\n");
}

TEST(LmdbStore, SecondOpenOfADirectoryFailsNamingTheHolderPid) {
  temp_dir tmp;
  auto first = open_store(tmp.path());
  auto second = lmdb_store::open(tmp.path(), test_options());
  ASSERT_FALSE(second);
  EXPECT_EQ(code_of(second.error()), error_code::data_dir_locked);
  auto msg = message_of(second.error());
  EXPECT_NE(msg.find("pid " + std::to_string(::getpid())), std::string::npos) << msg;
  EXPECT_NE(msg.find(tmp.path()), std::string::npos) << msg;
  EXPECT_NE(msg.find("--data-dir"), std::string::npos) << msg;
}

TEST(LmdbStore, LockIsReleasedWhenTheStoreIsDestroyed) {
  temp_dir tmp;
  {
    auto first = open_store(tmp.path());
    must(first->put_specs({{"web", "a: 1\n"}}));
  }
  auto again = open_store(tmp.path());
  EXPECT_EQ(must(again->current_spec("web"))->revision, 1);
}

// Replicas started by the process driver must not inherit the lock: an orphaned
// replica holding it would keep a restarted tuttid out of its own data directory.
TEST(LmdbStore, LockDescriptorIsCloseOnExec) {
  temp_dir tmp;
  auto store = open_store(tmp.path());
  auto lock_path = fs::canonical(tmp.path() + "/tuttid.lock");
  int found = 0;
  for (const auto& entry : fs::directory_iterator{"/proc/self/fd"}) {
    std::error_code ec;
    auto target = fs::read_symlink(entry.path(), ec);
    if (ec || target != lock_path)
      continue;
    ++found;
    int fd = std::stoi(entry.path().filename().string());
    EXPECT_TRUE(::fcntl(fd, F_GETFD) & FD_CLOEXEC) << "fd " << fd;
  }
  EXPECT_EQ(found, 1);
}

TEST(LmdbStore, LockHeldByAnotherProcessNamesItAndDiesWithIt) {
  temp_dir tmp;
  int ready[2];
  ASSERT_EQ(::pipe(ready), 0);
  pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    ::close(ready[0]);
    auto store = lmdb_store::open(tmp.path(), test_options());
    char byte = store ? 'y' : 'n';
    if (::write(ready[1], &byte, 1) != 1)
      ::_exit(3);
    for (;;)
      ::pause(); // hold the lock until killed
  }
  child_process child{pid};
  ::close(ready[1]);
  pollfd pfd{ready[0], POLLIN, 0};
  ASSERT_EQ(::poll(&pfd, 1, 10'000), 1) << "child did not open the store in 10 s";
  char byte = 0;
  ASSERT_EQ(::read(ready[0], &byte, 1), 1);
  ::close(ready[0]);
  ASSERT_EQ(byte, 'y') << "child could not open the store";

  auto locked = lmdb_store::open(tmp.path(), test_options());
  ASSERT_FALSE(locked);
  EXPECT_EQ(code_of(locked.error()), error_code::data_dir_locked);
  auto msg = message_of(locked.error());
  EXPECT_NE(msg.find("pid " + std::to_string(pid)), std::string::npos) << msg;

  ::kill(pid, SIGKILL);
  child.wait();
  auto store = lmdb_store::open(tmp.path(), test_options());
  EXPECT_TRUE(store) << message_of(store.error());
}

TEST(LmdbStore, UnwritableDirectoryIsAStoreFailureNamingPathAndOsError) {
  temp_dir tmp;
  auto ro = tmp.sub("ro");
  ASSERT_EQ(::mkdir(ro.c_str(), 0555), 0);
  ASSERT_EQ(::chmod(ro.c_str(), 0555), 0); // mkdir's mode is filtered by umask
  ASSERT_EQ(::chmod(tmp.path().c_str(), 0755), 0);
  // Root ignores permission bits, so the check runs in a child that drops to nobody
  // when we are root.
  pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    if (::geteuid() == 0 &&
        (::setgroups(0, nullptr) != 0 || ::setgid(65534) != 0 || ::setuid(65534) != 0))
      ::_exit(77);
    for (const auto& dir : {ro, ro + "/sub"}) {
      auto store = lmdb_store::open(dir, test_options());
      if (store)
        ::_exit(1);
      auto msg = message_of(store.error());
      std::fprintf(stderr, "open(%s): %s\n", dir.c_str(), msg.c_str());
      if (code_of(store.error()) != error_code::store_failure)
        ::_exit(2);
      if (msg.find(dir) == std::string::npos ||
          msg.find(std::strerror(EACCES)) == std::string::npos)
        ::_exit(3);
    }
    ::_exit(0);
  }
  child_process child{pid};
  int status = child.wait();
  ASSERT_TRUE(WIFEXITED(status));
  if (WEXITSTATUS(status) == 77)
    GTEST_SKIP() << "running as root and cannot drop privileges to test permissions";
  EXPECT_EQ(WEXITSTATUS(status), 0)
      << "1: opened anyway, 2: wrong error code, 3: message lacks path or OS error";
}

TEST(LmdbStore, DirectoryBelowARegularFileIsAStoreFailure) {
  temp_dir tmp;
  std::ofstream{tmp.sub("file")} << "x";
  auto dir = tmp.sub("file/data");
  auto store = lmdb_store::open(dir, test_options());
  ASSERT_FALSE(store);
  EXPECT_EQ(code_of(store.error()), error_code::store_failure);
  EXPECT_NE(message_of(store.error()).find(dir), std::string::npos);
}

// -- specs --------------------------------------------------------------------------

TEST(LmdbStore, PutSpecsGivesEachServiceItsNextRevision) {
  temp_dir tmp;
  auto store = open_store(tmp.path());
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

TEST(LmdbStore, RevisionsSurviveReopen) {
  temp_dir tmp;
  {
    auto store = open_store(tmp.path());
    must(store->put_specs({{"web", "v: 1\n"}}));
    must(store->put_specs({{"web", "v: 2\n"}}));
  }
  auto store = open_store(tmp.path());
  auto current = must(store->current_spec("web"));
  ASSERT_TRUE(current);
  EXPECT_EQ(current->revision, 2);
  EXPECT_EQ(current->yaml, "v: 2\n");
  EXPECT_EQ(must(store->put_specs({{"web", "v: 3\n"}}))[0].revision, 3);
}

TEST(LmdbStore, HistoryIsOldestFirstAndPrunedToMaxRevisions) {
  temp_dir tmp;
  auto opts = test_options();
  opts.max_revisions = 3;
  auto store = open_store(tmp.path(), opts);
  for (int i = 1; i <= 5; ++i)
    must(store->put_specs({{"web", "v: " + std::to_string(i) + "\n"}}));
  must(store->put_specs({{"web2", "other\n"}})); // shares a prefix with "web"
  auto history = must(store->history("web"));
  EXPECT_EQ(revisions_of(history), (std::vector<int64_t>{3, 4, 5}));
  EXPECT_EQ(history.front().yaml, "v: 3\n");
  EXPECT_EQ(history.back().yaml, "v: 5\n");
  EXPECT_EQ(revisions_of(must(store->history("web2"))), (std::vector<int64_t>{1}));
  EXPECT_TRUE(must(store->history("we")).empty());
}

TEST(LmdbStore, LoweringMaxRevisionsPrunesOnTheNextPut) {
  temp_dir tmp;
  {
    auto store = open_store(tmp.path());
    for (int i = 1; i <= 6; ++i)
      must(store->put_specs({{"web", "v\n"}}));
  }
  auto opts = test_options();
  opts.max_revisions = 2;
  auto store = open_store(tmp.path(), opts);
  EXPECT_EQ(must(store->history("web")).size(), 6u);
  must(store->put_specs({{"web", "v\n"}}));
  EXPECT_EQ(revisions_of(must(store->history("web"))), (std::vector<int64_t>{6, 7}));
}

TEST(LmdbStore, DeleteKeepsHistoryAndRevisionNumbers) {
  temp_dir tmp;
  {
    auto store = open_store(tmp.path());
    must(store->put_specs({{"web", "v: 1\n"}}));
    must(store->put_specs({{"web", "v: 2\n"}}));
    ASSERT_FALSE(store->delete_service("web"));
    EXPECT_EQ(must(store->current_spec("web")), std::nullopt);
    EXPECT_TRUE(must(store->current_specs()).empty());
    EXPECT_EQ(revisions_of(must(store->history("web"))), (std::vector<int64_t>{1, 2}));
  }
  auto store = open_store(tmp.path());
  EXPECT_EQ(must(store->current_spec("web")), std::nullopt);
  auto recreated = must(store->put_specs({{"web", "v: 3\n"}}));
  EXPECT_EQ(recreated[0].revision, 3);
  EXPECT_EQ(must(store->current_spec("web")), recreated[0]);
}

TEST(LmdbStore, DeletingAnAbsentServiceIsNotFound) {
  temp_dir tmp;
  auto store = open_store(tmp.path());
  auto err = store->delete_service("ghost");
  EXPECT_EQ(code_of(err), error_code::not_found);
  EXPECT_EQ(message_of(err), "service ghost not found");
  must(store->put_specs({{"web", "v\n"}}));
  ASSERT_FALSE(store->delete_service("web"));
  EXPECT_EQ(code_of(store->delete_service("web")), error_code::not_found);
}

TEST(LmdbStore, InvalidNamesAreRejectedBeforeAnyWrite) {
  temp_dir tmp;
  auto store = open_store(tmp.path());
  std::string with_nul{"we\0b", 4};
  for (const auto& name : {std::string{}, with_nul, std::string(600, 'x')}) {
    auto put = store->put_specs({{"fine", "v\n"}, {name, "v\n"}});
    ASSERT_FALSE(put);
    EXPECT_EQ(code_of(put.error()), error_code::invalid_argument) << message_of(put.error());
  }
  EXPECT_EQ(must(store->current_spec("fine")), std::nullopt);
  EXPECT_EQ(code_of(store->put_assignment({"", "web", "n1"})), error_code::invalid_argument);
  EXPECT_EQ(code_of(store->put_node(node_status{})), error_code::invalid_argument);
  auto events = store->append_events({make_event(with_nul)});
  ASSERT_FALSE(events);
  EXPECT_EQ(code_of(events.error()), error_code::invalid_argument);
  EXPECT_EQ(store->last_seq(), 0u);
}

TEST(LmdbStore, EmptyBatchesWriteNothing) {
  temp_dir tmp;
  auto store = open_store(tmp.path());
  EXPECT_TRUE(must(store->put_specs({})).empty());
  EXPECT_TRUE(must(store->append_events({})).empty());
  EXPECT_EQ(store->last_seq(), 0u);
}

// -- store full: all or nothing -----------------------------------------------------

TEST(LmdbStore, AFullMapIsStoreFullAndAFailedPutLeavesNothing) {
  temp_dir tmp;
  auto opts = test_options();
  opts.map_size = 128 * 1024;
  auto store = open_store(tmp.path(), opts);
  const std::string yaml(1000, 'y');
  std::vector<std::string> stored;
  caf::error full;
  for (int i = 0; i < 1000 && !full; ++i) {
    auto name = "svc-" + std::to_string(i);
    auto put = store->put_specs({{name, yaml}});
    if (put)
      stored.push_back(name);
    else
      full = std::move(put.error());
  }
  ASSERT_TRUE(full) << "128 KiB never filled up";
  ASSERT_FALSE(stored.empty()) << message_of(full);
  EXPECT_EQ(code_of(full), error_code::store_full) << message_of(full);
  EXPECT_NE(message_of(full).find("store.map_size"), std::string::npos) << message_of(full);
  EXPECT_NE(message_of(full).find(tmp.path()), std::string::npos) << message_of(full);

  // A batch that cannot fit as a whole: a small new service, an update of an
  // existing one, then one that overflows. None of it may be visible.
  auto batch = store->put_specs(
      {{"small", "v\n"}, {stored.front(), "v: 2\n"}, {"huge", std::string(256 * 1024, 'h')}});
  ASSERT_FALSE(batch);
  EXPECT_EQ(code_of(batch.error()), error_code::store_full);
  EXPECT_EQ(must(store->current_spec("small")), std::nullopt);
  EXPECT_TRUE(must(store->history("small")).empty());
  EXPECT_EQ(must(store->current_spec(stored.front()))->revision, 1);

  // A failed append neither stores events nor uses up seqs.
  auto events = store->append_events(std::vector<event>(2000, make_event("web")));
  ASSERT_FALSE(events);
  EXPECT_EQ(code_of(events.error()), error_code::store_full);
  EXPECT_EQ(store->last_seq(), 0u);
  EXPECT_TRUE(must(store->last_events(10)).empty());

  auto check_intact = [&](lmdb_store& s) {
    for (const auto& name : stored) {
      auto spec = must(s.current_spec(name));
      ASSERT_TRUE(spec) << name;
      EXPECT_EQ(spec->revision, 1);
      EXPECT_EQ(spec->yaml, yaml);
    }
    EXPECT_EQ(must(s.current_specs()).size(), stored.size());
  };
  check_intact(*store);
  store.reset();
  auto reopened = open_store(tmp.path(), opts);
  check_intact(*reopened);
}

// -- assignments and nodes ----------------------------------------------------------

TEST(LmdbStore, AssignmentsAreKeptPerService) {
  temp_dir tmp;
  auto store = open_store(tmp.path());
  ASSERT_FALSE(store->put_assignment({"web-0", "web", "n1"}));
  ASSERT_FALSE(store->put_assignment({"web-1", "web", "n2"}));
  ASSERT_FALSE(store->put_assignment({"db-0", "db", "n1"}));
  ASSERT_FALSE(store->put_assignment({"web-1", "web", "n3"})); // moved

  EXPECT_EQ(must(store->assignments("web")),
            (std::vector<assignment>{{"web-0", "web", "n1"}, {"web-1", "web", "n3"}}));
  EXPECT_EQ(must(store->assignments("db")), (std::vector<assignment>{{"db-0", "db", "n1"}}));
  EXPECT_EQ(must(store->assignments("")).size(), 3u);
  EXPECT_TRUE(must(store->assignments("we")).empty());

  ASSERT_FALSE(store->remove_assignment("web-0"));
  ASSERT_FALSE(store->remove_assignment("web-0")); // absent: nothing to do
  EXPECT_EQ(must(store->assignments("web")), (std::vector<assignment>{{"web-1", "web", "n3"}}));
}

TEST(LmdbStore, DeletingAServiceRemovesOnlyItsAssignments) {
  temp_dir tmp;
  auto store = open_store(tmp.path());
  must(store->put_specs({{"web", "v\n"}, {"db", "v\n"}}));
  ASSERT_FALSE(store->put_assignment({"web-0", "web", "n1"}));
  ASSERT_FALSE(store->put_assignment({"web-1", "web", "n2"}));
  ASSERT_FALSE(store->put_assignment({"db-0", "db", "n1"}));
  ASSERT_FALSE(store->delete_service("web"));
  EXPECT_TRUE(must(store->assignments("web")).empty());
  EXPECT_EQ(must(store->assignments("db")).size(), 1u);
}

void expect_same_node(const node_status& a, const node_status& b) {
  EXPECT_EQ(a.name, b.name);
  EXPECT_EQ(a.address, b.address);
  EXPECT_EQ(a.state, b.state);
  EXPECT_EQ(a.capacity, b.capacity);
  EXPECT_EQ(a.allocated, b.allocated);
  EXPECT_EQ(a.replicas, b.replicas);
  EXPECT_EQ(a.labels, b.labels);
  EXPECT_EQ(a.drivers, b.drivers);
}

TEST(LmdbStore, NodesRoundTripEveryFieldAcrossReopen) {
  temp_dir tmp;
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
    auto store = open_store(tmp.path());
    ASSERT_FALSE(store->put_node(n1));
    ASSERT_FALSE(store->put_node(n0));
    n1.state = node_state::cordoned; // an update overwrites
    ASSERT_FALSE(store->put_node(n1));
  }
  auto store = open_store(tmp.path());
  auto nodes = must(store->nodes());
  ASSERT_EQ(nodes.size(), 2u);
  expect_same_node(nodes[0], n0); // ordered by name
  expect_same_node(nodes[1], n1);
}

// -- events -------------------------------------------------------------------------

TEST(LmdbStore, AppendedEventsGetConsecutiveSeqsAndATime) {
  temp_dir tmp;
  auto store = open_store(tmp.path());
  auto timed = make_event("web");
  timed.time_ms = 42;
  auto stored = must(store->append_events({make_event("web"), timed, make_event("")}));
  EXPECT_EQ(seqs_of(stored), (std::vector<uint64_t>{1, 2, 3}));
  EXPECT_EQ(stored[0].time_ms, fixed_now);
  EXPECT_EQ(stored[1].time_ms, 42);
  EXPECT_EQ(store->last_seq(), 3u);
  EXPECT_EQ(must(store->events_after(0, 10)), stored);
}

TEST(LmdbStore, EventSeqContinuesAfterReopen) {
  temp_dir tmp;
  {
    auto store = open_store(tmp.path());
    must(store->append_events({make_event("web"), make_event("web")}));
  }
  auto store = open_store(tmp.path());
  EXPECT_EQ(store->last_seq(), 2u);
  EXPECT_EQ(seqs_of(must(store->append_events({make_event("db")}))), (std::vector<uint64_t>{3}));
}

TEST(LmdbStore, EventsAfterAndLastEventsWithAndWithoutService) {
  temp_dir tmp;
  auto store = open_store(tmp.path());
  // seq:              1      2     3      4      5     6       7
  must(store->append_events({make_event("web"), make_event("db"), make_event("web"),
                             make_event("web2"), make_event(""), make_event("web"),
                             make_event("db")}));
  using seqs = std::vector<uint64_t>;
  EXPECT_EQ(seqs_of(must(store->events_after(0, 100))), (seqs{1, 2, 3, 4, 5, 6, 7}));
  EXPECT_EQ(seqs_of(must(store->events_after(2, 3))), (seqs{3, 4, 5}));
  EXPECT_EQ(seqs_of(must(store->events_after(7, 10))), seqs{});
  EXPECT_EQ(seqs_of(must(store->events_after(0, 0))), seqs{});
  EXPECT_EQ(seqs_of(must(store->events_after(UINT64_MAX, 10))), seqs{});
  EXPECT_EQ(seqs_of(must(store->events_after(0, 100, "web"))), (seqs{1, 3, 6}));
  EXPECT_EQ(seqs_of(must(store->events_after(1, 1, "web"))), (seqs{3}));
  EXPECT_EQ(seqs_of(must(store->events_after(6, 10, "web"))), seqs{});
  EXPECT_EQ(seqs_of(must(store->events_after(0, 10, "we"))), seqs{});

  EXPECT_EQ(seqs_of(must(store->last_events(3))), (seqs{5, 6, 7}));
  EXPECT_EQ(seqs_of(must(store->last_events(100))), (seqs{1, 2, 3, 4, 5, 6, 7}));
  EXPECT_EQ(seqs_of(must(store->last_events(2, "web"))), (seqs{3, 6}));
  EXPECT_EQ(seqs_of(must(store->last_events(10, "web2"))), (seqs{4}));
  EXPECT_EQ(seqs_of(must(store->last_events(10, "db"))), (seqs{2, 7}));
  EXPECT_EQ(seqs_of(must(store->last_events(10, "nope"))), seqs{});
  EXPECT_EQ(seqs_of(must(store->last_events(0, "web"))), seqs{});

  auto web = must(store->last_events(1, "web"));
  ASSERT_EQ(web.size(), 1u);
  EXPECT_EQ(web[0].service, "web");
  EXPECT_EQ(web[0].replica, "web-0");
  EXPECT_EQ(web[0].kind, "replica_started");
  EXPECT_EQ(web[0].message, "because a test said so");
}

TEST(LmdbStore, EventsArePrunedOldestFirstWithTheirIndexEntries) {
  temp_dir tmp;
  auto opts = test_options();
  opts.max_events = 4;
  using seqs = std::vector<uint64_t>;
  {
    auto store = open_store(tmp.path(), opts);
    for (int i = 0; i < 3; ++i)
      must(store->append_events({make_event("web")}));                 // 1..3
    must(store->append_events({make_event("db"), make_event("web"),    // 4, 5
                               make_event("db"), make_event("web")})); // 6, 7
    EXPECT_EQ(seqs_of(must(store->events_after(0, 100))), (seqs{4, 5, 6, 7}));
    EXPECT_EQ(seqs_of(must(store->events_after(0, 100, "web"))), (seqs{5, 7}));
    EXPECT_EQ(seqs_of(must(store->last_events(100, "web"))), (seqs{5, 7}));
    EXPECT_EQ(seqs_of(must(store->last_events(100, "db"))), (seqs{4, 6}));
  }
  auto store = open_store(tmp.path(), opts);
  EXPECT_EQ(store->last_seq(), 7u);
  must(store->append_events({make_event("web")}));
  EXPECT_EQ(seqs_of(must(store->last_events(100))), (seqs{5, 6, 7, 8}));
}

// -- durability across a crash ------------------------------------------------------

TEST(LmdbStore, CommittedDataSurvivesKill9OfTheWriter) {
  temp_dir tmp;
  pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    // No destructors, no close: the store is still open when the process dies.
    auto store = lmdb_store::open(tmp.path(), test_options());
    if (!store)
      ::_exit(2);
    if (!(*store)->put_specs({{"web", "v: 1\n"}, {"db", "v: 1\n"}}))
      ::_exit(3);
    if ((*store)->put_assignment({"web-0", "web", "n1"}))
      ::_exit(4);
    if ((*store)->put_assignment({"web-1", "web", "n1"}))
      ::_exit(4);
    if ((*store)->put_assignment({"web-1", "web", "n2"})) // moved: in the log
      ::_exit(4);
    if (!(*store)->append_events({make_event("web"), make_event("db")}))
      ::_exit(5);
    ::raise(SIGKILL);
    ::_exit(6);
  }
  child_process child{pid};
  int status = child.wait();
  ASSERT_TRUE(WIFSIGNALED(status)) << "child exited with " << WEXITSTATUS(status);
  ASSERT_EQ(WTERMSIG(status), SIGKILL);

  auto store = open_store(tmp.path());
  EXPECT_EQ(revisions_of(must(store->current_specs())), (std::vector<int64_t>{1, 1}));
  EXPECT_EQ(must(store->assignments("web")),
            (std::vector<assignment>{{"web-0", "web", "n1"}, {"web-1", "web", "n2"}}));
  EXPECT_EQ(store->logged_assignments(), 1u);
  EXPECT_EQ(store->last_seq(), 2u);
  EXPECT_EQ(must(store->events_after(0, 10)).size(), 2u);
  EXPECT_EQ(must(store->put_specs({{"web", "v: 2\n"}}))[0].revision, 2);
}

} // namespace
