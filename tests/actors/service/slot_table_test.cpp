// A service's slot table behaves like the ordered map it replaces: found,
// made, erased, counted and walked in slot order, and an entry's address stays
// while others come and go.

#include "actors/service/slot_table.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace {

using tutti::actors::slot_table;

std::vector<int32_t> keys(const slot_table<std::string>& t) {
  std::vector<int32_t> out;
  for (const auto& [slot, value] : t)
    out.push_back(slot);
  return out;
}

TEST(SlotTable, FindsMakesErasesAndWalksInSlotOrder) {
  slot_table<std::string> t;
  EXPECT_TRUE(t.empty());
  EXPECT_EQ(t.find(0), t.end());
  t[5] = "five";
  t[1] = "one";
  t[3] = "three";
  EXPECT_EQ(t.size(), 3u);
  EXPECT_EQ(keys(t), (std::vector<int32_t>{1, 3, 5}));
  ASSERT_NE(t.find(3), t.end());
  EXPECT_EQ(t.find(3)->second, "three");
  EXPECT_EQ(t.find(3)->first, 3);
  EXPECT_EQ(t.count(2), 0u);
  EXPECT_EQ(t.find(-1), t.end());
  EXPECT_EQ(t.find(1000), t.end());
  EXPECT_EQ(t.erase(3), 1u);
  EXPECT_EQ(t.erase(3), 0u);
  EXPECT_EQ(keys(t), (std::vector<int32_t>{1, 5}));
  // Erasing the entry an iterator is on leaves the others where they are.
  for (auto i = t.begin(); i != t.end();) {
    auto slot = i->first;
    ++i;
    t.erase(slot);
  }
  EXPECT_TRUE(t.empty());
  EXPECT_EQ(t.begin(), t.end());
  EXPECT_THROW(t[-1], std::out_of_range);
}

TEST(SlotTable, AnEntryStaysWhereItIsWhileOthersComeAndGo) {
  slot_table<std::string> t;
  auto& kept = t[2];
  kept = "kept";
  for (int32_t i = 3; i < 5000; ++i)
    t[i] = std::to_string(i); // grows the index many times
  for (int32_t i = 3; i < 5000; i += 2)
    t.erase(i);
  EXPECT_EQ(&kept, &t[2]);
  EXPECT_EQ(kept, "kept");
  EXPECT_EQ(t.size(), 1u + 2498u);
  const auto& ct = t;
  size_t n = 0;
  for (auto i = ct.begin(); i != ct.end(); ++i)
    ++n;
  EXPECT_EQ(n, t.size());
}

} // namespace
