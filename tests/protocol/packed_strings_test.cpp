// Strings packed into one come back as they went in: empty ones, ones with a
// NUL, and ones long enough for a length of two and three bytes.

#include "protocol/packed_strings.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace {

namespace p = tutti::protocol;

TEST(PackedStrings, ComeBackAsTheyWentIn) {
  std::vector<std::string> xs = {"",
                                 "web-0",
                                 std::string{"a\0b", 3},
                                 std::string(127, 'x'),
                                 std::string(128, 'y'),
                                 std::string(20000, 'z'),
                                 ""};
  std::string packed;
  size_t size = 0;
  for (const auto& x : xs) {
    p::put_packed(packed, x);
    size += p::packed_size(x);
  }
  EXPECT_EQ(packed.size(), size);
  EXPECT_EQ(p::packed_size(std::string(127, 'x')), 128u);
  EXPECT_EQ(p::packed_size(std::string(128, 'x')), 130u);
  std::string_view in = packed;
  for (const auto& x : xs)
    EXPECT_EQ(p::take_packed(in), x);
  EXPECT_TRUE(in.empty());
  EXPECT_EQ(p::take_packed(in), ""); // past the end: nothing, and no overrun
}

} // namespace
