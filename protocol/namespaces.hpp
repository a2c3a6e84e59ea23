#pragma once

// A service lives in a namespace; its name is unique there. Everything below
// the API keys a service by one string, its qualified name: NAMESPACE.NAME, or
// NAME alone in the namespace `default` (so the services of a store from
// before namespaces keep their keys). Neither part holds a '.' (both are DNS
// labels), so the first '.' splits them.

#include <string>
#include <string_view>

namespace tutti::protocol {

inline constexpr std::string_view default_namespace = "default";

inline std::string qualified_name(std::string_view ns, std::string_view name) {
  if (ns.empty() || ns == default_namespace)
    return std::string{name};
  return std::string{ns} + "." + std::string{name};
}

/// The namespace of a qualified name ("default" when it has none).
inline std::string namespace_of(std::string_view qualified) {
  auto dot = qualified.find('.');
  return std::string{dot == std::string_view::npos ? default_namespace : qualified.substr(0, dot)};
}

/// The name within its namespace.
inline std::string local_name(std::string_view qualified) {
  auto dot = qualified.find('.');
  return std::string{dot == std::string_view::npos ? qualified : qualified.substr(dot + 1)};
}

} // namespace tutti::protocol
