#pragma once

// Checks of command-line arguments that CLI11 cannot express; pure functions so the
// messages are unit-tested.

#include "tools/tutti/result.hpp"

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace tutti::cli {

/// One `NAME=REPLICAS` argument of `tutti scale`.
struct scale_target {
  std::string service;
  int32_t replicas = 0;
  friend bool operator==(const scale_target&, const scale_target&) = default;
};

/// Parses `NAME=REPLICAS`; REPLICAS is 0..protocol::max_replicas.
result<scale_target> parse_scale_target(std::string_view arg);

/// Parses every argument, failing on the first bad one (so nothing is scaled when
/// one of several arguments is mistyped).
result<std::vector<scale_target>> parse_scale_targets(const std::vector<std::string>& args);

/// Checks `HOST:PORT` (IPv6 as `[::1]:7700`), or several separated by commas
/// (control processes of one cluster); returns a message, empty when valid.
/// Shaped for CLI::Validator.
std::string check_api_address(const std::string& text);
std::string check_one_api_address(const std::string& text);

/// The addresses of an --api value, in order.
std::vector<std::string> api_addresses(const std::string& text);

/// `tutti delete service web` means `tutti delete web`: drops the leading kind word
/// when more than one argument was given, and a `service/` prefix of each name.
std::vector<std::string> service_names(std::vector<std::string> args);

} // namespace tutti::cli
