#include "actors/api/backup_sender.hpp"

#include "access/digest.hpp"
#include "protocol/errors.hpp"
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <memory>
#include <random>

#include <fcntl.h>
#include <unistd.h>

namespace tutti::actors {

namespace {

namespace fs = std::filesystem;
namespace p = tutti::protocol;

constexpr size_t piece_size = 256 * 1024;
constexpr std::string_view file_prefix = "backup-";

/// One send: the open file, the running digest, and the file's removal.
struct sending {
  std::string path;
  int fd = -1;
  access::sha256_stream digest;
  uint64_t bytes = 0;
  std::vector<unsigned char> buffer = std::vector<unsigned char>(piece_size);

  ~sending() {
    if (fd >= 0)
      ::close(fd);
    ::unlink(path.c_str());
  }
};

caf::error send_failed(const std::string& why) {
  return p::make_error(p::error_code::store_failure, "the backup could not be sent: " + why);
}

kj::Promise<caf::expected<backup_sent>> next_piece(std::shared_ptr<sending> s,
                                                   protocol::rpc::BackupSink::Client sink) {
  auto n = ::read(s->fd, s->buffer.data(), s->buffer.size());
  if (n < 0)
    return caf::expected<backup_sent>{send_failed(std::strerror(errno))};
  if (n == 0)
    return caf::expected<backup_sent>{backup_sent{s->bytes, s->digest.hex()}};
  s->digest.update(s->buffer.data(), static_cast<size_t>(n));
  s->bytes += static_cast<uint64_t>(n);
  auto req = sink.writeRequest();
  req.setData(kj::arrayPtr(s->buffer.data(), static_cast<size_t>(n)));
  return req.send().then([s, sink]() mutable { return next_piece(s, sink); });
}

} // namespace

caf::expected<std::string> backup_file(const std::string& dir) {
  // Made at start (clear_backup_files): a data directory removed since is
  // not brought back for a backup's copy.
  std::error_code ec;
  fs::create_directory(dir, ec);
  if (!ec)
    fs::permissions(dir, fs::perms::owner_all, ec);
  if (ec)
    return p::make_error(p::error_code::store_failure,
                         "cannot make the folder for backups " + dir + ": " + ec.message());
  std::random_device rd;
  auto id = (uint64_t{rd()} << 32) | rd();
  return dir + "/" + std::string{file_prefix} + std::to_string(id) + ".mdb";
}

void clear_backup_files(const std::string& dir) {
  std::error_code ec;
  fs::create_directories(dir, ec); // a control plane on etcd may have made no data directory
  fs::permissions(dir, fs::perms::owner_all, ec);
  for (const auto& entry : fs::directory_iterator(dir, ec))
    if (entry.path().filename().string().rfind(file_prefix, 0) == 0)
      fs::remove(entry.path(), ec);
}

kj::Promise<caf::expected<backup_sent>> send_backup(std::string path,
                                                   protocol::rpc::BackupSink::Client sink) {
  auto s = std::make_shared<sending>();
  s->path = path;
  s->fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (s->fd < 0)
    return caf::expected<backup_sent>{send_failed("cannot open " + path + ": " +
                                                  std::strerror(errno))};
  return next_piece(s, kj::mv(sink)).catch_([](kj::Exception&& e) {
    return caf::expected<backup_sent>{
        send_failed(std::string{"the client stopped taking it ("} + e.getDescription().cStr() +
                    ")")};
  });
}

} // namespace tutti::actors
