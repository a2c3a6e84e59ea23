#pragma once

// The index of an uncompressed tar file: where each regular file's bytes lie.
// ustar, GNU (././@LongLink names, base-256 sizes) and pax (path= and size=
// of 'x' headers) as `docker save`, containerd, Go's archive/tar and GNU tar
// write them. Written for files from anywhere: every size and offset is checked
// against the file's size before it is used. Internal to runtime-drivers.

#include <caf/expected.hpp>

#include <cstdint>
#include <map>
#include <string>

namespace tutti::runtime_drivers::containerd {

/// Where a regular file's data lies in the tar.
struct tar_entry {
  int64_t offset = 0;
  int64_t size = 0;
};

/// Reads the headers of the tar open at `fd` (`file_size` bytes; `path` only
/// names the file in errors). Names lose a leading "./" or "/"; a name that
/// appears twice keeps its last entry, as extracting would. A symbolic or hard
/// link to a regular file is an entry with its target's data (`docker save`
/// links a layer.tar that two images share); directories, devices and links
/// leading nowhere are left out. invalid_argument naming the file and the offset
/// when a header is broken or cut short, or a size points past the end;
/// driver_failure when reading fails.
caf::expected<std::map<std::string, tar_entry>> read_tar_index(int fd, int64_t file_size,
                                                               const std::string& path);

/// Reads `size` bytes at `offset` of `fd` into `out`, retrying short reads;
/// false when the file ends first or a read fails (errno tells which).
bool read_exactly(int fd, int64_t offset, char* out, size_t size);

} // namespace tutti::runtime_drivers::containerd
