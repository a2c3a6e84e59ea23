#pragma once

// The one containerd of a test binary, as a gtest Environment: started before
// the first test, torn down (tasks, containers, snapshots removed, containerd
// stopped) after the last, also when tests failed. A binary registers it with
//   static auto* const containerd_env = ::testing::AddGlobalTestEnvironment(
//     new tutti::tests::support::containerd_environment);
// and fixtures call TUTTI_REQUIRE_CONTAINERD(var) from SetUp.

#include "tools/harness/containerd_instance.hpp"

#include <gtest/gtest.h>

#include <cstdio>
#include <memory>
#include <string>

namespace tutti::tests::support {

using harness::containerd_instance;

class containerd_environment : public ::testing::Environment {
public:
  void SetUp() override {
    auto& s = state();
    s.instance = containerd_instance::start(s.why, s.unavailable);
    if (s.instance)
      std::printf("containerd tests: a private containerd at %s, namespace %s\n",
                  s.instance->socket().c_str(), s.instance->name_space().c_str());
  }

  void TearDown() override { state().instance.reset(); }

  static containerd_instance* instance() { return state().instance.get(); }
  static const std::string& why() { return state().why; }
  static bool unavailable() { return state().unavailable; }

private:
  struct shared {
    std::unique_ptr<containerd_instance> instance;
    std::string why = "the containerd environment is not registered in this test binary";
    bool unavailable = false;
  };

  static shared& state() {
    static shared s;
    return s;
  }
};

} // namespace tutti::tests::support

/// In a fixture's SetUp: sets `var` to the containerd, or skips the test when
/// this machine cannot run one (not root, no containerd) and fails it when
/// containerd broke.
#define TUTTI_REQUIRE_CONTAINERD(var)                                                              \
  do {                                                                                             \
    var = ::tutti::tests::support::containerd_environment::instance();                             \
    if (var == nullptr) {                                                                          \
      if (::tutti::tests::support::containerd_environment::unavailable())                          \
        GTEST_SKIP() << ::tutti::tests::support::containerd_environment::why();                    \
      FAIL() << "no containerd: " << ::tutti::tests::support::containerd_environment::why();       \
    }                                                                                              \
  } while (false)
