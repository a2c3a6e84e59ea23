#pragma once

// ${VAR} expansion in replica commands, e.g. "-p ${PORT}" with the port the node
// picked. No shell semantics: no $VAR without braces, no defaults, no nesting.

#include <caf/expected.hpp>

#include <map>
#include <string>
#include <vector>

namespace tutti::runtime_drivers {

/// Replaces every ${NAME} (NAME: [A-Za-z_][A-Za-z0-9_]*) in `text` with its value
/// in `env`. "$${" stands for a literal "${"; any other '$' is kept as is, so
/// shell code like `sh -c 'echo $HOME $$'` passes through. invalid_argument
/// "unknown variable ${X} in '...'" when NAME is not in `env`, and for a
/// malformed reference.
caf::expected<std::string> substitute_env(const std::string& text,
                                          const std::map<std::string, std::string>& env);

/// substitute_env on every element, e.g. a command line.
caf::expected<std::vector<std::string>>
substitute_env(const std::vector<std::string>& texts,
               const std::map<std::string, std::string>& env);

} // namespace tutti::runtime_drivers
