#pragma once

#include "actors/interfaces.hpp"

#include <memory>
#include <string>

namespace tutti::actors {

/// Spawns the upload of one image archive into `driver`, written to `path`
/// (created; removed when the upload ends, whichever way). The driver's
/// import_images runs on the upload's own thread: a load of minutes holds no
/// driver worker and no replica's calls.
image_upload_actor spawn_image_upload(caf::actor_system& sys, std::shared_ptr<rd::driver> driver,
                                      std::string path, std::string node);

} // namespace tutti::actors
