#pragma once

// How tokens and audit records are kept in the store (protocol::stored_object
// values): JSON objects. Decoding a damaged value is an error naming it, never
// an exception.

#include "protocol/access.hpp"
#include "protocol/objects.hpp"

#include <caf/expected.hpp>

#include <string>
#include <string_view>

namespace tutti::access {

std::string encode(const protocol::token_record& x);
caf::expected<protocol::token_record> decode_token(std::string_view value);

std::string encode(const protocol::audit_record& x);
caf::expected<protocol::audit_record> decode_audit(std::string_view value);

/// Config and Secret versions: their data as base64 (a secret's sealed).
std::string encode(const protocol::object_record& x);
caf::expected<protocol::object_record> decode_object(protocol::object_kind kind,
                                                     std::string_view value);

/// An audit record's id: its time in ms (16 digits, so ids sort as times do)
/// and `suffix`, which keeps two records of one millisecond apart.
std::string audit_id(int64_t time_ms, uint64_t suffix);

} // namespace tutti::access
