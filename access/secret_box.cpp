#include "access/secret_box.hpp"

#include "access/digest.hpp"
#include "protocol/errors.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <memory>
#include <sstream>
#include <stdexcept>

namespace tutti::access {

namespace {

namespace p = tutti::protocol;

constexpr std::string_view magic = "tsb1";
constexpr size_t key_bytes = 32;
constexpr size_t nonce_bytes = 12;
constexpr size_t tag_bytes = 16;
constexpr size_t id_chars = 8;

using cipher_ctx = std::unique_ptr<EVP_CIPHER_CTX, decltype(&EVP_CIPHER_CTX_free)>;

cipher_ctx new_ctx() {
  cipher_ctx ctx{EVP_CIPHER_CTX_new(), &EVP_CIPHER_CTX_free};
  if (!ctx)
    throw std::bad_alloc{};
  return ctx;
}

const unsigned char* bytes(std::string_view x) {
  return reinterpret_cast<const unsigned char*>(x.data());
}

unsigned char* bytes(std::string& x) {
  return reinterpret_cast<unsigned char*>(x.data());
}

caf::error key_error(const std::string& path, const std::string& why) {
  return p::make_error(p::error_code::invalid_argument,
                       "secrets key file " + path + ": " + why +
                           " (it holds 64 hex digits; `openssl rand -hex 32 > FILE` makes one)");
}

std::string from_hex(const std::string& text) {
  std::string out;
  for (size_t i = 0; i + 1 < text.size(); i += 2)
    out += static_cast<char>(std::stoi(text.substr(i, 2), nullptr, 16));
  return out;
}

} // namespace

secret_box::~secret_box() {
  OPENSSL_cleanse(key_.data(), key_.size());
}

secret_box::secret_box(const secret_box& other) : key_(other.key_), key_id_(other.key_id_) {}

secret_box& secret_box::operator=(const secret_box& other) {
  if (this != &other) {
    OPENSSL_cleanse(key_.data(), key_.size());
    key_ = other.key_;
    key_id_ = other.key_id_;
  }
  return *this;
}

secret_box::secret_box(std::string key) : key_(std::move(key)) {
  if (key_.size() != key_bytes)
    throw std::invalid_argument("secret_box: the key is not 32 bytes");
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(bytes(std::string_view{key_}), key_.size(), digest);
  key_id_ = to_hex(digest, sizeof digest).substr(0, id_chars);
}

caf::expected<secret_box> secret_box::from_file(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0)
    return key_error(path, std::strerror(errno));
  if (!S_ISREG(st.st_mode))
    return key_error(path, "not a regular file");
  if ((st.st_mode & 077) != 0)
    return key_error(path, "readable by others than its owner; chmod 600 it");
  std::ifstream in{path};
  std::stringstream buf;
  buf << in.rdbuf();
  if (!in)
    return key_error(path, "cannot be read");
  std::string text;
  for (char c : buf.str())
    if (!std::isspace(static_cast<unsigned char>(c)))
      text += c;
  if (text.size() != 2 * key_bytes)
    return key_error(path, std::to_string(text.size()) + " characters, not 64 hex digits");
  for (char c : text)
    if (!std::isxdigit(static_cast<unsigned char>(c)))
      return key_error(path, "not 64 hex digits");
  return secret_box{from_hex(text)};
}

caf::expected<secret_box> secret_box::create_file(const std::string& path) {
  std::string key(key_bytes, '\0');
  if (RAND_bytes(bytes(key), static_cast<int>(key.size())) != 1)
    return p::make_error(p::error_code::internal, "no random bytes for a secrets key");
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0)
    return p::make_error(p::error_code::invalid_argument,
                         "cannot make secrets key file " + path + ": " + std::strerror(errno));
  auto text = to_hex(bytes(std::string_view{key}), key.size()) + "\n";
  bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()) &&
            ::fsync(fd) == 0;
  ::close(fd);
  if (!ok) {
    ::unlink(path.c_str());
    return p::make_error(p::error_code::invalid_argument,
                         "cannot write secrets key file " + path + ": " + std::strerror(errno));
  }
  return secret_box{std::move(key)};
}

std::string secret_box::seal(std::string_view plain, std::string_view context) const {
  std::string out{magic};
  out += key_id_;
  std::string nonce(nonce_bytes, '\0');
  if (RAND_bytes(bytes(nonce), static_cast<int>(nonce.size())) != 1)
    throw std::runtime_error("secret_box: no random bytes for a nonce");
  out += nonce;
  auto ctx = new_ctx();
  std::string cipher(plain.size(), '\0');
  int len = 0;
  bool ok = EVP_EncryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, nullptr, nullptr) == 1;
  ok = ok && EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_IVLEN, nonce_bytes, nullptr) == 1;
  ok = ok && EVP_EncryptInit_ex(ctx.get(), nullptr, nullptr, bytes(std::string_view{key_}),
                           bytes(std::string_view{nonce})) == 1;
  int aad = 0;
  ok = ok && EVP_EncryptUpdate(ctx.get(), nullptr, &aad, bytes(context),
                          static_cast<int>(context.size())) == 1;
  if (!plain.empty())
    ok = ok && EVP_EncryptUpdate(ctx.get(), bytes(cipher), &len, bytes(plain),
                            static_cast<int>(plain.size())) == 1;
  int tail = 0;
  ok = ok && EVP_EncryptFinal_ex(ctx.get(), bytes(cipher) + len, &tail) == 1;
  std::string tag(tag_bytes, '\0');
  ok = ok && EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, tag_bytes, bytes(tag)) == 1;
  if (!ok)
    throw std::runtime_error("secret_box: AES-256-GCM failed");
  return out + cipher + tag;
}

caf::expected<std::string> secret_box::open(std::string_view sealed,
                                            std::string_view context) const {
  auto refuse = [&](const std::string& why) {
    return p::make_error(p::error_code::internal,
                         "the sealed data of " + std::string{context} + " " + why);
  };
  auto head = magic.size() + id_chars + nonce_bytes;
  if (sealed.size() < head + tag_bytes || sealed.substr(0, magic.size()) != magic)
    return refuse("is damaged");
  auto id = sealed.substr(magic.size(), id_chars);
  if (id != key_id_)
    return refuse("was sealed with key " + std::string{id} + ", this control plane has key " +
                  key_id_ + "; start it with the key file it was sealed with");
  auto nonce = sealed.substr(magic.size() + id_chars, nonce_bytes);
  auto cipher = sealed.substr(head, sealed.size() - head - tag_bytes);
  std::string tag{sealed.substr(sealed.size() - tag_bytes)};
  auto ctx = new_ctx();
  std::string plain(cipher.size(), '\0');
  int len = 0;
  bool ok = EVP_DecryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, nullptr, nullptr) == 1;
  ok = ok && EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_IVLEN, nonce_bytes, nullptr) == 1;
  ok = ok && EVP_DecryptInit_ex(ctx.get(), nullptr, nullptr, bytes(std::string_view{key_}),
                           bytes(nonce)) == 1;
  int aad = 0;
  ok = ok && EVP_DecryptUpdate(ctx.get(), nullptr, &aad, bytes(context),
                          static_cast<int>(context.size())) == 1;
  if (!cipher.empty())
    ok = ok && EVP_DecryptUpdate(ctx.get(), bytes(plain), &len, bytes(cipher),
                            static_cast<int>(cipher.size())) == 1;
  ok = ok && EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, tag_bytes, bytes(tag)) == 1;
  int tail = 0;
  if (!ok || EVP_DecryptFinal_ex(ctx.get(), bytes(plain) + len, &tail) != 1)
    return refuse("does not open: damaged, or sealed for another record");
  return plain;
}

} // namespace tutti::access
