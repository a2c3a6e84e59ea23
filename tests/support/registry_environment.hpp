#pragma once

// The one private registry of a test binary, as a gtest Environment: started
// before the first test, stopped (and its storage removed) after the last,
// also when tests failed. A binary registers it with
//   static auto* const registry_env = ::testing::AddGlobalTestEnvironment(
//     new tutti::tests::support::registry_environment);
// and fixtures call TUTTI_REQUIRE_REGISTRY(var) from SetUp.

#include "tests/support/registry.hpp"

#include <gtest/gtest.h>

#include <cstdio>
#include <memory>
#include <string>

namespace tutti::tests::support {

class registry_environment : public ::testing::Environment {
public:
  void SetUp() override {
    auto& s = state();
    s.registry = private_registry::start(s.why, s.unavailable);
    if (s.registry)
      std::printf("registry tests: a private docker-registry at %s\n", s.registry->host().c_str());
  }

  void TearDown() override { state().registry.reset(); }

  static private_registry* registry() { return state().registry.get(); }
  static const std::string& why() { return state().why; }
  static bool unavailable() { return state().unavailable; }

private:
  struct shared {
    std::unique_ptr<private_registry> registry;
    std::string why = "the registry environment is not registered in this test binary";
    bool unavailable = false;
  };

  static shared& state() {
    static shared s;
    return s;
  }
};

} // namespace tutti::tests::support

/// In a fixture's SetUp: sets `var` to the registry, or skips the test when
/// docker-registry is not installed and fails it when the registry broke.
#define TUTTI_REQUIRE_REGISTRY(var)                                                                \
  do {                                                                                             \
    var = ::tutti::tests::support::registry_environment::registry();                               \
    if (var == nullptr) {                                                                          \
      if (::tutti::tests::support::registry_environment::unavailable())                            \
        GTEST_SKIP() << ::tutti::tests::support::registry_environment::why();                      \
      FAIL() << "no registry: " << ::tutti::tests::support::registry_environment::why();           \
    }                                                                                              \
  } while (false)
