// Sealing secrets for the store: what opens and what does not (another
// record, another key, damage), key files, and the records of object versions.

#include "access/digest.hpp"
#include "protocol/base64.hpp"
#include "access/records.hpp"
#include "access/secret_box.hpp"
#include "protocol/errors.hpp"

#include <gtest/gtest.h>

#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

namespace tutti::access {
namespace {

namespace p = tutti::protocol;

class temp_folder {
public:
  temp_folder() {
    char name[] = "/tmp/tutti-box-XXXXXX";
    path_ = ::mkdtemp(name);
  }
  ~temp_folder() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  std::string file(const std::string& name) const { return path_ + "/" + name; }

private:
  std::string path_;
};

secret_box box_of(char fill) {
  return secret_box{std::string(32, fill)};
}

TEST(SecretBox, SealsForOneRecordAndOneKey) {
  auto box = box_of('k');
  auto sealed = box.seal("s3cret", "secret pw@000000000001");
  EXPECT_EQ(sealed.find("s3cret"), std::string::npos);
  EXPECT_NE(box.seal("s3cret", "secret pw@000000000001"), sealed) << "the same nonce twice";
  auto opened = box.open(sealed, "secret pw@000000000001");
  ASSERT_TRUE(opened) << p::message_of(opened.error());
  EXPECT_EQ(*opened, "s3cret");
  EXPECT_EQ(*box.open(box.seal("", "c"), "c"), "");

  auto moved = box.open(sealed, "secret other@000000000001");
  ASSERT_FALSE(moved);
  EXPECT_NE(p::message_of(moved.error()).find("does not open"), std::string::npos);
  auto other_key = box_of('x').open(sealed, "secret pw@000000000001");
  ASSERT_FALSE(other_key);
  EXPECT_NE(p::message_of(other_key.error()).find("was sealed with key " + box.key_id()),
            std::string::npos)
      << p::message_of(other_key.error());
  auto damaged = sealed;
  damaged[damaged.size() - 3] ^= 1;
  EXPECT_FALSE(box.open(damaged, "secret pw@000000000001"));
  EXPECT_FALSE(box.open("tsb1", "c"));
}

TEST(SecretBox, KeyFilesAreMadePrivateAndCheckedWhenRead) {
  temp_folder dir;
  auto path = dir.file("secrets.key");
  auto made = secret_box::create_file(path);
  ASSERT_TRUE(made) << p::message_of(made.error());
  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  auto read = secret_box::from_file(path);
  ASSERT_TRUE(read);
  EXPECT_EQ(read->key_id(), made->key_id());
  EXPECT_EQ(*read->open(made->seal("x", "c"), "c"), "x");
  EXPECT_FALSE(secret_box::create_file(path)) << "an existing key file is never replaced";

  ::chmod(path.c_str(), 0644);
  auto shared = secret_box::from_file(path);
  ASSERT_FALSE(shared);
  EXPECT_NE(p::message_of(shared.error()).find("readable by others"), std::string::npos);

  auto short_key = dir.file("short.key");
  std::ofstream{short_key} << "abcd\n";
  ::chmod(short_key.c_str(), 0600);
  auto bad = secret_box::from_file(short_key);
  ASSERT_FALSE(bad);
  EXPECT_NE(p::message_of(bad.error()).find("4 characters, not 64 hex digits"), std::string::npos);
  EXPECT_FALSE(secret_box::from_file(dir.file("absent.key")));
}

TEST(SecretBox, ObjectRecordsRoundTripAnyBytes) {
  p::object_record rec{p::object_kind::secret, "team-a/pw", 3, 1234, 3, "",
                       std::string{"\0\xff\x01", 3}};
  auto back = decode_object(p::object_kind::secret, encode(rec));
  ASSERT_TRUE(back);
  EXPECT_EQ(*back, rec);
  EXPECT_FALSE(decode_object(p::object_kind::config, R"({"name":"a","version":1,"data":"!!"})"));
  EXPECT_FALSE(decode_object(p::object_kind::config, "not json"));
  EXPECT_EQ(p::from_base64(p::to_base64("hello!")), "hello!");
  EXPECT_EQ(p::from_base64(""), "");
  EXPECT_FALSE(p::from_base64("abc"));
  EXPECT_FALSE(p::from_base64("QQ==    ")) << "blanks hide padding";
  EXPECT_FALSE(p::from_base64("Q=Q="));
  EXPECT_FALSE(p::from_base64("QQ=A"));
  EXPECT_EQ(p::from_base64("QQ=="), "A");
}

} // namespace
} // namespace tutti::access
