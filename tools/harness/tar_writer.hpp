#pragma once

// A minimal ustar writer for tests that need image archives: regular files,
// directories and symbolic links with their mode, owned by root, in memory.
// Also the SHA-256 digests such archives are addressed by.

#include <string>

namespace tutti::harness {

class tar_writer {
public:
  /// Each returns false (and adds nothing) when `name` or `target` does not fit
  /// a ustar header (100 bytes; no prefix splitting: tests name short paths).
  bool add_file(const std::string& name, const std::string& content, unsigned mode = 0644);
  bool add_directory(const std::string& name, unsigned mode = 0755);
  bool add_symlink(const std::string& name, const std::string& target);

  /// An entry of any type ('L' GNU long name, 'x' pax header, '1' hard link
  /// ...), for tests of readers.
  bool add_entry(const std::string& name, char type, const std::string& content,
                 const std::string& link = "", unsigned mode = 0644);

  /// Appends bytes as they are (for tests of broken archives).
  void add_raw(const std::string& bytes) { out_ += bytes; }

  /// The archive with its two end-of-archive blocks.
  std::string finish() const { return out_ + std::string(1024, '\0'); }

  /// The archive so far, without the end blocks.
  const std::string& bytes() const { return out_; }

private:
  std::string out_;
};

/// "sha256:<64 hex>" of `bytes`.
std::string sha256_digest(const std::string& bytes);

} // namespace tutti::harness
