// The stored records' encoding: the hand-written writer must give the bytes
// nlohmann's dump() gave (records written before it and after it are one format),
// and the fast reader must read what nlohmann reads, or leave it to nlohmann.

#include "persistence/records.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <string>
#include <vector>

namespace {

using json = nlohmann::json;
using tutti::persistence::assignment;
namespace detail = tutti::persistence::detail;
namespace p = tutti::protocol;

/// How records were written before the hand-written writer.
std::string reference(const assignment& x) {
  return json{{"replica", x.replica},
              {"service", x.service},
              {"node", x.node},
              {"template", x.template_hash},
              {"epoch", x.epoch}}
      .dump();
}

std::string reference(const p::event& x) {
  return json{{"seq", x.seq},         {"time_ms", x.time_ms}, {"kind", x.kind},
              {"service", x.service}, {"replica", x.replica}, {"message", x.message}}
      .dump();
}

const std::vector<std::string> texts = {
    "",
    "web-0",
    "say \"hi\"",
    "back\\slash",
    "tab\there, newline\nthere, cr\r, bs\b, ff\f",
    std::string{"nul \0 and \x01 \x1f \x7f", 15},
    "grüße, 日本, 🎉",
    "sixteen-chars-ab",
};

TEST(Records, AssignmentsAreWrittenAsNlohmannWroteThem) {
  for (const auto& text : texts) {
    assignment x{text, "svc", text, "0123456789abcdef", -42};
    EXPECT_EQ(detail::encode_assignment(x), reference(x)) << text;
    auto back = detail::decode_assignment(detail::encode_assignment(x));
    ASSERT_TRUE(back) << text;
    EXPECT_EQ(*back, x) << text;
  }
}

TEST(Records, EventsAreWrittenAsNlohmannWroteThem) {
  for (const auto& text : texts) {
    p::event x{18446744073709551615ull, 1764892800123, "replica_started", "svc", "svc-3", text};
    EXPECT_EQ(detail::encode_event(x), reference(x)) << text;
    auto back = detail::decode_event(detail::encode_event(x));
    ASSERT_TRUE(back) << text;
    EXPECT_EQ(*back, x) << text;
  }
}

TEST(Records, InvalidUtf8IsReplacedNotThrown) {
  p::event x{1, 2, "replica_exited", "svc", "svc-0", "output \xff\xfe end"};
  std::string bytes;
  ASSERT_NO_THROW(bytes = detail::encode_event(x));
  auto back = detail::decode_event(bytes);
  ASSERT_TRUE(back);
  EXPECT_EQ(back->message, "output \xEF\xBF\xBD\xEF\xBF\xBD end"); // U+FFFD twice
}

TEST(Records, AssignmentsInAnyJsonFormReadAsNlohmannReadsThem) {
  assignment want{"web-1", "web", "n1", "abc", 7};
  for (
      std::string text : {
          R"({"epoch":7,"node":"n1","replica":"web-1","service":"web","template":"abc"})",
          R"({ "template" : "abc", "service":"web", "replica":"web-1", "node":"n1", "epoch": 7 })",
          R"({"replica":"web\u002d1","service":"web","node":"n1","template":"abc","epoch":7})",
          R"({"replica":"web-1","service":"web","node":"n1","template":"abc","epoch":7.0})",
          R"({"replica":"web-1","service":"web","node":"n1","template":"abc","epoch":7,"x":[1]})",
          R"({"replica":"web-1","service":"web","node":"n1","template":"abc","epoch":7,"y":"z"})",
          R"({"replica":"x","replica":"web-1","service":"web","node":"n1","template":"abc","epoch":7})",
      }) {
    auto got = detail::decode_assignment(text);
    ASSERT_TRUE(got) << text;
    EXPECT_EQ(*got, want) << text;
  }
  auto old = detail::decode_assignment(R"({"replica":"web-1","service":"web","node":"n1"})");
  ASSERT_TRUE(old); // a record of an old version: no template, no epoch
  EXPECT_EQ(*old, (assignment{"web-1", "web", "n1", "", 0}));
}

TEST(Records, MalformedAssignmentsAreCorruptNotMisread) {
  for (std::string text : {
           R"({"replica":"web-1","epoch":"7"})", // an epoch of the wrong type
           R"({"replica":7})",                   // a name of the wrong type
           R"({"replica":"web-1","epoch":007})", // not JSON: a leading zero
           R"({"replica":"web-1","epoch":7)",    // cut off
           R"({"replica":"web-1"} trailing)",    // more after the object
           R"(["web-1"])",                       // not an object
           "",
       }) {
    auto got = detail::decode_assignment(text);
    EXPECT_FALSE(got) << text;
  }
}

} // namespace
