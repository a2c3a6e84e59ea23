// Which cgroup hierarchy a container's figures come from, on fake hierarchies
// in a temp dir: cgroup v1 (a hybrid host's cgroup2 mount holds no
// controllers), v2 alone, v2 with a second cgroup2 mount, a cgroup gone.

#include "runtime-drivers/containerd/cgroup_stats.hpp"

#include "protocol/errors.hpp"
#include "tests/support/temp_dir.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

namespace tutti::runtime_drivers::containerd {
namespace {

namespace fs = std::filesystem;

void write(const fs::path& file, const std::string& text) {
  fs::create_directories(file.parent_path());
  std::ofstream{file} << text;
}

std::string mount_line(int id, const std::string& point, const std::string& type,
                       const std::string& options) {
  return std::to_string(id) + " 1 0:" + std::to_string(id) + " / " + point + " rw,relatime - " +
         type + " " + type + " " + options + "\n";
}

TEST(cgroup_stats, reads_cgroup_v1_controllers_on_a_hybrid_host) {
  tests::support::temp_dir dir;
  auto root = fs::path{dir.path()};
  write(root / "cpuacct/tutti/c1/cpuacct.usage", "2500000000\n");
  write(root / "memory/tutti/c1/memory.usage_in_bytes", "4096\n");
  auto mountinfo = mount_line(30, (root / "cpuacct").string(), "cgroup", "rw,cpuacct") +
                   mount_line(31, (root / "memory").string(), "cgroup", "rw,memory") +
                   mount_line(32, (root / "unified").string(), "cgroup2", "rw");
  auto sample = read_cgroup("/tutti/c1", mountinfo);
  ASSERT_TRUE(sample) << protocol::message_of(sample.error());
  EXPECT_DOUBLE_EQ(sample->cpu_seconds, 2.5);
  EXPECT_EQ(sample->memory_bytes, 4096);
}

TEST(cgroup_stats, reads_the_unified_hierarchy_when_there_is_no_v1_one) {
  tests::support::temp_dir dir;
  auto root = fs::path{dir.path()};
  write(root / "v2/tutti/c1/cpu.stat", "usage_usec 1500000\nuser_usec 1000000\n");
  write(root / "v2/tutti/c1/memory.current", "8192\n");
  auto mountinfo = mount_line(30, (root / "v2").string(), "cgroup2", "rw,nsdelegate") +
                   // A second cgroup2 mount (a bind into a chroot) changes nothing.
                   mount_line(31, (root / "chroot/sys/fs/cgroup").string(), "cgroup2", "rw");
  auto sample = read_cgroup("/tutti/c1", mountinfo);
  ASSERT_TRUE(sample) << protocol::message_of(sample.error());
  EXPECT_DOUBLE_EQ(sample->cpu_seconds, 1.5);
  EXPECT_EQ(sample->memory_bytes, 8192);
}

TEST(cgroup_stats, a_cgroup_that_is_gone_is_not_found) {
  tests::support::temp_dir dir;
  auto mountinfo = mount_line(30, dir.str() + "/v2", "cgroup2", "rw");
  auto sample = read_cgroup("/tutti/gone", mountinfo);
  ASSERT_FALSE(sample);
  EXPECT_EQ(protocol::code_of(sample.error()), protocol::error_code::not_found);
}

} // namespace
} // namespace tutti::runtime_drivers::containerd
