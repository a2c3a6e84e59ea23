#include "access/policy.hpp"

#include <algorithm>

namespace tutti::access {

namespace p = tutti::protocol;

namespace {

bool names(const std::vector<std::string>& xs, const std::string& x) {
  return std::find(xs.begin(), xs.end(), "*") != xs.end() ||
         std::find(xs.begin(), xs.end(), x) != xs.end();
}

} // namespace

void policy::load(std::vector<p::custom_role> roles, std::vector<p::role_binding> bindings) {
  std::lock_guard<std::mutex> guard{mtx_};
  roles_.clear();
  bindings_.clear();
  for (auto& r : roles)
    roles_[r.name] = std::move(r);
  for (auto& b : bindings)
    bindings_[b.name] = std::move(b);
}

void policy::put(p::custom_role x) {
  std::lock_guard<std::mutex> guard{mtx_};
  auto name = x.name;
  roles_[name] = std::move(x);
}

void policy::put(p::role_binding x) {
  std::lock_guard<std::mutex> guard{mtx_};
  auto name = x.name;
  bindings_[name] = std::move(x);
}

bool policy::binds(const p::role_binding& b, const p::identity& who) const {
  for (const auto& s : b.subjects) {
    switch (s.kind) {
      case p::subject_kind::token:
        if (who.via == p::credential_kind::token && who.name == s.name)
          return true;
        break;
      case p::subject_kind::user:
        if (who.via == p::credential_kind::client_certificate && who.name == s.name)
          return true;
        break;
      case p::subject_kind::group:
        if (std::find(who.groups.begin(), who.groups.end(), s.name) != who.groups.end())
          return true;
        break;
    }
  }
  return false;
}

bool policy::allows(const p::custom_role& r, const std::string& verb,
                    const std::string& resource) const {
  if (verb.empty())
    return false;
  for (const auto& rule : r.rules)
    if (names(rule.verbs, verb) && names(rule.resources, resource))
      return true;
  return false;
}

std::string policy::grant(const p::identity& who, api_call x,
                          const std::vector<std::string>& namespaces) const {
  auto [verb, resource] = rule_of(x);
  return grant(who, verb, resource, namespaces, cluster_scoped(x));
}

std::string policy::grant(const p::identity& who, const std::string& verb,
                          const std::string& resource, const std::vector<std::string>& namespaces,
                          bool cluster_wide) const {
  std::lock_guard<std::mutex> guard{mtx_};
  for (const auto& [name, b] : bindings_) {
    auto role = roles_.find(b.role);
    if (role == roles_.end() || !binds(b, who) || !allows(role->second, verb, resource))
      continue;
    if (b.name_space.empty())
      return name;
    // A namespace's binding covers calls that name its services only.
    bool all_there = !namespaces.empty() && !cluster_wide;
    for (const auto& ns : namespaces)
      all_there = all_there && ns == b.name_space;
    if (all_there)
      return name;
  }
  return {};
}

} // namespace tutti::access
