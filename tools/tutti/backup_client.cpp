// client::backup: the store's copy received into a file.

#include "tools/tutti/client_impl.hpp"

#include "access/digest.hpp"

#include <cerrno>
#include <cstring>
#include <memory>

#include <fcntl.h>
#include <unistd.h>

namespace tutti::cli {

namespace {

/// A whole store may be large: its copy and transfer get half an hour.
constexpr auto backup_limit = 30 * kj::MINUTES;

/// What arrived so far: the file, its digest and the first write error.
struct received {
  std::string path;
  int fd = -1;
  access::sha256_stream digest;
  uint64_t bytes = 0;
  std::string write_error;

  ~received() {
    if (fd >= 0)
      ::close(fd);
  }
};

class file_sink final : public rpc::BackupSink::Server {
public:
  file_sink(std::shared_ptr<received> into, client::progress_handler progress)
    : into_(std::move(into)), progress_(std::move(progress)) {}

  kj::Promise<void> write(WriteContext ctx) override {
    auto data = ctx.getParams().getData();
    size_t done = 0;
    while (done < data.size()) {
      auto n = ::write(into_->fd, data.begin() + done, data.size() - done);
      if (n < 0) {
        into_->write_error = "cannot write " + into_->path + ": " + std::strerror(errno);
        return KJ_EXCEPTION(FAILED, into_->write_error.c_str());
      }
      done += static_cast<size_t>(n);
    }
    into_->digest.update(data.begin(), data.size());
    into_->bytes += data.size();
    progress_(into_->bytes, 0);
    return kj::READY_NOW;
  }

private:
  std::shared_ptr<received> into_;
  client::progress_handler progress_;
};

result<backup_taken> finish(received& r, uint64_t bytes, const std::string& sha256) {
  if (r.bytes != bytes || r.digest.hex() != sha256)
    return client_error{client_code::rpc_failure,
                        "the backup arrived damaged: tuttid sent " + std::to_string(bytes) +
                            " bytes with SHA-256 " + sha256 + ", " + std::to_string(r.bytes) +
                            " arrived; take it again"};
  if (::fsync(r.fd) != 0)
    return client_error{client_code::invalid_argument,
                        "cannot write " + r.path + ": " + std::strerror(errno)};
  return backup_taken{bytes, sha256};
}

} // namespace

result<backup_taken> client::backup(const std::string& path, const progress_handler& progress) {
  auto into = std::make_shared<received>();
  into->path = path;
  // A new file of our own (mode 0600): one left there, or a link, is replaced.
  ::unlink(path.c_str());
  into->fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (into->fd < 0)
    return client_error{client_code::invalid_argument,
                        "cannot create " + path + ": " + std::strerror(errno)};
  auto& io = *impl_;
  auto req = io.tutti.backupRequest();
  req.setSink(kj::heap<file_sink>(into, progress));
  auto taken = [&]() -> result<backup_taken> {
    try {
      KJ_IF_MAYBE (answer, io.wait(req.send(), backup_limit)) {
        if (auto err = error_of(answer->getError()))
          return *err;
        return finish(*into, answer->getBytes(), answer->getSha256().cStr());
      }
      return client_error{client_code::timeout, "tuttid at " + io.api +
                                                    " did not finish the backup within " +
                                                    seconds_text(backup_limit)};
    } catch (const kj::Exception& e) {
      if (!into->write_error.empty())
        return client_error{client_code::invalid_argument, into->write_error};
      return from_exception(e);
    }
  }();
  if (!taken)
    ::unlink(path.c_str());
  return taken;
}

} // namespace tutti::cli
