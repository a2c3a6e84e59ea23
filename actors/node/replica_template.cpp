#include "actors/node/replica_template.hpp"

#include "config/spec_parser.hpp"

#include <cctype>
#include <cstdio>
#include <unordered_map>

namespace tutti::actors {

std::map<std::string, std::string> replica_env(const p::service_spec& spec,
                                               const std::vector<p::port_binding>& ports) {
  auto env = spec.env;
  for (size_t i = 0; i < ports.size(); ++i) {
    auto value = std::to_string(ports[i].host_port);
    if (i == 0)
      env["PORT"] = value;
    std::string key = "PORT_";
    for (char c : ports[i].name)
      key += c == '-' ? '_' : static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    env[key] = value;
  }
  return env;
}

namespace {

std::string compute_template_hash(const p::service_spec& spec) {
  // Routing (published ports, balancing) is the mesh's business: changing it must
  // not replace replicas. The balancing line is cut from the text, so replicas
  // started before the mesh existed keep their hash; so are the placement
  // fields added later (anti_affinity, spread_over) while they are unset.
  auto copy = spec;
  copy.replicas = 0;
  copy.balancing = p::load_balancing::round_robin;
  copy.update = {};    // how to roll out is not what runs
  copy.autoscale = {}; // nor how many run
  for (auto& port : copy.ports)
    port.published = 0;
  auto text = config::emit_spec(copy);
  for (const std::string line :
       {"load_balancing: round_robin\n", "  anti_affinity: []\n", "  spread_over: \"\"\n"})
    if (auto at = text.find(line); at != std::string::npos)
      text.erase(at, line.size());
  uint64_t h = 1469598103934665603ull; // FNV-1a: stable across runs and builds
  for (unsigned char c : text)
    h = (h ^ c) * 1099511628211ull;
  char buf[17];
  std::snprintf(buf, sizeof(buf), "%016llx", static_cast<unsigned long long>(h));
  return buf;
}

/// Emitting the YAML costs tens of microseconds and every replica of a revision
/// asks with the same spec: the hash of the last spec per service name, per
/// thread. The spec is held shared: one a revision's replicas share is found by
/// the object, without comparing it (its address is not reused while held).
struct template_entry {
  p::shared_spec spec;
  std::string hash;
};

std::unordered_map<std::string, template_entry>& template_cache() {
  thread_local std::unordered_map<std::string, template_entry> cache;
  return cache;
}

const std::string& remember_template(const p::shared_spec& spec) {
  auto& cache = template_cache();
  if (cache.size() >= 4096)
    cache.clear(); // bounded: a long-lived process sees many names come and go
  return (cache[spec->name] = template_entry{spec, compute_template_hash(*spec)}).hash;
}

} // namespace

std::string template_hash(const p::service_spec& spec) {
  auto& cache = template_cache();
  if (auto i = cache.find(spec.name); i != cache.end() && *i->second.spec == spec)
    return i->second.hash;
  return remember_template(p::shared_spec{spec});
}

std::string template_hash(const p::shared_spec& spec) {
  auto& cache = template_cache();
  if (auto i = cache.find(spec->name); i != cache.end()) {
    auto& e = i->second;
    if (e.spec.same(spec))
      return e.hash;
    if (*e.spec == *spec) {
      e.spec = spec; // the same revision, shared now: found by the object next time
      return e.hash;
    }
  }
  return remember_template(spec);
}

} // namespace tutti::actors
