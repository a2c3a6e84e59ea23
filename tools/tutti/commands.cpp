#include "tools/tutti/commands.hpp"

#include "tools/tutti/args.hpp"
#include "tools/tutti/client.hpp"
#include "tools/tutti/command_support.hpp"
#include "tools/tutti/views.hpp"

#include "protocol/namespaces.hpp"

#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <deque>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <thread>

namespace tutti::cli {

namespace {

using json = json_value;

const char* const list_services_hint = "run `tutti get services` to see which services exist";

// The client gave up waiting, or tuttid did (an actor did not answer it in time):
// either way the next request would most likely wait as long.
bool is_timeout(const client_error& e) {
  return e.code == client_code::timeout || e.code == protocol::error_code::timeout;
}

// Failures of the client or the connection, as opposed to tuttid refusing a request:
// after one of these, further requests of the same command would fail the same way.
bool is_client_side(const client_error& e) {
  for (auto code : {client_code::unreachable, client_code::disconnected, client_code::unimplemented,
                    client_code::rpc_failure})
    if (e.code == code)
      return true;
  return is_timeout(e);
}

std::string default_hint(const client_error& e) {
  if (e.code == protocol::error_code::not_found)
    return list_services_hint;
  if (e.code == client_code::disconnected)
    return "check that tuttid is still running (its log says why it stopped), then retry";
  if (is_timeout(e))
    return "retry with a larger --timeout, or check tuttid's log for what holds it up";
  if (e.code == protocol::error_code::unavailable)
    return "tuttid is (re)starting a component; retry in a moment";
  if (e.code == protocol::error_code::unauthenticated)
    return "tuttid dev writes its admin token to DATA_DIR/admin.token; tutti reads "
           "./.tutti/admin.token by itself (docs/security.md)";
  return {};
}

// tuttid's messages often name the next step themselves ("`tutti get services`
// lists them"); a hint naming the same command would say it twice.
bool says_already(const std::string& message, const std::string& hint) {
  auto open = hint.find('`');
  auto close = hint.find('`', open + 1);
  if (open == std::string::npos || close == std::string::npos)
    return false;
  return message.find(hint.substr(open, close - open + 1)) != std::string::npos;
}

/// Prints `e` (and what to do about it) to stderr; returns the exit code for it.
} // namespace

int report(const streams& io, const client_error& e, std::string hint) {
  if (e.code == client_code::unreachable) {
    io.err << "error: " << e.message << "\n";
    return exit_code::unreachable;
  }
  io.err << "error: " << e.message << " (" << e.code << ")\n";
  if (hint.empty())
    hint = default_hint(e);
  if (!hint.empty() && !says_already(e.message, hint))
    io.err << "hint: " << hint << "\n";
  return exit_code::failed;
}

/// The flags' credentials over the environment's.
std::optional<std::string> env_value(const char* name) {
  const char* v = std::getenv(name);
  return v ? std::optional<std::string>{v} : std::nullopt;
}

namespace {

/// The first of `xs` that is not empty.
std::string first_of(std::initializer_list<std::string> xs) {
  for (const auto& x : xs)
    if (!x.empty())
      return x;
  return {};
}

/// The token: --token, --token-file, TUTTI_TOKEN, TUTTI_TOKEN_FILE (set but
/// empty: none), the context's user, else ./.tutti/admin.token when present.
result<std::string> token_of(const global_options& g) {
  if (!g.token.empty())
    return g.token;
  if (!g.token_file.empty())
    return credentials::read_token_file(g.token_file);
  if (auto t = env_value("TUTTI_TOKEN"); t && !t->empty())
    return *t;
  if (auto f = env_value("TUTTI_TOKEN_FILE"))
    return f->empty() ? result<std::string>{std::string{}} : credentials::read_token_file(*f);
  if (g.context_user) {
    if (!g.context_user->token.empty())
      return g.context_user->token;
    if (!g.context_user->token_file.empty())
      return credentials::read_token_file(g.context_user->token_file);
    return std::string{};
  }
  struct stat st {};
  if (::stat(".tutti/admin.token", &st) == 0)
    return credentials::read_token_file(".tutti/admin.token");
  return std::string{};
}

} // namespace

result<credentials> credentials_of(const global_options& g) {
  credentials out;
  auto token = token_of(g);
  if (!token)
    return token.error();
  out.token = std::move(*token);
  cluster_entry cluster;
  user_entry user;
  if (g.context_cluster)
    cluster = *g.context_cluster;
  if (g.context_user)
    user = *g.context_user;
  out.ca_file = first_of({g.ca_file, env_value("TUTTI_CA").value_or(""), cluster.ca});
  out.server_name =
      first_of({g.server_name, env_value("TUTTI_SERVER_NAME").value_or(""), cluster.server_name});
  out.cert_file = first_of({g.cert_file, env_value("TUTTI_CERT").value_or(""), user.cert});
  out.key_file = first_of({g.key_file, env_value("TUTTI_KEY").value_or(""), user.key});
  return out;
}

result<std::unique_ptr<client>> connect_to_tuttid(const global_options& g) {
  auto timeout = std::chrono::milliseconds{static_cast<int64_t>(g.timeout_s * 1000)};
  auto creds = credentials_of(g);
  if (!creds)
    return creds.error();
  return client::connect_any(api_addresses(g.api), timeout, *creds);
}

namespace {

// -- apply ----------------------------------------------------------------------------

struct source_file {
  std::string name; // as tuttid reports it in spec errors
  std::string text;
};

result<source_file> read_source(const std::string& path, std::istream& in) {
  std::ostringstream text;
  if (path == "-") {
    text << in.rdbuf();
    return source_file{"<stdin>", text.str()};
  }
  std::ifstream file{path, std::ios::binary};
  if (!file || !(text << file.rdbuf()))
    return client_error{client_code::invalid_argument,
                        "cannot read " + path + ": " + std::strerror(errno)};
  return source_file{path, text.str()};
}

// All files are read before the first is sent, so a typo in the last file name
// does not leave the earlier ones applied.
result<std::vector<source_file>> read_sources(const std::vector<std::string>& paths,
                                              std::istream& in) {
  if (std::count(paths.begin(), paths.end(), "-") > 1)
    return client_error{client_code::invalid_argument, "'-f -' (stdin) can be given only once"};
  std::vector<source_file> out;
  for (const auto& path : paths) {
    auto source = read_source(path, in);
    if (!source)
      return source.error();
    out.push_back(std::move(*source));
  }
  return out;
}

void note_applied(const streams& io, const std::vector<std::string>& applied) {
  if (applied.empty())
    return;
  io.err << "note: the files before it were applied:";
  for (const auto& name : applied)
    io.err << " " << name;
  io.err << "\n";
}

int report_refused(const streams& io, const source_file& source,
                   const std::vector<protocol::spec_error>& errors,
                   const std::vector<std::string>& applied) {
  for (auto e : errors) {
    if (e.file.empty())
      e.file = source.name;
    io.err << to_string(e) << "\n";
  }
  io.err << "error: " << errors.size() << (errors.size() == 1 ? " problem" : " problems") << " in "
         << source.name << "; nothing was applied\n";
  note_applied(io, applied);
  io.err << "hint: fix the fields above and run the command again\n";
  return exit_code::failed;
}

// -- get ------------------------------------------------------------------------------

template <class T> void keep_named(std::vector<T>& xs, const std::string& name) {
  if (name.empty())
    return;
  std::erase_if(xs, [&](const T& x) { return x.name != name; });
}

// -- namespaces -----------------------------------------------------------------------

std::string view_namespace(const global_options& g) {
  return g.name_space.empty() ? std::string{protocol::default_namespace} : g.name_space;
}

/// Whether a list shows what belongs to `service` (cluster events, with no
/// service, show in default and with -A).
bool shown(const global_options& g, const std::string& service) {
  if (g.all_namespaces)
    return true;
  if (service.empty())
    return view_namespace(g) == protocol::default_namespace;
  return protocol::namespace_of(service) == view_namespace(g);
}

/// A qualified name as a list shows it: within the namespace shown, the name
/// alone; with -A, qualified.
std::string shown_name(const global_options& g, const std::string& qualified) {
  return g.all_namespaces ? qualified : protocol::local_name(qualified);
}

void localize(const global_options& g, protocol::service_status& x) {
  x.name = shown_name(g, x.name);
}

void localize(const global_options& g, protocol::replica_status& x) {
  x.service = shown_name(g, x.service);
  x.id = shown_name(g, x.id);
}

void localize(const global_options& g, protocol::event& x) {
  x.service = shown_name(g, x.service);
  x.replica = shown_name(g, x.replica);
}

void localize(const global_options& g, protocol::service_endpoints& x) {
  x.service = shown_name(g, x.service);
  for (auto& e : x.endpoints)
    e.replica = shown_name(g, e.replica);
}

/// `xs` kept to the namespace shown, names as it shows them.
template <class T, class ServiceOf>
void in_view(const global_options& g, std::vector<T>& xs, ServiceOf service_of) {
  std::erase_if(xs, [&](const T& x) { return !shown(g, service_of(x)); });
  for (auto& x : xs)
    localize(g, x);
}

int print_empty(const global_options& g, const streams& io, const std::string& what,
                const std::string& hint = {}) {
  if (g.output == output_format::table) {
    io.err << "No " << what << " found.\n";
    if (!hint.empty())
      io.err << "hint: " << hint << "\n";
  } else
    io.out << render_as(g.output, json::array(), "");
  return exit_code::ok;
}

int get_services(client& c, const global_options& g, const streams& io, const std::string& name) {
  auto services = c.get_services();
  if (!services)
    return report(io, services.error());
  keep_named(*services, name);
  in_view(g, *services, [](const protocol::service_status& x) { return x.name; });
  if (!name.empty() && services->empty())
    return report(io, {protocol::error_code::not_found, "service '" + name + "' not found"});
  if (services->empty())
    return print_empty(g, io, "services", "create one with `tutti apply -f FILE`");
  io.out << render_as(g.output, json_of(*services), services_table(*services, unix_now_ms()));
  return exit_code::ok;
}

int get_replicas(client& c, const global_options& g, const streams& io,
                 const std::string& service) {
  auto replicas = c.get_replicas(service);
  if (!replicas)
    return report(io, replicas.error());
  if (service.empty())
    in_view(g, *replicas, [](const protocol::replica_status& x) { return x.service; });
  else
    for (auto& x : *replicas)
      localize(g, x);
  if (replicas->empty())
    return print_empty(g, io, service.empty() ? "replicas" : "replicas of " + service);
  io.out << render_as(g.output, json_of(*replicas), replicas_table(*replicas, unix_now_ms()));
  return exit_code::ok;
}

int get_nodes(client& c, const global_options& g, const streams& io, const std::string& name) {
  auto nodes = c.get_nodes();
  if (!nodes)
    return report(io, nodes.error());
  keep_named(*nodes, name);
  if (!name.empty() && nodes->empty())
    return report(io, {protocol::error_code::not_found, "node '" + name + "' not found"},
                  "run `tutti get nodes` to see which nodes exist");
  if (nodes->empty())
    return print_empty(g, io, "nodes");
  io.out << render_as(g.output, json_of(*nodes), nodes_table(*nodes));
  return exit_code::ok;
}

int get_controllers(client& c, const global_options& g, const streams& io) {
  auto got = c.get_controllers();
  if (!got)
    return report(io, got.error());
  io.out << render_as(g.output, json_of(*got), controllers_text(*got, unix_now_ms()));
  return exit_code::ok;
}

/// One line per change: the time, the service and its endpoints (or one JSON
/// object per line with -o json).
int watch_endpoints(client& c, const global_options& g, const streams& io,
                    const std::string& service) {
  auto print = [&](protocol::service_endpoints x) {
    if (!service.empty() || shown(g, x.service))
      localize(g, x);
    else
      return true;
    if (g.output == output_format::json) {
      io.out << to_json_text(json_of(x), -1) << "\n";
    } else {
      std::string line = format_clock(unix_now_ms()) + "  " + x.service + "  ";
      if (x.removed)
        line += "deleted";
      else if (x.endpoints.empty())
        line += "no endpoints";
      for (const auto& e : x.endpoints)
        line += e.replica + "=" + e.host + ":" + std::to_string(e.host_port) + " ";
      io.out << line << "\n";
    }
    io.out.flush();
    return static_cast<bool>(io.out);
  };
  auto ended = c.watch_endpoints(service, print, g.handle_interrupts);
  return ended ? exit_code::ok : report(io, ended.error());
}

int get_endpoints(client& c, const global_options& g, const streams& io, const std::string& service,
                  bool watch) {
  if (watch)
    return watch_endpoints(c, g, io, service);
  auto sets = c.get_endpoints(service);
  if (!sets)
    return report(io, sets.error());
  in_view(g, *sets, [&](const protocol::service_endpoints& x) {
    return service.empty() ? x.service : service;
  });
  if (sets->empty())
    return print_empty(g, io, "services", "create one with `tutti apply -f FILE`");
  io.out << render_as(g.output, json_of(*sets), endpoints_table(*sets));
  return exit_code::ok;
}

// -- scale / delete -------------------------------------------------------------------

/// Runs `step` for each item; tuttid refusing one item does not stop the others,
/// a failing connection does.
template <class Items, class Step>
int for_each_item(const streams& io, const Items& items, Step step) {
  int code = exit_code::ok;
  for (const auto& item : items) {
    auto error = step(item);
    if (!error)
      continue;
    code = report(io, *error);
    if (is_client_side(*error))
      return code;
  }
  return code;
}

// -- events ---------------------------------------------------------------------------

int follow_events(client& c, const global_options& g, const streams& io, const events_options& o,
                  event_printer& printer, uint64_t after) {
  auto print = [&](std::vector<protocol::event> batch) {
    in_view(g, batch, [&](const protocol::event& x) { return o.service.empty() ? x.service : o.service; });
    io.out << printer.print(batch);
    io.out.flush(); // a script reading the pipe sees each event at once
    return static_cast<bool>(io.out);
  };
  auto ended = c.follow(after, o.service, print, g.handle_interrupts);
  return ended ? exit_code::ok : report(io, ended.error());
}

} // namespace

std::string_view client_version() {
  return TUTTI_VERSION;
}

int run_apply(const global_options& g, const streams& io, const apply_options& o) {
  auto sources = read_sources(o.files, io.in);
  if (!sources) {
    io.err << "error: " << sources.error().message << "\n";
    return exit_code::usage;
  }
  auto c = connect_to_tuttid(g);
  if (!c)
    return report(io, c.error());
  std::vector<std::string> applied;
  for (const auto& source : *sources) {
    auto r = (*c)->apply(source.name, source.text, o.dry_run, g.name_space);
    if (!r) {
      auto code = report(io, r.error());
      note_applied(io, applied);
      return code;
    }
    if (!r->errors.empty())
      return report_refused(io, source, r->errors, applied);
    if (r->changes.empty())
      io.err << "warning: " << source.name << " holds no service\n";
    for (const auto& change : r->changes)
      io.out << change_text(change, o.dry_run);
    applied.push_back(source.name);
  }
  return exit_code::ok;
}

int run_get(const global_options& g, const streams& io, const get_options& o) {
  auto c = connect_to_tuttid(g);
  if (!c)
    return report(io, c.error());
  switch (o.kind) {
    case resource_kind::services:
      return get_services(**c, g, io, o.name);
    case resource_kind::replicas:
      return get_replicas(**c, g, io, o.name);
    case resource_kind::nodes:
      return get_nodes(**c, g, io, o.name);
    case resource_kind::endpoints:
      return get_endpoints(**c, g, io, o.name, o.watch);
    case resource_kind::controllers:
      return get_controllers(**c, g, io);
  }
  return exit_code::usage;
}

int run_describe(const global_options& g, const streams& io, const describe_options& o) {
  auto c = connect_to_tuttid(g);
  if (!c)
    return report(io, c.error());
  auto detail = (*c)->describe_service(o.name, o.events);
  if (!detail)
    return report(io, detail.error());
  io.out << render_as(g.output, json_of(*detail), describe_text(*detail, unix_now_ms()));
  return exit_code::ok;
}

int run_scale(const global_options& g, const streams& io, const scale_options& o) {
  auto targets = parse_scale_targets(o.targets);
  if (!targets) {
    io.err << "error: " << targets.error().message << "\n"
           << "usage: tutti scale NAME=REPLICAS [NAME=REPLICAS ...], e.g. tutti scale web=3\n";
    return exit_code::usage;
  }
  auto c = connect_to_tuttid(g);
  if (!c)
    return report(io, c.error());
  auto scale_one = [&](const scale_target& t) -> std::optional<client_error> {
    auto revision = (*c)->scale(t.service, t.replicas);
    if (!revision)
      return revision.error();
    io.out << "service/" << t.service << " scaled to " << t.replicas << " (revision " << *revision
           << ")\n";
    // An autoscaled service's count is the autoscaler's to move: say so.
    if (auto services = (*c)->get_services())
      for (const auto& s : *services)
        if (s.name == t.service && !s.autoscale.empty())
          io.out << "  it autoscales (" << s.autoscale
                 << "): the autoscaler moves on from this count\n";
    return std::nullopt;
  };
  return for_each_item(io, *targets, scale_one);
}

namespace {

/// Prints each change of the rollout until it ends: 0 when the revision it
/// started with completed, 1 when it paused, was replaced (rolled back) or the
/// wait ran out.
int follow_rollout(client& c, const global_options& g, const streams& io,
                   const rollout_options& o) {
  auto first = c.rollout_status(o.name);
  if (!first)
    return report(io, first.error());
  auto started = first->revision;
  auto deadline = std::chrono::steady_clock::now() +
                  std::chrono::milliseconds{static_cast<int64_t>(o.wait_s * 1000)};
  std::string last;
  for (auto x = *first;;) {
    auto line = g.output == output_format::table ? rollout_line(x) + "\n"
                                                 : render_as(g.output, json_of(x), "");
    if (line != last)
      io.out << line << std::flush;
    last = line;
    if (x.revision != started) {
      io.err << "revision " << started << " was replaced by revision " << x.revision
             << "; `tutti events -s " << o.name << "` tells why\n";
      return exit_code::failed;
    }
    if (x.state == protocol::rollout_state::complete)
      return exit_code::ok;
    bool paused = x.state == protocol::rollout_state::paused;
    if (paused || !o.follow) {
      if (paused)
        io.err << "the rollout is paused: apply a fixed spec or run `tutti rollout undo " << o.name
               << "`\n";
      return paused ? exit_code::failed : exit_code::ok;
    }
    if (std::chrono::steady_clock::now() > deadline) {
      io.err << "still " << to_string(x.state) << " after " << o.wait_s
             << " s; run it again to go on\n";
      return exit_code::failed;
    }
    // Polls: the API has no rollout stream; a fifth of a second is live enough.
    std::this_thread::sleep_for(std::chrono::milliseconds{200});
    auto next = c.rollout_status(o.name);
    if (!next)
      return report(io, next.error());
    x = *next;
  }
}

} // namespace

int run_rollout(const global_options& g, const streams& io, const rollout_options& o) {
  auto c = connect_to_tuttid(g);
  if (!c)
    return report(io, c.error());
  switch (o.action) {
    case rollout_action::status:
      return follow_rollout(**c, g, io, o);
    case rollout_action::history: {
      auto xs = (*c)->rollout_history(o.name);
      if (!xs)
        return report(io, xs.error());
      io.out << render_as(g.output, json_of(*xs), history_table(*xs, unix_now_ms()));
      return exit_code::ok;
    }
    case rollout_action::undo: {
      auto revision = (*c)->rollout_undo(o.name, o.to_revision);
      if (!revision)
        return report(io, revision.error());
      io.out << "service/" << o.name << " rolled back (revision " << *revision
             << "); follow it with `tutti rollout status " << o.name << "`\n";
      return exit_code::ok;
    }
  }
  return exit_code::usage;
}

int run_delete(const global_options& g, const streams& io, const delete_options& o) {
  auto c = connect_to_tuttid(g);
  if (!c)
    return report(io, c.error());
  auto delete_one = [&](const std::string& name) -> std::optional<client_error> {
    auto deleted = (*c)->delete_service(name);
    if (!deleted)
      return deleted.error();
    io.out << "service/" << name << " deleted\n";
    return std::nullopt;
  };
  return for_each_item(io, service_names(o.names), delete_one);
}

int run_tree(const global_options& g, const streams& io) {
  auto c = connect_to_tuttid(g);
  if (!c)
    return report(io, c.error());
  auto xs = (*c)->tree();
  if (!xs)
    return report(io, xs.error());
  io.out << render_as(g.output, json_of(*xs), tree_table(*xs));
  return exit_code::ok;
}

int run_chaos_kill(const global_options& g, const streams& io, const chaos_options& o) {
  auto c = connect_to_tuttid(g);
  if (!c)
    return report(io, c.error());
  auto killed = (*c)->kill_actor(o.path, o.reason);
  if (!killed)
    return report(io, killed.error(),
                  killed.error().code == protocol::error_code::not_found
                      ? "run `tutti tree` to see the actors' paths"
                      : "");
  io.out << "killed " << *killed << " (" << o.reason
         << "); its supervisor restarts it: watch with `tutti tree`\n";
  return exit_code::ok;
}

int run_events(const global_options& g, const streams& io, const events_options& o) {
  auto c = connect_to_tuttid(g);
  if (!c)
    return report(io, c.error());
  auto tail = last_events(**c, o.service, o.limit, [&](const protocol::event& x) {
    return shown(g, o.service.empty() ? x.service : o.service);
  });
  if (!tail)
    return report(io, tail.error());
  for (auto& e : tail->events)
    localize(g, e);
  event_printer printer{g.output};
  if (!o.follow && tail->events.empty()) {
    if (g.output == output_format::table)
      io.err << "No events found.\n";
    else if (g.output == output_format::yaml)
      io.out << "[]\n";
    return exit_code::ok;
  }
  io.out << printer.print(tail->events);
  if (!o.follow)
    return exit_code::ok;
  io.out.flush();
  return follow_events(**c, g, io, o, printer, tail->last_seq);
}

int run_logs(const global_options& g, const streams& io, const logs_options& o) {
  auto c = connect_to_tuttid(g);
  if (!c)
    return report(io, c.error());
  auto tail = (*c)->logs(o.service, o.slot, o.bytes, o.container);
  if (!tail)
    return report(io, tail.error());
  if (tail->text.empty())
    io.err << "(" << tail->replica << " has written no output yet)\n";
  io.out << tail->text;
  return exit_code::ok;
}

int run_version(const global_options& g, const streams& io) {
  auto c = connect_to_tuttid(g);
  if (!c) {
    if (g.output == output_format::table) // still useful when tuttid is down
      io.out << "client: tutti " << client_version() << "\n";
    return report(io, c.error());
  }
  auto server = (*c)->version();
  if (!server)
    return report(io, server.error());
  const auto& role = server->role;
  json value = {{"client", {{"version", client_version()}}},
                {"server",
                 {{"version", server->version},
                  {"node", server->node},
                  {"role", protocol::to_string(role.role)},
                  {"leader", role.leader},
                  {"detail", role.detail}}}};
  std::string text = "client: tutti " + std::string{client_version()} + "\nserver: tuttid " +
                     server->version + " (node " + server->node + ")\n";
  if (role.role != protocol::control_role::single)
    text += "role:   " + protocol::to_string(role.role) +
            (role.role == protocol::control_role::standby
                 ? (role.leader.empty() ? std::string{", no leader now"}
                                        : ", the leader is at " + role.leader)
                 : std::string{}) +
            (role.detail.empty() ? std::string{} : " (" + role.detail + ")") + "\n";
  io.out << render_as(g.output, value, text);
  return exit_code::ok;
}

std::string qualify(const global_options& g, const std::string& name) {
  if (name.empty() || name.find('.') != std::string::npos)
    return name;
  return protocol::qualified_name(view_namespace(g), name);
}

} // namespace tutti::cli
