#include "runtime-drivers/containerd/tar_reader.hpp"

#include "protocol/errors.hpp"

#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <limits>
#include <optional>
#include <string_view>
#include <vector>

namespace tutti::runtime_drivers::containerd {

namespace {

using protocol::error_code;
using protocol::make_error;

constexpr int64_t block = 512;

/// A GNU long name or a pax header is read into memory; real ones are a few
/// hundred bytes, so a bigger one is a broken (or hostile) file.
constexpr int64_t max_meta_size = 1 << 20;

using header = std::array<char, block>;

std::string_view field(const header& h, size_t at, size_t size) {
  return {h.data() + at, size};
}

/// A NUL-terminated text field (a name may fill its field without a NUL).
std::string text_field(const header& h, size_t at, size_t size) {
  auto f = field(h, at, size);
  return std::string{f.substr(0, f.find('\0'))};
}

/// An octal number padded with spaces or NULs, or GNU's base-256 (first byte
/// 0x80) for sizes past 8 GiB; nullopt when malformed, negative or past int64.
std::optional<int64_t> number_field(std::string_view f) {
  int64_t value = 0;
  if (!f.empty() && (static_cast<unsigned char>(f[0]) & 0x80) != 0) {
    if (static_cast<unsigned char>(f[0]) != 0x80)
      return std::nullopt; // negative, or bits we cannot hold
    for (size_t i = 1; i < f.size(); ++i) {
      if (value > (std::numeric_limits<int64_t>::max() >> 8))
        return std::nullopt;
      value = (value << 8) | static_cast<unsigned char>(f[i]);
    }
    return value;
  }
  size_t i = 0;
  while (i < f.size() && f[i] == ' ')
    ++i;
  for (; i < f.size() && f[i] != '\0' && f[i] != ' '; ++i) {
    if (f[i] < '0' || f[i] > '7' || value > (std::numeric_limits<int64_t>::max() >> 3))
      return std::nullopt;
    value = value * 8 + (f[i] - '0');
  }
  for (; i < f.size(); ++i)
    if (f[i] != '\0' && f[i] != ' ')
      return std::nullopt;
  return value;
}

bool all_zero(const header& h) {
  for (char c : h)
    if (c != '\0')
      return false;
  return true;
}

/// The checksum counts the header's bytes with its own field as spaces.
bool checksum_matches(const header& h) {
  auto stated = number_field(field(h, 148, 8));
  if (!stated)
    return false;
  int64_t sum = 0;
  for (size_t i = 0; i < h.size(); ++i)
    sum += (i >= 148 && i < 156) ? ' ' : static_cast<unsigned char>(h[i]);
  return sum == *stated;
}

/// A member's path as the archive's JSON names it: "./a//b" and "/a/b" are
/// "a/b"; ".." at the top stays at the top, as when extracting into a folder.
std::string normal_path(const std::string& path) {
  std::vector<std::string> parts;
  size_t at = 0;
  while (at <= path.size()) {
    auto end = std::min(path.find('/', at), path.size());
    auto part = path.substr(at, end - at);
    if (part == "..") {
      if (!parts.empty())
        parts.pop_back();
    } else if (!part.empty() && part != ".") {
      parts.push_back(std::move(part));
    }
    at = end + 1;
  }
  std::string out;
  for (const auto& part : parts)
    out += (out.empty() ? "" : "/") + part;
  return out;
}

/// Where a link points inside the archive: a hard link names an archive path,
/// a symbolic one a path relative to its own folder (or to the root).
std::string link_target(const std::string& name, const std::string& target, bool symbolic) {
  if (!symbolic || target.rfind('/', 0) == 0)
    return normal_path(target);
  auto slash = name.rfind('/');
  return normal_path((slash == std::string::npos ? "" : name.substr(0, slash + 1)) + target);
}

/// Links may chain; more hops than this is a loop.
constexpr int max_link_hops = 16;

/// Decimal digits only; nullopt when empty, with other characters or too big.
std::optional<int64_t> parse_decimal(std::string_view text) {
  if (text.empty())
    return std::nullopt;
  int64_t value = 0;
  for (char c : text) {
    if (c < '0' || c > '9' || value > (std::numeric_limits<int64_t>::max() - 9) / 10)
      return std::nullopt;
    value = value * 10 + (c - '0');
  }
  return value;
}

/// What a pax extended header says about the next entry.
struct pax_values {
  std::optional<std::string> path;
  std::optional<std::string> link_path;
  std::optional<int64_t> size;
};

/// Records are "LENGTH KEY=VALUE\n", LENGTH counting the whole record.
std::optional<pax_values> parse_pax(std::string_view data) {
  pax_values out;
  size_t at = 0;
  while (at < data.size()) {
    auto space = data.find(' ', at);
    if (space == std::string_view::npos)
      return std::nullopt;
    auto length = parse_decimal(data.substr(at, space - at));
    if (!length || *length <= static_cast<int64_t>(space - at) + 1 ||
        *length > static_cast<int64_t>(data.size() - at))
      return std::nullopt;
    auto record = data.substr(space + 1, at + *length - space - 1);
    at += *length;
    if (record.empty() || record.back() != '\n')
      return std::nullopt;
    record.remove_suffix(1);
    auto eq = record.find('=');
    if (eq == std::string_view::npos)
      return std::nullopt;
    auto key = record.substr(0, eq);
    auto value = record.substr(eq + 1);
    if (key == "path") {
      out.path = std::string{value};
    } else if (key == "linkpath") {
      out.link_path = std::string{value};
    } else if (key == "size") {
      out.size = parse_decimal(value);
      if (!out.size)
        return std::nullopt;
    }
  }
  return out;
}

/// Reads the tar's headers one after the other, keeping what a pax or GNU
/// header says about the entry that follows it.
class index_reader {
public:
  index_reader(int fd, int64_t file_size, const std::string& path)
    : fd_(fd), file_size_(file_size), path_(path) {}

  caf::expected<std::map<std::string, tar_entry>> run() {
    if (file_size_ < block)
      return invalid("is not a tar file (shorter than one 512-byte header)");
    int64_t at = 0;
    while (at < file_size_) {
      if (file_size_ - at < block)
        return invalid("ends inside the tar header at offset " + std::to_string(at));
      header h;
      if (!read_exactly(fd_, at, h.data(), h.size()))
        return failed(at);
      if (all_zero(h))
        break; // the end-of-archive blocks
      if (auto err = entry(h, at))
        return err;
    }
    resolve_links();
    return std::move(entries_);
  }

private:
  /// Takes the header at `at` and moves `at` past its data.
  caf::error entry(const header& h, int64_t& at) {
    if (!checksum_matches(h))
      return at == 0 ? invalid("is not a tar file (no valid tar header at its start)")
                     : invalid("has a broken tar header at offset " + std::to_string(at) +
                               " (its checksum does not match)");
    auto size = number_field(field(h, 124, 12));
    if (!size)
      return invalid("has a tar header with an unreadable size at offset " + std::to_string(at));
    char type = h[156];
    // A pax size= replaces the header's (which may be 0 or clipped) for data
    // past 8 GiB, so it decides where the next header is.
    if (pending_.size && (type == '0' || type == '\0' || type == '7'))
      size = pending_.size;
    int64_t data = at + block;
    if (*size > file_size_ - data)
      return invalid("has a tar entry at offset " + std::to_string(at) + " whose " +
                     std::to_string(*size) + " bytes go past the end of the file");
    at = data + (*size + block - 1) / block * block;
    switch (type) {
      case 'L':
        return long_name(data, *size, long_name_);
      case 'K':
        return long_name(data, *size, long_link_);
      case 'x':
        return pax(data, *size);
      case '0':
      case '\0':
      case '7': {
        auto name = normal_path(name_of(h));
        entries_[name] = tar_entry{data, *size};
        links_.erase(name);
        break;
      }
      case '1':
      case '2': {
        auto name = normal_path(name_of(h));
        links_[name] = link_target(name, link_name_of(h), type == '2');
        entries_.erase(name);
        break;
      }
      default:
        break; // directories, links, devices, pax globals: no blob lives there
    }
    pending_ = {};
    long_name_.reset();
    long_link_.reset();
    return {};
  }

  std::string name_of(const header& h) const {
    if (pending_.path)
      return *pending_.path;
    if (long_name_)
      return *long_name_;
    auto name = text_field(h, 0, 100);
    // Only POSIX ustar has a prefix; GNU keeps times in those bytes.
    if (field(h, 257, 6) == std::string_view{"ustar\0", 6}) {
      auto prefix = text_field(h, 345, 155);
      if (!prefix.empty())
        name = prefix + "/" + name;
    }
    return name;
  }

  std::string link_name_of(const header& h) const {
    if (pending_.link_path)
      return *pending_.link_path;
    if (long_link_)
      return *long_link_;
    return text_field(h, 157, 100);
  }

  /// After every header is read, as a link may come before its target.
  void resolve_links() {
    for (const auto& [name, target] : links_) {
      auto at = target;
      for (int hop = 0; hop < max_link_hops; ++hop) {
        if (auto found = entries_.find(at); found != entries_.end()) {
          entries_[name] = found->second;
          break;
        }
        auto next = links_.find(at);
        if (next == links_.end())
          break; // a link to a folder or to nothing: no data
        at = next->second;
      }
    }
  }

  caf::error long_name(int64_t data, int64_t size, std::optional<std::string>& out) {
    auto text = read_meta(data, size, "GNU long name");
    if (!text)
      return std::move(text.error());
    out = text->substr(0, text->find('\0'));
    return {};
  }

  caf::error pax(int64_t data, int64_t size) {
    auto text = read_meta(data, size, "pax header");
    if (!text)
      return std::move(text.error());
    auto values = parse_pax(*text);
    if (!values)
      return invalid("has a malformed pax header at offset " + std::to_string(data - block));
    pending_ = std::move(*values);
    return {};
  }

  caf::expected<std::string> read_meta(int64_t data, int64_t size, const char* what) {
    if (size > max_meta_size)
      return invalid(std::string{"has a "} + what + " of " + std::to_string(size) +
                     " bytes at offset " + std::to_string(data - block));
    std::string text(static_cast<size_t>(size), '\0');
    if (!read_exactly(fd_, data, text.data(), text.size()))
      return failed(data);
    return text;
  }

  caf::error invalid(const std::string& what) const {
    return make_error(error_code::invalid_argument, "the image archive " + path_ + " " + what);
  }

  caf::error failed(int64_t at) const {
    return make_error(error_code::driver_failure, "cannot read the image archive " + path_ +
                                                      " at offset " + std::to_string(at) + ": " +
                                                      std::strerror(errno));
  }

  int fd_;
  int64_t file_size_;
  const std::string& path_;
  std::map<std::string, tar_entry> entries_;
  pax_values pending_;
  std::optional<std::string> long_name_;
  std::optional<std::string> long_link_;
  std::map<std::string, std::string> links_; // name -> target, both cleaned
};

} // namespace

bool read_exactly(int fd, int64_t offset, char* out, size_t size) {
  while (size > 0) {
    auto n = ::pread(fd, out, size, offset);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0) {
      if (n == 0)
        errno = EIO; // the file shrank under us
      return false;
    }
    out += n;
    size -= static_cast<size_t>(n);
    offset += n;
  }
  return true;
}

caf::expected<std::map<std::string, tar_entry>> read_tar_index(int fd, int64_t file_size,
                                                               const std::string& path) {
  return index_reader{fd, file_size, path}.run();
}

} // namespace tutti::runtime_drivers::containerd
