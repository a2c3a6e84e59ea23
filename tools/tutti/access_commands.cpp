// The commands of who may do what: tokens, the audit log, whoami, and the
// client config's contexts (login, config).

#include "tools/tutti/command_support.hpp"
#include "tools/tutti/commands.hpp"
#include "tools/tutti/client.hpp"
#include "tools/tutti/views.hpp"

#include "protocol/namespaces.hpp"

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <optional>
#include <thread>

namespace tutti::cli {

using json = json_value;

// -- access ---------------------------------------------------------------------------

namespace {

/// "90s", "15m", "12h", "30d" -> milliseconds; nullopt when malformed.
std::optional<std::chrono::milliseconds> parse_ttl(const std::string& text) {
  size_t used = 0;
  long long n = 0;
  try {
    n = std::stoll(text, &used);
  } catch (const std::exception&) {
    return std::nullopt;
  }
  auto unit = text.substr(used);
  static const std::pair<const char*, int64_t> units[] = {
      {"s", 1000}, {"m", 60 * 1000}, {"h", 3600 * 1000}, {"d", 24 * 3600 * 1000}};
  for (auto [name, ms] : units)
    if (unit == name && n > 0 && n < (int64_t{1} << 40) / ms)
      return std::chrono::milliseconds{n * ms};
  return std::nullopt;
}

json token_json(const protocol::token_record& x) {
  return {{"name", x.name},
          {"role", protocol::to_string(x.role)},
          {"created_ms", x.created_ms},
          {"expires_ms", x.expires_ms},
          {"created_by", x.created_by},
          {"namespace", x.name_space}};
}

std::string expiry_text(int64_t expires_ms) {
  return expires_ms == 0 ? "never" : format_datetime(expires_ms);
}

int list_tokens(client& c, const global_options& g, const streams& io) {
  auto xs = c.list_tokens();
  if (!xs)
    return report(io, xs.error());
  json value = json::array();
  text_table table{{"NAME", "ROLE", "NAMESPACE", "CREATED", "EXPIRES", "CREATED-BY"}};
  for (const auto& x : *xs) {
    value.push_back(token_json(x));
    table.add_row({x.name, protocol::to_string(x.role), x.name_space.empty() ? "*" : x.name_space,
                   format_datetime(x.created_ms), expiry_text(x.expires_ms), x.created_by});
  }
  if (xs->empty() && g.output == output_format::table) {
    io.err << "No tokens (the admin token file is not listed).\n";
    return exit_code::ok;
  }
  io.out << render_as(g.output, value, table.render());
  return exit_code::ok;
}

json audit_json(const protocol::audit_record& x) {
  return {{"id", x.id},         {"time_ms", x.time_ms}, {"who", x.who},
          {"from", x.from},     {"call", x.call},       {"target", x.target},
          {"result", x.result}, {"message", x.message}};
}

std::vector<std::string> audit_cells(const protocol::audit_record& x) {
  return {format_datetime(x.time_ms), x.who, x.from, x.call, x.target, x.result, x.message};
}

void print_audit(const global_options& g, const streams& io,
                 const std::vector<protocol::audit_record>& xs, std::vector<size_t>& widths) {
  for (const auto& x : xs) {
    if (g.output == output_format::json)
      io.out << to_json_text(audit_json(x), -1) << "\n";
    else if (g.output == output_format::yaml)
      io.out << "---\n" << to_yaml(audit_json(x));
    else
      io.out << render_row(audit_cells(x), widths);
  }
}

} // namespace

int run_token(const global_options& g, const streams& io, const token_options& o) {
  std::optional<std::chrono::milliseconds> ttl = std::chrono::milliseconds{0};
  auto role = protocol::access_role_from(o.role);
  auto usage = [&](const std::string& why) {
    io.err << "error: " << why << "\n";
    return exit_code::usage;
  };
  if (o.action == token_action::create) {
    if (!role)
      return usage("--role: '" + o.role + "' is no role; use viewer, deployer, operator or admin");
    if (!o.ttl.empty() && !(ttl = parse_ttl(o.ttl)))
      return usage("--ttl: expected a positive duration such as 90s, 15m, 12h or 30d, got '" +
                   o.ttl + "'");
  }
  auto c = connect_to_tuttid(g);
  if (!c)
    return report(io, c.error());
  switch (o.action) {
    case token_action::list:
      return list_tokens(**c, g, io);
    case token_action::revoke: {
      auto r = (*c)->revoke_token(o.name);
      if (!r)
        return report(io, r.error(), "`tutti token ls` lists the tokens");
      io.out << "token " << o.name << " revoked: sessions holding it fail from their next call\n";
      return exit_code::ok;
    }
    case token_action::create:
      break;
  }
  auto made = (*c)->create_token(o.name, *role, *ttl, o.name_space);
  if (!made)
    return report(io, made.error());
  auto value = token_json(made->second);
  value["token"] = made->first;
  io.out << render_as(g.output, value,
                      "token " + o.name + " (" + o.role + ", expires " +
                          expiry_text(made->second.expires_ms) + "):\n" + made->first +
                          "\nIt is shown only now; tuttid keeps only its hash.\n");
  return exit_code::ok;
}

int run_audit(const global_options& g, const streams& io, const audit_options& o) {
  auto c = connect_to_tuttid(g);
  if (!c)
    return report(io, c.error());
  // The newest `limit`: read all ids in pages, keep the tail.
  std::vector<protocol::audit_record> tail;
  std::string after;
  for (;;) {
    auto page = (*c)->audit(after, 10000);
    if (!page)
      return report(io, page.error());
    if (page->empty())
      break;
    after = page->back().id;
    for (auto& x : *page)
      tail.push_back(std::move(x));
    if (tail.size() > o.limit)
      tail.erase(tail.begin(), tail.end() - o.limit);
  }
  std::vector<size_t> widths;
  if (g.output == output_format::table)
    io.out << render_row({"TIME", "WHO", "FROM", "CALL", "TARGET", "RESULT", "MESSAGE"}, widths);
  print_audit(g, io, tail, widths);
  if (!o.follow)
    return exit_code::ok;
  io.out.flush();
  for (;;) {
    std::this_thread::sleep_for(std::chrono::milliseconds{500});
    auto page = (*c)->audit(after, 1000);
    if (!page)
      return report(io, page.error());
    if (page->empty())
      continue;
    after = page->back().id;
    print_audit(g, io, *page, widths);
    io.out.flush();
  }
}

namespace {

std::string spaced(std::string text) {
  std::replace(text.begin(), text.end(), '_', ' ');
  return text;
}

/// `xs` as a JSON array and as "a, b, c".
std::pair<json, std::string> listed(const std::vector<std::string>& xs) {
  json array = json::array();
  std::string text;
  for (const auto& x : xs) {
    array.push_back(x);
    text += (text.empty() ? "" : ", ") + x;
  }
  return {array, text};
}

} // namespace

int run_dashboard(const global_options& g, const streams& io) {
  auto creds = credentials_of(g);
  if (!creds)
    return report(io, creds.error());
  auto c = connect_to_tuttid(g);
  if (!c)
    return report(io, c.error());
  auto v = (*c)->version();
  if (!v)
    return report(io, v.error());
  if (v->dashboard.empty())
    return report(io, {client_code::invalid_argument, "tuttid at " + g.api + " serves no dashboard"},
                  "start it with --ui HOST:PORT (or `ui:` in its config)");
  if (creds->token.empty())
    return report(io, {client_code::invalid_argument,
                       "not supported yet: the dashboard logs in with a token, and these "
                       "credentials are a client certificate"},
                  "make a token: tutti token create NAME --role viewer");
  auto link = v->dashboard + "#token=" + creds->token;
  json_value value = {{"url", v->dashboard}, {"link", link}};
  io.out << render_as(g.output, value,
                      link + "\n(the link holds your token: open it yourself, do not share it)\n");
  return exit_code::ok;
}

int run_whoami(const global_options& g, const streams& io) {
  auto c = connect_to_tuttid(g);
  if (!c)
    return report(io, c.error());
  auto who = (*c)->whoami();
  if (!who)
    return report(io, who.error());
  auto [groups, group_text] = listed(who->groups);
  auto [namespaces, namespace_text] = listed(who->namespaces);
  json value = {{"name", who->name},
                {"role", protocol::to_string(who->role)},
                {"via", protocol::to_string(who->via)},
                {"groups", groups},
                {"namespaces", namespaces},
                {"expires_ms", who->expires_ms}};
  io.out << render_as(g.output, value,
                      who->name + " (role " + protocol::to_string(who->role) + ", by " +
                          spaced(protocol::to_string(who->via)) +
                          (group_text.empty() ? "" : ", groups " + group_text) +
                          (namespace_text.empty() ? "" : ", in " + namespace_text) +
                          (who->expires_ms ? ", expires " + expiry_text(who->expires_ms) : "") +
                          ")\n");
  return exit_code::ok;
}

result<done> use_context(global_options& g) {
  auto path = client_config_path();
  auto config = load_client_config(path);
  if (!config)
    return config.error();
  if (g.context.empty() && config->current_context.empty())
    return done{};
  auto resolved = config->resolve(g.context);
  if (!resolved)
    return resolved.error();
  if (!g.api_given)
    g.api = resolved->cluster.api;
  if (g.name_space.empty())
    g.name_space = resolved->context.name_space;
  g.context_cluster = resolved->cluster;
  g.context_user = resolved->user;
  return done{};
}

namespace {

std::string absolute(const std::string& path) {
  if (path.empty())
    return path;
  std::error_code ec;
  auto abs = std::filesystem::absolute(path, ec);
  return ec ? path : abs.string();
}

} // namespace

int run_login(const global_options& g, const streams& io, const login_options& o) {
  auto creds = credentials_of(g);
  if (!creds)
    return report(io, creds.error());
  auto c = connect_to_tuttid(g);
  if (!c)
    return report(io, c.error());
  auto who = (*c)->whoami();
  if (!who)
    return report(io, who.error());
  cluster_entry cluster{o.name, g.api, absolute(creds->ca_file), creds->server_name};
  user_entry user{o.name, {}, {}, absolute(creds->cert_file), absolute(creds->key_file)};
  // A token file stays a file (the secret is not copied); a token given as a
  // value is kept in the config, which is made mode 0600.
  auto file = !g.token_file.empty() ? g.token_file : env_value("TUTTI_TOKEN_FILE").value_or("");
  if (g.token.empty() && !file.empty())
    user.token_file = absolute(file);
  else if (g.token.empty() && !env_value("TUTTI_TOKEN") && !g.context_user &&
           !creds->token.empty())
    user.token_file = absolute(".tutti/admin.token");
  else
    user.token = creds->token;
  auto path = client_config_path();
  auto config = load_client_config(path);
  if (!config)
    return report(io, config.error());
  config->put(o.name, cluster, user, g.name_space);
  if (auto saved = save_client_config(path, *config); !saved)
    return report(io, saved.error());
  io.out << "logged in to " << g.api << " as " << who->name << " (role "
         << protocol::to_string(who->role) << "); context " << o.name << " is current (" << path
         << ")\n";
  return exit_code::ok;
}

int run_config(const global_options& g, const streams& io, const config_options& o) {
  auto path = client_config_path();
  auto config = load_client_config(path);
  if (!config)
    return report(io, config.error());
  switch (o.action) {
    case config_action::view:
      io.out << to_yaml_text(*config, o.show_secrets);
      return exit_code::ok;
    case config_action::get_contexts: {
      text_table table{{"CURRENT", "NAME", "API", "USER", "NAMESPACE"}};
      json value = json::array();
      for (const auto& x : config->contexts) {
        std::string api;
        for (const auto& cl : config->clusters)
          if (cl.name == x.cluster)
            api = cl.api;
        bool current = x.name == config->current_context;
        table.add_row({current ? "*" : "", x.name, api, x.user,
                       x.name_space.empty() ? std::string{protocol::default_namespace}
                                            : x.name_space});
        value.push_back({{"name", x.name},
                         {"api", api},
                         {"user", x.user},
                         {"namespace", x.name_space},
                         {"current", current}});
      }
      if (config->contexts.empty() && g.output == output_format::table) {
        io.err << "No contexts in " << path << ": `tutti login` makes one.\n";
        return exit_code::ok;
      }
      io.out << render_as(g.output, value, table.render());
      return exit_code::ok;
    }
    case config_action::use_context:
      break;
  }
  config->current_context = o.name;
  if (auto resolved = config->resolve(o.name); !resolved) {
    io.err << "error: " << resolved.error().message << "\n";
    return exit_code::usage;
  }
  if (auto saved = save_client_config(path, *config); !saved)
    return report(io, saved.error());
  io.out << "context " << o.name << " is current\n";
  return exit_code::ok;
}

} // namespace tutti::cli
