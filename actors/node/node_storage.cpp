#include "actors/node/node_storage.hpp"

#include "actors/node/image_upload.hpp"
#include "protocol/errors.hpp"

#include <caf/all.hpp>

#include <spdlog/spdlog.h>

#include <algorithm>
#include <filesystem>

namespace tutti::actors::node_impl {

// ----- image imports ------------------------------------------------------------

namespace {


/// At most this many image archives arrive at once: each takes disk space.
constexpr size_t max_uploads = 4;

/// Disk space an upload leaves free beyond its archive.
constexpr uint64_t upload_headroom = uint64_t{64} << 20;

bool valid_upload_id(const std::string& id) {
  return !id.empty() && id.size() <= 64 &&
         std::all_of(id.begin(), id.end(), [](char c) {
           return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
         });
}

std::string driver_names(const node_context& ctx) {
  std::string out;
  for (const auto& [kind, d] : ctx.drivers)
    out += (out.empty() ? "" : ", ") + p::to_string(kind);
  return out;
}

/// The upload a first piece starts, or the error that refuses it.
caf::expected<image_upload_actor> start_upload(self_ptr self, const p::image_chunk& c) {
  auto& st = self->state;
  const auto& node = st.ctx.config.name;
  auto refuse = [&](p::error_code code, const std::string& why) {
    return p::make_error(code, "image import on node " + node + ": " + why);
  };
  if (!valid_upload_id(c.upload))
    return refuse(p::error_code::invalid_argument, "malformed upload id");
  if (c.offset != 0)
    return refuse(p::error_code::not_found,
                  "the upload is gone (idle for a minute, or tuttid restarted); import again");
  auto d = st.ctx.drivers.find(c.driver);
  if (d == st.ctx.drivers.end())
    return refuse(p::error_code::invalid_argument, "the node does not run the " +
                                                       p::to_string(c.driver) +
                                                       " driver (it runs " + driver_names(st.ctx) + ")");
  if (st.ctx.config.upload_dir.empty())
    return refuse(p::error_code::invalid_argument, "this node agent takes no uploads");
  if (st.uploads.size() >= max_uploads)
    return refuse(p::error_code::unavailable, std::to_string(max_uploads) +
                                                  " archives are arriving already; retry once "
                                                  "one is loaded");
  std::error_code ec;
  std::filesystem::create_directories(st.ctx.config.upload_dir, ec);
  auto space = std::filesystem::space(st.ctx.config.upload_dir, ec);
  if (!ec && space.available < c.size + upload_headroom)
    return refuse(p::error_code::unavailable,
                  "its data directory has " + std::to_string(space.available >> 20) +
                      " MiB free; the archive needs " + std::to_string(c.size >> 20) +
                      " MiB and 64 MiB to spare");
  auto upload = spawn_image_upload(self->system(), d->second,
                                   st.ctx.config.upload_dir + "/" + c.upload + ".tar", node);
  // However it ends (an idle minute included), the node forgets it.
  upload->attach_functor([node = caf::actor_cast<caf::actor>(self), id = c.upload] {
    caf::anon_send(node, p::import_atom::value, p::delete_atom::value, id);
  });
  st.uploads.emplace(c.upload, upload);
  return upload;
}

/// Whether a replica on this node runs with persistent volume `volume` of `replica`.
bool volume_in_use(self_ptr self, const std::string& replica, const std::string& volume) {
  auto i = self->state.replicas.find(replica);
  if (i == self->state.replicas.end())
    return false;
  const auto& vs = i->second.req->spec->volumes;
  return std::any_of(vs.begin(), vs.end(), [&](const auto& v) {
    return v.name == volume && v.type == p::volume_type::persistent;
  });
}

} // namespace

caf::result<std::vector<std::string>> import_piece(self_ptr self, p::image_chunk& c) {
  auto i = self->state.uploads.find(c.upload);
  image_upload_actor upload;
  if (i != self->state.uploads.end()) {
    upload = i->second;
  } else {
    auto started = start_upload(self, c);
    if (!started)
      return std::move(started.error());
    upload = *started;
  }
  auto promise = self->make_response_promise<std::vector<std::string>>();
  auto id = c.upload;
  bool last = c.last;
  // No timeout: loading a large archive takes minutes; an upload that ends
  // fails the request at once.
  self->request(upload, caf::infinite, p::import_atom::value, std::move(c))
      .then(
          [self, promise, id, last](std::vector<std::string>& images) mutable {
            if (last)
              self->state.uploads.erase(id);
            promise.deliver(std::move(images));
          },
          [self, promise, id](caf::error& err) mutable {
            self->state.uploads.erase(id);
            if (err.category() != p::error_category)
              err = p::make_error(p::error_code::not_found,
                                  "image import on node " + self->state.ctx.config.name +
                                      ": the upload is gone (idle for a minute); import again");
            promise.deliver(std::move(err));
          });
  return promise;
}

void discard_upload(self_ptr self, const std::string& id) {
  auto i = self->state.uploads.find(id);
  if (i == self->state.uploads.end())
    return;
  caf::anon_send_exit(i->second, caf::exit_reason::user_shutdown);
  self->state.uploads.erase(i);
}

// ----- persistent volumes ----------------------------------------------------------

std::vector<p::volume_info> list_volumes(self_ptr self) {
  std::vector<p::volume_info> out;
  for (auto& [replica, volume] : persistent_volumes(*self->state.volumes))
    out.push_back({self->state.ctx.config.name, replica, volume,
                   volume_in_use(self, replica, volume)});
  return out;
}

/// Removes the folder on a detached worker: a large volume takes a while, and
/// the node goes on with its replicas meanwhile.
caf::result<bool> remove_volume(self_ptr self, const std::string& replica,
                                const std::string& volume) {
  const auto& node = self->state.ctx.config.name;
  if (volume_in_use(self, replica, volume))
    return p::make_error(p::error_code::invalid_argument,
                         "volume " + volume + " of " + replica + " on node " + node +
                             " is in use by replica " + replica +
                             "; delete its service or scale it below that slot first");
  auto worker = self->system().spawn<caf::detached>(
      [places = self->state.volumes, replica, volume, node](caf::event_based_actor* w) {
        return caf::behavior{[=](p::delete_atom) -> caf::result<bool> {
          w->quit();
          if (auto err = remove_persistent(*places, replica, volume))
            return p::make_error(p::code_of(err), p::message_of(err) + " (node " + node + ")");
          spdlog::info("node {}: removed persistent volume {} of {}", node, volume, replica);
          return true;
        }};
      });
  auto promise = self->make_response_promise<bool>();
  self->request(worker, caf::infinite, p::delete_atom::value)
      .then(
          [self, promise](bool x) mutable {
            load_volume_slots(self);
            report_volume_slots(self);
            promise.deliver(x);
          },
          [promise](caf::error& err) mutable { promise.deliver(std::move(err)); });
  return promise;
}

void load_volume_slots(self_ptr self) {
  auto& slots = self->state.volume_slots;
  slots.clear();
  for (const auto& [replica, volume] : persistent_volumes(*self->state.volumes))
    slots.insert(replica);
}

void report_volume_slots(self_ptr self) {
  const auto& slots = self->state.volume_slots;
  self->send(self->state.ctx.placement, p::volumes_atom::value, self->state.ctx.config.name,
             std::vector<std::string>{slots.begin(), slots.end()});
}

void note_volume_slot(self_ptr self, const std::string& replica, const p::service_spec& spec) {
  bool persistent = std::any_of(spec.volumes.begin(), spec.volumes.end(), [](const auto& v) {
    return v.type == p::volume_type::persistent;
  });
  if (persistent && self->state.volume_slots.insert(replica).second)
    report_volume_slots(self);
}

/// Archives of uploads a previous run of this node left behind (the folder
/// is made by the first upload).
void clear_uploads(const std::string& dir) {
  if (dir.empty())
    return;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator{dir, ec})
    if (entry.path().extension() == ".tar")
      std::filesystem::remove(entry.path(), ec);
}

} // namespace tutti::actors::node_impl
