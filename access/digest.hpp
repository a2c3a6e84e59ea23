#pragma once

// Hex digests: of bytes in hand, and of a stream given piece by piece (a
// backup as it travels, checked on both ends).

#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace tutti::access {

/// Bytes as lowercase hex.
std::string to_hex(const unsigned char* data, size_t size);

/// The SHA-256 of everything given to update(), in order.
class sha256_stream {
public:
  sha256_stream();
  ~sha256_stream();
  sha256_stream(const sha256_stream&) = delete;
  sha256_stream& operator=(const sha256_stream&) = delete;

  void update(const void* data, size_t size);

  /// The digest in lowercase hex; the stream is done then.
  std::string hex();

private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

} // namespace tutti::access
