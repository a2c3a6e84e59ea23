#pragma once

// A fresh directory under $TMPDIR (or /tmp), removed with everything in it when
// the owner goes away, also when the test fails.

#include <filesystem>
#include <string>

namespace tutti::tests::support {

class temp_dir {
public:
  /// Creates `<tmp>/<prefix>XXXXXX`; throws std::runtime_error when it cannot.
  explicit temp_dir(const std::string& prefix = "tutti-test-");
  ~temp_dir();

  temp_dir(const temp_dir&) = delete;
  temp_dir& operator=(const temp_dir&) = delete;

  const std::filesystem::path& path() const { return path_; }
  std::string str() const { return path_.string(); }

  /// path() / name, as a string.
  std::string file(const std::string& name) const { return (path_ / name).string(); }

  /// Writes `text` to path() / name (creating parent folders); returns its path.
  std::string write(const std::string& name, const std::string& text) const;

private:
  std::filesystem::path path_;
};

/// The whole content of a file, or empty when it cannot be read.
std::string read_file(const std::string& path);

} // namespace tutti::tests::support
