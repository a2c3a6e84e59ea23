#include "config/probe_reader.hpp"

namespace tutti::config::detail {

namespace {

using namespace std::chrono_literals;
using protocol::service_spec;

const std::string missing = "required field is missing";
constexpr caf::timespan max_probe_time = 1h;
constexpr int64_t max_threshold = 100;

void read_probe_target(const field& f, const service_spec& spec, protocol::probe_spec& probe,
                       bool with_path, error_sink& errors) {
  if (!expect_map(f, with_path ? "a mapping with port and path" : "a mapping with port", errors))
    return;
  map_reader target{f, errors};
  auto port = target.take("port");
  if (!port) {
    errors.add(f.mark, f.path + ".port", missing + " (the name of one of the spec's ports)");
  } else if (auto name = read_string(*port, errors)) {
    probe.port = *name;
    bool known = false;
    std::string names;
    for (const auto& p : spec.ports) {
      known = known || p.name == *name;
      names += (names.empty() ? "" : ", ") + p.name;
    }
    if (!known)
      errors.add(port->mark, port->path,
                  "port '" + *name + "' is not one of the spec's ports (" +
                      (names.empty()
                           ? std::string{"it has none; add ports: [{name: "} + *name + "}]"
                           : names) +
                      ")");
  }
  if (with_path)
    if (auto path = target.take("path"))
      if (auto text = read_string(*path, errors)) {
        if (text->empty() || text->front() != '/' ||
            text->find_first_of(" \r\n") != std::string::npos)
          errors.add(path->mark, path->path,
                      "expected an absolute path without spaces like /healthz, got '" + *text +
                          "'");
        else
          probe.path = *text;
      }
  target.finish();
}

protocol::probe_spec read_probe(const field& f, const service_spec& spec, error_sink& errors) {
  protocol::probe_spec probe;
  map_reader fields{f, errors};
  auto exec = fields.take("exec");
  auto http = fields.take("http");
  auto tcp = fields.take("tcp");
  int kinds = (exec ? 1 : 0) + (http ? 1 : 0) + (tcp ? 1 : 0);
  if (kinds != 1)
    errors.add(f.mark, f.path,
                kinds == 0 ? "a probe needs one of exec, http or tcp"
                           : "a probe has exactly one of exec, http or tcp, not several");
  if (exec) {
    probe.kind = protocol::probe_kind::exec;
    if (auto command = read_string_list(*exec, errors)) {
      if (command->empty())
        errors.add(exec->mark, exec->path, "expected a non-empty sequence of strings");
      probe.command = std::move(*command);
    }
  }
  if (http) {
    probe.kind = protocol::probe_kind::http;
    read_probe_target(*http, spec, probe, true, errors);
  }
  if (tcp) {
    probe.kind = protocol::probe_kind::tcp;
    read_probe_target(*tcp, spec, probe, false, errors);
  }
  if (auto x = fields.take("interval"))
    if (auto d = read_positive_duration(*x, max_probe_time, errors))
      probe.interval = *d;
  if (auto x = fields.take("timeout"))
    if (auto d = read_positive_duration(*x, max_probe_time, errors))
      probe.timeout = *d;
  if (auto x = fields.take("failure_threshold"))
    if (auto n = read_int(*x, 1, max_threshold, errors))
      probe.failure_threshold = static_cast<int32_t>(*n);
  if (auto x = fields.take("success_threshold"))
    if (auto n = read_int(*x, 1, max_threshold, errors))
      probe.success_threshold = static_cast<int32_t>(*n);
  if (auto x = fields.take("start_period"))
    if (auto d = read_duration(*x, max_probe_time, errors))
      probe.start_period = *d;
  fields.finish();
  return probe;
}

} // namespace

void read_health(map_reader& fields, service_spec& spec, error_sink& errors) {
  auto f = fields.take("health");
  if (!f || !expect_map(*f, "a probe (exec, http or tcp) or a mapping of readiness and liveness",
                        errors))
    return;
  const YAML::Node& value = f->value; // const: a look-up must not add the key
  bool split = value["readiness"] || value["liveness"];
  if (!split) {
    // The short form: one probe decides both readiness and liveness.
    auto probe = read_probe(*f, spec, errors);
    spec.health.readiness = probe;
    spec.health.liveness = probe;
    return;
  }
  map_reader health{*f, errors};
  if (auto r = health.take("readiness"))
    if (expect_map(*r, "a probe: a mapping with exec, http or tcp", errors))
      spec.health.readiness = read_probe(*r, spec, errors);
  if (auto l = health.take("liveness"))
    if (expect_map(*l, "a probe: a mapping with exec, http or tcp", errors))
      spec.health.liveness = read_probe(*l, spec, errors);
  health.finish();
}

} // namespace tutti::config::detail
