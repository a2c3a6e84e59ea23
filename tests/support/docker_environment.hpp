#pragma once

// The one Docker engine of a test binary, as a gtest Environment: started
// before the first test, torn down (containers removed, a private dockerd
// stopped) after the last, also when tests failed. A binary registers it with
//   static auto* const docker_env = ::testing::AddGlobalTestEnvironment(
//     new tutti::tests::support::docker_environment);
// and fixtures call docker_environment::require() from SetUp through
// TUTTI_REQUIRE_DOCKER().

#include "tests/support/dockerd.hpp"

#include <gtest/gtest.h>

#include <memory>
#include <string>

namespace tutti::tests::support {

class docker_environment : public ::testing::Environment {
public:
  void SetUp() override {
    auto& s = state();
    s.engine = docker_engine::start(s.why, s.unavailable);
    if (s.engine)
      std::printf("docker tests: %s engine at %s\n",
                  s.engine->is_private() ? "a private" : "the host's", s.engine->socket().c_str());
  }

  void TearDown() override { state().engine.reset(); }

  /// The engine, or nullptr (then why() and unavailable() tell more).
  static docker_engine* engine() { return state().engine.get(); }
  static const std::string& why() { return state().why; }
  static bool unavailable() { return state().unavailable; }

private:
  struct shared {
    std::unique_ptr<docker_engine> engine;
    std::string why = "the docker environment is not registered in this test binary";
    bool unavailable = false;
  };

  static shared& state() {
    static shared s;
    return s;
  }
};

} // namespace tutti::tests::support

/// In a fixture's SetUp: sets `var` to the engine, or skips the test when this
/// machine cannot run one (not root, no dockerd) and fails it when the engine
/// broke.
#define TUTTI_REQUIRE_DOCKER(var)                                                                  \
  do {                                                                                             \
    var = ::tutti::tests::support::docker_environment::engine();                                   \
    if (var == nullptr) {                                                                          \
      if (::tutti::tests::support::docker_environment::unavailable())                              \
        GTEST_SKIP() << ::tutti::tests::support::docker_environment::why();                        \
      FAIL() << "no Docker engine: " << ::tutti::tests::support::docker_environment::why();        \
    }                                                                                              \
  } while (false)
