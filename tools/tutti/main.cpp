// tutti: the command-line client of tuttid. Parses the arguments and runs one
// command of commands.hpp; everything else lives in the tutti_cli library.

#include "tools/tutti/args.hpp"
#include "tools/tutti/commands.hpp"
#include "tools/tutti/completion.hpp"

#include <CLI/CLI.hpp>

#include <functional>
#include <iostream>
#include <map>
#include <utility>
#include <vector>

namespace {

using namespace tutti::cli;

// Subcommand help does not list the parent's options, so every footer names them.
std::string footer(const std::string& text) {
  return text + "\nGlobal options (before or after the command): --api HOST:PORT, --timeout "
                "SECONDS, -n NAMESPACE, -A, --context NAME,\n--token, --token-file, --ca, "
                "--cert, --key (`tutti --help`).\nExit codes: 0 ok, 1 tuttid refused or failed, "
                "2 usage error, 3 tuttid unreachable.";
}

// What the parsed arguments land in, and which function each subcommand runs.
struct cli_state {
  streams io{std::cin, std::cout, std::cerr};
  global_options global;
  apply_options apply;
  get_options get_services{resource_kind::services, {}};
  get_options get_replicas{resource_kind::replicas, {}};
  get_options get_nodes{resource_kind::nodes, {}};
  get_options get_endpoints{resource_kind::endpoints, {}};
  get_options get_controllers{resource_kind::controllers, {}};
  describe_options describe;
  scale_options scale;
  rollout_options rollout;
  delete_options remove;
  chaos_options chaos;
  events_options events;
  logs_options logs;
  node_options node;
  image_import_options image_import;
  volume_options volume;
  backup_options backup;
  cluster_options cluster;
  std::string completion_shell;
  token_options token;
  audit_options audit;
  login_options login;
  config_options config;
  object_options configs{tutti::protocol::object_kind::config};
  object_options secrets{tutti::protocol::object_kind::secret};
  std::vector<std::pair<CLI::App*, std::function<int()>>> dispatch;
};

void add_output_option(CLI::App& app, global_options& g) {
  static const std::map<std::string, output_format> formats = {{"table", output_format::table},
                                                               {"json", output_format::json},
                                                               {"yaml", output_format::yaml}};
  // IsMember rather than a CheckedTransformer to the enum: its error names the
  // choices instead of the enum's numbers.
  app.add_option("-o,--output", "Output format: table, json or yaml")
      ->check(CLI::IsMember({"table", "json", "yaml"}))
      ->each([&g](const std::string& name) { g.output = formats.at(name); })
      ->option_text("table|json|yaml (default: table)");
}

void add_globals(CLI::App& app, global_options& g) {
  const CLI::Validator api_address{[](std::string& text) { return check_api_address(text); }, ""};
  app.add_option("--api", g.api,
                 "Address of tuttid's API (several, comma-separated, for an HA control plane; "
                 "or unix:PATH); the TUTTI_API variable sets it too; default: the current "
                 "context's, else 127.0.0.1:7700")
      ->envname("TUTTI_API")
      ->check(api_address)
      ->option_text("HOST:PORT (default: " + std::string{default_api} + ")");
  app.add_option("--timeout", g.timeout_s,
                 "Seconds to wait for tuttid's answer to each request (events --follow "
                 "waits without limit once connected)")
      ->check(CLI::PositiveNumber)
      ->option_text("SECONDS (default: 30)");
  app.add_option("-n,--namespace", g.name_space,
                 "Namespace of the names given, of what lists show and of an apply's documents "
                 "that name none (or TUTTI_NAMESPACE; default: default)")
      ->envname("TUTTI_NAMESPACE");
  app.add_option("--context", g.context,
                 "Context of the client config to use (default: its current one; `tutti "
                 "config get-contexts`)");
  app.add_flag("-A,--all-namespaces", g.all_namespaces,
               "Lists show every namespace, names as NAMESPACE.NAME");
  const char* group = "Credentials (docs/security.md)";
  app.add_option("--token", g.token,
                 "Bearer token (or TUTTI_TOKEN); default: the file of --token-file, "
                 "TUTTI_TOKEN_FILE or ./.tutti/admin.token")
      ->group(group);
  app.add_option("--token-file", g.token_file,
                 "File whose first line is the token (or TUTTI_TOKEN_FILE); `tuttid dev` "
                 "writes DATA_DIR/admin.token")
      ->group(group);
  app.add_option("--ca", g.ca_file,
                 "PEM CA of tuttid's API certificate; turns TLS on (or TUTTI_CA)")
      ->group(group);
  app.add_option("--cert", g.cert_file,
                 "PEM client certificate (CN = user, O = groups), for TLS (or TUTTI_CERT)")
      ->group(group);
  app.add_option("--key", g.key_file, "Its PEM private key (or TUTTI_KEY)")->group(group);
  app.add_option("--tls-server-name", g.server_name,
                 "The name tuttid's certificate must hold; default: the host of --api (or "
                 "TUTTI_SERVER_NAME)")
      ->group(group);
  app.set_version_flag("--version", std::string{client_version()},
                       "Print the client's version and exit (see also `tutti version`)");
}

// "-" (stdin) or an existing file; CLI11's `ExistingFile | IsMember({"-"})` would
// explain a missing file in two confusing halves.
std::string check_spec_file(std::string& path) {
  return path == "-" ? std::string{} : CLI::ExistingFile(path);
}

void add_apply(CLI::App& app, cli_state& s) {
  auto* cmd = app.add_subcommand("apply", "Create or update services from YAML spec files");
  cmd->add_option("-f,--filename", s.apply.files,
                  "Spec file (one or more `kind: Service` documents), '-' for stdin; "
                  "repeat -f for several files")
      ->required()
      ->check(CLI::Validator{check_spec_file, ""})
      ->option_text("FILE|- ... REQUIRED");
  cmd->add_flag("--dry-run", s.apply.dry_run,
                "Validate and show what would change (a diff per service) without "
                "storing anything");
  cmd->footer(
      footer("Each file is sent and committed on its own, in the order given. A file that tuttid\n"
             "refuses is not applied at all (its problems are printed as FILE:LINE:COL: FIELD:\n"
             "MESSAGE) and stops the command; the files before it stay applied.\n"
             "Example: tutti apply -f web.yaml -f db.yaml --dry-run"));
  s.dispatch.emplace_back(cmd, [&s] { return run_apply(s.global, s.io, s.apply); });
}

void add_get_kind(CLI::App& get, cli_state& s, get_options& o, const char* name,
                  std::vector<const char*> aliases, const char* help, const char* name_help) {
  auto* cmd = get.add_subcommand(name, help);
  for (const char* alias : aliases)
    cmd->alias(alias);
  cmd->add_option("NAME", o.name, name_help);
  add_output_option(*cmd, s.global);
  s.dispatch.emplace_back(cmd, [&s, &o] { return run_get(s.global, s.io, o); });
}

void add_get(CLI::App& app, cli_state& s) {
  auto* get =
      app.add_subcommand("get", "List services, replicas, nodes, endpoints or controllers");
  get->require_subcommand(1);
  add_output_option(*get, s.global);
  get->footer(
      footer("Examples: tutti get services; tutti get replicas web -o json; tutti get nodes;\n"
             "tutti get endpoints web"));
  add_get_kind(*get, s, s.get_services, "services", {"service", "svc"},
               "List services: revision, desired and running replicas, restarts",
               "Show only this service");
  add_get_kind(*get, s, s.get_replicas, "replicas", {"replica", "rs"},
               "List replicas: node, state, pid or container, ports",
               "Show only the replicas of this service");
  add_get_kind(*get, s, s.get_nodes, "nodes", {"node"},
               "List nodes: state, allocated and total CPU and memory, labels",
               "Show only this node");
  add_get_kind(*get, s, s.get_endpoints, "endpoints", {"endpoint", "ep"},
               "List where services are served: published ports and the host:port of each "
               "running replica (what the routing mesh forwards to)",
               "Show only the endpoints of this service");
  auto* controllers = get->add_subcommand(
      "controllers", "List the control processes (several on an etcd store: who leads, since "
                     "when) and the health of the store's etcd endpoints");
  controllers->alias("controller");
  add_output_option(*controllers, s.global);
  s.dispatch.emplace_back(controllers,
                          [&s] { return run_get(s.global, s.io, s.get_controllers); });
  get->get_subcommand("endpoints")
      ->add_flag("-w,--watch", s.get_endpoints.watch,
                 "Print the endpoint set again each time it changes, one line each, until Ctrl-C");
}

void add_describe(CLI::App& app, cli_state& s) {
  auto* describe = app.add_subcommand("describe", "Show one service in detail");
  describe->require_subcommand(1);
  add_output_option(*describe, s.global);
  describe->footer(footer("Example: tutti describe service web"));
  auto* cmd = describe->add_subcommand(
      "service", "Status, current spec, replicas and latest events of a service");
  cmd->alias("svc");
  add_output_option(*cmd, s.global);
  cmd->add_option("NAME", s.describe.name, "Service name")->required();
  cmd->add_option("--events", s.describe.events, "How many of the latest events to show")
      ->capture_default_str();
  s.dispatch.emplace_back(cmd, [&s] { return run_describe(s.global, s.io, s.describe); });
}

void add_scale(CLI::App& app, cli_state& s) {
  auto* cmd = app.add_subcommand("scale", "Change the replica count of services");
  cmd->add_option("NAME=REPLICAS", s.scale.targets,
                  "Service and its new replica count, e.g. web=3; several may be given")
      ->required();
  cmd->footer(footer("Each service gets a new revision. An autoscaled service (autoscale: in its "
                     "spec)\ntakes a count within its bounds and the autoscaler moves on from "
                     "it; one outside\nthem is refused. Example: tutti scale web=3 worker=0"));
  s.dispatch.emplace_back(cmd, [&s] { return run_scale(s.global, s.io, s.scale); });
}

void add_rollout(CLI::App& app, cli_state& s) {
  auto* rollout = app.add_subcommand("rollout", "Follow, list and undo rolling updates");
  rollout->require_subcommand(1);
  rollout->footer(footer("Examples: tutti rollout status web; tutti rollout history web; "
                         "tutti rollout undo web --to-revision 3"));
  auto* status = rollout->add_subcommand(
      "status", "Follow the rollout of a service's newest revision until it completes");
  add_output_option(*status, s.global);
  status->add_option("NAME", s.rollout.name, "Service name")->required();
  status->add_flag("!--no-follow", s.rollout.follow, "Print the state once and return");
  status->add_option("--wait", s.rollout.wait_s, "Give up following after this many seconds")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  status->footer(footer("Exit code 0 when the revision completed; 1 when it paused, was "
                        "rolled back or the wait ran out."));
  status->callback([&s] { s.rollout.action = rollout_action::status; });
  s.dispatch.emplace_back(status, [&s] { return run_rollout(s.global, s.io, s.rollout); });
  auto* history = rollout->add_subcommand("history", "List the kept revisions of a service");
  add_output_option(*history, s.global);
  history->add_option("NAME", s.rollout.name, "Service name")->required();
  history->callback([&s] { s.rollout.action = rollout_action::history; });
  s.dispatch.emplace_back(history, [&s] { return run_rollout(s.global, s.io, s.rollout); });
  auto* undo = rollout->add_subcommand(
      "undo", "Roll a service back: commit an earlier revision's spec as a new revision");
  undo->add_option("NAME", s.rollout.name, "Service name")->required();
  undo->add_option("--to-revision", s.rollout.to_revision,
                   "Revision to go back to; default: the newest earlier one that runs "
                   "something else")
      ->check(CLI::PositiveNumber);
  undo->footer(footer("The replica count stays as it is; the change rolls out like any other."));
  undo->callback([&s] { s.rollout.action = rollout_action::undo; });
  s.dispatch.emplace_back(undo, [&s] { return run_rollout(s.global, s.io, s.rollout); });
}

void add_delete(CLI::App& app, cli_state& s) {
  auto* cmd = app.add_subcommand("delete", "Delete services and stop their replicas");
  cmd->add_option("NAME", s.remove.names,
                  "Services to delete (`delete service NAME` and `service/NAME` work too)")
      ->required();
  cmd->footer(footer("Example: tutti delete web worker"));
  s.dispatch.emplace_back(cmd, [&s] { return run_delete(s.global, s.io, s.remove); });
}

void add_events(CLI::App& app, cli_state& s) {
  auto* cmd = app.add_subcommand("events", "Show the cluster's event log");
  add_output_option(*cmd, s.global);
  cmd->add_option("-s,--service", s.events.service, "Only events of this service");
  cmd->add_option("-n,--limit", s.events.limit, "How many of the latest stored events to show")
      ->capture_default_str();
  cmd->add_flag("-f,--follow", s.events.follow,
                "After the stored events, print new ones as they happen, until Ctrl-C");
  cmd->footer(footer("Columns: TIME (local) SEQ KIND SERVICE REPLICA MESSAGE. With -o json: "
                     "one JSON\nobject per line. Example: tutti events -s web --follow -o json"));
  s.dispatch.emplace_back(cmd, [&s] { return run_events(s.global, s.io, s.events); });
}

void add_logs(CLI::App& app, cli_state& s) {
  auto* cmd = app.add_subcommand("logs", "Print the latest output of a service's replica");
  cmd->add_option("NAME", s.logs.service, "Service name")->required();
  cmd->add_option("--replica", s.logs.slot, "Replica slot (0, 1, ...); default: the lowest slot");
  cmd->add_option("--bytes", s.logs.bytes, "How many bytes of the output's end to print")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  cmd->add_option("-c,--container", s.logs.container,
                  "Of a replica of several containers (`containers:`): the one to print; "
                  "default: the end of each, under a line naming it");
  cmd->footer(footer("Prints the replica's stdout and stderr as captured. "
                     "Example: tutti logs web --replica 1 --container sidecar"));
  s.dispatch.emplace_back(cmd, [&s] { return run_logs(s.global, s.io, s.logs); });
}

void add_tree(CLI::App& app, cli_state& s) {
  auto* cmd = app.add_subcommand("tree", "Show the live supervision tree of tuttid's actors");
  add_output_option(*cmd, s.global);
  cmd->footer(footer("Columns: PATH KIND STATE ID RESTARTS LAST-EXIT. The ID changes on each "
                     "restart;\na control plane lists its nodes' actors under /nodes/NAME. "
                     "Example: tutti tree -o json"));
  s.dispatch.emplace_back(cmd, [&s] { return run_tree(s.global, s.io); });
}

void add_chaos(CLI::App& app, cli_state& s) {
  auto* chaos = app.add_subcommand("chaos", "Fault injection (tuttid must run with --enable-chaos)");
  chaos->require_subcommand(1);
  auto* kill = chaos->add_subcommand(
      "kill", "End one actor of the tree; its supervisor restarts it and it rebuilds its state");
  kill->add_option("PATH", s.chaos.path, "The actor's path as `tutti tree` shows it")->required();
  kill->add_option("--reason", s.chaos.reason,
                   "Exit reason: kill (cannot be trapped) or any text (an error with that "
                   "message)")
      ->capture_default_str();
  kill->footer(footer("Example: tutti chaos kill /cluster/service/web"));
  s.dispatch.emplace_back(kill, [&s] { return run_chaos_kill(s.global, s.io, s.chaos); });
}

void add_node(CLI::App& app, cli_state& s) {
  auto* node = app.add_subcommand("node", "Cordon, uncordon or drain a node");
  node->require_subcommand(1);
  node->footer(footer("Examples: tutti node cordon n2; tutti node drain n2 --timeout 120; "
                      "tutti node uncordon n2\nThe state shows in the STATE column of "
                      "`tutti get nodes` and survives restarts of tuttid."));
  auto add = [&](const char* name, const char* help, node_action action) {
    auto* cmd = node->add_subcommand(name, help);
    cmd->add_option("NAME", s.node.name, "Node name (as `tutti get nodes` lists it)")->required();
    cmd->callback([&s, action] { s.node.action = action; });
    s.dispatch.emplace_back(cmd, [&s] { return run_node(s.global, s.io, s.node); });
    return cmd;
  };
  add("cordon", "Place no new replicas on the node; the ones it runs stay", node_action::cordon);
  add("uncordon", "Let placement use the node again (after cordon or drain)",
      node_action::uncordon);
  auto* drain = add("drain",
                    "Cordon the node and move its replicas to other nodes within their services' "
                    "update limits; waits until the node is empty",
                    node_action::drain);
  drain->add_flag("!--no-wait", s.node.wait,
                  "Return once the drain has started; `tutti get nodes` shows the replicas left");
  drain
      ->add_option("--timeout", s.node.timeout_s,
                   "Give up waiting after this many seconds (exit 1; the drain goes on). Here "
                   "--timeout is the drain's; put the global one before `node`")
      ->check(CLI::PositiveNumber)
      ->option_text("SECONDS (default: 600)");
  drain->footer(footer(
      "Each service replaces its replicas on the node as a rolling update does: a replacement\n"
      "starts on another node first (update.max_surge, update.parallelism) and the old replica\n"
      "stops once enough others are ready (at least replicas - update.max_unavailable).\n"
      "Prints the replicas left on the node as they move, and why a replica cannot move\n"
      "(no other node fits it: it stays, so its service keeps its availability). Exit 0 when\n"
      "the node is empty (it stays cordoned), 1 on timeout. Example: tutti node drain n2"));
}

void add_image(CLI::App& app, cli_state& s) {
  auto* image = app.add_subcommand("image", "Load container images into a node's runtime");
  image->require_subcommand(1);
  auto* cmd = image->add_subcommand(
      "import", "Send an image archive (docker save or OCI layout tar) to a node, whose "
                "containerd or Docker engine loads it");
  auto& o = s.image_import;
  cmd->add_option("FILE", o.file, "The archive on this machine")->required();
  cmd->add_option("--node", o.node, "The node that loads it (as `tutti get nodes` lists it)")
      ->required();
  cmd->add_option("--driver", o.driver, "Which runtime of the node loads it: containerd or docker")
      ->check(CLI::IsMember({"containerd", "docker"}))
      ->option_text("DRIVER (default: containerd)");
  add_output_option(*cmd, s.global);
  cmd->footer(footer(
      "For nodes that cannot pull from a registry. Prints the images loaded (name:tag);\n"
      "a spec then names one in `image:` for its node. Needs the role operator (or a\n"
      "role with verb import on images). Archives over 8 MiB show their progress on stderr.\n"
      "Example: docker save busybox:latest -o busybox.tar; tutti image import busybox.tar "
      "--node n2"));
  s.dispatch.emplace_back(cmd, [&s] { return run_image_import(s.global, s.io, s.image_import); });
}

void add_cluster(CLI::App& app, cli_state& s) {
  auto* cluster = app.add_subcommand("cluster", "Start a cluster on its first host and join others");
  cluster->require_subcommand(1);
  auto& o = s.cluster;
  auto add_places = [&o](CLI::App* cmd) {
    cmd->add_option("--config-dir", o.config_dir, "Where tuttid.yaml and tls/ go")
        ->option_text("DIR (default: /etc/tutti)");
    cmd->add_option("--data-dir", o.data_dir, "tuttid's data directory")
        ->option_text("DIR (default: /var/lib/tutti)");
  };
  auto* init = cluster->add_subcommand(
      "init", "On the first control host: make the cluster CA, the control plane's certificate, "
              "a join token, an admin credential and tuttid's config");
  init->add_option("--address", o.address, "The address other hosts reach this one at")
      ->required();
  init->add_option("--name", o.name, "The control process's name (default: the host name)");
  init->add_option("--api-port", o.api_port, "The client API's port")
      ->option_text("PORT (default: 7700)");
  init->add_option("--cluster-port", o.cluster_port, "Where node agents join")
      ->option_text("PORT (default: 7701)");
  init->add_option("--owner", o.owner,
                   "The user tuttid control runs as, who gets its keys (default: tutti when "
                   "that user exists, else you)");
  init->add_flag("--force", o.force, "Make a new cluster where one was made (hosts join again)");
  add_places(init);
  add_output_option(*init, s.global);
  init->footer(footer(
      "Writes DIR/tls/{ca,control}.{crt,key}, DIR/tuttid.yaml (an existing one is kept as\n"
      "tuttid.yaml.before-DATE), DATA/admin.token, and a context named after the control\n"
      "process in the client config (~/.config/tutti/config.yaml) that reaches its API\n"
      "over TLS as admin. Example: tutti cluster init --address 10.0.0.10"));
  init->callback([&s] { s.cluster.action = cluster_action::init; });
  s.dispatch.emplace_back(init, [&s] { return run_cluster(s.global, s.io, s.cluster); });
  auto* command = cluster->add_subcommand(
      "join-command", "Print the command that joins a new host (admins)");
  command->add_option("--api-address", o.api_address,
                      "The API address the new host reaches (default: the one this command "
                      "used)");
  add_output_option(*command, s.global);
  command->footer(footer(
      "The command holds the cluster's join token (a secret: pass it on privately) and the\n"
      "SHA-256 of the cluster CA, which the new host checks before it sends the token."));
  command->callback([&s] { s.cluster.action = cluster_action::join_command; });
  s.dispatch.emplace_back(command, [&s] { return run_cluster(s.global, s.io, s.cluster); });
  auto* join = cluster->add_subcommand(
      "join", "On a new host: get its certificate from the control plane and write tuttid's "
              "node config");
  join->add_option("API", o.target, "The control plane's API, HOST:PORT")->required();
  auto* token = join->add_option("--token", o.token, "The cluster's join token");
  join->add_option("--token-file", o.token_file,
                   "A file whose first line is the join token (keeps it out of the process list)")
      ->excludes(token);
  join->add_option("--ca-sha256", o.ca_sha256, "The SHA-256 of the cluster CA's certificate")
      ->required();
  join->add_option("--name", o.name, "The node's name (default: the host name)");
  join->add_option("--address", o.address,
                   "Where the node's replicas are reached (node.address; default: 127.0.0.1)");
  add_places(join);
  add_output_option(*join, s.global);
  join->footer(footer(
      "The node's key is made here and never leaves the host; the control plane signs its\n"
      "certificate. Writes DIR/tls/{ca,node}.crt, node.key and DIR/tuttid.yaml; then start\n"
      "tuttid-node. `tutti cluster join-command` prints this command filled in."));
  join->callback([&s] { s.cluster.action = cluster_action::join; });
  s.dispatch.emplace_back(join, [&s] { return run_cluster(s.global, s.io, s.cluster); });
}

void add_backup(CLI::App& app, cli_state& s) {
  auto* backup = app.add_subcommand("backup", "Back up the control plane's store, or restore it");
  backup->require_subcommand(1);
  auto& o = s.backup;
  auto* create = backup->add_subcommand(
      "create", "Write a consistent copy of the whole store (an LMDB file) to FILE on this machine");
  create->add_option("FILE", o.file, "Where the backup goes (written as FILE.partial first)")
      ->required();
  create->add_flag("--force", o.force, "Replace FILE when it exists");
  add_output_option(*create, s.global);
  create->footer(footer(
      "The running control plane copies its store without pausing its writes: specs with\n"
      "their history, replica assignments, nodes, token hashes, roles, quotas, the audit log\n"
      "and events. Needs the role admin (or a role with verb backup on store). With the store\n"
      "on etcd, FILE is etcd's snapshot (restored with etcdctl snapshot restore).\n"
      "Example: tutti backup create /var/backups/tutti-$(date +%F).mdb"));
  create->callback([&s] { s.backup.action = backup_action::create; });
  s.dispatch.emplace_back(create, [&s] { return run_backup(s.global, s.io, s.backup); });
  auto* restore = backup->add_subcommand(
      "restore", "Make FILE the store of a stopped control plane (on this machine)");
  restore->add_option("FILE", o.file, "A file `tutti backup create` wrote")->required();
  restore->add_option("--data-dir", o.data_dir,
                      "The control plane's data directory (tuttid --data-dir)");
  restore->add_option("--store-dir", o.store_dir,
                      "The store's folder, when tuttid's config sets store.dir");
  add_output_option(*restore, s.global);
  restore->footer(footer(
      "Offline: stop tuttid first (it holds the store's lock; a restore beside it is refused).\n"
      "FILE is checked before anything changes; the store it replaces is kept beside it as\n"
      "data.mdb.before-restore-TIME. Works on a new machine too: nodes that join it again\n"
      "have their replicas adopted, nodes that never come back are lost and their replicas\n"
      "placed elsewhere.\n"
      "Example: systemctl stop tuttid-control; tutti backup restore b.mdb --data-dir /var/lib/tutti"));
  restore->callback([&s] { s.backup.action = backup_action::restore; });
  s.dispatch.emplace_back(restore, [&s] { return run_backup(s.global, s.io, s.backup); });
}

void add_volume(CLI::App& app, cli_state& s) {
  auto* volume = app.add_subcommand("volume", "List or remove the persistent volumes nodes keep");
  volume->require_subcommand(1);
  auto* ls = volume->add_subcommand("ls", "List the persistent volumes of the connected nodes");
  add_output_option(*ls, s.global);
  ls->callback([&s] { s.volume.action = volume_action::list; });
  s.dispatch.emplace_back(ls, [&s] { return run_volume(s.global, s.io, s.volume); });
  auto* rm = volume->add_subcommand(
      "rm", "Remove a persistent volume and its data (refused while a replica runs with it)");
  rm->add_option("REPLICA/VOLUME", s.volume.target, "The slot and volume, e.g. db-0/data")
      ->required();
  rm->add_option("--node", s.volume.node, "The node that keeps it (default: the one that does)");
  rm->callback([&s] { s.volume.action = volume_action::remove; });
  s.dispatch.emplace_back(rm, [&s] { return run_volume(s.global, s.io, s.volume); });
  volume->footer(footer(
      "A persistent volume is one slot's (db-0) folder on the node that ran it; it outlives the\n"
      "service and is removed only here. Listing needs the role viewer, removing operator.\n"
      "Examples: tutti volume ls; tutti volume rm db-0/data"));
}

void add_token(CLI::App& app, cli_state& s) {
  auto* token = app.add_subcommand("token", "Create, list and revoke bearer tokens (admin)");
  token->require_subcommand(1);
  auto* create = token->add_subcommand("create", "Make a token; prints its secret once");
  create->add_option("NAME", s.token.name, "Token name: a-z, 0-9 and '-'")->required();
  create->add_option("--role", s.token.role, "viewer, deployer, operator or admin")
      ->check(CLI::IsMember({"viewer", "deployer", "operator", "admin"}))
      ->capture_default_str();
  create->add_option("--ttl", s.token.ttl, "Expire after this long: 90s, 15m, 12h, 30d (default: never)");
  create->add_option("--namespace", s.token.name_space,
                     "Bind the role to this namespace: its services only, nothing of the whole "
                     "cluster (default: the whole cluster)");
  add_output_option(*create, s.global);
  create->footer(footer("The roles: viewer reads; deployer also applies, scales and rolls back;\n"
                        "operator also deletes services and cordons or drains nodes; admin does\n"
                        "everything (tokens, chaos, audit). -o json holds the secret under `token`.\n"
                        "Example: tutti token create ci --role deployer --ttl 30d"));
  create->callback([&s] { s.token.action = token_action::create; });
  s.dispatch.emplace_back(create, [&s] { return run_token(s.global, s.io, s.token); });
  auto* revoke = token->add_subcommand("revoke", "Revoke a token: its sessions fail at once");
  revoke->add_option("NAME", s.token.name, "Token name")->required();
  revoke->callback([&s] { s.token.action = token_action::revoke; });
  s.dispatch.emplace_back(revoke, [&s] { return run_token(s.global, s.io, s.token); });
  auto* list = token->add_subcommand("ls", "List the tokens (never their secrets)");
  add_output_option(*list, s.global);
  list->callback([&s] { s.token.action = token_action::list; });
  s.dispatch.emplace_back(list, [&s] { return run_token(s.global, s.io, s.token); });
}

void add_audit(CLI::App& app, cli_state& s) {
  auto* cmd = app.add_subcommand(
      "audit", "Show the audit log: every mutating call and every refused one (admin)");
  cmd->add_option("-n,--limit", s.audit.limit, "How many of the latest records to show")
      ->capture_default_str();
  cmd->add_flag("-f,--follow", s.audit.follow, "Go on printing records as they are written");
  add_output_option(*cmd, s.global);
  cmd->footer(footer("Columns: TIME WHO FROM CALL TARGET RESULT MESSAGE. Example: tutti audit -f"));
  s.dispatch.emplace_back(cmd, [&s] { return run_audit(s.global, s.io, s.audit); });
}

void add_login(CLI::App& app, cli_state& s) {
  auto* cmd = app.add_subcommand(
      "login", "Check --api and the credentials given, and keep them as the current context");
  cmd->add_option("--name", s.login.name, "Name of the context (and its cluster and user)")
      ->capture_default_str();
  cmd->footer(footer("Writes $TUTTI_CONFIG, else $XDG_CONFIG_HOME/tutti/config.yaml, else\n"
                     "~/.config/tutti/config.yaml (mode 0600). Later commands use the current\n"
                     "context for whatever their flags and environment do not give.\n"
                     "Example: tutti --api c1:7700 --ca ca.crt --token-file ci.token -n team-a "
                     "login --name prod"));
  s.dispatch.emplace_back(cmd, [&s] { return run_login(s.global, s.io, s.login); });
}

/// create, ls, inspect and rm of configs or secrets under `parent`.
void add_objects(CLI::App& parent, cli_state& s, object_options& o) {
  auto kind = tutti::protocol::to_string(o.kind);
  bool secret = o.kind == tutti::protocol::object_kind::secret;
  auto run = [&s, &o] { return run_object(s.global, s.io, o); };
  auto* create = parent.add_subcommand(
      "create", "Store a " + kind + " from a file, or a new version of it when its data differs");
  create->add_option("NAME", o.name, "Name: a-z, 0-9 and '-'")->required();
  create->add_option("--from-file", o.from_file, "The data: a file, or - for stdin")->required();
  add_output_option(*create, s.global);
  create->footer(footer(
      std::string{secret ? "The data is sealed in the store (AES-256-GCM, the control plane's "
                           "secrets.key_file) and\nreaches only nodes that run a replica using "
                           "it, as a file on a tmpfs or a variable.\n"
                         : "Replicas get the data as a file or a variable (`configs:` in a "
                           "spec).\n"} +
      "Services that use it unpinned roll out the new version. Same as applying a `kind: " +
      std::string{secret ? "Secret" : "Config"} + "` document.\nExample: tutti " + kind +
      " create " + (secret ? "db-password --from-file ./password.txt"
                           : "nginx-conf --from-file ./nginx.conf")));
  create->callback([&o] { o.action = object_action::create; });
  s.dispatch.emplace_back(create, run);
  auto* ls = parent.add_subcommand("ls", "List the " + kind + "s: newest version, users");
  add_output_option(*ls, s.global);
  ls->callback([&o] { o.action = object_action::list; });
  s.dispatch.emplace_back(ls, run);
  auto* inspect = parent.add_subcommand(
      "inspect", secret ? "Show a secret's kept versions and who uses them (never its data)"
                        : "Show a config's kept versions, or with --data its data");
  inspect->add_option("NAME", o.name, "The " + kind)->required();
  if (!secret) {
    inspect->add_flag("--data", o.data, "Print the data of the newest version (raw)");
    inspect->add_option("--version", o.version, "With --data: this version");
  }
  add_output_option(*inspect, s.global);
  inspect->callback([&o] { o.action = object_action::inspect; });
  s.dispatch.emplace_back(inspect, run);
  auto* rm = parent.add_subcommand(
      "rm", "Remove every version of a " + kind + " (refused while a service uses it)");
  rm->add_option("NAME", o.name, "The " + kind)->required();
  rm->callback([&o] { o.action = object_action::remove; });
  s.dispatch.emplace_back(rm, run);
}

void add_secret(CLI::App& app, cli_state& s) {
  auto* secret = app.add_subcommand("secret", "Create, list, inspect and remove secrets");
  secret->require_subcommand(1);
  add_objects(*secret, s, s.secrets);
  secret->footer(footer(
      "Listing needs the role viewer, creating deployer, removing operator. The control plane\n"
      "needs secrets.key_file (tuttid dev makes DATA/secrets.key).\n"
      "Examples: tutti secret create db-password --from-file pw.txt; tutti secret ls"));
}

void add_config(CLI::App& app, cli_state& s) {
  auto* config = app.add_subcommand(
      "config", "Configs (create, ls, inspect, rm); the client config (view, get-contexts, "
                "use-context)");
  config->require_subcommand(1);
  add_objects(*config, s, s.configs);
  config->footer(footer(
      "Configs: listing needs the role viewer, creating deployer, removing operator; a\n"
      "spec's `configs:` gives them to replicas (docs/spec.md). The client config is\n"
      "~/.config/tutti/config.yaml (TUTTI_CONFIG), written by `tutti login`.\n"
      "Examples: tutti config create nginx-conf --from-file nginx.conf; tutti config use-context prod"));
  auto* view = config->add_subcommand("view", "Print the client config (tokens hidden)");
  view->add_flag("--show-secrets", s.config.show_secrets, "Print the tokens too");
  view->callback([&s] { s.config.action = config_action::view; });
  s.dispatch.emplace_back(view, [&s] { return run_config(s.global, s.io, s.config); });
  auto* list = config->add_subcommand("get-contexts", "List the contexts; * marks the current one");
  add_output_option(*list, s.global);
  list->callback([&s] { s.config.action = config_action::get_contexts; });
  s.dispatch.emplace_back(list, [&s] { return run_config(s.global, s.io, s.config); });
  auto* use = config->add_subcommand("use-context", "Make a context the current one");
  use->add_option("NAME", s.config.name, "Context name")->required();
  use->callback([&s] { s.config.action = config_action::use_context; });
  s.dispatch.emplace_back(use, [&s] { return run_config(s.global, s.io, s.config); });
}

void add_whoami(CLI::App& app, cli_state& s) {
  auto* cmd = app.add_subcommand("whoami", "Show who the credentials in use are to tuttid");
  add_output_option(*cmd, s.global);
  s.dispatch.emplace_back(cmd, [&s] { return run_whoami(s.global, s.io); });
}

void add_dashboard(CLI::App& app, cli_state& s) {
  auto* cmd = app.add_subcommand(
      "dashboard", "Print the link to the web dashboard that logs in with the token in use");
  add_output_option(*cmd, s.global);
  cmd->footer(footer(
      "The dashboard (tuttid --ui, default http://127.0.0.1:7780/ui/) shows services, nodes,\n"
      "events and the supervision tree live, and scales, rolls back, deletes, cordons and\n"
      "drains where the token's role allows. The token travels in the link's #fragment,\n"
      "which browsers do not send to servers; the page keeps it for the tab only."));
  s.dispatch.emplace_back(cmd, [&s] { return run_dashboard(s.global, s.io); });
}

void add_completion(CLI::App& app, cli_state& s) {
  auto* cmd = app.add_subcommand("completion", "Print the shell completion script of tutti");
  cmd->add_option("SHELL", s.completion_shell, "bash, zsh or fish")
      ->required()
      ->check(CLI::IsMember({"bash", "zsh", "fish"}));
  cmd->footer(footer("Completes commands and options as they are typed.\n"
                     "Examples: source <(tutti completion bash); tutti completion fish > "
                     "~/.config/fish/completions/tutti.fish; tutti completion zsh > "
                     "\"${fpath[1]}/_tutti\""));
  s.dispatch.emplace_back(cmd, [&s] {
    std::fputs(completion_script(s.completion_shell)->c_str(), stdout);
    return exit_code::ok;
  });
}

void add_version(CLI::App& app, cli_state& s) {
  auto* cmd = app.add_subcommand("version", "Print the versions of this client and of tuttid");
  add_output_option(*cmd, s.global);
  cmd->footer(footer("Example: tutti version -o json"));
  s.dispatch.emplace_back(cmd, [&s] { return run_version(s.global, s.io); });
}

} // namespace

/// The service names of the command line, in the namespace of -n.
void qualify_names(cli_state& s) {
  const auto& g = s.global;
  for (auto* name : {&s.get_services.name, &s.get_replicas.name, &s.get_endpoints.name,
                     &s.describe.name, &s.rollout.name,
                     &s.events.service, &s.logs.service})
    *name = qualify(g, *name);
  for (auto& name : s.remove.names)
    name = qualify(g, name);
  for (auto& target : s.scale.targets)
    if (auto eq = target.find('='); eq != std::string::npos)
      target = qualify(g, target.substr(0, eq)) + target.substr(eq);
}

int main(int argc, char** argv) {
  CLI::App app{"tutti: command-line client of the tutti container orchestrator.\n"
               "Talks to tuttid (start one with `tuttid dev`) over its API.",
               "tutti"};
  app.require_subcommand(1);
  app.fallthrough(); // global options also work after the subcommand
  app.footer("Exit codes: 0 ok, 1 tuttid refused or failed, 2 usage error, "
             "3 tuttid unreachable.\nRun `tutti COMMAND --help` for a command's options.");
  cli_state s;
  add_globals(app, s.global);
  for (auto add : {add_apply, add_get, add_describe, add_scale, add_rollout, add_delete, add_events,
                   add_logs, add_tree, add_chaos, add_node, add_image, add_volume, add_backup, add_cluster, add_token, add_audit, add_whoami,
                   add_login, add_config, add_secret, add_dashboard, add_completion, add_version})
    add(app, s);
  // What the completion scripts ask: the candidates of the word being typed.
  if (argc >= 2 && std::string_view{argv[1]} == "__complete") {
    for (const auto& x : complete(app, std::vector<std::string>(argv + 2, argv + argc)))
      std::printf("%s\n", x.c_str());
    return exit_code::ok;
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? exit_code::ok : exit_code::usage;
  }
  s.global.api_given = app.get_option("--api")->count() > 0 || std::getenv("TUTTI_API") != nullptr;
  bool configures = false;
  for (auto& [cmd, run] : s.dispatch)
    configures = configures || (cmd->parsed() && cmd->get_parent()->get_name() == "config");
  if (!configures) {
    if (auto used = use_context(s.global); !used) {
      std::fprintf(stderr, "error: %s\n", used.error().message.c_str());
      return exit_code::usage;
    }
  }
  qualify_names(s);
  for (auto& [cmd, run] : s.dispatch)
    if (cmd->parsed())
      return run();
  return exit_code::usage; // not reached: CLI11 requires a subcommand
}
