// Backups of an LMDB store (write_backup) and restoring them (restore_backup),
// and the store's format record: a store without one is upgraded with a copy
// kept, one of a newer format is refused.

#include "tests/persistence/store_test_support.hpp"

#include "persistence/lmdb_backup.hpp"

#include <gtest/gtest.h>
#include <lmdb.h>

#include <filesystem>
#include <fstream>

namespace {

using namespace tutti::persistence::test_support;
using tutti::persistence::lmdb_store;
using tutti::persistence::restore_backup;
using tutti::protocol::code_of;
using tutti::protocol::error_code;
using tutti::protocol::message_of;
using tutti::protocol::object_kind;
using tutti::protocol::stored_object;

namespace fs = std::filesystem;

/// Sets (or with `value` empty removes) the meta database's format record
/// of the closed store in `dir`, as an older or newer tuttid would have left it.
void set_format_record(const std::string& dir, const std::string& value) {
  MDB_env* env = nullptr;
  ASSERT_EQ(mdb_env_create(&env), 0);
  mdb_env_set_maxdbs(env, 16);
  ASSERT_EQ(mdb_env_open(env, dir.c_str(), 0, 0644), 0);
  MDB_txn* txn = nullptr;
  ASSERT_EQ(mdb_txn_begin(env, nullptr, 0, &txn), 0);
  MDB_dbi meta;
  ASSERT_EQ(mdb_dbi_open(txn, "meta", 0, &meta), 0);
  MDB_val key{6, const_cast<char*>("format")};
  if (value.empty()) {
    ASSERT_EQ(mdb_del(txn, meta, &key, nullptr), 0);
  } else {
    MDB_val v{value.size(), const_cast<char*>(value.data())};
    ASSERT_EQ(mdb_put(txn, meta, &key, &v, 0), 0);
  }
  ASSERT_EQ(mdb_txn_commit(txn), 0);
  mdb_env_close(env);
}

TEST(StoreBackup, ACopyHoldsWhatWasCommittedBeforeItAndRestoresIntoANewFolder) {
  temp_dir from;
  temp_dir to;
  auto backup = from.path() + "/backup.mdb";
  {
    auto store = open_store(from.path());
    for (auto name : {"api", "db", "web"})
      must(store->put_specs({{name, "kind: Service\n"}}));
    ASSERT_FALSE(store->put_object({object_kind::token, "ci", "hash"}));
    auto bytes = must(store->write_backup(backup));
    EXPECT_EQ(bytes, fs::file_size(backup));
    must(store->put_specs({{"later", "kind: Service\n"}}));
    auto again = store->write_backup(backup);
    ASSERT_FALSE(again) << "an existing file is never overwritten";
  }
  auto report = must(restore_backup(backup, to.path() + "/store"));
  EXPECT_EQ(report.services, 3u);
  EXPECT_EQ(report.tokens, 1u);
  EXPECT_TRUE(report.kept.empty());
  auto restored = open_store(to.path() + "/store");
  auto specs = must(restored->current_specs());
  ASSERT_EQ(specs.size(), 3u);
  EXPECT_EQ(specs.front().name, "api");
  EXPECT_FALSE(fs::exists(to.path() + "/store/restore.staging"));
}

TEST(StoreBackup, ARestoreKeepsTheStoreItReplacesAndIsRefusedWhileTheStoreIsOpen) {
  temp_dir tmp;
  auto dir = tmp.path() + "/store";
  auto backup = tmp.path() + "/backup.mdb";
  {
    auto store = open_store(dir);
    must(store->put_specs({{"old", "kind: Service\n"}}));
    must(store->write_backup(backup));
    must(store->put_specs({{"newer", "kind: Service\n"}}));
    auto busy = restore_backup(backup, dir);
    ASSERT_FALSE(busy);
    EXPECT_EQ(code_of(busy.error()), error_code::data_dir_locked) << message_of(busy.error());
  }
  auto report = must(restore_backup(backup, dir));
  ASSERT_FALSE(report.kept.empty());
  EXPECT_TRUE(fs::exists(report.kept));
  EXPECT_EQ(must(open_store(dir)->current_specs()).size(), 1u);
}

TEST(StoreBackup, AFileThatIsNoStoreIsRefusedAndChangesNothing) {
  temp_dir tmp;
  auto dir = tmp.path() + "/store";
  must(open_store(dir)->put_specs({{"kept", "kind: Service\n"}}));
  auto junk = tmp.path() + "/junk.mdb";
  std::ofstream{junk} << std::string(20000, 'j');
  auto refused = restore_backup(junk, dir);
  ASSERT_FALSE(refused);
  EXPECT_NE(message_of(refused.error()).find("not a tutti store backup"), std::string::npos)
      << message_of(refused.error());
  EXPECT_EQ(must(open_store(dir)->current_specs()).size(), 1u);
  auto missing = restore_backup(tmp.path() + "/none.mdb", dir);
  ASSERT_FALSE(missing);
  EXPECT_NE(message_of(missing.error()).find("none.mdb"), std::string::npos);
}

TEST(StoreFormat, AStoreWithoutAFormatRecordIsUpgradedWithACopyKept) {
  temp_dir tmp;
  must(open_store(tmp.path())->put_specs({{"web", "kind: Service\n"}}));
  EXPECT_TRUE(open_store(tmp.path())->upgrade_backup().empty()) << "a new store has the format";
  set_format_record(tmp.path(), "");
  {
    auto store = open_store(tmp.path());
    ASSERT_EQ(store->upgrade_backup(), tmp.path() + "/data.mdb.format-0.bak");
    EXPECT_EQ(must(store->current_specs()).size(), 1u);
  }
  EXPECT_TRUE(fs::exists(tmp.path() + "/data.mdb.format-0.bak"));
  EXPECT_TRUE(open_store(tmp.path())->upgrade_backup().empty());
}

TEST(StoreFormat, AStoreOfANewerFormatIsRefusedNamingBoth) {
  temp_dir tmp;
  must(open_store(tmp.path())->put_specs({{"web", "kind: Service\n"}}));
  set_format_record(tmp.path(), std::string("\0\0\0\0\0\0\0\x63", 8));
  auto store = lmdb_store::open(tmp.path(), test_options());
  ASSERT_FALSE(store);
  auto msg = message_of(store.error());
  EXPECT_NE(msg.find("format 99"), std::string::npos) << msg;
  EXPECT_NE(msg.find("newer tuttid"), std::string::npos) << msg;
}

} // namespace
