#include "tools/tutti/completion.hpp"

#include <algorithm>
#include <set>

namespace tutti::cli {

namespace {

/// The option `word` (--name, --name=value, -x) names on `app` or the apps
/// above it (global options work after the command); null when none.
const CLI::Option* option_of(const CLI::App* app, const std::string& word) {
  auto name = word.substr(0, word.find('='));
  for (; app != nullptr; app = app->get_parent())
    for (const auto* opt : app->get_options()) {
      for (const auto& l : opt->get_lnames())
        if (name == "--" + l)
          return opt;
      for (const auto& s : opt->get_snames())
        if (name == "-" + s)
          return opt;
    }
  return nullptr;
}

const CLI::App* subcommand_of(const CLI::App* app, const std::string& word) {
  auto subs = app->get_subcommands([](const CLI::App*) { return true; });
  auto i = std::find_if(subs.begin(), subs.end(),
                        [&](const CLI::App* x) { return x->get_name() == word; });
  return i == subs.end() ? nullptr : *i;
}

/// The command the words before the last one reach; null when one of them is
/// no command where a command must come (nothing completes after it).
const CLI::App* command_of(const CLI::App& root, const std::vector<std::string>& words) {
  const CLI::App* app = &root;
  for (size_t i = 0; i + 1 < words.size(); ++i) {
    const auto& word = words[i];
    if (!word.empty() && word.front() == '-') {
      auto* opt = option_of(app, word);
      // A value follows as the next word unless it came with '='.
      if (opt != nullptr && opt->get_type_size_max() > 0 && word.find('=') == std::string::npos)
        ++i;
      continue;
    }
    if (auto* sub = subcommand_of(app, word))
      app = sub;
    else if (app->get_require_subcommand_min() > 0)
      return nullptr;
  }
  return app;
}

void add_options(const CLI::App* app, std::set<std::string>& out) {
  for (; app != nullptr; app = app->get_parent())
    for (const auto* opt : app->get_options())
      for (const auto& l : opt->get_lnames())
        out.insert("--" + l);
}

} // namespace

std::vector<std::string> complete(const CLI::App& app, const std::vector<std::string>& words) {
  auto partial = words.empty() ? std::string{} : words.back();
  const auto* command = command_of(app, words);
  if (command == nullptr)
    return {};
  std::set<std::string> candidates;
  if (!partial.empty() && partial.front() == '-')
    add_options(command, candidates);
  else
    for (const auto* sub : command->get_subcommands([](const CLI::App*) { return true; }))
      candidates.insert(sub->get_name());
  std::vector<std::string> out;
  for (const auto& c : candidates)
    if (c.compare(0, partial.size(), partial) == 0)
      out.push_back(c);
  return out;
}

std::optional<std::string> completion_script(const std::string& shell) {
  if (shell == "bash")
    return "# tutti completion for bash: source it, or put it in "
           "/etc/bash_completion.d/tutti\n"
           "_tutti() {\n"
           "  local IFS=$'\\n'\n"
           "  COMPREPLY=($(tutti __complete \"${COMP_WORDS[@]:1:$COMP_CWORD}\" 2>/dev/null))\n"
           "}\n"
           "complete -o default -F _tutti tutti\n";
  if (shell == "zsh")
    return "#compdef tutti\n"
           "# tutti completion for zsh: put it in a folder of $fpath as _tutti\n"
           "_tutti() {\n"
           "  local -a candidates\n"
           "  candidates=(\"${(@f)$(tutti __complete \"${(@)words[2,CURRENT]}\" 2>/dev/null)}\")\n"
           "  compadd -a candidates\n"
           "}\n"
           "compdef _tutti tutti\n";
  if (shell == "fish")
    return "# tutti completion for fish: put it in ~/.config/fish/completions/tutti.fish\n"
           "complete -c tutti -f -a '(tutti __complete (commandline -opc | tail -n +2) "
           "(commandline -ct))'\n";
  return std::nullopt;
}

} // namespace tutti::cli
