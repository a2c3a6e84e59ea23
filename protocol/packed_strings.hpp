#pragma once

// Strings packed into one: each a length (a varint: one byte below 128) and its
// bytes. What a million of something keeps where a map or a struct of strings
// would spend 32 bytes per string and a heap block per long one (the sim
// driver's labels and environment, a replica's status). Only this process reads
// them: not a wire or disk format.

#include <algorithm>
#include <cstddef>
#include <string>
#include <string_view>

namespace tutti::protocol {

/// Appends `x` to `out`.
inline void put_packed(std::string& out, std::string_view x) {
  auto n = x.size();
  while (n >= 0x80) {
    out += static_cast<char>((n & 0x7F) | 0x80);
    n >>= 7;
  }
  out += static_cast<char>(n);
  out += x;
}

/// Bytes `x` takes packed.
inline size_t packed_size(std::string_view x) {
  size_t n = 1;
  for (auto len = x.size(); len >= 0x80; len >>= 7)
    ++n;
  return n + x.size();
}

/// The next string of `in`, which moves past it. `in` must hold what
/// put_packed wrote (an empty `in` gives an empty string).
inline std::string_view take_packed(std::string_view& in) {
  size_t n = 0;
  size_t at = 0;
  for (int shift = 0; at < in.size(); shift += 7) {
    auto byte = static_cast<unsigned char>(in[at++]);
    n |= static_cast<size_t>(byte & 0x7F) << shift;
    if ((byte & 0x80) == 0)
      break;
  }
  auto x = in.substr(at, n);
  in.remove_prefix(std::min(in.size(), at + n));
  return x;
}

} // namespace tutti::protocol
