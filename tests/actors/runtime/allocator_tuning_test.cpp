// The GLIBC_TUNABLES a tutti process runs itself with, and the environment it
// puts back. (That tuttid really runs with them: daemon_test.cpp.)

#include "actors/runtime/allocator_tuning.hpp"

#include <gtest/gtest.h>

#include <cstdlib>
#include <optional>
#include <string>

namespace tutti::actors {
namespace {

/// Sets (or unsets, for nullopt) an environment variable for one test.
class scoped_env {
public:
  scoped_env(const char* name, std::optional<std::string> value) : name_(name) {
    if (const char* old = std::getenv(name))
      old_ = old;
    set(value);
  }
  ~scoped_env() { set(old_); }
  scoped_env(const scoped_env&) = delete;
  scoped_env& operator=(const scoped_env&) = delete;

private:
  void set(const std::optional<std::string>& value) {
    if (value)
      ::setenv(name_, value->c_str(), 1);
    else
      ::unsetenv(name_);
  }

  const char* name_;
  std::optional<std::string> old_;
};

const std::string ours = "glibc.malloc.tcache_count=" + std::to_string(malloc_tcache_count);

TEST(AllocatorTuning, AddsTheThreadCacheToWhatTheUserSet) {
  EXPECT_EQ(tunables_with_tcache(nullptr), ours);
  EXPECT_EQ(tunables_with_tcache(""), ours);
  EXPECT_EQ(tunables_with_tcache("glibc.malloc.arena_max=2"), "glibc.malloc.arena_max=2:" + ours);
  // A name that only starts like ours is another setting.
  EXPECT_EQ(tunables_with_tcache("glibc.malloc.tcache_count_x=1"),
            "glibc.malloc.tcache_count_x=1:" + ours);
}

TEST(AllocatorTuning, TheUsersOwnThreadCacheWins) {
  EXPECT_EQ(tunables_with_tcache("glibc.malloc.tcache_count=16"), std::nullopt);
  EXPECT_EQ(tunables_with_tcache("glibc.malloc.arena_max=2:glibc.malloc.tcache_count=0"),
            std::nullopt);
}

TEST(AllocatorTuning, TheRunWithTheTunablesRestoresTheUsersEnvironment) {
  // What the first run leaves for the second: the user had GLIBC_TUNABLES=x=1.
  scoped_env marker{"TUTTI_MALLOC_TUNED", "=x=1"};
  scoped_env tunables{"GLIBC_TUNABLES", "x=1:" + ours};
  char name[] = "test";
  char* argv[] = {name, nullptr};
  tune_allocator(argv); // returns: no exec in the second run
  EXPECT_TRUE(allocator_tuned());
  EXPECT_EQ(std::getenv("TUTTI_MALLOC_TUNED"), nullptr);
  ASSERT_NE(std::getenv("GLIBC_TUNABLES"), nullptr);
  EXPECT_STREQ(std::getenv("GLIBC_TUNABLES"), "x=1");
  EXPECT_EQ(allocator_summary(), "malloc " + ours.substr(std::string{"glibc.malloc."}.size()));
}

TEST(AllocatorTuning, AUserWithoutTunablesGetsNoneBack) {
  scoped_env marker{"TUTTI_MALLOC_TUNED", "="};
  scoped_env tunables{"GLIBC_TUNABLES", ours};
  char name[] = "test";
  char* argv[] = {name, nullptr};
  tune_allocator(argv);
  EXPECT_EQ(std::getenv("GLIBC_TUNABLES"), nullptr);
  EXPECT_EQ(std::getenv("TUTTI_MALLOC_TUNED"), nullptr);
}

TEST(AllocatorTuning, SwitchedOffItRunsAsItIs) {
  scoped_env off{"TUTTI_MALLOC_TUNING", "off"};
  scoped_env marker{"TUTTI_MALLOC_TUNED", std::nullopt};
  scoped_env tunables{"GLIBC_TUNABLES", std::nullopt};
  char name[] = "/nonexistent/test"; // would the exec happen, it would run this test binary
  char* argv[] = {name, nullptr};
  tune_allocator(argv); // returns: an exec would not
  EXPECT_EQ(std::getenv("GLIBC_TUNABLES"), nullptr);
}

} // namespace
} // namespace tutti::actors
