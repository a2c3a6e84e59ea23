// Canonical YAML of a spec and line diffs between two of them. The canonical text is
// what persistence stores and what `apply` diffs, so it must be deterministic and
// must parse back to the same spec.

#include "config/spec_parser.hpp"

#include "protocol/namespaces.hpp"

#include <yaml-cpp/yaml.h>

#include <charconv>
#include <cstdio>
#include <string_view>

namespace tutti::config {

namespace {

using protocol::service_spec;

// Shortest text that reads back as the same double: "0.25", not "0.25000000000000001".
std::string format_cpu(double cpu) {
  char buf[64];
  auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), cpu);
  return std::string(buf, end);
}

// Empty containers in flow style keep `env: {}` on one line.
void begin_seq(YAML::Emitter& out, bool empty) {
  if (empty)
    out << YAML::Flow;
  out << YAML::BeginSeq;
}

void begin_map(YAML::Emitter& out, bool empty) {
  if (empty)
    out << YAML::Flow;
  out << YAML::BeginMap;
}

void emit_command(YAML::Emitter& out, const std::vector<std::string>& command) {
  out << YAML::Key << "command" << YAML::Value << YAML::Flow << YAML::BeginSeq;
  for (const auto& arg : command)
    out << arg;
  out << YAML::EndSeq;
}

void emit_env(YAML::Emitter& out, const std::map<std::string, std::string>& env) {
  out << YAML::Key << "env" << YAML::Value;
  begin_map(out, env.empty());
  for (const auto& [key, value] : env)
    out << YAML::Key << key << YAML::Value << value;
  out << YAML::EndMap;
}

void emit_resources(YAML::Emitter& out, const protocol::resource_spec& resources) {
  out << YAML::Key << "resources" << YAML::Value << YAML::BeginMap;
  out << YAML::Key << "cpu" << YAML::Value << format_cpu(resources.cpu);
  out << YAML::Key << "memory" << YAML::Value << static_cast<long long>(resources.memory);
  out << YAML::EndMap;
}

void emit_ports(YAML::Emitter& out, const std::vector<protocol::port_spec>& ports) {
  out << YAML::Key << "ports" << YAML::Value;
  begin_seq(out, ports.empty());
  for (const auto& port : ports) {
    out << YAML::BeginMap;
    out << YAML::Key << "name" << YAML::Value << port.name;
    out << YAML::Key << "published" << YAML::Value << static_cast<int>(port.published);
    out << YAML::EndMap;
  }
  out << YAML::EndSeq;
}

/// Absent when empty: specs stored before configs and secrets read (and hash)
/// the same. The version in use is written with whether it is pinned, so the
/// text reads back to the same references.
void emit_object_refs(YAML::Emitter& out, const char* key,
                      const std::vector<protocol::object_ref>& refs) {
  if (refs.empty())
    return;
  out << YAML::Key << key << YAML::Value << YAML::BeginSeq;
  for (const auto& r : refs) {
    out << YAML::Flow << YAML::BeginMap;
    out << YAML::Key << "name" << YAML::Value << r.name;
    if (r.version > 0)
      out << YAML::Key << "version" << YAML::Value << static_cast<long long>(r.version);
    out << YAML::Key << "pinned" << YAML::Value << r.pinned;
    if (!r.path.empty())
      out << YAML::Key << "path" << YAML::Value << r.path;
    if (!r.env.empty())
      out << YAML::Key << "env" << YAML::Value << r.env;
    out << YAML::EndMap;
  }
  out << YAML::EndSeq;
}

/// Absent when empty: specs stored before volumes read (and hash) the same.
void emit_volumes(YAML::Emitter& out, const std::vector<protocol::volume_spec>& volumes) {
  if (volumes.empty())
    return;
  out << YAML::Key << "volumes" << YAML::Value << YAML::BeginSeq;
  for (const auto& v : volumes) {
    out << YAML::Flow << YAML::BeginMap;
    out << YAML::Key << "name" << YAML::Value << v.name;
    out << YAML::Key << "type" << YAML::Value << protocol::to_string(v.type);
    if (!v.host_path.empty())
      out << YAML::Key << "path" << YAML::Value << v.host_path;
    if (v.size > 0)
      out << YAML::Key << "size" << YAML::Value << static_cast<long long>(v.size);
    out << YAML::EndMap;
  }
  out << YAML::EndSeq;
}

void emit_mounts(YAML::Emitter& out, const std::vector<protocol::mount_spec>& mounts) {
  if (mounts.empty())
    return;
  out << YAML::Key << "mounts" << YAML::Value << YAML::BeginSeq;
  for (const auto& m : mounts) {
    out << YAML::Flow << YAML::BeginMap;
    out << YAML::Key << "volume" << YAML::Value << m.volume;
    if (!m.path.empty())
      out << YAML::Key << "path" << YAML::Value << m.path;
    if (m.read_only)
      out << YAML::Key << "read_only" << YAML::Value << true;
    out << YAML::EndMap;
  }
  out << YAML::EndSeq;
}

void emit_restart(YAML::Emitter& out, const protocol::restart_spec& restart) {
  out << YAML::Key << "restart" << YAML::Value << YAML::BeginMap;
  out << YAML::Key << "policy" << YAML::Value << protocol::to_string(restart.policy);
  out << YAML::Key << "backoff" << YAML::Value << YAML::BeginMap;
  out << YAML::Key << "initial" << YAML::Value << format_duration(restart.backoff.initial);
  out << YAML::Key << "max" << YAML::Value << format_duration(restart.backoff.max);
  out << YAML::EndMap << YAML::EndMap;
}

void emit_placement(YAML::Emitter& out, const protocol::placement_spec& placement) {
  out << YAML::Key << "placement" << YAML::Value << YAML::BeginMap;
  out << YAML::Key << "strategy" << YAML::Value << protocol::to_string(placement.strategy);
  out << YAML::Key << "constraints" << YAML::Value;
  begin_seq(out, placement.constraints.empty());
  for (const auto& c : placement.constraints)
    out << protocol::to_string(c);
  out << YAML::EndSeq;
  out << YAML::Key << "max_per_node" << YAML::Value << placement.max_per_node;
  out << YAML::Key << "anti_affinity" << YAML::Value;
  begin_seq(out, placement.anti_affinity.empty());
  for (const auto& name : placement.anti_affinity)
    out << protocol::local_name(name); // of the spec's own namespace
  out << YAML::EndSeq;
  out << YAML::Key << "spread_over" << YAML::Value << placement.spread_over;
  out << YAML::EndMap;
}

void emit_probe(YAML::Emitter& out, const char* key, const protocol::probe_spec& probe) {
  if (probe.kind == protocol::probe_kind::none)
    return;
  out << YAML::Key << key << YAML::Value << YAML::BeginMap;
  out << YAML::Key << protocol::to_string(probe.kind) << YAML::Value;
  if (probe.kind == protocol::probe_kind::exec) {
    out << YAML::Flow << YAML::BeginSeq;
    for (const auto& arg : probe.command)
      out << arg;
    out << YAML::EndSeq;
  } else {
    out << YAML::Flow << YAML::BeginMap << YAML::Key << "port" << YAML::Value << probe.port;
    if (probe.kind == protocol::probe_kind::http)
      out << YAML::Key << "path" << YAML::Value << probe.path;
    out << YAML::EndMap;
  }
  out << YAML::Key << "interval" << YAML::Value << format_duration(probe.interval);
  out << YAML::Key << "timeout" << YAML::Value << format_duration(probe.timeout);
  out << YAML::Key << "failure_threshold" << YAML::Value << probe.failure_threshold;
  out << YAML::Key << "success_threshold" << YAML::Value << probe.success_threshold;
  out << YAML::Key << "start_period" << YAML::Value << format_duration(probe.start_period);
  out << YAML::EndMap;
}

// Absent when no probe is set, so specs stored before health existed keep their text.
void emit_health(YAML::Emitter& out, const protocol::health_spec& health) {
  if (health == protocol::health_spec{})
    return;
  out << YAML::Key << "health" << YAML::Value << YAML::BeginMap;
  emit_probe(out, "readiness", health.readiness);
  emit_probe(out, "liveness", health.liveness);
  out << YAML::EndMap;
}

void emit_containers(YAML::Emitter& out, const protocol::service_spec& spec) {
  if (spec.containers.empty())
    return;
  out << YAML::Key << "containers" << YAML::Value << YAML::BeginSeq;
  for (const auto& c : spec.containers) {
    out << YAML::BeginMap;
    out << YAML::Key << "name" << YAML::Value << c.name;
    if (c.init)
      out << YAML::Key << "init" << YAML::Value << true;
    if (!c.image.empty())
      out << YAML::Key << "image" << YAML::Value << c.image;
    if (!c.image_archive.empty())
      out << YAML::Key << "image_archive" << YAML::Value << c.image_archive;
    if (!c.command.empty())
      emit_command(out, c.command);
    if (!c.env.empty())
      emit_env(out, c.env);
    emit_resources(out, c.resources);
    emit_health(out, c.health);
    emit_mounts(out, c.mounts);
    out << YAML::EndMap;
  }
  out << YAML::EndSeq;
}

/// Absent without `autoscale:`, so specs stored before it read the same.
void emit_autoscale(YAML::Emitter& out, const protocol::autoscale_spec& x) {
  if (!x.enabled)
    return;
  auto rule = [&out](const char* key, const protocol::scale_rule& r) {
    out << YAML::Key << key << YAML::Value << YAML::Flow << YAML::BeginMap;
    out << YAML::Key << "replicas" << YAML::Value << r.replicas;
    out << YAML::Key << "percent" << YAML::Value << r.percent;
    out << YAML::Key << "period" << YAML::Value << format_duration(r.period);
    out << YAML::EndMap;
  };
  out << YAML::Key << "autoscale" << YAML::Value << YAML::BeginMap;
  out << YAML::Key << "min" << YAML::Value << x.min;
  out << YAML::Key << "max" << YAML::Value << x.max;
  out << YAML::Key << "metrics" << YAML::Value << YAML::BeginSeq;
  for (const auto& m : x.metrics) {
    char target[32];
    std::snprintf(target, sizeof target, "%.17g", m.target);
    out << YAML::Flow << YAML::BeginMap << YAML::Key << "type" << YAML::Value
        << protocol::to_string(m.type) << YAML::Key << "target" << YAML::Value << target
        << YAML::EndMap;
  }
  out << YAML::EndSeq;
  out << YAML::Key << "behavior" << YAML::Value << YAML::BeginMap;
  out << YAML::Key << "window" << YAML::Value << format_duration(x.window);
  out << YAML::Key << "scale_down_stabilization" << YAML::Value
      << format_duration(x.scale_down_stabilization);
  rule("scale_up", x.scale_up);
  rule("scale_down", x.scale_down);
  out << YAML::EndMap;
  out << YAML::EndMap;
}

// Absent when it is the default, for the same reason.
void emit_update(YAML::Emitter& out, const protocol::update_spec& update) {
  if (update == protocol::update_spec{})
    return;
  out << YAML::Key << "update" << YAML::Value << YAML::BeginMap;
  out << YAML::Key << "parallelism" << YAML::Value << update.parallelism;
  out << YAML::Key << "max_surge" << YAML::Value << update.max_surge;
  out << YAML::Key << "max_unavailable" << YAML::Value << update.max_unavailable;
  out << YAML::Key << "monitor" << YAML::Value << format_duration(update.monitor);
  out << YAML::Key << "failure_action" << YAML::Value << protocol::to_string(update.on_failure);
  out << YAML::EndMap;
}

// -- diff ---------------------------------------------------------------------

enum class line_kind { same, removed, added };

struct script_line {
  line_kind kind;
  std::string_view text;
  bool shown = false; // unchanged lines are shown only as parents of a change
};

std::vector<std::string_view> split_lines(std::string_view text) {
  std::vector<std::string_view> lines;
  while (!text.empty()) {
    auto end = text.find('\n');
    lines.push_back(text.substr(0, end));
    if (end == std::string_view::npos)
      break;
    text.remove_prefix(end + 1);
  }
  return lines;
}

// Longest common subsequence; specs are a few dozen lines, so the table is small.
std::vector<script_line> line_script(const std::vector<std::string_view>& a,
                                     const std::vector<std::string_view>& b) {
  size_t n = a.size();
  size_t m = b.size();
  std::vector<std::vector<uint32_t>> lcs(n + 1, std::vector<uint32_t>(m + 1, 0));
  for (size_t i = n; i-- > 0;)
    for (size_t j = m; j-- > 0;)
      lcs[i][j] = a[i] == b[j] ? lcs[i + 1][j + 1] + 1 : std::max(lcs[i + 1][j], lcs[i][j + 1]);
  std::vector<script_line> script;
  size_t i = 0;
  size_t j = 0;
  while (i < n || j < m) {
    if (i < n && j < m && a[i] == b[j]) {
      script.push_back({line_kind::same, a[i]});
      ++i, ++j;
    } else if (j == m || (i < n && lcs[i + 1][j] >= lcs[i][j + 1])) {
      script.push_back({line_kind::removed, a[i++]});
    } else {
      script.push_back({line_kind::added, b[j++]});
    }
  }
  return script;
}

size_t indentation(std::string_view line) {
  size_t n = 0;
  while (n < line.size() && line[n] == ' ')
    ++n;
  return n;
}

// A changed `initial: 1s` means little without the `restart:` / `backoff:` above it:
// show the unchanged lines that enclose each change.
void show_parents(std::vector<script_line>& script) {
  for (size_t k = 0; k < script.size(); ++k) {
    if (script[k].kind == line_kind::same)
      continue;
    size_t level = indentation(script[k].text);
    for (size_t j = k; j-- > 0 && level > 0;) {
      const auto& candidate = script[j];
      bool same_side = candidate.kind == line_kind::same || candidate.kind == script[k].kind;
      if (!same_side || indentation(candidate.text) >= level)
        continue;
      level = indentation(candidate.text);
      if (candidate.kind == line_kind::same)
        script[j].shown = true;
    }
  }
}

} // namespace

std::string emit_spec(const service_spec& spec) {
  YAML::Emitter out;
  out << YAML::BeginMap;
  out << YAML::Key << "kind" << YAML::Value << "Service";
  out << YAML::Key << "name" << YAML::Value << protocol::local_name(spec.name);
  // Absent in the default namespace: specs stored before namespaces read the same.
  if (auto ns = protocol::namespace_of(spec.name); ns != protocol::default_namespace)
    out << YAML::Key << "namespace" << YAML::Value << ns;
  out << YAML::Key << "replicas" << YAML::Value << spec.replicas;
  out << YAML::Key << "driver" << YAML::Value << protocol::to_string(spec.driver);
  if (spec.containers.empty()) {
    out << YAML::Key << "image" << YAML::Value << spec.image;
    if (!spec.image_archive.empty())
      out << YAML::Key << "image_archive" << YAML::Value << spec.image_archive;
    emit_command(out, spec.command);
  }
  emit_env(out, spec.env);
  if (spec.containers.empty())
    emit_resources(out, spec.resources);
  emit_ports(out, spec.ports);
  out << YAML::Key << "load_balancing" << YAML::Value << protocol::to_string(spec.balancing);
  emit_restart(out, spec.restart);
  emit_placement(out, spec.placement);
  out << YAML::Key << "stop_grace" << YAML::Value << format_duration(spec.stop_grace);
  if (spec.containers.empty())
    emit_health(out, spec.health);
  emit_update(out, spec.update);
  emit_volumes(out, spec.volumes);
  emit_mounts(out, spec.mounts);
  emit_object_refs(out, "configs", spec.configs);
  emit_object_refs(out, "secrets", spec.secrets);
  emit_containers(out, spec);
  emit_autoscale(out, spec.autoscale);
  out << YAML::EndMap;
  return std::string{out.c_str()} + "\n";
}

std::string diff_specs(const std::string& before, const std::string& after) {
  if (before == after)
    return {};
  auto script = line_script(split_lines(before), split_lines(after));
  show_parents(script);
  std::string out;
  for (const auto& line : script) {
    char prefix = 0;
    switch (line.kind) {
      case line_kind::removed:
        prefix = '-';
        break;
      case line_kind::added:
        prefix = '+';
        break;
      case line_kind::same:
        prefix = line.shown ? ' ' : 0;
        break;
    }
    if (prefix == 0)
      continue;
    if (!out.empty())
      out += '\n';
    out += prefix;
    out += line.text;
  }
  return out;
}

std::string emit_quota(const protocol::quota_spec& quota) {
  YAML::Emitter out;
  out << YAML::BeginMap;
  out << YAML::Key << "kind" << YAML::Value << "Quota";
  out << YAML::Key << "namespace" << YAML::Value << quota.name_space;
  if (quota.cpu >= 0)
    out << YAML::Key << "cpu" << YAML::Value << format_cpu(quota.cpu);
  if (quota.memory >= 0)
    out << YAML::Key << "memory" << YAML::Value << quota.memory;
  if (quota.replicas >= 0)
    out << YAML::Key << "replicas" << YAML::Value << quota.replicas;
  if (quota.services >= 0)
    out << YAML::Key << "services" << YAML::Value << quota.services;
  out << YAML::EndMap;
  return std::string{out.c_str()} + "\n";
}

std::string emit_role(const protocol::custom_role& role) {
  YAML::Emitter out;
  out << YAML::BeginMap;
  out << YAML::Key << "kind" << YAML::Value << "Role";
  out << YAML::Key << "name" << YAML::Value << role.name;
  out << YAML::Key << "rules" << YAML::Value << YAML::BeginSeq;
  for (const auto& rule : role.rules) {
    out << YAML::BeginMap;
    out << YAML::Key << "verbs" << YAML::Value << YAML::Flow << rule.verbs;
    out << YAML::Key << "resources" << YAML::Value << YAML::Flow << rule.resources;
    out << YAML::EndMap;
  }
  out << YAML::EndSeq << YAML::EndMap;
  return std::string{out.c_str()} + "\n";
}

std::string emit_binding(const protocol::role_binding& binding) {
  YAML::Emitter out;
  out << YAML::BeginMap;
  out << YAML::Key << "kind" << YAML::Value << "RoleBinding";
  out << YAML::Key << "name" << YAML::Value << binding.name;
  out << YAML::Key << "role" << YAML::Value << binding.role;
  if (!binding.name_space.empty())
    out << YAML::Key << "namespace" << YAML::Value << binding.name_space;
  out << YAML::Key << "subjects" << YAML::Value << YAML::BeginSeq;
  for (const auto& s : binding.subjects) {
    out << YAML::Flow << YAML::BeginMap;
    out << YAML::Key << "kind" << YAML::Value << protocol::to_string(s.kind);
    out << YAML::Key << "name" << YAML::Value << s.name;
    out << YAML::EndMap;
  }
  out << YAML::EndSeq << YAML::EndMap;
  return std::string{out.c_str()} + "\n";
}

} // namespace tutti::config
