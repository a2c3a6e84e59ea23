#pragma once

// UTF-8 at the edge: every text that enters tutti from outside is checked where it
// enters, and every text it hands to a client is valid UTF-8 (Cap'n Proto's Text,
// JSON and YAML all require it; nlohmann's encoder throws on anything else).

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace tutti::protocol {

/// The offset of the first byte of `text` that does not belong to a well-formed
/// UTF-8 sequence (RFC 3629: no overlong forms, no surrogates, at most U+10FFFF),
/// or nullopt when all of it is valid.
std::optional<size_t> first_invalid_utf8(std::string_view text);

inline bool valid_utf8(std::string_view text) {
  return !first_invalid_utf8(text).has_value();
}

/// `text` with every byte that is not part of valid UTF-8 written as `\xFF`
/// (upper-case hex), so a message can quote hostile input and stay readable.
std::string escape_invalid_utf8(std::string_view text);

/// `text` itself when it is valid UTF-8, else its escaped form.
inline std::string sanitize_utf8(std::string text) {
  return valid_utf8(text) ? std::move(text) : escape_invalid_utf8(text);
}

} // namespace tutti::protocol
