// The files of configs and secrets on a node: where they go for a process and
// for a container, their modes, that secrets stay off disks, and their removal.

#include "actors/node/replica_objects.hpp"
#include "protocol/errors.hpp"
#include "tests/support/temp_dir.hpp"

#include <gtest/gtest.h>

#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

namespace {

namespace fs = std::filesystem;
namespace p = tutti::protocol;
using tutti::actors::object_places;

std::string read_file(const std::string& path) {
  std::ifstream in{path};
  return {std::istreambuf_iterator<char>{in}, {}};
}

p::service_spec spec_of(p::driver_kind driver) {
  p::service_spec spec;
  spec.name = "web";
  spec.driver = driver;
  spec.configs = {{"app", 2, false, "", ""}};
  spec.secrets = {{"pw", 1, false, "", "PW"}, {"tls", 1, true, "/etc/tls.pem", ""}};
  return spec;
}

p::shared_payloads payloads() {
  return p::shared_payloads{std::vector<p::object_payload>{
      {p::object_kind::config, "app", 2, "a=1"},
      {p::object_kind::secret, "pw", 1, "s3cret"},
      {p::object_kind::secret, "tls", 1, "PEM"}}};
}

/// A folder on a tmpfs of this test's own, removed at its end.
struct shm_folder {
  std::string path = "/dev/shm/tutti-objects-test-" + std::to_string(::getpid());
  ~shm_folder() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
};

TEST(ReplicaObjects, AProcessGetsPathsAndVariables) {
  shm_folder dir;
  object_places places{dir.path};
  auto out = tutti::actors::prepare_objects(places, spec_of(p::driver_kind::process), payloads(),
                                            "web-0");
  ASSERT_TRUE(out) << p::message_of(out.error());
  EXPECT_TRUE(out->mounts.empty());
  auto config = dir.path + "/web-0/configs/app";
  EXPECT_EQ(out->files, (std::map<std::string, std::string>{
                            {"TUTTI_CONFIG_APP", config},
                            {"TUTTI_SECRET_TLS", dir.path + "/web-0/secrets/tls"}}));
  EXPECT_EQ(out->values, (std::map<std::string, std::string>{{"PW", "s3cret"}}));
  EXPECT_EQ(read_file(config), "a=1");
  EXPECT_FALSE(fs::exists(dir.path + "/web-0/secrets/pw")) << "env only: no file";
  struct stat st {};
  ASSERT_EQ(::stat(config.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0444u);
  for (const auto& folder : {dir.path, dir.path + "/web-0", dir.path + "/web-0/secrets"}) {
    ASSERT_EQ(::stat(folder.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0700u) << folder;
  }
  tutti::actors::remove_objects(places, "web-0");
  EXPECT_FALSE(fs::exists(dir.path)) << "the last replica's removal leaves nothing";
}

TEST(ReplicaObjects, AContainerGetsReadOnlyMounts) {
  shm_folder dir;
  auto out = tutti::actors::prepare_objects({dir.path}, spec_of(p::driver_kind::docker),
                                            payloads(), "web-1");
  ASSERT_TRUE(out) << p::message_of(out.error());
  ASSERT_EQ(out->mounts.size(), 2u);
  EXPECT_EQ(out->mounts[0].target, "/run/configs/app");
  EXPECT_EQ(out->mounts[1].target, "/etc/tls.pem");
  EXPECT_TRUE(out->mounts[0].read_only && out->mounts[1].read_only);
  EXPECT_EQ(read_file(out->mounts[1].source), "PEM");
  EXPECT_TRUE(out->files.empty());
}

TEST(ReplicaObjects, RefusesSecretsOffATmpfsAndMissingPayloads) {
  tutti::tests::support::temp_dir dir; // /tmp: a disk on most machines
  auto spec = spec_of(p::driver_kind::process);
  auto on_disk = tutti::actors::prepare_objects({dir.file("objects")}, spec, payloads(), "web-0");
  if (on_disk) {
    GTEST_SKIP() << "the temporary folder is on a tmpfs here";
  }
  EXPECT_NE(p::message_of(on_disk.error()).find("is not on a tmpfs"), std::string::npos)
      << p::message_of(on_disk.error());
  EXPECT_EQ(p::message_of(on_disk.error()).find("PEM"), std::string::npos);
  shm_folder shm;
  auto missing = tutti::actors::prepare_objects({shm.path}, spec, p::shared_payloads{}, "web-0");
  ASSERT_FALSE(missing);
  EXPECT_NE(p::message_of(missing.error()).find("config app: version 2 was not sent"),
            std::string::npos)
      << p::message_of(missing.error());
  EXPECT_FALSE(tutti::actors::prepare_objects({shm.path}, spec, payloads(), "../web-0"));
  // A link where the folder should be (another user may have made it) is refused.
  shm_folder target;
  target.path += "-target";
  fs::create_directories(target.path);
  shm_folder link;
  link.path += "-link";
  fs::create_directory_symlink(target.path, link.path);
  auto linked = tutti::actors::prepare_objects({link.path}, spec, payloads(), "web-0");
  ASSERT_FALSE(linked);
  EXPECT_NE(p::message_of(linked.error()).find("is a link, no folder, or another user's"),
            std::string::npos)
      << p::message_of(linked.error());
  EXPECT_TRUE(fs::is_empty(target.path));
}

} // namespace
