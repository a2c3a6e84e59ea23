// tutti config create|ls|inspect|rm and tutti secret create|ls|inspect|rm:
// Config and Secret objects, made through an apply of one document so that
// they are checked, versioned and rolled out exactly like `kind: Config`
// and `kind: Secret` files.

#include "protocol/base64.hpp"
#include "protocol/namespaces.hpp"
#include "tools/tutti/command_support.hpp"
#include "tools/tutti/commands.hpp"
#include "tools/tutti/output.hpp"
#include "tools/tutti/views.hpp"

#include <fstream>
#include <iterator>
#include <map>
#include <sstream>

namespace tutti::cli {

using json = json_value;

namespace {

namespace p = tutti::protocol;

std::string namespace_or_default(const std::string& ns) {
  return ns.empty() ? std::string{p::default_namespace} : ns;
}

/// The data of `--from-file` ("-": stdin), or an error naming the file.
result<std::string> read_data(const std::string& path, std::istream& in) {
  if (path == "-")
    return std::string{std::istreambuf_iterator<char>{in}, {}};
  std::ifstream file{path, std::ios::binary};
  if (!file)
    return client_error{client_code::invalid_argument, "cannot read " + path};
  std::ostringstream buf;
  buf << file.rdbuf();
  return buf.str();
}

/// The one document an apply stores the object from. The data travels as
/// base64, so any bytes pass and none of them is YAML to the parser.
std::string document_of(const object_options& o, const global_options& g,
                        const std::string& data) {
  std::string doc = "kind: " + std::string{o.kind == p::object_kind::secret ? "Secret" : "Config"} +
                    "\nname: " + o.name + "\n";
  if (!g.name_space.empty())
    doc += "namespace: " + g.name_space + "\n";
  return doc + "data_base64: \"" + protocol::to_base64(data) + "\"\n";
}

int create(client& c, const global_options& g, const streams& io, const object_options& o) {
  auto data = read_data(o.from_file, io.in);
  if (!data) {
    io.err << "error: " << data.error().message << "\n";
    return exit_code::usage;
  }
  auto label = p::to_string(o.kind) + " " + o.name;
  auto r = c.apply(label, document_of(o, g, *data), false, g.name_space);
  if (!r)
    return report(io, r.error());
  if (!r->errors.empty()) {
    for (const auto& e : r->errors)
      io.err << "error: " << (e.field.empty() ? "" : e.field + ": ") << e.message << "\n";
    return exit_code::failed;
  }
  json value = json::array();
  for (const auto& change : r->changes) {
    value.push_back({{"name", change.service},
                     {"result", p::to_string(change.kind)},
                     {"version", change.revision}});
    if (g.output == output_format::table)
      io.out << change_text(change, false);
  }
  if (g.output != output_format::table)
    io.out << render_as(g.output, value, "");
  return exit_code::ok;
}

json json_of(const p::object_info& x) {
  json users = json::array();
  for (const auto& u : x.used_by)
    users.push_back(u);
  json out{{"name", x.name},       {"version", x.version}, {"created_ms", x.created_ms},
           {"size", x.size},       {"used_by", users}};
  if (!x.sha256.empty())
    out["sha256"] = x.sha256;
  return out;
}

std::string used_by_text(const std::vector<std::string>& xs) {
  std::string out;
  for (const auto& x : xs)
    out += (out.empty() ? "" : ",") + x;
  return or_dash(out);
}

/// The newest version of each object, with the services that use any version.
int list(client& c, const global_options& g, const streams& io, const object_options& o) {
  auto xs = c.list_objects(o.kind, g.all_namespaces ? "" : namespace_or_default(g.name_space),
                           "");
  if (!xs)
    return report(io, xs.error());
  std::map<std::string, p::object_info> newest;
  std::map<std::string, std::vector<std::string>> users;
  for (const auto& x : *xs) {
    auto& n = newest[x.name];
    if (x.version >= n.version)
      n = x;
    users[x.name].insert(users[x.name].end(), x.used_by.begin(), x.used_by.end());
  }
  json value = json::array();
  text_table table{{"NAME", "VERSION", "SIZE", "CREATED", "USED-BY"}};
  auto now = unix_now_ms();
  for (auto& [name, x] : newest) {
    x.used_by = users[name];
    value.push_back(json_of(x));
    table.add_row({g.all_namespaces ? name : std::string{p::local_name(name)},
                   std::to_string(x.version), format_bytes(x.size),
                   format_since(x.created_ms, now), used_by_text(x.used_by)});
  }
  if (newest.empty() && g.output == output_format::table) {
    io.err << "No " << p::to_string(o.kind) << "s.\n";
    return exit_code::ok;
  }
  io.out << render_as(g.output, value, table.render());
  return exit_code::ok;
}

std::string qualified(const global_options& g, const std::string& name) {
  return p::qualified_name(namespace_or_default(g.name_space), name);
}

int inspect(client& c, const global_options& g, const streams& io, const object_options& o) {
  if (o.data && o.kind == p::object_kind::secret) {
    io.err << "error: a secret's data does not leave the control plane; only the replicas that "
              "use it get it\n";
    return exit_code::usage;
  }
  auto xs = c.list_objects(o.kind, "", qualified(g, o.name), o.data);
  if (!xs)
    return report(io, xs.error());
  if (xs->empty())
    return report(io,
                  {p::error_code::not_found, p::to_string(o.kind) + " " + o.name + " does not exist"},
                  "`tutti " + p::to_string(o.kind) + " ls` lists them");
  if (o.data) {
    const p::object_info* pick = nullptr;
    for (const auto& x : *xs)
      if (o.version == 0 ? (pick == nullptr || x.version > pick->version) : x.version == o.version)
        pick = &x;
    if (pick == nullptr)
      return report(io, {p::error_code::not_found,
                         p::to_string(o.kind) + " " + o.name + " has no version " +
                             std::to_string(o.version)},
                    "`tutti config inspect " + o.name + "` lists its versions");
    io.out << pick->data;
    return exit_code::ok;
  }
  json value = json::array();
  text_table table{{"VERSION", "SIZE", "SHA256", "CREATED", "USED-BY"}};
  auto now = unix_now_ms();
  for (const auto& x : *xs) {
    value.push_back(json_of(x));
    table.add_row({std::to_string(x.version), format_bytes(x.size),
                   or_dash(x.sha256.substr(0, 12)), format_since(x.created_ms, now),
                   used_by_text(x.used_by)});
  }
  io.out << render_as(g.output, value, table.render());
  return exit_code::ok;
}

int remove(client& c, const global_options& g, const streams& io, const object_options& o) {
  auto removed = c.remove_object(o.kind, qualified(g, o.name));
  if (!removed)
    return report(io, removed.error(), "`tutti " + p::to_string(o.kind) + " ls` lists them");
  io.out << p::to_string(o.kind) << "/" << o.name << " removed\n";
  return exit_code::ok;
}

} // namespace

int run_object(const global_options& g, const streams& io, const object_options& o) {
  auto c = connect_to_tuttid(g);
  if (!c)
    return report(io, c.error());
  switch (o.action) {
    case object_action::create:
      return create(**c, g, io, o);
    case object_action::list:
      return list(**c, g, io, o);
    case object_action::inspect:
      return inspect(**c, g, io, o);
    case object_action::remove:
      return remove(**c, g, io, o);
  }
  return exit_code::usage;
}

} // namespace tutti::cli
