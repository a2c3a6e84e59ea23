// UTF-8 at the edge: what counts as valid, and how invalid bytes are shown.

#include "protocol/utf8.hpp"

#include <gtest/gtest.h>

#include <string>

using tutti::protocol::escape_invalid_utf8;
using tutti::protocol::first_invalid_utf8;
using tutti::protocol::sanitize_utf8;
using tutti::protocol::valid_utf8;

TEST(Utf8, AcceptsWellFormedText) {
  EXPECT_TRUE(valid_utf8(""));
  EXPECT_TRUE(valid_utf8("plain ascii"));
  EXPECT_TRUE(valid_utf8("gr\xC3\xBC\xC3\x9F"));           // grüß
  EXPECT_TRUE(valid_utf8("\xE2\x82\xAC"));                 // €
  EXPECT_TRUE(valid_utf8("\xF0\x9F\x98\x80"));             // U+1F600
  EXPECT_TRUE(valid_utf8("\xF4\x8F\xBF\xBF"));             // U+10FFFF, the last
  EXPECT_TRUE(valid_utf8(std::string{"nul\0inside", 10})); // U+0000 is valid UTF-8
}

TEST(Utf8, FindsTheFirstBadByte) {
  EXPECT_EQ(first_invalid_utf8("ab\xFF"
                               "cd"),
            2u);
  EXPECT_EQ(first_invalid_utf8("\x80"), 0u);             // a lone continuation
  EXPECT_EQ(first_invalid_utf8("x\xC3"), 1u);            // cut short
  EXPECT_EQ(first_invalid_utf8("\xC0\xAF"), 0u);         // overlong '/'
  EXPECT_EQ(first_invalid_utf8("\xE0\x80\xAF"), 0u);     // overlong, 3 bytes
  EXPECT_EQ(first_invalid_utf8("\xED\xA0\x80"), 0u);     // a surrogate
  EXPECT_EQ(first_invalid_utf8("\xF4\x90\x80\x80"), 0u); // above U+10FFFF
  EXPECT_EQ(first_invalid_utf8("\xF5\x80\x80\x80"), 0u);
  EXPECT_EQ(first_invalid_utf8("ok \xE2\x82\xAC \xE2\x82"), 7u);
}

TEST(Utf8, EscapesOnlyTheBadBytes) {
  EXPECT_EQ(escape_invalid_utf8("web\xFF"), "web\\xFF");
  EXPECT_EQ(escape_invalid_utf8("\xC3\xBC\xC3"), "\xC3\xBC\\xC3");
  EXPECT_EQ(escape_invalid_utf8("\xED\xA0\x80"), "\\xED\\xA0\\x80");
  EXPECT_TRUE(valid_utf8(escape_invalid_utf8("\xFE\xFF\x80\xC0")));
  EXPECT_EQ(sanitize_utf8("fine \xE2\x82\xAC"), "fine \xE2\x82\xAC");
  EXPECT_EQ(sanitize_utf8("bad \x9F"), "bad \\x9F");
}
