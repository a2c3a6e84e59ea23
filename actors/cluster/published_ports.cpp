#include "actors/cluster/published_ports.hpp"

#include <algorithm>
#include <cctype>

namespace tutti::actors {

namespace {

std::string env_word(const std::string& name) {
  std::string out;
  for (char c : name)
    out += c == '-' ? '_' : static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

} // namespace

std::map<std::string, std::string> discovery_env(const std::vector<protocol::service_spec>& specs,
                                                 const std::string& host) {
  std::map<std::string, std::string> env;
  for (const auto& spec : specs) {
    auto key = env_word(spec.name) + "_ADDR";
    for (const auto& port : spec.ports) {
      if (port.published == 0)
        continue;
      auto addr = host + ":" + std::to_string(port.published);
      env.emplace(key, addr); // the first published port
      env[key + "_" + env_word(port.name)] = addr;
    }
  }
  return env;
}

std::vector<protocol::spec_error>
published_conflicts(const std::vector<protocol::service_spec>& current, const std::string& file,
                    const std::vector<protocol::service_spec>& incoming) {
  std::map<uint16_t, std::string> taken; // by services the input leaves alone
  for (const auto& spec : current) {
    bool replaced = std::any_of(incoming.begin(), incoming.end(),
                                [&](const auto& x) { return x.name == spec.name; });
    if (replaced)
      continue;
    for (const auto& port : spec.ports)
      if (port.published != 0)
        taken.emplace(port.published, spec.name);
  }
  std::vector<protocol::spec_error> out;
  for (const auto& spec : incoming)
    for (size_t i = 0; i < spec.ports.size(); ++i) {
      auto published = spec.ports[i].published;
      auto owner = taken.find(published);
      if (published == 0 || owner == taken.end())
        continue;
      out.push_back({file, 0, 0, "ports[" + std::to_string(i) + "].published",
                     "service '" + spec.name + "' cannot publish port " +
                         std::to_string(published) + ": service '" + owner->second +
                         "' publishes it already; choose "
                         "another port or change '" +
                         owner->second + "' first"});
    }
  return out;
}

} // namespace tutti::actors
