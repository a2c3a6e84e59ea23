#include "runtime-drivers/factory.hpp"

#include "tests/runtime-drivers/test_support.hpp"

#include <gtest/gtest.h>

namespace tutti::runtime_drivers {
namespace {

using namespace test;
using protocol::code_of;
using protocol::driver_kind;
using protocol::error_code;

TEST(make_driver, makes_a_process_driver_on_its_state_dir) {
  temp_dir dir;
  driver_options options;
  options.state_dir = dir.path() + "/process";
  auto driver = make_driver(driver_kind::process, options);
  ASSERT_TRUE(driver) << message(driver.error());
  EXPECT_EQ((*driver)->kind(), driver_kind::process);
  EXPECT_FALSE((*driver)->blocking());
  EXPECT_TRUE(std::filesystem::is_directory(options.state_dir + "/logs"));
}

TEST(make_driver, process_driver_needs_a_state_dir) {
  auto driver = make_driver(driver_kind::process, driver_options{});
  ASSERT_FALSE(driver);
  EXPECT_EQ(code_of(driver.error()), error_code::invalid_argument);
}

TEST(make_driver, makes_a_sim_driver_with_its_options) {
  driver_options options;
  options.sim.start_delay = std::chrono::duration_cast<caf::timespan>(1ms);
  auto driver = make_driver(driver_kind::sim, options);
  ASSERT_TRUE(driver) << message(driver.error());
  EXPECT_EQ((*driver)->kind(), driver_kind::sim);
  EXPECT_TRUE((*driver)->blocking());
}

TEST(make_driver, makes_a_docker_driver_even_without_an_engine) {
  temp_dir dir;
  driver_options options;
  options.docker_socket = dir.path() + "/no-engine.sock";
  auto driver = make_driver(driver_kind::docker, options);
  ASSERT_TRUE(driver) << message(driver.error());
  EXPECT_EQ((*driver)->kind(), driver_kind::docker);
  EXPECT_TRUE((*driver)->blocking());
  auto listed = (*driver)->list_owned("n1");
  ASSERT_FALSE(listed);
  EXPECT_EQ(code_of(listed.error()), error_code::driver_failure);
  EXPECT_NE(
      message(listed.error()).find("cannot reach the Docker engine at " + options.docker_socket),
      std::string::npos)
      << message(listed.error());
}

TEST(make_driver, makes_a_containerd_driver_even_without_containerd) {
  temp_dir dir;
  driver_options options;
  options.containerd_socket = dir.path() + "/no-containerd.sock";
  options.containerd_state_dir = dir.path() + "/containerd";
  auto driver = make_driver(driver_kind::containerd, options);
  ASSERT_TRUE(driver) << message(driver.error());
  EXPECT_EQ((*driver)->kind(), driver_kind::containerd);
  EXPECT_TRUE((*driver)->blocking());
  auto listed = (*driver)->list_owned("n1");
  ASSERT_FALSE(listed);
  EXPECT_EQ(code_of(listed.error()), error_code::driver_failure);
  EXPECT_NE(message(listed.error()).find("cannot reach containerd at " + options.containerd_socket),
            std::string::npos)
      << message(listed.error());
  auto health = (*driver)->health();
  ASSERT_TRUE(health);
  EXPECT_NE(message(health).find("is containerd running?"), std::string::npos) << message(health);
}

TEST(make_driver, refuses_a_containerd_driver_without_a_state_directory) {
  auto driver = make_driver(driver_kind::containerd, driver_options{});
  ASSERT_FALSE(driver);
  EXPECT_EQ(code_of(driver.error()), error_code::invalid_argument);
  EXPECT_NE(protocol::message_of(driver.error()).find("state directory"), std::string::npos);
}

} // namespace
} // namespace tutti::runtime_drivers
