// The folders behind volumes: what a request may name (no path outside the
// volumes' folder, NUL or not), and host folders reached through links.

#include "actors/node/replica_volumes.hpp"
#include "protocol/errors.hpp"
#include "tests/support/temp_dir.hpp"

#include <gtest/gtest.h>

#include <filesystem>

namespace {

namespace fs = std::filesystem;
namespace p = tutti::protocol;
using tutti::actors::volume_places;

TEST(ReplicaVolumes, ARemovalNamesOneVolumeAndNothingElse) {
  tutti::tests::support::temp_dir dir;
  volume_places places{dir.file("volumes"), {}};
  for (const char* v : {"db-0/data", "db-1/data"})
    fs::create_directories(places.root + "/persistent/" + v);
  using namespace std::string_literals;
  for (const auto& [replica, volume] :
       {std::pair{"\0"s, "x"s}, {"db-0"s, "\0"s}, {"db-0/../db-1"s, "data"s}, {".."s, "db-1"s},
        {"db-0"s, ".."s}, {""s, "data"s}, {"DB-0"s, "data"s}}) {
    auto err = tutti::actors::remove_persistent(places, replica, volume);
    EXPECT_EQ(p::code_of(err), p::error_code::not_found) << replica << "/" << volume;
  }
  EXPECT_TRUE(fs::exists(places.root + "/persistent/db-0/data"));
  EXPECT_TRUE(fs::exists(places.root + "/persistent/db-1/data"));
  EXPECT_FALSE(tutti::actors::remove_persistent(places, "db-0", "data"));
  EXPECT_FALSE(fs::exists(places.root + "/persistent/db-0"));
  EXPECT_EQ(tutti::actors::persistent_volumes(places),
            (std::vector<std::pair<std::string, std::string>>{{"db-1", "data"}}));
}

TEST(ReplicaVolumes, AHostFolderIsLentThroughItsRealPathOnly) {
  tutti::tests::support::temp_dir dir;
  auto lent = dir.file("lent");
  fs::create_directories(lent + "/inside");
  fs::create_directory_symlink("/etc", lent + "/escape");
  fs::create_directory_symlink(lent + "/inside", dir.file("outside-link"));
  volume_places places{dir.file("volumes"), {lent}};
  auto spec_of = [](const std::string& path) {
    p::service_spec spec;
    spec.driver = p::driver_kind::docker;
    spec.volumes = {{"h", p::volume_type::host, path}};
    spec.mounts = {{"h", "/h", false}};
    return spec;
  };
  auto inside = tutti::actors::prepare_volumes(places, spec_of(lent + "/inside"), "web-0");
  ASSERT_TRUE(inside) << p::message_of(inside.error());
  EXPECT_EQ(inside->single.mounts.at(0).source, fs::canonical(lent + "/inside").string());
  // A link inside the lent folder to a folder outside it: refused.
  auto escape = tutti::actors::prepare_volumes(places, spec_of(lent + "/escape"), "web-0");
  ASSERT_FALSE(escape);
  EXPECT_NE(p::message_of(escape.error()).find("this node does not lend " + lent + "/escape"),
            std::string::npos)
      << p::message_of(escape.error());
  // A link outside to a lent folder: what is mounted is the lent folder.
  auto linked = tutti::actors::prepare_volumes(places, spec_of(dir.file("outside-link")), "web-0");
  ASSERT_TRUE(linked);
  EXPECT_EQ(linked->single.mounts.at(0).source, fs::canonical(lent + "/inside").string());
  // A path too long for the file system is refused, not thrown.
  auto long_path = lent + "/" + std::string(300, 'a');
  EXPECT_FALSE(tutti::actors::prepare_volumes(places, spec_of(long_path), "web-0"));
}

} // namespace
