// client::import_image: an image archive streamed to a node in pieces.

#include "tools/tutti/client_impl.hpp"

#include "protocol/capnp_convert.hpp"

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>

namespace tutti::cli {

namespace {

/// Pieces of this size: large enough that a call per piece costs little,
/// small enough that the stream's window keeps a few in flight.
constexpr size_t piece_size = 256 * 1024;

/// The load of an archive into the image store (decompressing and unpacking
/// its layers) may take minutes for a large image.
constexpr auto load_limit = 30 * kj::MINUTES;

/// A refusal the server sends as the exception "CODE: message".
client_error refusal_of(const kj::Exception& e) {
  std::string description = e.getDescription().cStr();
  for (auto code : {protocol::error_code::invalid_argument, protocol::error_code::not_found,
                    protocol::error_code::driver_failure, protocol::error_code::unavailable,
                    protocol::error_code::timeout, protocol::error_code::forbidden,
                    protocol::error_code::unauthenticated}) {
    auto prefix = protocol::to_string(code) + ": ";
    if (auto at = description.find(prefix); at != std::string::npos)
      return {code, description.substr(at + prefix.size())};
  }
  return from_exception(e);
}

} // namespace

result<std::vector<std::string>> client::import_image(const std::string& path,
                                                      const std::string& node,
                                                      protocol::driver_kind driver,
                                                      const progress_handler& progress) {
  std::error_code ec;
  auto size = std::filesystem::file_size(path, ec);
  std::ifstream in{path, std::ios::binary};
  if (ec || !in)
    return client_error{client_code::invalid_argument,
                        "cannot read " + path + ": " + (ec ? ec.message() : std::strerror(errno))};
  auto& io = *impl_;
  auto req = io.tutti.importImageRequest();
  req.setNode(node);
  req.setDriver(protocol::to_capnp(driver));
  req.setFileName(std::filesystem::path{path}.filename().string());
  req.setSize(size);
  auto started = io.call(req.send(), [](auto& r) -> result<rpc::ImageUpload::Client> {
    if (auto err = error_of(r.getError()))
      return *err;
    return r.getUpload();
  });
  if (!started)
    return started.error();
  auto upload = *started;
  auto timed_out = [&](const std::string& what) {
    return client_error{client_code::timeout, "tuttid at " + io.api + " did not take " + what +
                                                  " within " + seconds_text(io.timeout)};
  };
  try {
    std::vector<char> buf(piece_size);
    uint64_t sent = 0;
    while (sent < size) {
      in.read(buf.data(), static_cast<std::streamsize>(std::min<uint64_t>(piece_size, size - sent)));
      auto n = static_cast<size_t>(in.gcount());
      if (n == 0)
        return client_error{client_code::invalid_argument,
                            path + " ended after " + std::to_string(sent) + " of " +
                                std::to_string(size) + " bytes while it was sent"};
      auto piece = upload.writeRequest();
      piece.setData(kj::arrayPtr(reinterpret_cast<const kj::byte*>(buf.data()), n));
      if (io.wait(piece.send().then([] { return true; })) == nullptr)
        return timed_out("the piece at byte " + std::to_string(sent));
      sent += n;
      progress(sent, size);
    }
    KJ_IF_MAYBE (answer, io.wait(upload.doneRequest().send(), load_limit)) {
      if (auto err = error_of(answer->getError()))
        return *err;
      std::vector<std::string> images;
      for (auto name : answer->getImages())
        images.emplace_back(name.cStr(), name.size());
      return images;
    }
    return client_error{client_code::timeout, "node " + node + " did not load " + path +
                                                  " within " + seconds_text(load_limit)};
  } catch (const kj::Exception& e) {
    return refusal_of(e);
  }
}

} // namespace tutti::cli
