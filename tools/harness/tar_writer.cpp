#include "tools/harness/tar_writer.hpp"

#include <openssl/evp.h>

#include <cstring>

namespace tutti::harness {

namespace {

/// A fixed time, so that the same content gives the same archive and digests.
constexpr unsigned long mtime = 1700000000;

/// Octal, zero-padded, NUL-terminated in a field of `size` bytes (the
/// values written here always fit).
void put_octal(char* field, size_t size, unsigned long value) {
  field[size - 1] = '\0';
  for (size_t i = size - 1; i-- > 0; value >>= 3)
    field[i] = static_cast<char>('0' + (value & 7));
}

} // namespace

bool tar_writer::add_entry(const std::string& name, char type, const std::string& content,
                           const std::string& link, unsigned mode) {
  if (name.empty() || name.size() > 100 || link.size() > 100)
    return false;
  char h[512] = {};
  std::memcpy(h, name.data(), name.size());
  put_octal(h + 100, 8, mode);
  put_octal(h + 108, 8, 0);
  put_octal(h + 116, 8, 0);
  put_octal(h + 124, 12, content.size());
  put_octal(h + 136, 12, mtime);
  h[156] = type;
  std::memcpy(h + 157, link.data(), link.size());
  std::memcpy(h + 257, "ustar", 6); // with its NUL: POSIX ustar
  std::memcpy(h + 263, "00", 2);
  std::memcpy(h + 265, "root", 4);
  std::memcpy(h + 297, "root", 4);
  put_octal(h + 329, 8, 0);
  put_octal(h + 337, 8, 0);
  // The checksum is computed with its own field as spaces, then written as six
  // octal digits, a NUL and a space.
  std::memset(h + 148, ' ', 8);
  unsigned long sum = 0;
  for (unsigned char c : h)
    sum += c;
  put_octal(h + 148, 7, sum);
  h[155] = ' ';
  out_.append(h, sizeof h);
  out_ += content;
  out_.append((512 - content.size() % 512) % 512, '\0');
  return true;
}

bool tar_writer::add_file(const std::string& name, const std::string& content, unsigned mode) {
  return add_entry(name, '0', content, "", mode);
}

bool tar_writer::add_directory(const std::string& name, unsigned mode) {
  if (name.empty())
    return false;
  return add_entry(name.back() == '/' ? name : name + "/", '5', "", "", mode);
}

bool tar_writer::add_symlink(const std::string& name, const std::string& target) {
  return add_entry(name, '2', "", target, 0777);
}

std::string sha256_digest(const std::string& bytes) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  EVP_Digest(bytes.data(), bytes.size(), out, &n, EVP_sha256(), nullptr);
  static constexpr char hex[] = "0123456789abcdef";
  std::string text = "sha256:";
  for (unsigned int i = 0; i < n; ++i) {
    text += hex[out[i] >> 4];
    text += hex[out[i] & 0xf];
  }
  return text;
}

} // namespace tutti::harness
