#include "actors/node/image_upload.hpp"

#include "protocol/errors.hpp"

#include <caf/all.hpp>

#include <spdlog/spdlog.h>

#include <cerrno>
#include <cstdio>
#include <algorithm>
#include <cstring>

#include <unistd.h>

namespace tutti::actors {

namespace {

/// An upload that hears nothing for this long is given up: its client (or the
/// control plane) is gone.
constexpr auto idle_limit = std::chrono::minutes{1};

struct upload_state {
  std::shared_ptr<rd::driver> driver;
  std::string path;
  std::string node;
  std::FILE* file = nullptr;
  uint64_t written = 0;
  bool heard = true; // a piece came since the last tick
  static inline const char* name = "image-upload";

  upload_state() = default;
  upload_state(const upload_state&) = delete;
  upload_state& operator=(const upload_state&) = delete;

  /// The archive goes with the upload, loaded or not.
  ~upload_state() { discard(); }

  /// Before the answer, so that a client that has it finds nothing left.
  void discard() {
    if (file != nullptr)
      std::fclose(file);
    file = nullptr;
    if (!path.empty())
      ::unlink(path.c_str());
    path.clear();
  }
};

using self_ptr = image_upload_actor::stateful_pointer<upload_state>;

caf::error fail(self_ptr self, const std::string& why) {
  auto err = p::make_error(p::error_code::invalid_argument,
                           "image import on node " + self->state.node + ": " + why);
  self->state.discard();
  self->quit();
  return err;
}

/// `message` with the node's copy of the archive named as the client named it.
std::string as_sent(std::string message, const std::string& path, const std::string& file) {
  if (file.empty())
    return message;
  for (auto at = message.find(path); at != std::string::npos;
       at = message.find(path, at + file.size()))
    message.replace(at, path.size(), file);
  return message;
}

caf::error write_piece(self_ptr self, const p::image_chunk& c) {
  auto& st = self->state;
  if (c.offset != st.written)
    return p::make_error(p::error_code::invalid_argument,
                         "a piece at byte " + std::to_string(c.offset) + " came after " +
                             std::to_string(st.written) + " bytes");
  if (c.data.size() > c.size - std::min(c.size, st.written))
    return p::make_error(p::error_code::invalid_argument,
                         "the archive is longer than the " + std::to_string(c.size) +
                             " bytes announced");
  if (!c.data.empty() && std::fwrite(c.data.data(), 1, c.data.size(), st.file) != c.data.size())
    return p::make_error(p::error_code::driver_failure,
                         "cannot write " + st.path + ": " + std::strerror(errno));
  st.written += c.data.size();
  return {};
}

caf::result<std::vector<std::string>> on_piece(self_ptr self, const p::image_chunk& c) {
  auto& st = self->state;
  st.heard = true;
  if (auto err = write_piece(self, c)) {
    st.discard();
    self->quit();
    return err;
  }
  if (!c.last)
    return std::vector<std::string>{};
  auto closed = std::fclose(st.file);
  st.file = nullptr;
  if (closed != 0)
    return fail(self, "cannot write " + st.path + ": " + std::strerror(errno));
  spdlog::info("node {}: loading an image archive of {} bytes into the {} driver", st.node,
               st.written, p::to_string(st.driver->kind()));
  auto images = st.driver->import_images(st.path);
  auto path = st.path;
  st.discard();
  self->quit();
  if (!images)
    return p::make_error(p::code_of(images.error()),
                         "image import on node " + st.node + ": " +
                             as_sent(p::message_of(images.error()), path, c.file));
  return std::move(*images);
}

image_upload_actor::behavior_type upload(self_ptr self, std::shared_ptr<rd::driver> driver,
                                         std::string path, std::string node) {
  auto& st = self->state;
  st.driver = std::move(driver);
  st.path = std::move(path);
  st.node = std::move(node);
  st.file = std::fopen(st.path.c_str(), "wbx");
  std::string opened; // why the file could not be made; then it is not ours to remove
  if (st.file == nullptr) {
    opened = "cannot create " + st.path + ": " + std::strerror(errno);
    st.path.clear();
  }
  self->delayed_send(self, idle_limit, p::tick_atom::value);
  return {
      [self, opened](p::import_atom, const p::image_chunk& c) -> caf::result<std::vector<std::string>> {
        if (!opened.empty())
          return fail(self, opened);
        return on_piece(self, c);
      },
      [self](p::tick_atom) {
        if (!self->state.heard) {
          spdlog::warn("node {}: an image upload heard nothing for a minute; discarded",
                       self->state.node);
          self->quit();
          return;
        }
        self->state.heard = false;
        self->delayed_send(self, idle_limit, p::tick_atom::value);
      },
  };
}

} // namespace

image_upload_actor spawn_image_upload(caf::actor_system& sys, std::shared_ptr<rd::driver> driver,
                                      std::string path, std::string node) {
  return sys.spawn<caf::detached>(upload, std::move(driver), std::move(path), std::move(node));
}

} // namespace tutti::actors
