#include "runtime-drivers/substitute.hpp"

#include "protocol/errors.hpp"

namespace tutti::runtime_drivers {

namespace {

bool is_name_start(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_';
}

bool is_name_char(char c) {
  return is_name_start(c) || (c >= '0' && c <= '9');
}

bool is_valid_name(const std::string& name) {
  if (name.empty() || !is_name_start(name.front()))
    return false;
  for (char c : name)
    if (!is_name_char(c))
      return false;
  return true;
}

caf::error refuse(const std::string& why, const std::string& text) {
  return protocol::make_error(protocol::error_code::invalid_argument, why + " in '" + text + "'");
}

} // namespace

caf::expected<std::string> substitute_env(const std::string& text,
                                          const std::map<std::string, std::string>& env) {
  std::string result;
  result.reserve(text.size());
  size_t i = 0;
  while (i < text.size()) {
    if (text.compare(i, 3, "$${") == 0) {
      result += "${";
      i += 3;
      continue;
    }
    if (text.compare(i, 2, "${") != 0) {
      result += text[i++];
      continue;
    }
    auto close = text.find('}', i + 2);
    if (close == std::string::npos)
      return refuse("unterminated ${", text);
    auto name = text.substr(i + 2, close - i - 2);
    if (!is_valid_name(name))
      return refuse("invalid variable name ${" + name + "}", text);
    auto value = env.find(name);
    if (value == env.end())
      return refuse("unknown variable ${" + name + "}", text);
    result += value->second;
    i = close + 1;
  }
  return result;
}

caf::expected<std::vector<std::string>>
substitute_env(const std::vector<std::string>& texts,
               const std::map<std::string, std::string>& env) {
  std::vector<std::string> result;
  result.reserve(texts.size());
  for (const auto& text : texts) {
    auto expanded = substitute_env(text, env);
    if (!expanded)
      return std::move(expanded.error());
    result.push_back(std::move(*expanded));
  }
  return result;
}

} // namespace tutti::runtime_drivers
