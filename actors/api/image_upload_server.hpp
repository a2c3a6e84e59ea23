#pragma once

// The receiving end of `tutti image import`: an ImageUpload capability that
// passes each piece of an archive on to the node agent that loads it.

#include "actors/interfaces.hpp"
#include "protocol/api.capnp.h"

#include <caf/fwd.hpp>

#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace tutti::actors {

struct image_upload_target {
  node_actor node;
  std::string node_name;
  std::string upload; // the upload's id on the node: [a-z0-9-]+
  std::string file;   // the archive's name where the client has it
  p::driver_kind driver = p::driver_kind::containerd;
  uint64_t size = 0;             // what the client said it sends
  caf::timespan piece_timeout;   // one piece written on the node
  caf::timespan load_timeout;    // the driver's load of the whole archive
};

/// The upload of `file` (`size` bytes) to `node`'s `driver`, with a fresh
/// upload id, its node handle still to be filled in; invalid_argument for a
/// driver that runs no images or an empty archive.
caf::expected<image_upload_target> import_target(std::string node,
                                                 std::optional<p::driver_kind> driver,
                                                 const std::string& file, uint64_t size,
                                                 caf::timespan piece_timeout);

/// Called before each piece: an error (a revoked token) ends the upload.
using upload_permit = std::function<caf::error()>;

/// Called once when the node answered done: the images, or why not.
using upload_outcome = std::function<void(const caf::expected<std::vector<std::string>>&)>;

/// The upload's capability. A piece is acknowledged once the node wrote it, so
/// the client's stream window bounds what is in flight. Dropped before done,
/// it tells the node to discard what arrived.
kj::Own<protocol::rpc::ImageUpload::Server> make_image_upload(caf::actor_system& sys,
                                                             image_upload_target target,
                                                             upload_permit permit,
                                                             upload_outcome outcome);

} // namespace tutti::actors
