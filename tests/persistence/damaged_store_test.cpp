// A damaged store: a truncated or overwritten data.mdb, and a disk that fills up.
// Each is refused with a message naming the file and what to do, never a crash,
// and no acknowledged write is lost.

#include "tests/persistence/store_test_support.hpp"

#include <gtest/gtest.h>

#include <sys/mount.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <random>

namespace {

using namespace tutti::persistence::test_support;
using tutti::persistence::lmdb_store;
using tutti::protocol::code_of;
using tutti::protocol::error_code;
using tutti::protocol::message_of;

namespace fs = std::filesystem;

/// A store in `dir` with `n` services, closed again.
void fill(const std::string& dir, int n) {
  auto store = open_store(dir);
  for (int i = 0; i < n; ++i)
    must(store->put_specs({{"svc-" + std::to_string(i), std::string(500, 'x')}}));
}

TEST(DamagedStore, ATruncatedFileIsRefusedNamingIt) {
  temp_dir tmp;
  fill(tmp.path(), 200);
  auto file = tmp.path() + "/data.mdb";
  ASSERT_GT(fs::file_size(file), 8192u);
  fs::resize_file(file, 8192);

  auto store = lmdb_store::open(tmp.path(), test_options());
  ASSERT_FALSE(store);
  auto msg = message_of(store.error());
  EXPECT_EQ(code_of(store.error()), error_code::store_failure) << msg;
  EXPECT_NE(msg.find(file), std::string::npos) << msg;
  EXPECT_NE(msg.find("truncated"), std::string::npos) << msg;
  EXPECT_NE(msg.find("restore"), std::string::npos) << msg;
}

TEST(DamagedStore, GarbageOverTheMiddleIsRefusedNotMisread) {
  temp_dir tmp;
  fill(tmp.path(), 200);
  auto file = tmp.path() + "/data.mdb";
  auto size = fs::file_size(file);
  {
    std::fstream out{file, std::ios::in | std::ios::out | std::ios::binary};
    out.seekp(static_cast<std::streamoff>(size / 2));
    std::mt19937 random{42};
    for (int i = 0; i < 16384; ++i)
      out.put(static_cast<char>(random()));
  }
  // Either the open or the first read says the store is damaged; what it
  // returns is never a misread spec.
  auto store = lmdb_store::open(tmp.path(), test_options());
  if (!store) {
    EXPECT_EQ(code_of(store.error()), error_code::store_failure) << message_of(store.error());
    return;
  }
  auto specs = (*store)->current_specs();
  if (specs) {
    for (const auto& s : *specs)
      EXPECT_EQ(s.yaml, std::string(500, 'x')) << s.name;
  } else {
    EXPECT_EQ(code_of(specs.error()), error_code::store_failure) << message_of(specs.error());
  }
}

/// A tmpfs of `bytes` mounted on a fresh directory, unmounted at scope exit.
class small_disk {
public:
  explicit small_disk(uint64_t bytes) {
    auto opts = "size=" + std::to_string(bytes);
    mounted_ = ::mount("tmpfs", dir_.path().c_str(), "tmpfs", 0, opts.c_str()) == 0;
  }
  ~small_disk() {
    if (mounted_)
      ::umount2(dir_.path().c_str(), MNT_DETACH);
  }
  bool mounted() const { return mounted_; }
  std::string path() const { return dir_.path() + "/store"; }

private:
  temp_dir dir_;
  bool mounted_ = false;
};

TEST(DamagedStore, AFullDiskRefusesWritesAndKeepsEveryAcknowledgedOne) {
  if (::geteuid() != 0)
    GTEST_SKIP() << "mounting a small tmpfs needs root";
  small_disk disk{256 * 1024};
  if (!disk.mounted())
    GTEST_SKIP() << "cannot mount a tmpfs here";
  auto opts = test_options();
  opts.map_size = uint64_t{64} << 20; // far more than the disk holds
  std::vector<std::string> acknowledged;
  caf::error full;
  {
    auto store = open_store(disk.path(), opts);
    for (int i = 0; i < 10000 && !full; ++i) {
      auto name = "svc-" + std::to_string(i);
      auto put = store->put_specs({{name, std::string(2000, 'd')}});
      if (put)
        acknowledged.push_back(name);
      else
        full = std::move(put.error());
    }
  }
  ASSERT_TRUE(full) << "a 256 KiB disk never filled up";
  EXPECT_EQ(code_of(full), error_code::store_full) << message_of(full);
  EXPECT_NE(message_of(full).find("disk"), std::string::npos) << message_of(full);
  auto store = open_store(disk.path(), opts);
  for (const auto& name : acknowledged)
    EXPECT_TRUE(must(store->current_spec(name)).has_value()) << name << " was acknowledged";
}

} // namespace
