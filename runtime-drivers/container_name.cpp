#include "runtime-drivers/container_name.hpp"

#include "protocol/errors.hpp"

namespace tutti::runtime_drivers {

namespace {

bool is_lower_alnum(char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

} // namespace

caf::error check_container_name(const std::string& name) {
  using protocol::error_code;
  auto refuse = [&](const char* why) {
    return protocol::make_error(error_code::invalid_argument,
                                "invalid container name '" + name + "': " + why);
  };
  if (name.empty())
    return refuse("it is empty");
  if (name.size() > max_container_name)
    return refuse("longer than 200 characters");
  if (!is_lower_alnum(name.front()))
    return refuse("must start with a lowercase letter or digit");
  for (char c : name)
    if (!is_lower_alnum(c) && c != '-' && c != '.' && c != '_')
      return refuse("only lowercase letters, digits, '-', '.' and '_' are allowed");
  return {};
}

} // namespace tutti::runtime_drivers
