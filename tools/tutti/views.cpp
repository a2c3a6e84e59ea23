#include "tools/tutti/views.hpp"

#include <algorithm>
#include <cctype>
#include <map>
#include <sstream>

namespace tutti::cli {

namespace {

using json = json_value;
using protocol::change_kind;
using protocol::driver_kind;
using protocol::replica_state;

json json_of(const protocol::resource_spec& x) {
  json_value out{{"cpu", x.cpu}, {"memory", x.memory}};
  if (x.disk > 0) // a node's, or what its volumes reserve
    out["disk"] = x.disk;
  return out;
}

json json_of(const protocol::port_binding& x) {
  return {{"name", x.name}, {"host_port", x.host_port}};
}

bool all_digits(const std::string& text) {
  return std::all_of(text.begin(), text.end(),
                     [](char c) { return std::isdigit(static_cast<unsigned char>(c)); });
}

// An exit code only means something once the replica has exited at least once.
std::string exit_text(const protocol::replica_status& x) {
  bool has_exited = x.state == replica_state::backoff || x.state == replica_state::exited ||
                    x.state == replica_state::failed || x.restarts > 0;
  if (!has_exited)
    return "-";
  return x.exit_code == -1 ? "?" : std::to_string(x.exit_code);
}

// By driver name, the order people read them in (and the order of the JSON keys).
std::map<std::string, std::string> driver_errors_by_name(const protocol::node_status& x) {
  std::map<std::string, std::string> out;
  for (const auto& [driver, why] : x.driver_errors)
    out.emplace(to_string(driver), why);
  return out;
}

std::string labels_text(const std::map<std::string, std::string>& labels) {
  std::string out;
  for (const auto& [key, value] : labels)
    out += (out.empty() ? "" : ",") + key + "=" + value;
  return or_dash(out);
}

std::vector<std::string> event_cells(const protocol::event& e) {
  return {format_clock(e.time_ms), std::to_string(e.seq), e.kind,
          or_dash(e.service),      or_dash(e.replica),    e.message};
}

std::string field(const std::string& label, const std::string& value) {
  constexpr size_t width = 18; // "Desired/Running:" plus two blanks
  auto out = label;
  out.append(width - std::min(width - 1, label.size()), ' ');
  return out + value + "\n";
}

std::string updated_text(int64_t updated_ms, int64_t now_ms) {
  if (updated_ms == 0)
    return "-";
  return format_datetime(updated_ms) + " (" + format_since(updated_ms, now_ms) + " ago)";
}

std::string detail_replicas(const protocol::service_detail& x, int64_t now_ms) {
  if (x.replicas.empty())
    return "  <none>\n";
  text_table table{
      {"ID", "NODE", "STATE", "READY", "PID/CONTAINER", "RESTARTS", "EXIT", "MESSAGE", "AGE"}};
  for (const auto& r : x.replicas)
    table.add_row({r.id, or_dash(r.node), to_string(r.state), r.ready ? "yes" : "no",
                   pid_or_container(r, x.status.driver), std::to_string(r.restarts), exit_text(r),
                   or_dash(r.message), format_since(r.since_ms, now_ms)});
  auto out = table.render("  ");
  // Probe results and the output of crash loops are too long for a column.
  for (const auto& r : x.replicas) {
    if (!r.health.empty())
      out += "  " + r.id + " health: " + r.health + "\n";
    if (!r.log_tail.empty())
      out += "  " + r.id + " last output:\n" + indent_lines(r.log_tail, "    ");
  }
  return out;
}

std::string detail_events(const protocol::service_detail& x) {
  if (x.events.empty())
    return "  <none>\n";
  text_table table{{"TIME", "KIND", "REPLICA", "MESSAGE"}};
  for (const auto& e : x.events)
    table.add_row({format_clock(e.time_ms), e.kind, or_dash(e.replica), e.message});
  return table.render("  ");
}

std::string change_verb(change_kind kind, bool dry_run) {
  switch (kind) {
    case change_kind::created:
      return dry_run ? "would be created" : "created";
    case change_kind::updated:
      return dry_run ? "would be updated" : "configured";
    case change_kind::deleted:
      return dry_run ? "would be deleted" : "deleted";
    case change_kind::unchanged:
      return "unchanged";
  }
  return "changed";
}

} // namespace

json json_of(const protocol::service_status& x) {
  return {{"name", x.name},
          {"revision", x.revision},
          {"desired", x.desired},
          {"running", x.running},
          {"restarts", x.restarts},
          {"driver", to_string(x.driver)},
          {"updated_ms", x.updated_ms},
          {"autoscale", x.autoscale},
          {"autoscaled", x.autoscaled}};
}

json json_of(const protocol::replica_status& x) {
  auto ports = json::array();
  for (const auto& p : x.ports)
    ports.push_back(json_of(p));
  return {{"id", x.id},
          {"service", x.service},
          {"slot", x.slot},
          {"node", x.node},
          {"state", to_string(x.state)},
          {"pid", x.pid},
          {"runtime_id", x.runtime_id},
          {"restarts", x.restarts},
          {"revision", x.revision},
          {"exit_code", x.exit_code},
          {"message", x.message},
          {"since_ms", x.since_ms},
          {"ports", ports},
          {"ready", x.ready},
          {"unhealthy", x.unhealthy},
          {"health", x.health},
          {"log_tail", x.log_tail}};
}

json json_of(const protocol::node_status& x) {
  auto drivers = json::array();
  for (auto d : x.drivers)
    drivers.push_back(to_string(d));
  return {{"name", x.name},
          {"address", x.address},
          {"state", to_string(x.state)},
          {"capacity", json_of(x.capacity)},
          {"allocated", json_of(x.allocated)},
          {"replicas", x.replicas},
          {"ports_capacity", x.ports_capacity},
          {"ports_allocated", x.ports_allocated},
          {"labels", json(x.labels)},
          {"drivers", drivers},
          {"driver_errors", json(driver_errors_by_name(x))}};
}

json json_of(const protocol::event& x) {
  return {{"seq", x.seq},         {"time_ms", x.time_ms}, {"kind", x.kind},
          {"service", x.service}, {"replica", x.replica}, {"message", x.message}};
}

json json_of(const protocol::rollout_status& x) {
  return {{"service", x.service},     {"revision", x.revision}, {"state", to_string(x.state)},
          {"desired", x.desired},     {"updated", x.updated},   {"ready", x.ready},
          {"available", x.available}, {"old", x.old},           {"message", x.message}};
}

json json_of(const protocol::spec_record& x) {
  return {{"revision", x.revision}, {"time_ms", x.time_ms}, {"spec_yaml", x.yaml}};
}

json json_of(const protocol::actor_info& x) {
  return {{"path", x.path}, {"kind", x.kind},         {"state", to_string(x.state)},
          {"id", x.id},     {"restarts", x.restarts}, {"last_exit", x.last_exit}};
}

json json_of(const protocol::controllers_report& x) {
  json controllers = json::array();
  for (const auto& c : x.controllers)
    controllers.push_back({{"api", c.api},
                           {"cluster", c.cluster},
                           {"host", c.host},
                           {"leading", c.leading},
                           {"since_ms", c.since_ms}});
  json endpoints = json::array();
  for (const auto& e : x.endpoints)
    endpoints.push_back(
        {{"endpoint", e.endpoint}, {"healthy", e.healthy}, {"message", e.message}});
  return {{"store", x.store}, {"controllers", controllers}, {"endpoints", endpoints}};
}

std::string controllers_text(const protocol::controllers_report& x, int64_t now_ms) {
  auto sorted = x.controllers;
  std::stable_sort(sorted.begin(), sorted.end(),
                   [](const auto& a, const auto& b) { return a.leading > b.leading; });
  text_table table{{"API", "CLUSTER", "HOST", "ROLE", "SINCE"}};
  for (const auto& c : sorted)
    table.add_row({c.api, c.cluster, or_dash(c.host), c.leading ? "leader" : "standby",
                   c.since_ms == 0 ? "-" : format_age(now_ms - c.since_ms)});
  auto out = "store: " + x.store + "\n" + table.render();
  if (x.endpoints.empty())
    return out;
  text_table health{{"ETCD ENDPOINT", "HEALTH", "STATUS"}};
  for (const auto& e : x.endpoints)
    health.add_row({e.endpoint, e.healthy ? "healthy" : "unreachable", or_dash(e.message)});
  return out + "\n" + health.render();
}

std::string tree_table(const std::vector<protocol::actor_info>& xs) {
  text_table table{{"PATH", "KIND", "STATE", "ID", "RESTARTS", "LAST EXIT"}};
  for (const auto& x : xs)
    table.add_row({x.path, x.kind, to_string(x.state), x.id == 0 ? "-" : std::to_string(x.id),
                   std::to_string(x.restarts), or_dash(x.last_exit)});
  return table.render();
}

std::string rollout_line(const protocol::rollout_status& x) {
  return "revision " + std::to_string(x.revision) + " " + to_string(x.state) + ": " +
         std::to_string(x.updated) + "/" + std::to_string(x.desired) + " updated, " +
         std::to_string(x.ready) + " ready, " + std::to_string(x.available) + " available, " +
         std::to_string(x.old) + " old" + (x.message.empty() ? "" : "; " + x.message);
}

namespace {

/// The value of a top-level `key: value` line of canonical YAML.
std::string yaml_line(const std::string& yaml, const std::string& key) {
  std::istringstream in{yaml};
  for (std::string line; std::getline(in, line);)
    if (line.rfind(key + ": ", 0) == 0)
      return line.substr(key.size() + 2);
  return {};
}

} // namespace

std::string history_table(const std::vector<protocol::spec_record>& xs, int64_t now_ms) {
  text_table table{{"REVISION", "CREATED", "REPLICAS", "IMAGE", "COMMAND"}};
  for (const auto& x : xs) {
    auto image = yaml_line(x.yaml, "image");
    table.add_row({std::to_string(x.revision), format_since(x.time_ms, now_ms),
                   or_dash(yaml_line(x.yaml, "replicas")),
                   image.empty() || image == "\"\"" ? "-" : image,
                   or_dash(yaml_line(x.yaml, "command"))});
  }
  return table.render();
}

json json_of(const protocol::service_detail& x) {
  return {{"status", json_of(x.status)},
          {"spec_yaml", x.spec_yaml},
          {"replicas", json_of(x.replicas)},
          {"events", json_of(x.events)}};
}

json json_of(const protocol::service_endpoints& x) {
  auto ports = json::array();
  for (const auto& p : x.ports)
    ports.push_back({{"name", p.name}, {"published", p.published}});
  auto endpoints = json::array();
  for (const auto& e : x.endpoints)
    endpoints.push_back({{"replica", e.replica},
                         {"node", e.node},
                         {"port", e.port},
                         {"host", e.host},
                         {"host_port", e.host_port}});
  json out = {{"service", x.service},
              {"balancing", to_string(x.balancing)},
              {"ports", ports},
              {"endpoints", endpoints}};
  if (x.removed)
    out["removed"] = true;
  return out;
}

std::string render_as(output_format format, const json& value, const std::string& table) {
  switch (format) {
    case output_format::json:
      return to_json_text(value) + "\n";
    case output_format::yaml:
      return to_yaml(value);
    case output_format::table:
      return table;
  }
  return table;
}

std::string services_table(const std::vector<protocol::service_status>& xs, int64_t now_ms) {
  text_table table{
      {"NAME", "REVISION", "DESIRED", "RUNNING", "RESTARTS", "DRIVER", "AUTOSCALE", "AGE"}};
  for (const auto& s : xs)
    table.add_row({s.name, std::to_string(s.revision), std::to_string(s.desired),
                   std::to_string(s.running), std::to_string(s.restarts), to_string(s.driver),
                   s.autoscale.empty() ? "-" : s.autoscale, format_since(s.updated_ms, now_ms)});
  return table.render();
}

std::string replicas_table(const std::vector<protocol::replica_status>& xs, int64_t now_ms) {
  text_table table{
      {"ID", "SERVICE", "NODE", "STATE", "PID/CONTAINER", "RESTARTS", "REVISION", "AGE", "PORTS"}};
  for (const auto& r : xs)
    table.add_row({r.id, r.service, or_dash(r.node), to_string(r.state),
                   pid_or_container(r, std::nullopt), std::to_string(r.restarts),
                   std::to_string(r.revision), format_since(r.since_ms, now_ms),
                   ports_text(r.ports)});
  return table.render();
}

std::string nodes_table(const std::vector<protocol::node_status>& xs) {
  text_table table{
      {"NAME", "STATE", "CPU(alloc/cap)", "MEMORY(alloc/cap)", "PORTS(alloc/cap)", "REPLICAS",
       "DRIVERS", "LABELS"}};
  for (const auto& n : xs) {
    std::string drivers;
    for (auto d : n.drivers)
      drivers += (drivers.empty() ? "" : ",") + to_string(d) +
                 (n.driver_errors.count(d) ? "(unhealthy)" : "");
    table.add_row(
        {n.name, to_string(n.state), format_cpu(n.allocated.cpu) + "/" + format_cpu(n.capacity.cpu),
         format_bytes(n.allocated.memory) + "/" + format_bytes(n.capacity.memory),
         std::to_string(n.ports_allocated) + "/" + std::to_string(n.ports_capacity),
         std::to_string(n.replicas), drivers.empty() ? "-" : drivers, labels_text(n.labels)});
  }
  auto out = table.render();
  // The reasons are too long for a column: listed below the table.
  for (const auto& n : xs)
    for (const auto& [driver, why] : driver_errors_by_name(n))
      out += n.name + ": " + driver + " driver unhealthy: " + why + "\n";
  return out;
}

std::string endpoints_table(const std::vector<protocol::service_endpoints>& xs) {
  text_table table{{"SERVICE", "PORT", "PUBLISHED", "REPLICA", "NODE", "ENDPOINT"}};
  for (const auto& s : xs) {
    auto published = [&](const std::string& port) {
      for (const auto& p : s.ports)
        if (p.name == port && p.published != 0)
          return std::to_string(p.published);
      return std::string{"-"};
    };
    if (s.endpoints.empty()) {
      auto port = s.ports.empty() ? std::string{"-"} : s.ports.front().name;
      table.add_row({s.service, port, published(port), "-", "-", "-"});
      continue;
    }
    for (const auto& e : s.endpoints)
      table.add_row({s.service, e.port, published(e.port), e.replica, or_dash(e.node),
                     e.host + ":" + std::to_string(e.host_port)});
  }
  return table.render();
}

std::string describe_text(const protocol::service_detail& x, int64_t now_ms) {
  const auto& s = x.status;
  std::string out;
  out += field("Name:", s.name);
  out += field("Driver:", to_string(s.driver));
  out += field("Revision:", std::to_string(s.revision));
  out += field("Desired/Running:", std::to_string(s.desired) + "/" + std::to_string(s.running));
  out += field("Restarts:", std::to_string(s.restarts));
  out += field("Updated:", updated_text(s.updated_ms, now_ms));
  if (!s.autoscale.empty()) {
    out += field("Autoscale:", s.autoscale + " (total/target per replica)");
    out += field("Last scaled:", s.autoscaled.empty() ? "not yet" : s.autoscaled);
  }
  out += "Spec:\n";
  out += x.spec_yaml.empty() ? "  <none>\n" : indent_lines(x.spec_yaml, "  ");
  out += "Replicas:\n" + detail_replicas(x, now_ms);
  out += "Events:\n" + detail_events(x);
  return out;
}

std::string pid_or_container(const protocol::replica_status& x, std::optional<driver_kind> driver) {
  auto pid = [&] { return x.pid > 0 ? std::to_string(x.pid) : std::string{"-"}; };
  auto container = [&] { return x.runtime_id.empty() ? "-" : truncate_text(x.runtime_id, 12); };
  if (!driver)
    return all_digits(x.runtime_id) ? pid() : container();
  switch (*driver) {
    case driver_kind::process:
      return pid();
    case driver_kind::docker:
    case driver_kind::containerd:
      return container();
    case driver_kind::sim:
      return x.runtime_id.empty() ? pid() : container();
  }
  return container();
}

std::string ports_text(const std::vector<protocol::port_binding>& ports) {
  std::string out;
  for (const auto& p : ports)
    out += (out.empty() ? "" : ",") + p.name + ":" + std::to_string(p.host_port);
  return or_dash(out);
}

std::string change_text(const protocol::service_change& x, bool dry_run) {
  // Quotas and roles name themselves ("quota/team-a", "role/ci") and have no
  // revision; a service's name holds no '/'.
  bool other = x.service.find('/') != std::string::npos;
  auto out = (other ? "" : "service/") + x.service + " " + change_verb(x.kind, dry_run);
  bool changed = x.kind == change_kind::created || x.kind == change_kind::updated;
  bool object = x.service.rfind("config/", 0) == 0 || x.service.rfind("secret/", 0) == 0;
  if (!dry_run && changed && !other)
    out += " (revision " + std::to_string(x.revision) + ")";
  else if (!dry_run && changed && object)
    out += " (version " + std::to_string(x.revision) + ")";
  out += "\n";
  if (dry_run && x.kind != change_kind::unchanged)
    out += indent_lines(x.diff, "    ");
  return out;
}

std::string event_printer::print(const std::vector<protocol::event>& batch) {
  std::string out;
  if (format_ == output_format::json) {
    for (const auto& e : batch)
      out += to_json_text(json_of(e), -1) + "\n";
    return out;
  }
  if (format_ == output_format::yaml) {
    for (const auto& e : batch)
      out += to_yaml(json::array({json_of(e)}));
    return out;
  }
  if (!started_) {
    static const std::vector<std::string> headers = {"TIME",    "SEQ",     "KIND",
                                                     "SERVICE", "REPLICA", "MESSAGE"};
    text_table first{headers};
    for (const auto& e : batch)
      first.add_row(event_cells(e));
    widths_ = first.widths();
    out += render_row(headers, widths_);
    started_ = true;
  }
  for (const auto& e : batch)
    out += render_row(event_cells(e), widths_);
  return out;
}

} // namespace tutti::cli
