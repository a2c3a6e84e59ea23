#pragma once

// What every fuzz target shares: a check that stays on in release builds (the
// replays run in the normal RelWithDebInfo build, where assert() is compiled
// out), and a reader that turns the input bytes into the choices of a script.

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

namespace tutti::fuzz {

/// Aborts with `what` when `ok` is false: libFuzzer and the replay both report
/// an abort as a failing input.
inline void check(bool ok, const char* what) {
  if (ok)
    return;
  std::fprintf(stderr, "fuzz check failed: %s\n", what);
  std::abort();
}

/// Takes numbers and byte strings off the front of the input. An exhausted
/// input reads as zeros, so every input is a valid script.
class byte_reader {
public:
  byte_reader(const uint8_t* data, size_t size) : data_(data), size_(size) {}

  bool empty() const { return at_ >= size_; }
  size_t remaining() const { return size_ - at_; }

  uint8_t byte() { return at_ < size_ ? data_[at_++] : 0; }

  uint16_t u16() { return static_cast<uint16_t>(byte() | (byte() << 8)); }

  uint64_t u64() {
    uint64_t x = 0;
    for (int i = 0; i < 8; ++i)
      x |= static_cast<uint64_t>(byte()) << (8 * i);
    return x;
  }

  /// Up to `n` bytes (fewer at the end of the input).
  std::string_view bytes(size_t n) {
    n = n < remaining() ? n : remaining();
    std::string_view out{reinterpret_cast<const char*>(data_ + at_), n};
    at_ += n;
    return out;
  }

  /// What is left, taken whole.
  std::string_view rest() { return bytes(remaining()); }

private:
  const uint8_t* data_;
  size_t size_;
  size_t at_ = 0;
};

inline std::string text_of(const uint8_t* data, size_t size) {
  return std::string{reinterpret_cast<const char*>(data), size};
}

} // namespace tutti::fuzz
