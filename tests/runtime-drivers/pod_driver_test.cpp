// The pod driver over the real process driver: a replica of several
// containers started, watched, stopped, removed and found again as one.

#include "runtime-drivers/pod_driver.hpp"
#include "runtime-drivers/process/process_driver.hpp"

#include "tests/runtime-drivers/test_support.hpp"

#include <gtest/gtest.h>

#include <csignal>
#include <fstream>

namespace tutti::runtime_drivers {
namespace {

using namespace test;
using protocol::code_of;
using protocol::error_code;

container_spec part(const std::string& replica, const std::string& name, size_t order,
                    std::vector<std::string> command) {
  auto spec = make_spec(part_name(replica, name), std::move(command));
  spec.labels[label::replica] = replica;
  spec.labels[label::container] = name;
  spec.labels[label::order] = std::to_string(order);
  return spec;
}

/// A replica `web-0` of two long-running containers that write a line each.
container_spec two_part_pod() {
  auto spec = make_spec("web-0", {});
  spec.labels[label::replica] = "web-0";
  spec.stop_grace = std::chrono::seconds{2};
  spec.parts = {part("web-0", "app", 0, shell("echo app up; exec sleep 100")),
                part("web-0", "side", 1, shell("echo side up; exec sleep 100"))};
  return spec;
}

class pod_driver_test : public ::testing::Test {
protected:
  std::unique_ptr<pod_driver> make() {
    auto inner = process_driver::make(dir_.path() + "/process");
    EXPECT_TRUE(inner) << message(inner.error());
    return std::make_unique<pod_driver>(std::move(*inner), "node-a");
  }

  /// The pids of the parts, each recorded for the guard.
  int64_t pid_of(pod_driver& d, const std::string& name) {
    auto info = d.inspect(name);
    EXPECT_TRUE(info) << message(info.error());
    if (!info)
      return 0;
    guard_.add(info->pid);
    return info->pid;
  }

  temp_dir dir_;
  process_guard guard_;
  exit_recorder exits_;
};

TEST_F(pod_driver_test, runs_the_parts_as_one_container_named_for_the_replica) {
  auto d = make();
  auto info = d->run(two_part_pod(), [this](const container_info&) { return exits_.callback(); });
  ASSERT_TRUE(info) << message(info.error());
  EXPECT_EQ(info->name, "web-0");
  EXPECT_EQ(info->state, container_state::running);
  auto app = pid_of(*d, "web-0_app");
  auto side = pid_of(*d, "web-0_side");
  EXPECT_EQ(info->pid, app);
  EXPECT_NE(app, side);
  EXPECT_EQ(info->labels.count(label::container), 0u); // of the whole, not a part
  auto names = d->names_owned("node-a");
  ASSERT_TRUE(names);
  EXPECT_EQ(*names, std::vector<std::string>{"web-0"});
  auto listed = d->list_owned("node-a");
  ASSERT_TRUE(listed);
  ASSERT_EQ(listed->size(), 1u);
  EXPECT_EQ(listed->front().name, "web-0");
  EXPECT_EQ(listed->front().state, container_state::running);
  // Each container's output under its name; one whole with --container.
  ASSERT_TRUE(eventually([&] {
    auto text = d->logs("web-0", 4096);
    return text && text->find("==> container app <==\napp up\n") != std::string::npos &&
           text->find("==> container side <==\nside up\n") != std::string::npos;
  })) << *d->logs("web-0", 4096);
  EXPECT_EQ(*d->logs("web-0_side", 4096), "side up\n");
}

TEST_F(pod_driver_test, one_part_exiting_stops_the_others_then_the_whole_exits_once) {
  auto d = make();
  auto info = d->run(two_part_pod(), [this](const container_info&) { return exits_.callback(); });
  ASSERT_TRUE(info) << message(info.error());
  auto app = pid_of(*d, "web-0_app");
  auto side = pid_of(*d, "web-0_side");
  ::kill(static_cast<pid_t>(side), SIGKILL);
  EXPECT_EQ(exits_.wait_code("web-0"), 128 + SIGKILL); // the first part's code
  EXPECT_TRUE(process_gone(app)); // stopped before the whole is reported
  EXPECT_EQ(d->inspect("web-0")->state, container_state::exited);
  // Started again, both run anew and a new incarnation is watched.
  auto again = d->start("web-0");
  ASSERT_TRUE(again) << message(again.error());
  ASSERT_FALSE(d->watch("web-0", exits_.callback()));
  auto app2 = pid_of(*d, "web-0_app");
  EXPECT_NE(app2, app);
  ASSERT_FALSE(d->stop("web-0", std::chrono::seconds{2}));
  EXPECT_EQ(exits_.wait_code("web-0", 2), 128 + SIGTERM);
  EXPECT_EQ(exits_.count("web-0"), 2u);
  EXPECT_EQ(exits_.count("web-0_app"), 0u);
}

TEST_F(pod_driver_test, remove_takes_every_part_and_the_init_containers) {
  auto d = make();
  auto init = part("web-0", "prepare", 0, shell("echo prepared"));
  init.labels[label::order] = "init";
  ASSERT_TRUE(d->run(init, [this](const container_info&) { return exits_.callback(); }));
  EXPECT_EQ(exits_.wait_code("web-0_prepare"), 0);
  ASSERT_TRUE(d->run(two_part_pod(), [this](const container_info&) { return exits_.callback(); }));
  pid_of(*d, "web-0_app");
  pid_of(*d, "web-0_side");
  ASSERT_FALSE(d->remove("web-0", true));
  for (const auto* name : {"web-0_app", "web-0_side", "web-0_prepare"})
    EXPECT_EQ(code_of(d->inspect(name).error()), error_code::not_found) << name;
  EXPECT_EQ(code_of(d->remove("web-0", true)), error_code::not_found);
  EXPECT_TRUE(d->names_owned("node-a")->empty());
}

TEST_F(pod_driver_test, a_new_driver_finds_the_parts_made_by_the_last_one) {
  int64_t app = 0;
  {
    auto d = make();
    ASSERT_TRUE(d->run(two_part_pod(), [this](const container_info&) { return exits_.callback(); }));
    app = pid_of(*d, "web-0_app");
    pid_of(*d, "web-0_side");
  }
  auto d = make(); // a restarted node agent: the processes ran on
  auto info = d->inspect("web-0");
  ASSERT_TRUE(info) << message(info.error());
  EXPECT_EQ(info->state, container_state::running);
  EXPECT_EQ(info->pid, app);
  ASSERT_FALSE(d->watch("web-0", exits_.callback()));
  ::kill(static_cast<pid_t>(app), SIGKILL);
  EXPECT_TRUE(exits_.wait_for("web-0")); // the code of an adopted process may be unknown
  ASSERT_FALSE(d->remove("web-0", true));
  EXPECT_TRUE(d->names_owned("node-a")->empty());
}

TEST_F(pod_driver_test, a_part_that_cannot_be_made_leaves_nothing_behind) {
  auto d = make();
  auto spec = two_part_pod();
  spec.parts[1].command.clear(); // the process driver refuses an empty command
  auto info = d->create(spec);
  ASSERT_FALSE(info);
  EXPECT_EQ(code_of(d->inspect("web-0_app").error()), error_code::not_found);
  EXPECT_EQ(code_of(d->inspect("web-0").error()), error_code::not_found);
}

} // namespace
} // namespace tutti::runtime_drivers
