#pragma once

// Seals the data of Secret objects for the store: AES-256-GCM with a key the
// control plane is given in a file (secrets.key_file), a fresh random nonce
// per seal, and the object's kind, name and version as associated data, so a
// sealed value moved to another record does not open. OpenSSL stays in the .cpp.

#include <caf/expected.hpp>

#include <string>
#include <string_view>

namespace tutti::access {

class secret_box {
public:
  /// The key of a key file: 64 hex digits (32 bytes), blanks around them
  /// ignored. An error names the file and what is wrong with it (missing,
  /// readable by others than its owner, not 64 hex digits).
  static caf::expected<secret_box> from_file(const std::string& path);

  /// Makes a key file with a new random key (mode 0600; the file must not
  /// exist) and answers its box.
  static caf::expected<secret_box> create_file(const std::string& path);

  /// `key`: 32 bytes.
  explicit secret_box(std::string key);
  ~secret_box(); // wipes the key
  secret_box(const secret_box& other);
  secret_box& operator=(const secret_box& other);

  /// The data sealed for the record named by `context`.
  std::string seal(std::string_view plain, std::string_view context) const;

  /// The data of a sealed value of `context`; an error when the value was not
  /// sealed with this key for this context, or is damaged (never the data).
  caf::expected<std::string> open(std::string_view sealed, std::string_view context) const;

  /// The first 8 hex digits of the key's SHA-256: names the key in errors.
  const std::string& key_id() const { return key_id_; }

private:
  std::string key_;
  std::string key_id_;
};

} // namespace tutti::access
