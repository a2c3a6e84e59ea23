#include "access/digest.hpp"

#include <openssl/evp.h>

#include <array>

namespace tutti::access {

std::string to_hex(const unsigned char* data, size_t size) {
  static const char digits[] = "0123456789abcdef";
  std::string out;
  out.reserve(size * 2);
  for (size_t i = 0; i < size; ++i) {
    out.push_back(digits[data[i] >> 4]);
    out.push_back(digits[data[i] & 0xf]);
  }
  return out;
}

std::string to_base64(std::string_view data) {
  std::string out(4 * ((data.size() + 2) / 3) + 1, '\0');
  auto n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                           reinterpret_cast<const unsigned char*>(data.data()),
                           static_cast<int>(data.size()));
  out.resize(static_cast<size_t>(n));
  return out;
}

std::optional<std::string> from_base64(std::string_view text) {
  // EVP_DecodeBlock takes '=' anywhere and skips blanks: only canonical text passes.
  auto digit = [](char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
           c == '+' || c == '/';
  };
  auto data_end = text.find_last_not_of('=') + 1;
  if (text.size() % 4 != 0 || text.size() - data_end > 2)
    return std::nullopt;
  for (size_t i = 0; i < data_end; ++i)
    if (!digit(text[i]))
      return std::nullopt;
  std::string out(3 * (text.size() / 4) + 1, '\0');
  auto n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                           reinterpret_cast<const unsigned char*>(text.data()),
                           static_cast<int>(text.size()));
  if (n < 0)
    return std::nullopt;
  // EVP_DecodeBlock counts the padding's bytes as data.
  size_t pad = 0;
  for (auto i = text.rbegin(); i != text.rend() && *i == '=' && pad < 2; ++i)
    ++pad;
  out.resize(static_cast<size_t>(n) - pad);
  return out;
}

struct sha256_stream::impl {
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  ~impl() { EVP_MD_CTX_free(ctx); }
};

sha256_stream::sha256_stream() : impl_(std::make_unique<impl>()) {
  EVP_DigestInit_ex(impl_->ctx, EVP_sha256(), nullptr);
}

sha256_stream::~sha256_stream() = default;

void sha256_stream::update(const void* data, size_t size) {
  EVP_DigestUpdate(impl_->ctx, data, size);
}

std::string sha256_stream::hex() {
  std::array<unsigned char, EVP_MAX_MD_SIZE> md{};
  unsigned int size = 0;
  EVP_DigestFinal_ex(impl_->ctx, md.data(), &size);
  return to_hex(md.data(), size);
}

} // namespace tutti::access
