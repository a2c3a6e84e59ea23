#pragma once

// What a node keeps on its disk besides its replicas: image archives on their
// way into a driver (`tutti image import`) and persistent volumes (`tutti
// volume ls|rm`). Part of the node actor.

#include "actors/node/node_state.hpp"

#include <string>
#include <vector>

namespace tutti::actors::node_impl {

/// Passes a piece of an image archive to its upload, starting the upload with
/// the first piece; answers the images loaded after the last.
caf::result<std::vector<std::string>> import_piece(self_ptr self, p::image_chunk& c);

/// Ends an upload its client gave up (or that ended by itself).
void discard_upload(self_ptr self, const std::string& id);

/// Archives of uploads a previous run of this node left behind.
void clear_uploads(const std::string& dir);

/// The persistent volumes this node keeps, and whether a replica here runs with each.
std::vector<p::volume_info> list_volumes(self_ptr self);

/// Reads which slots have persistent volumes here (at the node's start).
void load_volume_slots(self_ptr self);

/// Tells placement which slots have persistent volumes here, so that a slot
/// placed anew (a service deleted and applied again) goes back to its data.
void report_volume_slots(self_ptr self);

/// Notes that slot `replica` runs here with `spec`: one more slot with a
/// persistent volume is reported.
void note_volume_slot(self_ptr self, const std::string& replica, const p::service_spec& spec);

/// Removes a persistent volume no replica here runs with.
caf::result<bool> remove_volume(self_ptr self, const std::string& replica,
                                const std::string& volume);

} // namespace tutti::actors::node_impl
