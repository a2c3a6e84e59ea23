#pragma once

// Private to tools/tutti: what every command file shares (commands.cpp,
// access_commands.cpp).

#include "tools/tutti/client.hpp"
#include "tools/tutti/commands.hpp"

#include <memory>
#include <optional>
#include <string>

namespace tutti::cli {

/// Prints `e` (and what to do about it) to stderr; the exit code for it.
int report(const streams& io, const client_error& e, std::string hint = {});

/// An environment variable's value; nullopt when it is not set at all.
std::optional<std::string> env_value(const char* name);

/// The credentials of a command: flags over the environment over the
/// current context (client_config.hpp), else ./.tutti/admin.token.
result<credentials> credentials_of(const global_options& g);

/// A client of the tuttid of `g` (the leader of several), with credentials_of(g).
result<std::unique_ptr<client>> connect_to_tuttid(const global_options& g);

} // namespace tutti::cli
