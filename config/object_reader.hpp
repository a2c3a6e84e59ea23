#pragma once

// `kind: Config` and `kind: Secret` documents, and a service's `configs:` and
// `secrets:` references to them, read into protocol values. Internal to
// config/: spec_parser.cpp dispatches to it. No message here quotes an
// object's data: a Secret's must not reach an error, a log or the audit log.

#include "config/yaml_walk.hpp"
#include "protocol/objects.hpp"
#include "protocol/spec.hpp"

#include <yaml-cpp/yaml.h>

#include <map>
#include <optional>
#include <string>

namespace tutti::config::detail {

/// Reads the Config and Secret documents of one input; remembers their names,
/// so a second document of one kind and name is refused.
class object_reader {
public:
  object_reader(error_sink& errors, std::string request_namespace)
    : errors_(errors), request_namespace_(std::move(request_namespace)) {}

  std::optional<protocol::object_spec> read(const YAML::Node& doc, protocol::object_kind kind);

private:
  void read_data(map_reader& fields, const field& whole, protocol::object_spec& x);

  error_sink& errors_;
  std::string request_namespace_;
  std::map<std::string, int> names_; // "config/NS/NAME" -> line of its first document
};

/// Reads `configs:` and `secrets:` into spec.configs and spec.secrets: each a
/// name, or a mapping {name, version, pinned, path, env}. Call after the
/// driver, env and mounts are read.
void read_object_refs(map_reader& fields, protocol::service_spec& spec, error_sink& errors);

} // namespace tutti::config::detail
