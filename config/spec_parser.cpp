#include "config/spec_parser.hpp"

#include "protocol/namespaces.hpp"

#include "config/autoscale_reader.hpp"
#include "config/object_reader.hpp"
#include "config/probe_reader.hpp"
#include "config/policy_reader.hpp"
#include "config/volume_reader.hpp"
#include "config/yaml_walk.hpp"

#include <algorithm>
#include <map>
#include <set>
#include <tuple>

namespace tutti::config {

namespace {

using namespace detail;
using namespace std::chrono_literals;
using protocol::driver_kind;
using protocol::container_part;
using protocol::service_spec;

constexpr size_t max_ports = 16;
constexpr caf::timespan max_backoff = 1h;
constexpr caf::timespan max_stop_grace = 10min;
constexpr uint16_t max_port_number = 65535;

const std::vector<std::pair<std::string_view, driver_kind>> driver_names{
    {"process", driver_kind::process},
    {"sim", driver_kind::sim},
    {"docker", driver_kind::docker},
    {"containerd", driver_kind::containerd},
};

const std::vector<std::pair<std::string_view, protocol::restart_policy>> policy_names{
    {"always", protocol::restart_policy::always},
    {"on-failure", protocol::restart_policy::on_failure},
    {"never", protocol::restart_policy::never},
};

const std::vector<std::pair<std::string_view, protocol::placement_strategy>> strategy_names{
    {"spread", protocol::placement_strategy::spread},
    {"binpack", protocol::placement_strategy::binpack},
};

const std::vector<std::pair<std::string_view, protocol::load_balancing>> balancing_names{
    {"round_robin", protocol::load_balancing::round_robin},
    {"least_connections", protocol::load_balancing::least_connections},
};

// Spec fields whose feature is not built yet: refusing them beats a spec that
// silently does less than it says.

const std::vector<std::pair<std::string_view, protocol::failure_action>> failure_action_names{
    {"rollback", protocol::failure_action::rollback},
    {"pause", protocol::failure_action::pause},
    {"continue", protocol::failure_action::resume},
};

constexpr caf::timespan max_probe_time = 1h;

const std::string missing = "required field is missing";

bool is_lower(char c) {
  return c >= 'a' && c <= 'z';
}

bool is_digit(char c) {
  return c >= '0' && c <= '9';
}

bool valid_env_name(const std::string& name) {
  auto letter = [](char c) { return is_lower(c) || (c >= 'A' && c <= 'Z') || c == '_'; };
  if (name.empty() || !letter(name.front()))
    return false;
  for (char c : name)
    if (!letter(c) && !is_digit(c))
      return false;
  return true;
}

bool valid_port_name(const std::string& name) {
  if (name.empty() || !is_lower(name.front()))
    return false;
  for (char c : name)
    if (!is_lower(c) && !is_digit(c) && c != '-')
      return false;
  return true;
}

/// A container's name within its replica: [a-z][a-z0-9-]*, at most 63, not
/// ending with '-' and without "--" (containerd refuses ids with separators in a row).
bool valid_container_name(const std::string& name) {
  if (name.empty() || name.size() > 63 || !is_lower(name.front()) || name.back() == '-' ||
      name.find("--") != std::string::npos)
    return false;
  return std::all_of(name.begin(), name.end(),
                     [](char c) { return is_lower(c) || is_digit(c) || c == '-'; });
}

/// Non-empty, no blanks or control characters: what the engine can parse is
/// its business, but these can never be a reference.
bool valid_image(const std::string& image) {
  if (image.empty())
    return false;
  for (char c : image)
    if (static_cast<unsigned char>(c) <= ' ')
      return false;
  return true;
}

bool uses_image(driver_kind driver) {
  return driver == driver_kind::docker || driver == driver_kind::containerd;
}

/// Reads the Service documents of one input; remembers names across its documents
/// so that a repeated service is refused.
class spec_reader {
public:
  /// `request_namespace`: the namespace the client asked for (`tutti -n`);
  /// empty: each document's own, `default` when it names none.
  spec_reader(error_sink& errors, std::string request_namespace)
    : errors_(errors), request_namespace_(std::move(request_namespace)) {}

  std::optional<service_spec> read(const YAML::Node& doc) {
    field whole = document_field(doc);
    if (!expect_map(whole, "a mapping (a Service spec)", errors_))
      return std::nullopt;
    size_t errors_before = errors_.size();
    map_reader fields{whole, errors_};
    service_spec spec;
    read_kind(fields, whole);
    namespace_ = read_namespace(fields);
    read_name(fields, whole, spec);
    if (auto f = fields.take("replicas"))
      if (auto n = read_int(*f, 0, protocol::max_replicas, errors_))
        spec.replicas = static_cast<int32_t>(*n);
    read_driver(fields, spec);
    auto image = read_image(fields, spec);
    auto archive = read_image_archive(fields, spec);
    auto command = read_command(fields, spec);
    read_env(fields, spec);
    read_resources(fields, spec);
    current_name_ = spec.name;
    read_ports(fields, spec);
    read_balancing(fields, spec);
    read_restart(fields, spec);
    read_placement(fields, spec);
    if (auto f = fields.take("stop_grace"))
      if (auto d = read_positive_duration(*f, max_stop_grace, errors_))
        spec.stop_grace = *d;
    read_health(fields, spec, errors_);
    read_update(fields, spec);
    read_volumes(fields, spec, errors_);
    read_mounts(fields, spec, errors_);
    read_object_refs(fields, spec, errors_);
    auto containers = fields.take("containers");
    auto autoscale = fields.take("autoscale");
    fields.finish();
    if (containers) {
      read_containers(*containers, spec);
    } else {
      check_image(image, whole, "", spec);
      check_archive(archive, spec);
      check_command(command, whole, "", spec);
    }
    if (autoscale)
      if (auto x = read_autoscale(*autoscale, spec, errors_))
        spec.autoscale = std::move(*x);
    if (errors_.size() != errors_before)
      return std::nullopt;
    return spec;
  }

private:
  void read_kind(map_reader& fields, const field& whole) {
    auto f = fields.take("kind");
    if (!f) {
      errors_.add(whole.mark, "kind", missing + " (kind: Service)");
      return;
    }
    auto kind = read_string(*f, errors_);
    if (!kind || *kind == "Service")
      return;
    errors_.add(f->mark, f->path,
                "expected one of 'Service', 'Config', 'Secret', 'Quota', 'Role', "
                "'RoleBinding', got '" + *kind + "'");
  }

  void read_name(map_reader& fields, const field& whole, service_spec& spec) {
    auto f = fields.take("name");
    if (!f) {
      errors_.add(whole.mark, "name", missing);
      return;
    }
    auto name = read_string(*f, errors_);
    if (!name)
      return;
    if (name->find('/') != std::string::npos) {
      errors_.add(f->mark, f->path, "'/' is not allowed in a service name ('" + *name + "')");
      return;
    }
    if (!valid_service_name(*name)) {
      errors_.add(f->mark, f->path,
                  "invalid service name '" + *name +
                      "': use 1-63 of a-z, 0-9 and '-', starting with a letter and "
                      "not ending with '-'");
      return;
    }
    auto qualified = protocol::qualified_name(namespace_, *name);
    auto [first, inserted] = names_.emplace(qualified, f->mark.line + 1);
    if (!inserted) {
      errors_.add(f->mark, f->path,
                  "duplicate service name '" + *name + "' in namespace " + namespace_ +
                      " (first defined at line " + std::to_string(first->second) + ")");
      return;
    }
    spec.name = std::move(qualified);
  }

  std::string read_namespace(map_reader& fields) {
    return read_document_namespace(fields, request_namespace_, errors_);
  }

  void read_driver(map_reader& fields, service_spec& spec) {
    auto f = fields.take("driver");
    if (!f)
      return;
    auto driver = read_choice(*f, driver_names, errors_);
    if (!driver)
      return;
    spec.driver = *driver;
  }

  std::optional<field> read_image(map_reader& fields, service_spec& spec) {
    auto f = fields.take("image");
    if (f)
      if (auto image = read_string(*f, errors_))
        spec.image = std::move(*image);
    return f;
  }

  std::optional<field> read_image_archive(map_reader& fields, service_spec& spec) {
    auto f = fields.take("image_archive");
    if (!f)
      return f;
    auto path = read_string(*f, errors_);
    if (path && (path->empty() || path->front() != '/'))
      errors_.add(f->mark, f->path,
                  "expected the absolute path of an image archive on the node, got '" + *path +
                      "'");
    else if (path)
      spec.image_archive = std::move(*path);
    return f;
  }

  /// The command field, when present (read or not).
  std::optional<field> read_command(map_reader& fields, service_spec& spec) {
    auto f = fields.take("command");
    if (!f)
      return std::nullopt;
    auto command = read_string_list(*f, errors_);
    if (!command)
      return f;
    if (!command->empty() && command->front().empty())
      errors_.add(elements(*f).front().mark, f->path + "[0]",
                  "the program to run must not be empty");
    spec.command = std::move(*command);
    return f;
  }

  void read_env(map_reader& fields, service_spec& spec) {
    auto f = fields.take("env");
    if (!f)
      return;
    auto env = read_string_map(*f, valid_env_name,
                               "environment variable names match [A-Za-z_][A-Za-z0-9_]*", errors_);
    if (env)
      spec.env = {env->begin(), env->end()};
  }

  void read_resources(map_reader& fields, service_spec& spec) {
    auto f = fields.take("resources");
    if (!f || !expect_map(*f, "a mapping with cpu and memory", errors_))
      return;
    map_reader resources{*f, errors_};
    if (auto cpu = resources.take("cpu"))
      if (auto value = read_cpu(*cpu, errors_))
        spec.resources.cpu = *value;
    if (auto memory = resources.take("memory"))
      if (auto value = read_bytes(*memory, errors_))
        spec.resources.memory = *value;
    resources.finish();
  }

  void read_ports(map_reader& fields, service_spec& spec) {
    auto f = fields.take("ports");
    if (!f || !expect_seq(*f, "a sequence of ports", errors_))
      return;
    auto items = elements(*f);
    if (items.size() > max_ports)
      errors_.add(f->mark, f->path,
                  "at most " + std::to_string(max_ports) + " ports, got " +
                      std::to_string(items.size()));
    std::set<std::string> names;
    for (const auto& item : items)
      if (auto port = read_port(item, names))
        spec.ports.push_back(std::move(*port));
  }

  std::optional<protocol::port_spec> read_port(const field& item, std::set<std::string>& names) {
    if (!expect_map(item, "a mapping with name and published", errors_))
      return std::nullopt;
    map_reader fields{item, errors_};
    protocol::port_spec port;
    if (auto name = fields.take("name")) {
      if (auto text = read_string(*name, errors_)) {
        if (!valid_port_name(*text))
          errors_.add(name->mark, name->path,
                      "invalid port name '" + *text + "': use [a-z][a-z0-9-]*");
        else if (!names.insert(*text).second)
          errors_.add(name->mark, name->path, "duplicate port name '" + *text + "'");
        port.name = std::move(*text);
      }
    } else {
      errors_.add(item.mark, item.path + ".name", missing);
    }
    if (auto published = fields.take("published"))
      if (auto number = read_int(*published, 0, max_port_number, errors_))
        read_published(*published, static_cast<uint16_t>(*number), port);
    fields.finish();
    return port;
  }

  /// 0 leaves the port unpublished; any other port may be published by one
  /// service of the input only (the cluster refuses ports of other inputs).
  void read_published(const field& f, uint16_t number, protocol::port_spec& port) {
    port.published = number;
    if (number == 0)
      return;
    auto [first, inserted] = published_.emplace(number, current_name_);
    if (!inserted)
      errors_.add(f.mark, f.path,
                  "port " + std::to_string(number) + " is already published by " +
                      (first->second.empty() ? std::string{"another port"}
                                             : "service '" + first->second + "'") +
                      " in this input; each published port belongs to one service");
  }

  void read_balancing(map_reader& fields, service_spec& spec) {
    if (auto f = fields.take("load_balancing"))
      if (auto value = read_choice(*f, balancing_names, errors_))
        spec.balancing = *value;
  }

  void read_restart(map_reader& fields, service_spec& spec) {
    auto f = fields.take("restart");
    if (!f || !expect_map(*f, "a mapping with policy and backoff", errors_))
      return;
    map_reader restart{*f, errors_};
    if (auto policy = restart.take("policy"))
      if (auto value = read_choice(*policy, policy_names, errors_))
        spec.restart.policy = *value;
    if (auto backoff = restart.take("backoff"))
      read_backoff(*backoff, spec.restart.backoff);
    restart.finish();
  }

  void read_backoff(const field& f, protocol::backoff_spec& backoff) {
    if (!expect_map(f, "a mapping with initial and max", errors_))
      return;
    map_reader fields{f, errors_};
    auto initial = fields.take("initial");
    auto max = fields.take("max");
    fields.finish();
    auto initial_value =
        initial ? read_positive_duration(*initial, max_backoff, errors_) : backoff.initial;
    auto max_value = max ? read_positive_duration(*max, max_backoff, errors_) : backoff.max;
    if (!initial_value || !max_value)
      return;
    backoff.initial = *initial_value;
    backoff.max = *max_value;
    if (backoff.initial <= backoff.max)
      return;
    // Blame whichever of the two the user wrote; the other one is a default.
    if (initial)
      errors_.add(initial->mark, initial->path,
                  "must not exceed restart.backoff.max (" + format_duration(backoff.max) + ")");
    else
      errors_.add(max->mark, max->path,
                  "must not be less than restart.backoff.initial (" +
                      format_duration(backoff.initial) + ")");
  }

  void read_placement(map_reader& fields, service_spec& spec) {
    auto f = fields.take("placement");
    if (!f ||
        !expect_map(
            *f, "a mapping with strategy, constraints, max_per_node, anti_affinity and spread_over",
            errors_))
      return;
    map_reader placement{*f, errors_};
    if (auto strategy = placement.take("strategy"))
      if (auto value = read_choice(*strategy, strategy_names, errors_))
        spec.placement.strategy = *value;
    if (auto constraints = placement.take("constraints"))
      read_constraints(*constraints, spec.placement.constraints);
    if (auto max = placement.take("max_per_node"))
      if (auto value = read_int(*max, 0, protocol::max_replicas, errors_))
        spec.placement.max_per_node = static_cast<int32_t>(*value);
    if (auto anti = placement.take("anti_affinity"))
      read_anti_affinity(*anti, spec);
    if (auto over = placement.take("spread_over"))
      read_spread_over(*over, spec.placement);
    placement.finish();
  }

  void read_anti_affinity(const field& f, service_spec& spec) {
    auto names = read_string_list(f, errors_);
    if (!names)
      return;
    auto items = elements(f);
    for (size_t i = 0; i < names->size(); ++i) {
      const auto& name = (*names)[i];
      // Names a service of the same namespace.
      if (!valid_service_name(name))
        errors_.add(items[i].mark, items[i].path,
                    "expected the name of a service, got '" + name + "'");
      else if (protocol::qualified_name(namespace_, name) == spec.name)
        errors_.add(items[i].mark, items[i].path,
                    "a service cannot avoid itself; use max_per_node: 1");
      else
        spec.placement.anti_affinity.push_back(protocol::qualified_name(namespace_, name));
    }
  }

  void read_spread_over(const field& f, protocol::placement_spec& placement) {
    auto key = read_string(f, errors_);
    if (!key || key->empty()) // empty: over nodes only, as canonical YAML writes it
      return;
    if (placement.strategy != protocol::placement_strategy::spread) {
      errors_.add(f.mark, f.path, "only the spread strategy spreads over a label");
      return;
    }
    auto c = parse_constraint(*key + " exists");
    if (!c) {
      errors_.add(f.mark, f.path,
                  "expected a node label key of [A-Za-z0-9._/-], got '" + *key + "'");
      return;
    }
    placement.spread_over = *key;
  }

  void read_constraints(const field& f, std::vector<protocol::constraint>& out) {
    if (!expect_seq(f, "a sequence of constraints like 'zone == a'", errors_))
      return;
    for (const auto& item : elements(f)) {
      auto text = read_string(item, errors_);
      if (!text)
        continue;
      if (auto c = parse_constraint(*text))
        out.push_back(std::move(*c));
      else
        errors_.add(item.mark, item.path,
                    "expected 'key == value', 'key != value', 'key in (v1, v2)' or "
                    "'key exists' (keys and values of [A-Za-z0-9._/-]), got '" +
                        *text + "'");
    }
  }

  void read_update(map_reader& fields, service_spec& spec) {
    auto f = fields.take("update");
    if (!f || !expect_map(*f,
                          "a mapping with parallelism, max_surge, max_unavailable, monitor and "
                          "failure_action",
                          errors_))
      return;
    map_reader update{*f, errors_};
    auto& u = spec.update;
    if (auto x = update.take("parallelism"))
      if (auto n = read_int(*x, 1, protocol::max_replicas, errors_))
        u.parallelism = static_cast<int32_t>(*n);
    auto surge = update.take("max_surge");
    if (surge)
      if (auto n = read_int(*surge, 0, protocol::max_replicas, errors_))
        u.max_surge = static_cast<int32_t>(*n);
    auto unavailable = update.take("max_unavailable");
    if (unavailable)
      if (auto n = read_int(*unavailable, 0, protocol::max_replicas, errors_))
        u.max_unavailable = static_cast<int32_t>(*n);
    if (auto x = update.take("monitor"))
      if (auto d = read_duration(*x, max_probe_time, errors_))
        u.monitor = *d;
    if (auto x = update.take("failure_action"))
      if (auto value = read_choice(*x, failure_action_names, errors_))
        u.on_failure = *value;
    update.finish();
    if (u.max_surge == 0 && u.max_unavailable == 0) {
      const auto& blame = surge ? *surge : unavailable ? *unavailable : *f;
      errors_.add(blame.mark, blame.path,
                  "max_surge and max_unavailable cannot both be 0: no replica could ever be "
                  "replaced; allow max_surge: 1 or max_unavailable: 1");
    }
  }

  /// `containers:`, read after everything the containers share (driver,
  /// env, ports, volumes): each one's own fields into spec.containers, their
  /// probes into spec.health (naming the container), their resources summed.
  void read_containers(const field& f, service_spec& spec) {
    if (!expect_seq(f, "a sequence of containers, each a mapping with name, image or command",
                    errors_))
      return;
    refuse_single_container_fields(f, spec);
    auto entries = elements(f);
    if (entries.empty() || entries.size() > protocol::max_containers)
      errors_.add(f.mark, f.path,
                  "expected 1 to " + std::to_string(protocol::max_containers) + " containers, got " +
                      std::to_string(entries.size()));
    if (spec.driver == driver_kind::sim)
      errors_.add(f.mark, f.path, "the sim driver runs one container per replica");
    std::map<std::string, int> names; // -> line
    for (const auto& entry : entries)
      if (auto part = read_container(entry, spec, names))
        spec.containers.push_back(std::move(*part));
    if (!entries.empty() &&
        std::all_of(spec.containers.begin(), spec.containers.end(),
                    [](const auto& c) { return c.init; }) &&
        spec.containers.size() == entries.size())
      errors_.add(f.mark, f.path, "every container is an init container: a replica needs one "
                                  "that keeps running");
    spec.resources = replica_resources(spec.containers);
  }

  /// What a replica of several containers needs: its containers run together,
  /// its init containers one at a time before them.
  static protocol::resource_spec replica_resources(const std::vector<container_part>& parts) {
    protocol::resource_spec sum, init;
    for (const auto& c : parts) {
      auto& into = c.init ? init : sum;
      into.cpu = c.init ? std::max(into.cpu, c.resources.cpu) : into.cpu + c.resources.cpu;
      into.memory =
          c.init ? std::max(into.memory, c.resources.memory) : into.memory + c.resources.memory;
    }
    return {std::max(sum.cpu, init.cpu), std::max(sum.memory, init.memory), 0};
  }

  /// The fields that describe the one container of a replica have no place
  /// beside `containers:`.
  void refuse_single_container_fields(const field& f, service_spec& spec) {
    std::string misplaced;
    auto add = [&](bool present, const char* name) {
      if (present)
        misplaced += (misplaced.empty() ? "" : ", ") + std::string{name};
    };
    add(!spec.image.empty(), "image");
    add(!spec.image_archive.empty(), "image_archive");
    add(!spec.command.empty(), "command");
    add(spec.resources.cpu != 0 || spec.resources.memory != 0, "resources");
    add(!spec.mounts.empty(), "mounts");
    add(spec.health != protocol::health_spec{}, "health");
    if (!misplaced.empty())
      errors_.add(f.key_mark, f.path,
                  misplaced + " go on each container when containers is given");
  }

  std::optional<container_part> read_container(const field& entry, service_spec& spec,
                                               std::map<std::string, int>& names) {
    if (!expect_map(entry, "a container: a mapping with name, image or command", errors_))
      return std::nullopt;
    size_t errors_before = errors_.size();
    map_reader fields{entry, errors_};
    container_part part;
    if (auto name = fields.take("name")) {
      if (auto text = read_string(*name, errors_)) {
        if (!valid_container_name(*text))
          errors_.add(name->mark, name->path,
                      "invalid container name '" + *text +
                          "': use 1-63 of a-z, 0-9 and '-', starting with a letter, not "
                          "ending with '-', without '--'");
        else if (auto [first, added] = names.emplace(*text, name->mark.line + 1); !added)
          errors_.add(name->mark, name->path,
                      "duplicate container name '" + *text + "' (first at line " +
                          std::to_string(first->second) + ")");
        part.name = *text;
      }
    } else {
      errors_.add(entry.mark, entry.path + ".name", missing);
    }
    if (auto init = fields.take("init"))
      if (auto value = read_bool(*init, errors_))
        part.init = *value;
    // Its own fields read like a service's, into a spec that shares the
    // service's driver, ports and volumes.
    service_spec own;
    own.driver = spec.driver;
    own.ports = spec.ports;
    own.volumes = spec.volumes;
    auto image = read_image(fields, own);
    auto archive = read_image_archive(fields, own);
    auto command = read_command(fields, own);
    read_env(fields, own);
    read_resources(fields, own);
    read_health(fields, own, errors_);
    read_mounts(fields, own, errors_);
    if (auto ports = fields.take("ports"))
      errors_.add(ports->key_mark, ports->path,
                  "ports go on the service: the containers of a replica share its network");
    fields.finish();
    check_image(image, entry, entry.path + ".", own);
    check_archive(archive, own);
    check_command(command, entry, entry.path + ".", own);
    if (part.init && own.health != protocol::health_spec{})
      errors_.add(entry.mark, entry.path + ".health",
                  "an init container runs to completion: it has no probes");
    // Its exec probes run in it.
    for (auto* probe : {&own.health.readiness, &own.health.liveness})
      if (probe->kind != protocol::probe_kind::none)
        probe->container = part.name;
    if (errors_.size() != errors_before)
      return std::nullopt;
    part.image = std::move(own.image);
    part.image_archive = std::move(own.image_archive);
    part.command = std::move(own.command);
    part.env = std::move(own.env);
    part.resources = own.resources;
    part.mounts = std::move(own.mounts);
    part.health = std::move(own.health);
    return part;
  }

  void check_archive(const std::optional<field>& archive, const service_spec& spec) {
    if (archive && spec.driver != driver_kind::containerd)
      errors_.add(archive->mark, archive->path,
                  "image_archive is only used by the containerd driver");
  }

  /// `where`: the path of what holds the image ("" for a service, else "containers[i].").
  void check_image(const std::optional<field>& image, const field& whole,
                   const std::string& where, const service_spec& spec) {
    if (image && !spec.image.empty() && !uses_image(spec.driver))
      errors_.add(image->mark, image->path,
                  "image is only used by the docker and containerd drivers");
    if (!uses_image(spec.driver))
      return;
    if (!image)
      errors_.add(whole.mark, where + "image",
                  missing + " (the " + protocol::to_string(spec.driver) + " driver runs an image)");
    else if (image->value.IsScalar() && !valid_image(spec.image))
      errors_.add(image->mark, image->path,
                  "expected an image reference like local/busybox:1, got '" + spec.image + "'");
  }

  void check_command(const std::optional<field>& command, const field& whole,
                     const std::string& where, const service_spec& spec) {
    if (spec.driver != driver_kind::process || !spec.command.empty())
      return;
    // A command that failed to read has been reported already.
    bool empty_sequence = command && command->value.IsSequence() && command->value.size() == 0;
    if (empty_sequence)
      errors_.add(command->mark, command->path,
                  "the process driver needs a command: a non-empty sequence of strings");
    else if (!command)
      errors_.add(whole.mark, where + "command",
                  missing + " (the process driver runs a command)");
  }

  error_sink& errors_;
  std::string request_namespace_;
  std::string namespace_;                     // of the document being read
  std::map<std::string, int> names_;          // -> line of the document that named it first
  std::map<uint16_t, std::string> published_; // published port -> service
  std::string current_name_;                  // of the document being read
};

} // namespace

namespace {

/// The document's kind when it is a mapping with a scalar kind; else empty.
std::string kind_of(const YAML::Node& doc) {
  try {
    if (doc.IsMap() && doc["kind"] && doc["kind"].IsScalar())
      return doc["kind"].Scalar();
  } catch (const YAML::Exception&) {
  }
  return {};
}

} // namespace

parse_result parse_specs(const std::string& text, const std::string& file,
                         const std::string& request_namespace) {
  error_sink errors{file};
  std::vector<service_spec> specs;
  std::vector<protocol::quota_spec> quotas;
  std::vector<protocol::custom_role> roles;
  std::vector<protocol::role_binding> bindings;
  std::vector<protocol::object_spec> objects;
  if (auto docs = load_documents(text, errors)) {
    spec_reader reader{errors, request_namespace};
    policy_reader policies{errors, request_namespace};
    object_reader object_docs{errors, request_namespace};
    bool any = false;
    guarded_walk(errors, [&] {
      for (const auto& doc : *docs) {
        if (doc.IsNull()) // an empty document, e.g. after a trailing `---`
          continue;
        any = true;
        auto kind = kind_of(doc);
        if (kind == "Quota") {
          if (auto quota = policies.read_quota(doc))
            quotas.push_back(std::move(*quota));
        } else if (kind == "Role") {
          if (auto role = policies.read_role(doc))
            roles.push_back(std::move(*role));
        } else if (kind == "RoleBinding") {
          if (auto binding = policies.read_binding(doc))
            bindings.push_back(std::move(*binding));
        } else if (kind == "Config" || kind == "Secret") {
          auto object_kind =
              kind == "Secret" ? protocol::object_kind::secret : protocol::object_kind::config;
          if (auto x = object_docs.read(doc, object_kind))
            objects.push_back(std::move(*x));
        } else if (auto spec = reader.read(doc)) {
          specs.push_back(std::move(*spec));
        }
      }
    });
    // Configs and secrets go with the services that use them, or alone.
    int groups = (specs.empty() && objects.empty() ? 0 : 1) + (quotas.empty() ? 0 : 1) +
                 (roles.empty() && bindings.empty() ? 0 : 1);
    if (!any)
      errors.add_unplaced("", "no documents: expected one or more 'kind: Service' documents");
    else if (groups > 1)
      errors.add_unplaced("", "services, quotas and roles in one input: apply kind: Quota, and "
                              "kind: Role with kind: RoleBinding, in files of their own");
    else if (objects.size() > protocol::max_objects_per_apply)
      errors.add_unplaced("", std::to_string(objects.size()) +
                                  " Config and Secret documents in one input; at most " +
                                  std::to_string(protocol::max_objects_per_apply));
  }
  parse_result result;
  result.errors = errors.take();
  if (result.errors.empty()) {
    result.specs = std::move(specs);
    result.quotas = std::move(quotas);
    result.roles = std::move(roles);
    result.bindings = std::move(bindings);
    result.objects = std::move(objects);
  }
  return result;
}

parse_result parse_spec_file(const std::string& path) {
  error_sink errors{path};
  auto text = read_text_file(path, errors);
  if (!text) {
    parse_result result;
    result.errors = errors.take();
    return result;
  }
  return parse_specs(*text, path);
}

} // namespace tutti::config
