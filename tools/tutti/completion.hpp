#pragma once

// Shell completion: `tutti completion bash|zsh|fish` prints a script that asks
// `tutti __complete WORD...` for the candidates of the word being typed, which
// walks the command tree CLI11 holds (commands, their options, the globals).

#include <CLI/CLI.hpp>

#include <optional>
#include <string>
#include <vector>

namespace tutti::cli {

/// The candidates for the last of `words` (the words after `tutti`, the last
/// one being typed, maybe empty): the subcommands of the command typed so far,
/// or its options and the global ones when the word starts with '-'.
std::vector<std::string> complete(const CLI::App& app, const std::vector<std::string>& words);

/// The completion script of `shell` (bash, zsh or fish); nullopt for another.
std::optional<std::string> completion_script(const std::string& shell);

} // namespace tutti::cli
