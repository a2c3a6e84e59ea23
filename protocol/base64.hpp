#pragma once

// Base64 (RFC 4648, with padding, no line breaks) for the bytes of Config and
// Secret objects: in stored records, in `data_base64:` and in the CLI's documents.

#include <optional>
#include <string>
#include <string_view>

namespace tutti::protocol {

/// `data` as base64 with padding.
std::string to_base64(std::string_view data);

/// The bytes of canonical base64 text (padded, no blanks); nullopt otherwise.
std::optional<std::string> from_base64(std::string_view text);

} // namespace tutti::protocol
