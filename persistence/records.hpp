#pragma once

// Private to persistence/: the JSON encoding of stored values. Decoders accept
// records with missing fields (they take the struct's defaults) so that a field added
// later still reads records written before it.

#include "persistence/store.hpp"

#include <caf/expected.hpp>

#include <string>
#include <string_view>

namespace tutti::persistence::detail {

/// The value of a "specs" record: yaml and time_ms; name and revision live in the key.
std::string encode_spec_value(const stored_spec& x);

/// Fills yaml and time_ms of `out`.
caf::error decode_spec_value(std::string_view bytes, stored_spec& out);

std::string encode_assignment(const assignment& x);
caf::expected<assignment> decode_assignment(std::string_view bytes);

std::string encode_node(const protocol::node_status& x);
caf::expected<protocol::node_status> decode_node(std::string_view bytes);

std::string encode_event(const protocol::event& x);
caf::expected<protocol::event> decode_event(std::string_view bytes);

} // namespace tutti::persistence::detail
