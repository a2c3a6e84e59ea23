#include "protocol/access.hpp"
#include "protocol/autoscale.hpp"
#include "protocol/objects.hpp"
#include "protocol/spec.hpp"
#include "protocol/status.hpp"

namespace tutti::protocol {

namespace {

template <class Enum, size_t N>
std::optional<Enum> enum_from(const std::string& text, const Enum (&all)[N]) {
  for (auto x : all)
    if (to_string(x) == text)
      return x;
  return std::nullopt;
}

} // namespace

std::string to_string(driver_kind x) {
  switch (x) {
    case driver_kind::process:
      return "process";
    case driver_kind::sim:
      return "sim";
    case driver_kind::docker:
      return "docker";
    case driver_kind::containerd:
      return "containerd";
  }
  return "unknown";
}

std::string to_string(volume_type x) {
  switch (x) {
    case volume_type::scratch:
      return "scratch";
    case volume_type::persistent:
      return "persistent";
    case volume_type::host:
      return "host";
  }
  return "unknown";
}

std::optional<volume_type> volume_type_from(const std::string& text) {
  static const volume_type all[] = {volume_type::scratch, volume_type::persistent,
                                    volume_type::host};
  return enum_from(text, all);
}

std::string to_string(autoscale_metric x) {
  switch (x) {
    case autoscale_metric::cpu:
      return "cpu";
    case autoscale_metric::memory:
      return "memory";
    case autoscale_metric::rps:
      return "rps";
    case autoscale_metric::concurrency:
      return "concurrency";
  }
  return "unknown";
}

std::optional<autoscale_metric> autoscale_metric_from(const std::string& text) {
  static const autoscale_metric all[] = {autoscale_metric::cpu, autoscale_metric::memory,
                                         autoscale_metric::rps, autoscale_metric::concurrency};
  return enum_from(text, all);
}

std::string volume_env_name(const std::string& volume) {
  std::string out = "TUTTI_VOLUME_";
  for (char c : volume)
    out += c == '-' ? '_' : static_cast<char>(c >= 'a' && c <= 'z' ? c - 'a' + 'A' : c);
  return out;
}

std::string object_env_name(object_kind kind, const std::string& name) {
  std::string out = kind == object_kind::secret ? "TUTTI_SECRET_" : "TUTTI_CONFIG_";
  for (char c : name)
    out += c == '-' || c == '.' ? '_' : static_cast<char>(c >= 'a' && c <= 'z' ? c - 'a' + 'A' : c);
  return out;
}

std::string object_version_key(const std::string& name, int64_t version) {
  auto digits = std::to_string(version);
  return name + "@" + std::string(digits.size() < 12 ? 12 - digits.size() : 0, '0') + digits;
}

std::string default_object_path(object_kind kind, const std::string& name) {
  return (kind == object_kind::secret ? "/run/secrets/" : "/run/configs/") + name;
}

std::string to_string(restart_policy x) {
  switch (x) {
    case restart_policy::always:
      return "always";
    case restart_policy::on_failure:
      return "on-failure";
    case restart_policy::never:
      return "never";
  }
  return "unknown";
}

std::string to_string(placement_strategy x) {
  switch (x) {
    case placement_strategy::spread:
      return "spread";
    case placement_strategy::binpack:
      return "binpack";
  }
  return "unknown";
}

std::string to_string(load_balancing x) {
  switch (x) {
    case load_balancing::round_robin:
      return "round_robin";
    case load_balancing::least_connections:
      return "least_connections";
  }
  return "unknown";
}

std::string to_string(probe_kind x) {
  switch (x) {
    case probe_kind::none:
      return "none";
    case probe_kind::exec:
      return "exec";
    case probe_kind::http:
      return "http";
    case probe_kind::tcp:
      return "tcp";
  }
  return "unknown";
}

std::string to_string(failure_action x) {
  switch (x) {
    case failure_action::rollback:
      return "rollback";
    case failure_action::pause:
      return "pause";
    case failure_action::resume:
      return "continue";
  }
  return "unknown";
}

std::string to_string(const constraint& x) {
  auto first = x.values.empty() ? std::string{} : x.values.front();
  switch (x.op) {
    case constraint_op::equals:
      return x.key + " == " + first;
    case constraint_op::not_equals:
      return x.key + " != " + first;
    case constraint_op::in: {
      std::string out = x.key + " in (";
      for (size_t i = 0; i < x.values.size(); ++i)
        out += (i == 0 ? "" : ", ") + x.values[i];
      return out + ")";
    }
    case constraint_op::exists:
      return x.key + " exists";
  }
  return x.key;
}

std::string to_string(replica_state x) {
  switch (x) {
    case replica_state::pending:
      return "pending";
    case replica_state::starting:
      return "starting";
    case replica_state::running:
      return "running";
    case replica_state::backoff:
      return "backoff";
    case replica_state::stopping:
      return "stopping";
    case replica_state::exited:
      return "exited";
    case replica_state::failed:
      return "failed";
  }
  return "unknown";
}

std::string to_string(node_state x) {
  switch (x) {
    case node_state::ready:
      return "ready";
    case node_state::cordoned:
      return "cordoned";
    case node_state::draining:
      return "draining";
    case node_state::lost:
      return "lost";
    case node_state::restarting:
      return "restarting";
  }
  return "unknown";
}

std::string to_string(change_kind x) {
  switch (x) {
    case change_kind::created:
      return "created";
    case change_kind::updated:
      return "updated";
    case change_kind::unchanged:
      return "unchanged";
    case change_kind::deleted:
      return "deleted";
  }
  return "unknown";
}

std::string to_string(rollout_state x) {
  switch (x) {
    case rollout_state::progressing:
      return "progressing";
    case rollout_state::complete:
      return "complete";
    case rollout_state::paused:
      return "paused";
    case rollout_state::rolling_back:
      return "rolling_back";
  }
  return "unknown";
}

std::string to_string(actor_state x) {
  switch (x) {
    case actor_state::running:
      return "running";
    case actor_state::restarting:
      return "restarting";
    case actor_state::unreachable:
      return "unreachable";
    case actor_state::ready:
      return "ready";
    case actor_state::cordoned:
      return "cordoned";
    case actor_state::draining:
      return "draining";
    case actor_state::lost:
      return "lost";
  }
  return "unknown";
}

std::string to_string(control_role x) {
  switch (x) {
    case control_role::single:
      return "single";
    case control_role::leader:
      return "leader";
    case control_role::standby:
      return "standby";
  }
  return "unknown";
}

actor_state actor_state_of(node_state x) {
  switch (x) {
    case node_state::ready:
      return actor_state::ready;
    case node_state::cordoned:
      return actor_state::cordoned;
    case node_state::draining:
      return actor_state::draining;
    case node_state::lost:
      return actor_state::lost;
    case node_state::restarting:
      return actor_state::restarting;
  }
  return actor_state::unreachable;
}

std::optional<replica_state> replica_state_from(const std::string& text) {
  static const replica_state all[] = {replica_state::pending,  replica_state::starting,
                                      replica_state::running,  replica_state::backoff,
                                      replica_state::stopping, replica_state::exited,
                                      replica_state::failed};
  return enum_from(text, all);
}

std::optional<driver_kind> driver_kind_from(const std::string& text) {
  static const driver_kind all[] = {driver_kind::process, driver_kind::sim, driver_kind::docker,
                                    driver_kind::containerd};
  return enum_from(text, all);
}

std::optional<node_state> node_state_from(const std::string& text) {
  static const node_state all[] = {node_state::ready, node_state::cordoned, node_state::draining,
                                   node_state::lost, node_state::restarting};
  return enum_from(text, all);
}

std::optional<change_kind> change_kind_from(const std::string& text) {
  static const change_kind all[] = {change_kind::created, change_kind::updated,
                                    change_kind::unchanged, change_kind::deleted};
  return enum_from(text, all);
}

std::optional<load_balancing> load_balancing_from(const std::string& text) {
  static const load_balancing all[] = {load_balancing::round_robin,
                                       load_balancing::least_connections};
  return enum_from(text, all);
}

std::string to_string(const spec_error& x) {
  std::string out = x.file.empty() ? std::string{"<input>"} : x.file;
  if (x.line > 0)
    out += ":" + std::to_string(x.line) + ":" + std::to_string(x.column);
  out += ": ";
  if (!x.field.empty())
    out += x.field + ": ";
  out += x.message;
  return out;
}

std::string to_string(access_role x) {
  switch (x) {
    case access_role::viewer:
      return "viewer";
    case access_role::deployer:
      return "deployer";
    case access_role::operator_:
      return "operator";
    case access_role::admin:
      return "admin";
  }
  return "unknown";
}

std::optional<access_role> access_role_from(const std::string& text) {
  static const access_role all[] = {access_role::viewer, access_role::deployer,
                                    access_role::operator_, access_role::admin};
  return enum_from(text, all);
}

std::string to_string(credential_kind x) {
  switch (x) {
    case credential_kind::token:
      return "token";
    case credential_kind::admin_token:
      return "admin_token";
    case credential_kind::client_certificate:
      return "client_certificate";
    case credential_kind::unix_peer:
      return "unix_peer";
  }
  return "unknown";
}

std::string to_string(object_kind x) {
  switch (x) {
    case object_kind::token:
      return "token";
    case object_kind::audit:
      return "audit";
    case object_kind::quota:
      return "quota";
    case object_kind::role:
      return "role";
    case object_kind::role_binding:
      return "rolebinding";
    case object_kind::config:
      return "config";
    case object_kind::secret:
      return "secret";
  }
  return "unknown";
}

std::string to_string(subject_kind x) {
  switch (x) {
    case subject_kind::token:
      return "token";
    case subject_kind::user:
      return "user";
    case subject_kind::group:
      return "group";
  }
  return "unknown";
}

std::optional<subject_kind> subject_kind_from(const std::string& text) {
  static const subject_kind all[] = {subject_kind::token, subject_kind::user, subject_kind::group};
  return enum_from(text, all);
}

const std::vector<std::string>& role_verbs() {
  static const std::vector<std::string> all{"read",   "apply", "scale",  "rollback", "delete",
                                            "drain",  "kill",  "create", "revoke",
                                            "import", "backup"};
  return all;
}

const std::vector<std::string>& role_resources() {
  static const std::vector<std::string> all{"services", "replicas",    "nodes",  "events",
                                            "logs",     "endpoints",   "tree",   "controllers",
                                            "tokens",   "audit",       "version", "identity",
                                            "images",   "volumes",     "store",   "configs",
                                            "secrets"};
  return all;
}

} // namespace tutti::protocol
