#include "protocol/utf8.hpp"

#include <cstdint>

namespace tutti::protocol {

namespace {

/// The length of the well-formed sequence at `text[i]`, or 0 when there is none
/// (Unicode's table 3-7 of well-formed byte sequences).
size_t sequence_length(std::string_view text, size_t i) {
  auto byte = [&](size_t k) { return static_cast<uint8_t>(text[k]); };
  auto in = [&](size_t k, uint8_t lo, uint8_t hi) {
    return k < text.size() && byte(k) >= lo && byte(k) <= hi;
  };
  uint8_t b = byte(i);
  if (b < 0x80)
    return 1;
  if (b >= 0xC2 && b <= 0xDF)
    return in(i + 1, 0x80, 0xBF) ? 2 : 0;
  if (b >= 0xE0 && b <= 0xEF) {
    uint8_t lo = b == 0xE0 ? 0xA0 : 0x80; // no overlong form
    uint8_t hi = b == 0xED ? 0x9F : 0xBF; // no surrogate
    return in(i + 1, lo, hi) && in(i + 2, 0x80, 0xBF) ? 3 : 0;
  }
  if (b >= 0xF0 && b <= 0xF4) {
    uint8_t lo = b == 0xF0 ? 0x90 : 0x80; // no overlong form
    uint8_t hi = b == 0xF4 ? 0x8F : 0xBF; // nothing above U+10FFFF
    return in(i + 1, lo, hi) && in(i + 2, 0x80, 0xBF) && in(i + 3, 0x80, 0xBF) ? 4 : 0;
  }
  return 0;
}

} // namespace

std::optional<size_t> first_invalid_utf8(std::string_view text) {
  for (size_t i = 0; i < text.size();) {
    size_t n = sequence_length(text, i);
    if (n == 0)
      return i;
    i += n;
  }
  return std::nullopt;
}

std::string escape_invalid_utf8(std::string_view text) {
  static constexpr char hex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size();) {
    if (size_t n = sequence_length(text, i); n > 0) {
      out.append(text, i, n);
      i += n;
      continue;
    }
    auto b = static_cast<uint8_t>(text[i++]);
    out += "\\x";
    out += hex[b >> 4];
    out += hex[b & 0xF];
  }
  return out;
}

} // namespace tutti::protocol
