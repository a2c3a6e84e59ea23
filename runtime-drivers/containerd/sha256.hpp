#pragma once

// SHA-256 in the "sha256:<64 hex>" form of OCI digests, fed in pieces (a
// layer is hashed as it is read, never held whole). Internal to runtime-drivers.

#include <openssl/evp.h>

#include <cstddef>
#include <string>

namespace tutti::runtime_drivers::containerd {

class sha256 {
public:
  sha256() : ctx_(EVP_MD_CTX_new()) { EVP_DigestInit_ex(ctx_, EVP_sha256(), nullptr); }
  ~sha256() { EVP_MD_CTX_free(ctx_); }
  sha256(const sha256&) = delete;
  sha256& operator=(const sha256&) = delete;

  void update(const char* data, size_t size) { EVP_DigestUpdate(ctx_, data, size); }

  /// "sha256:<64 hex>".
  std::string digest() {
    unsigned char out[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    EVP_DigestFinal_ex(ctx_, out, &n);
    static constexpr char hex[] = "0123456789abcdef";
    std::string text = "sha256:";
    for (unsigned int i = 0; i < n; ++i) {
      text += hex[out[i] >> 4];
      text += hex[out[i] & 0xf];
    }
    return text;
  }

private:
  EVP_MD_CTX* ctx_;
};

} // namespace tutti::runtime_drivers::containerd
