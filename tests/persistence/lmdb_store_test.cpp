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
