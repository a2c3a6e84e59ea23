// The tar index under the image archive reader: the header dialects of GNU tar,
// pax and Go's archive/tar, links, and headers that lie about sizes.

#include "runtime-drivers/containerd/tar_reader.hpp"

#include "protocol/errors.hpp"
#include "runtime-drivers/unique_fd.hpp"
#include "tools/harness/tar_writer.hpp"
#include "tests/support/temp_dir.hpp"

#include <fcntl.h>
#include <sys/stat.h>

#include <gtest/gtest.h>

#include <cstdlib>

namespace tutti::runtime_drivers::containerd {
namespace {

using harness::tar_writer;
using protocol::message_of;
using tests::support::temp_dir;

class image_archive_tar : public ::testing::Test {
protected:
  caf::expected<std::map<std::string, tar_entry>> index(const std::string& path) {
    unique_fd fd{::open(path.c_str(), O_RDONLY | O_CLOEXEC)};
    struct stat st {};
    if (!fd || ::fstat(fd.get(), &st) != 0)
      ADD_FAILURE() << "cannot open " << path;
    return read_tar_index(fd.get(), st.st_size, path);
  }

  caf::expected<std::map<std::string, tar_entry>> index_of(const std::string& bytes) {
    return index(dir_.write("t.tar", bytes));
  }

  /// The data of entry `name` of `bytes`' index; "<none>" when there is none.
  std::string data(const std::string& bytes, const std::string& name) {
    auto entries = index_of(bytes);
    if (!entries)
      return "<error " + message_of(entries.error()) + ">";
    auto i = entries->find(name);
    if (i == entries->end())
      return "<none>";
    return bytes.substr(i->second.offset, i->second.size);
  }

  temp_dir dir_{"tutti-tar-"};
};

TEST_F(image_archive_tar, reads_long_names_as_gnu_tar_writes_them) {
  std::string folder = std::string(120, 'd');
  dir_.write("src/" + folder + "/" + std::string(90, 'f'), "long\n");
  for (const char* format : {"gnu", "posix"}) {
    auto archive = dir_.file(std::string{format} + ".tar");
    auto command = "tar -C " + dir_.file("src") + " --format=" + format + " -cf " + archive + " .";
    ASSERT_EQ(std::system(command.c_str()), 0) << command;
    auto entries = index(archive);
    ASSERT_TRUE(entries) << message_of(entries.error());
    auto i = entries->find(folder + "/" + std::string(90, 'f'));
    ASSERT_NE(i, entries->end()) << format << ": ./ stripped, the whole name kept";
    EXPECT_EQ(i->second.size, 5) << format;
    EXPECT_EQ(entries->size(), 1u) << format << ": folders are left out";
  }
}

TEST_F(image_archive_tar, applies_gnu_long_names_and_pax_paths_to_the_next_entry_only) {
  tar_writer tar;
  tar.add_entry("././@LongLink", 'L', std::string(150, 'a') + '\0');
  tar.add_file("short-a", "A");
  tar.add_entry("PaxHeaders/b", 'x', "31 path=blobs/sha256/b-is-long\n");
  tar.add_file("short-b", "B");
  tar.add_file("plain", "C");
  auto bytes = tar.finish();
  EXPECT_EQ(data(bytes, std::string(150, 'a')), "A");
  EXPECT_EQ(data(bytes, "blobs/sha256/b-is-long"), "B");
  EXPECT_EQ(data(bytes, "plain"), "C");
  EXPECT_EQ(data(bytes, "short-a"), "<none>");
}

TEST_F(image_archive_tar, refuses_a_malformed_pax_header) {
  for (std::string records : {"99 path=x\n", "5 path=x\n", "12 pathx\n\n\n\n", "x"}) {
    tar_writer tar;
    tar.add_entry("PaxHeaders/b", 'x', records);
    tar.add_file("b", "B");
    auto entries = index_of(tar.finish());
    ASSERT_FALSE(entries) << records;
    EXPECT_NE(message_of(entries.error()).find("malformed pax header at offset 0"),
              std::string::npos)
        << message_of(entries.error());
  }
}

TEST_F(image_archive_tar, follows_links_to_their_target) {
  tar_writer tar;
  tar.add_symlink("a/layer.tar", "../b/layer.tar"); // before its target
  tar.add_file("b/layer.tar", "layer");
  tar.add_entry("c/layer.tar", '1', "", "b/layer.tar");
  tar.add_symlink("d", "/a/layer.tar");
  tar.add_symlink("loop1", "loop2");
  tar.add_symlink("loop2", "loop1");
  tar.add_symlink("dangling", "nowhere");
  auto bytes = tar.finish();
  EXPECT_EQ(data(bytes, "a/layer.tar"), "layer");
  EXPECT_EQ(data(bytes, "c/layer.tar"), "layer");
  EXPECT_EQ(data(bytes, "d"), "layer");
  EXPECT_EQ(data(bytes, "loop1"), "<none>");
  EXPECT_EQ(data(bytes, "dangling"), "<none>");
}

TEST_F(image_archive_tar, keeps_the_last_of_two_entries_of_one_name) {
  tar_writer tar;
  tar.add_file("./x", "first");
  tar.add_file("x", "second");
  EXPECT_EQ(data(tar.finish(), "x"), "second");
}

TEST_F(image_archive_tar, refuses_a_broken_checksum_after_the_first_header) {
  tar_writer tar;
  tar.add_file("a", "A");
  tar.add_file("b", "B");
  auto bytes = tar.finish();
  bytes[1024] = 'c'; // the second header's name
  auto entries = index_of(bytes);
  ASSERT_FALSE(entries);
  EXPECT_NE(message_of(entries.error()).find("broken tar header at offset 1024"), std::string::npos)
      << message_of(entries.error());
}

TEST_F(image_archive_tar, refuses_sizes_it_cannot_read) {
  auto with_size = [](const std::string& field) {
    tar_writer tar;
    tar.add_file("a", "");
    auto bytes = tar.finish();
    bytes.replace(124, 12, field);
    // The checksum again, so that only the size is wrong.
    unsigned sum = 0;
    for (size_t i = 0; i < 512; ++i)
      sum += (i >= 148 && i < 156) ? ' ' : static_cast<unsigned char>(bytes[i]);
    char text[8];
    std::snprintf(text, sizeof text, "%06o", sum);
    bytes.replace(148, 6, text, 6);
    return bytes;
  };
  EXPECT_TRUE(index_of(with_size(std::string("00000000000\0", 12))));
  for (const auto& field :
       {std::string("0000000009\0\0", 12), std::string("\xff", 1) + "0000000000x",
        std::string("\x80\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff", 12)}) {
    auto entries = index_of(with_size(field));
    ASSERT_FALSE(entries);
    EXPECT_NE(message_of(entries.error()).find("unreadable size"), std::string::npos)
        << message_of(entries.error());
  }
  auto huge = index_of(with_size(std::string("\x80\0\0\0\0\0\0\x01\0\0\0\0", 12)));
  ASSERT_FALSE(huge);
  EXPECT_NE(message_of(huge.error()).find("go past the end of the file"), std::string::npos)
      << message_of(huge.error());
}

} // namespace
} // namespace tutti::runtime_drivers::containerd
