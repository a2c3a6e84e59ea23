#include "protocol/base64.hpp"

#include <array>
#include <cstdint>

namespace tutti::protocol {

namespace {

constexpr char digits[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// The value of each digit; -1 for every other byte.
constexpr std::array<int8_t, 256> digit_values() {
  std::array<int8_t, 256> out{};
  for (auto& x : out)
    x = -1;
  for (int i = 0; i < 64; ++i)
    out[static_cast<unsigned char>(digits[i])] = static_cast<int8_t>(i);
  return out;
}

constexpr auto values = digit_values();

} // namespace

std::string to_base64(std::string_view data) {
  std::string out;
  out.reserve(4 * ((data.size() + 2) / 3));
  size_t i = 0;
  for (; i + 3 <= data.size(); i += 3) {
    uint32_t n = (uint32_t{static_cast<unsigned char>(data[i])} << 16) |
                 (uint32_t{static_cast<unsigned char>(data[i + 1])} << 8) |
                 static_cast<unsigned char>(data[i + 2]);
    for (int shift : {18, 12, 6, 0})
      out += digits[(n >> shift) & 63];
  }
  if (auto rest = data.size() - i; rest > 0) {
    uint32_t n = uint32_t{static_cast<unsigned char>(data[i])} << 16;
    if (rest == 2)
      n |= uint32_t{static_cast<unsigned char>(data[i + 1])} << 8;
    out += digits[(n >> 18) & 63];
    out += digits[(n >> 12) & 63];
    out += rest == 2 ? digits[(n >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

std::optional<std::string> from_base64(std::string_view text) {
  if (text.size() % 4 != 0)
    return std::nullopt;
  std::string out;
  out.reserve(3 * (text.size() / 4));
  for (size_t i = 0; i < text.size(); i += 4) {
    bool last = i + 4 == text.size();
    // Padding only at the very end, at most two, and only after two digits.
    size_t pad = last ? (text[i + 3] == '=' ? (text[i + 2] == '=' ? 2 : 1) : 0) : 0;
    uint32_t n = 0;
    for (size_t k = 0; k < 4; ++k) {
      auto v = k < 4 - pad ? values[static_cast<unsigned char>(text[i + k])] : 0;
      if (v < 0)
        return std::nullopt;
      n = (n << 6) | static_cast<uint32_t>(v);
    }
    out += static_cast<char>((n >> 16) & 255);
    if (pad < 2)
      out += static_cast<char>((n >> 8) & 255);
    if (pad < 1)
      out += static_cast<char>(n & 255);
  }
  return out;
}

} // namespace tutti::protocol
