#include "config/object_reader.hpp"

#include "config/volume_reader.hpp"

#include "config/policy_reader.hpp"
#include "config/spec_parser.hpp"
#include "protocol/base64.hpp"
#include "protocol/namespaces.hpp"

#include <algorithm>
#include <set>

namespace tutti::config::detail {

namespace {

using protocol::object_kind;

const std::string missing = "required field is missing";

/// At most this many references per list (configs, secrets) of a service.
constexpr size_t max_refs = 32;

/// The highest version number a reference may pin.
constexpr int64_t max_version = int64_t{1} << 40;

std::string kind_name(object_kind kind) {
  return kind == object_kind::secret ? "Secret" : "Config";
}

std::string invalid_name(const std::string& what, const std::string& name) {
  return "invalid " + what + " name '" + name +
         "': use 1-63 of a-z, 0-9 and '-', starting with a letter and not ending with '-'";
}

bool valid_env_name(const std::string& name) {
  auto letter = [](char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; };
  if (name.empty() || name.size() > 255 || !letter(name.front()))
    return false;
  return std::all_of(name.begin(), name.end(),
                     [&](char c) { return letter(c) || (c >= '0' && c <= '9'); });
}

/// What one list of references has used so far, and what the service's
/// other fields already hold.
struct ref_context {
  object_kind kind;
  const protocol::service_spec& spec;
  std::set<std::string>& paths; // container paths of both lists and the mounts
  std::set<std::string>& envs;  // variables of both lists
  std::set<std::string> names;  // of this list
};

/// Whether the name is valid and new in its list.
bool read_ref_name(const field& f, protocol::object_ref& ref, ref_context& ctx,
                   error_sink& errors) {
  auto name = read_string(f, errors);
  if (!name)
    return false;
  auto what = protocol::to_string(ctx.kind);
  bool ok = false;
  if (!valid_service_name(*name))
    errors.add(f.mark, f.path, invalid_name(what, *name));
  else if (!ctx.names.insert(*name).second)
    errors.add(f.mark, f.path, "a second reference to " + what + " '" + *name + "'");
  else
    ok = true;
  ref.name = std::move(*name);
  return ok;
}

void read_ref_path(const field& f, protocol::object_ref& ref, ref_context& ctx,
                   error_sink& errors) {
  if (protocol::runs_processes(ctx.spec.driver)) {
    errors.add(f.key_mark, f.path,
               "the " + protocol::to_string(ctx.spec.driver) +
                   " driver mounts nothing: a process finds the file in " +
                   protocol::object_env_name(ctx.kind, ref.name.empty() ? "NAME" : ref.name) +
                   "; remove path");
    return;
  }
  auto text = read_string(f, errors);
  if (!text)
    return;
  if (!valid_absolute_path(*text))
    errors.add(f.mark, f.path,
               "expected an absolute path in the container (not '/', no '.' or '..' parts), "
               "got '" + *text + "'");
  ref.path = std::move(*text);
}

void read_ref_env(const field& f, protocol::object_ref& ref, ref_context& ctx,
                  error_sink& errors) {
  auto text = read_string(f, errors);
  if (!text)
    return;
  if (!valid_env_name(*text))
    errors.add(f.mark, f.path,
               "invalid variable name '" + *text +
                   "': use letters, digits and '_', not starting with a digit");
  else if (text->rfind("TUTTI_", 0) == 0 || *text == "PORT" || text->rfind("PORT_", 0) == 0 ||
           text->find("_ADDR") != std::string::npos)
    errors.add(f.mark, f.path,
               "tutti sets " + *text +
                   " itself (TUTTI_*, PORT, PORT_*, *_ADDR*); pick another variable");
  else if (ctx.spec.env.count(*text))
    errors.add(f.mark, f.path, "env already sets " + *text + "; pick another variable");
  else if (!ctx.envs.insert(*text).second)
    errors.add(f.mark, f.path, "two references set the variable " + *text);
  ref.env = std::move(*text);
}

void read_ref_version(map_reader& fields, protocol::object_ref& ref, error_sink& errors) {
  auto version = fields.take("version");
  if (version)
    if (auto n = read_int(*version, 1, max_version, errors))
      ref.version = *n;
  // A version pins unless the reference says otherwise (what `-o yaml` writes
  // for an unpinned one: the version in use, pinned: false).
  ref.pinned = version.has_value();
  if (auto f = fields.take("pinned")) {
    auto pinned = read_bool(*f, errors);
    if (pinned && *pinned && !version)
      errors.add(f->mark, f->path, "pinned: true needs a version to pin");
    else if (pinned)
      ref.pinned = *pinned;
  }
}

std::optional<protocol::object_ref> read_ref(const field& item, ref_context& ctx,
                                             error_sink& errors) {
  protocol::object_ref ref;
  bool named = false;
  if (item.value.IsScalar()) {
    named = read_ref_name(item, ref, ctx, errors);
  } else {
    if (!expect_map(item, "a name, or a mapping with name (and version, path, env)", errors))
      return std::nullopt;
    map_reader fields{item, errors};
    if (auto f = fields.take("name"))
      named = read_ref_name(*f, ref, ctx, errors);
    else
      errors.add(item.mark, item.path + ".name", missing);
    read_ref_version(fields, ref, errors);
    if (auto f = fields.take("path"))
      read_ref_path(*f, ref, ctx, errors);
    if (auto f = fields.take("env"))
      read_ref_env(*f, ref, ctx, errors);
    fields.finish();
  }
  if (named && !protocol::runs_processes(ctx.spec.driver) && protocol::as_file(ref)) {
    auto at = ref.path.empty() ? protocol::default_object_path(ctx.kind, ref.name) : ref.path;
    if (!ctx.paths.insert(at).second)
      errors.add(item.mark, item.path,
                 "two files or mounts at " + at + "; give this reference another path");
  }
  return ref;
}

void read_ref_list(map_reader& fields, const char* key, ref_context& ctx,
                   std::vector<protocol::object_ref>& out, error_sink& errors) {
  auto f = fields.take(key);
  if (!f || !expect_seq(*f, "a sequence of names or {name, version, path, env}", errors))
    return;
  auto items = elements(*f);
  if (items.size() > max_refs) {
    errors.add(f->mark, f->path,
               "at most " + std::to_string(max_refs) + " " + key + ", got " +
                   std::to_string(items.size()));
    return;
  }
  for (const auto& item : items)
    if (auto ref = read_ref(item, ctx, errors))
      out.push_back(std::move(*ref));
}

} // namespace

void read_object_refs(map_reader& fields, protocol::service_spec& spec, error_sink& errors) {
  std::set<std::string> paths;
  for (const auto& m : spec.mounts)
    paths.insert(m.path);
  std::set<std::string> envs;
  ref_context configs{object_kind::config, spec, paths, envs, {}};
  read_ref_list(fields, "configs", configs, spec.configs, errors);
  ref_context secrets{object_kind::secret, spec, paths, envs, {}};
  read_ref_list(fields, "secrets", secrets, spec.secrets, errors);
}

std::optional<protocol::object_spec> object_reader::read(const YAML::Node& doc,
                                                         object_kind kind) {
  field whole = document_field(doc);
  size_t errors_before = errors_.size();
  map_reader fields{whole, errors_};
  fields.take("kind");
  protocol::object_spec x;
  x.kind = kind;
  auto ns = read_document_namespace(fields, request_namespace_, errors_);
  if (auto f = fields.take("name")) {
    if (auto name = read_string(*f, errors_)) {
      auto what = protocol::to_string(kind);
      if (!valid_service_name(*name)) {
        errors_.add(f->mark, f->path, invalid_name(what, *name));
      } else {
        x.name = protocol::qualified_name(ns, *name);
        auto [first, inserted] = names_.emplace(what + "/" + x.name, f->mark.line + 1);
        if (!inserted)
          errors_.add(f->mark, f->path,
                      "a second " + kind_name(kind) + " '" + *name + "' in namespace " + ns +
                          " (first at line " + std::to_string(first->second) + ")");
      }
    }
  } else {
    errors_.add(whole.mark, "name", missing);
  }
  read_data(fields, whole, x);
  fields.finish();
  if (errors_.size() != errors_before)
    return std::nullopt;
  return x;
}

void object_reader::read_data(map_reader& fields, const field& whole, protocol::object_spec& x) {
  auto text = fields.take("data");
  auto base64 = fields.take("data_base64");
  if (text && base64) {
    errors_.add(base64->key_mark, base64->path, "give data or data_base64, not both");
    return;
  }
  if (!text && !base64) {
    errors_.add(whole.mark, "data", missing + " (the text, or data_base64 for bytes)");
    return;
  }
  const auto& f = text ? *text : *base64;
  // The value is never quoted: it may be a secret.
  if (!f.value.IsScalar()) {
    errors_.add(f.mark, f.path, "expected a string, got " + (f.value.IsMap() ? std::string{"a mapping"} : std::string{"a sequence"}));
    return;
  }
  const auto& scalar = f.value.Scalar();
  if (text) {
    x.data = scalar;
  } else {
    // Line breaks and blanks may wrap it (`base64` wraps at 76 columns).
    std::string digits;
    for (char c : scalar)
      if (c != ' ' && c != '\n' && c != '\r' && c != '\t')
        digits += c;
    auto bytes = protocol::from_base64(digits);
    if (!bytes) {
      errors_.add(f.mark, f.path, "is not valid base64 (padded, of A-Z a-z 0-9 + /)");
      return;
    }
    x.data = std::move(*bytes);
  }
  if (x.data.size() > protocol::max_object_bytes)
    errors_.add(f.mark, f.path,
                "is " + std::to_string(x.data.size()) + " bytes; a " + kind_name(x.kind) +
                    " holds at most " + std::to_string(protocol::max_object_bytes) + " bytes");
}

} // namespace tutti::config::detail
