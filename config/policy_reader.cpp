#include "config/policy_reader.hpp"

#include "config/spec_parser.hpp"
#include "protocol/namespaces.hpp"

#include <algorithm>
#include <tuple>

namespace tutti::config::detail {

namespace {

const std::string missing = "required field is missing";

} // namespace

std::string read_document_namespace(map_reader& fields, const std::string& request_namespace,
                                    error_sink& errors) {
  auto fallback =
      request_namespace.empty() ? std::string{protocol::default_namespace} : request_namespace;
  auto f = fields.take("namespace");
  if (!f)
    return fallback;
  auto ns = read_string(*f, errors);
  if (!ns)
    return fallback;
  if (!valid_service_name(*ns)) {
    errors.add(f->mark, f->path,
               "invalid namespace '" + *ns +
                   "': use 1-63 of a-z, 0-9 and '-', starting with a letter and not ending "
                   "with '-'");
    return fallback;
  }
  if (!request_namespace.empty() && *ns != request_namespace)
    errors.add(f->mark, f->path,
               "the document is in namespace " + *ns + ", the request in " + request_namespace +
                   " (tutti -n); make them agree");
  return *ns;
}

/// A `kind: Quota` document.
std::optional<protocol::quota_spec> policy_reader::read_quota(const YAML::Node& doc) {
  field whole = document_field(doc);
  size_t errors_before = errors_.size();
  map_reader fields{whole, errors_};
  fields.take("kind");
  protocol::quota_spec q;
  q.name_space = read_document_namespace(fields, request_namespace_, errors_);
  if (auto f = fields.take("cpu"))
    if (auto value = read_cpu(*f, errors_))
      q.cpu = *value;
  if (auto f = fields.take("memory"))
    if (auto value = read_bytes(*f, errors_))
      q.memory = *value;
  if (auto f = fields.take("replicas"))
    if (auto n = read_int(*f, 0, int64_t{1} << 40, errors_))
      q.replicas = *n;
  if (auto f = fields.take("services"))
    if (auto n = read_int(*f, 0, int64_t{1} << 40, errors_))
      q.services = *n;
  fields.finish();
  if (!quota_namespaces_.insert(q.name_space).second)
    errors_.add(whole.mark, "namespace",
                "a second quota for namespace " + q.name_space + "; one per namespace");
  if (errors_.size() != errors_before)
    return std::nullopt;
  return q;
}

/// A `kind: Role` document: its name and rules of verbs on resources.
std::optional<protocol::custom_role> policy_reader::read_role(const YAML::Node& doc) {
  field whole = document_field(doc);
  size_t errors_before = errors_.size();
  map_reader fields{whole, errors_};
  fields.take("kind");
  protocol::custom_role role;
  role.name = read_policy_name(fields, whole, "role");
  auto rules = fields.take("rules");
  if (!rules)
    errors_.add(whole.mark, "rules", missing + " (a list of {verbs: [...], resources: [...]})");
  else if (expect_seq(*rules, "a sequence of rules", errors_))
    for (const auto& item : elements(*rules))
      if (auto rule = read_rule(item))
        role.rules.push_back(std::move(*rule));
  fields.finish();
  if (errors_.size() != errors_before)
    return std::nullopt;
  return role;
}

/// A `kind: RoleBinding` document.
std::optional<protocol::role_binding> policy_reader::read_binding(const YAML::Node& doc) {
  field whole = document_field(doc);
  size_t errors_before = errors_.size();
  map_reader fields{whole, errors_};
  fields.take("kind");
  protocol::role_binding b;
  b.name = read_policy_name(fields, whole, "binding");
  if (auto f = fields.take("role")) {
    if (auto role = read_string(*f, errors_))
      b.role = *role;
  } else {
    errors_.add(whole.mark, "role", missing + " (the name of a kind: Role)");
  }
  // Absent: the whole cluster (not the request's namespace).
  if (auto f = fields.take("namespace"))
    if (auto ns = read_string(*f, errors_)) {
      if (valid_service_name(*ns))
        b.name_space = *ns;
      else
        errors_.add(f->mark, f->path, "invalid namespace '" + *ns + "'");
    }
  auto subjects = fields.take("subjects");
  if (!subjects)
    errors_.add(whole.mark, "subjects",
                missing + " (a list of {kind: token|user|group, name: ...})");
  else if (expect_seq(*subjects, "a sequence of subjects", errors_))
    for (const auto& item : elements(*subjects))
      if (auto s = read_subject(item))
        b.subjects.push_back(std::move(*s));
  fields.finish();
  if (errors_.size() != errors_before)
    return std::nullopt;
  return b;
}

std::string policy_reader::read_policy_name(map_reader& fields, const field& whole,
                                            const char* what) {
  auto f = fields.take("name");
  if (!f) {
    errors_.add(whole.mark, "name", missing);
    return {};
  }
  auto name = read_string(*f, errors_);
  if (!name)
    return {};
  if (!valid_service_name(*name)) {
    errors_.add(f->mark, f->path,
                std::string{"invalid "} + what + " name '" + *name +
                    "': use 1-63 of a-z, 0-9 and '-', starting with a letter");
    return {};
  }
  if (!policy_names_.insert(std::string{what} + "/" + *name).second)
    errors_.add(f->mark, f->path, std::string{"a second "} + what + " named " + *name);
  return *name;
}

std::optional<protocol::role_rule> policy_reader::read_rule(const field& item) {
  if (!expect_map(item, "a mapping with verbs and resources", errors_))
    return std::nullopt;
  map_reader fields{item, errors_};
  protocol::role_rule rule;
  size_t errors_before = errors_.size();
  for (auto [key, vocabulary, target] :
       {std::tuple{"verbs", &protocol::role_verbs(), &rule.verbs},
        std::tuple{"resources", &protocol::role_resources(), &rule.resources}}) {
    auto f = fields.take(key);
    if (!f) {
      errors_.add(item.mark, item.path + "." + key, missing);
      continue;
    }
    auto names = read_string_list(*f, errors_);
    if (!names)
      continue;
    auto items = elements(*f);
    for (size_t i = 0; i < names->size(); ++i) {
      const auto& n = (*names)[i];
      if (n == "*" || std::find(vocabulary->begin(), vocabulary->end(), n) != vocabulary->end()) {
        target->push_back(n);
        continue;
      }
      std::string known;
      for (const auto& v : *vocabulary)
        known += (known.empty() ? "" : ", ") + v;
      errors_.add(items[i].mark, items[i].path,
                  "unknown " + std::string{key}.substr(0, std::string{key}.size() - 1) + " '" + n +
                      "': use " + known + " or *");
    }
  }
  fields.finish();
  if (errors_.size() != errors_before)
    return std::nullopt;
  return rule;
}

std::optional<protocol::role_subject> policy_reader::read_subject(const field& item) {
  if (!expect_map(item, "a mapping with kind (token, user or group) and name", errors_))
    return std::nullopt;
  map_reader fields{item, errors_};
  protocol::role_subject s;
  size_t errors_before = errors_.size();
  if (auto f = fields.take("kind")) {
    if (auto text = read_string(*f, errors_)) {
      if (auto kind = protocol::subject_kind_from(*text))
        s.kind = *kind;
      else
        errors_.add(f->mark, f->path,
                    "unknown subject kind '" + *text + "': use token, user or group");
    }
  } else {
    errors_.add(item.mark, item.path + ".kind", missing);
  }
  if (auto f = fields.take("name")) {
    if (auto text = read_string(*f, errors_))
      s.name = *text;
  } else {
    errors_.add(item.mark, item.path + ".name", missing);
  }
  fields.finish();
  if (errors_.size() != errors_before)
    return std::nullopt;
  return s;
}

} // namespace tutti::config::detail
