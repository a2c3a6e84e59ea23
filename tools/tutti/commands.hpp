#pragma once

// The commands of `tutti`, one function each, called by main after CLI11 parsed the
// arguments. Each returns the process exit code: 0 ok, 1 tuttid (or the connection
// to it) failed, 2 bad usage, 3 tuttid cannot be reached.

#include "protocol/access.hpp"
#include "tools/tutti/client_config.hpp"
#include "tools/tutti/output.hpp"

#include <cstdint>
#include <iosfwd>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace tutti::cli {

inline constexpr const char* default_api = "127.0.0.1:7700";

namespace exit_code {
inline constexpr int ok = 0;
inline constexpr int failed = 1;
inline constexpr int usage = 2;
inline constexpr int unreachable = 3;
} // namespace exit_code

/// Version of this client (the project version).
std::string_view client_version();

/// Options every command shares.
struct global_options {
  std::string api = default_api;
  double timeout_s = 30;
  output_format output = output_format::table;
  /// events --follow ends cleanly on Ctrl-C. Capturing SIGINT is process-wide, so
  /// tests, which run threads, turn it off.
  bool handle_interrupts = true;
  /// -n / TUTTI_NAMESPACE: the namespace of names given and lists shown;
  /// empty: default (and an apply's documents keep their own).
  std::string name_space;
  bool all_namespaces = false; // -A: lists show every namespace, names qualified
  // Credentials (docs/security.md); empty: from the environment (client.hpp).
  std::string token;
  std::string token_file;
  std::string ca_file;
  std::string cert_file;
  std::string key_file;
  std::string server_name;
  /// --context; empty: the config file's current context, if any.
  std::string context;
  bool api_given = false; // --api or TUTTI_API: wins over the context's
  /// The context in use, filled by use_context().
  std::optional<cluster_entry> context_cluster;
  std::optional<user_entry> context_user;
};

/// Takes what the flags and environment left open from the context (--context,
/// else the config file's current one): the API address, the namespace, the
/// credentials (credentials_of() then prefers flags and environment). An error
/// names a broken config file or an unknown context.
result<done> use_context(global_options& g);

/// `name` as tuttid keys it: in the namespace of -n (NAMESPACE.NAME, or NAME
/// in default); a name that already holds a '.' is taken as qualified.
std::string qualify(const global_options& g, const std::string& name);

/// Where commands read and write; std::cin/cout/cerr in main, strings in tests.
struct streams {
  std::istream& in;
  std::ostream& out;
  std::ostream& err;
};

struct apply_options {
  std::vector<std::string> files; // "-" is stdin
  bool dry_run = false;
};

enum class resource_kind { services, replicas, nodes, endpoints, controllers };

struct get_options {
  resource_kind kind = resource_kind::services;
  std::string name;   // a service (services, replicas) or node name; empty: all
  bool watch = false; // endpoints: go on printing each change
};

struct describe_options {
  std::string name;
  uint32_t events = 20;
};

struct scale_options {
  std::vector<std::string> targets; // NAME=REPLICAS, checked by the command
};

enum class rollout_action { status, history, undo };

struct rollout_options {
  rollout_action action = rollout_action::status;
  std::string name;
  bool follow = true;      // status: until the rollout ends
  double wait_s = 600;     // status: give up following after this long
  int64_t to_revision = 0; // undo: 0 = the previous one
};

struct chaos_options {
  std::string path;
  std::string reason = "kill";
};

struct delete_options {
  std::vector<std::string> names;
};

struct events_options {
  std::string service;
  uint32_t limit = 100;
  bool follow = false;
};

struct logs_options {
  std::string service;
  int32_t slot = -1;
  uint32_t bytes = 64 * 1024;
  std::string container; // of a replica of several; empty: each one's
};

enum class node_action { cordon, uncordon, drain };

struct node_options {
  node_action action = node_action::cordon;
  std::string name;
  bool wait = true;       // drain: until the node runs no replica
  double timeout_s = 600; // drain: give up waiting after this long (exit 1)
};

int run_apply(const global_options& g, const streams& io, const apply_options& o);
int run_get(const global_options& g, const streams& io, const get_options& o);
int run_describe(const global_options& g, const streams& io, const describe_options& o);
int run_scale(const global_options& g, const streams& io, const scale_options& o);
int run_rollout(const global_options& g, const streams& io, const rollout_options& o);
int run_delete(const global_options& g, const streams& io, const delete_options& o);
int run_tree(const global_options& g, const streams& io);
int run_chaos_kill(const global_options& g, const streams& io, const chaos_options& o);
int run_events(const global_options& g, const streams& io, const events_options& o);
int run_logs(const global_options& g, const streams& io, const logs_options& o);
/// cordon, uncordon, or drain (and wait until the node is empty, showing how many
/// replicas are left and why some cannot move, if so).
int run_node(const global_options& g, const streams& io, const node_options& o);
int run_version(const global_options& g, const streams& io);

struct image_import_options {
  std::string file;
  std::string node;
  std::string driver = "containerd";
};

/// Sends an image archive to a node's driver; prints the images it loaded.
int run_image_import(const global_options& g, const streams& io, const image_import_options& o);

enum class cluster_action { init, join_command, join };

struct cluster_options {
  cluster_action action = cluster_action::init;
  std::string name;    // init: the control process's name; join: the node's (default: host name)
  std::string address; // init: where other hosts reach this one; join: the node's address
  std::string config_dir = "/etc/tutti";
  std::string data_dir = "/var/lib/tutti";
  uint16_t api_port = 7700;
  uint16_t cluster_port = 7701;
  std::string owner; // init: the user tuttid control runs as (default: tutti, when it exists)
  bool force = false;
  std::string target;    // join: the control plane's API, HOST:PORT
  std::string token;     // join: the cluster's join token
  std::string token_file; // join: or a file that holds it
  std::string ca_sha256; // join: the pin of the cluster CA
  std::string api_address; // join-command: the API address to print (default: the one used)
};

/// `tutti cluster init|join-command|join`: bootstrap a cluster's certificates
/// and configs, and join hosts to it.
int run_cluster(const global_options& g, const streams& io, const cluster_options& o);

enum class backup_action { create, restore };

struct backup_options {
  backup_action action = backup_action::create;
  std::string file;
  bool force = false;     // create: replace an existing FILE
  std::string data_dir;   // restore: tuttid's --data-dir; the store is DATA/store
  std::string store_dir;  // restore: the store's folder when store.dir names one
};

/// Takes a backup of the store into a file, or restores one into the store
/// folder of a stopped control plane.
int run_backup(const global_options& g, const streams& io, const backup_options& o);

enum class volume_action { list, remove };

struct volume_options {
  volume_action action = volume_action::list;
  std::string target; // rm: REPLICA/VOLUME
  std::string node;   // rm: the node that keeps it; empty: the one node that does
};

/// Lists the persistent volumes of the connected nodes, or removes one.
int run_volume(const global_options& g, const streams& io, const volume_options& o);

enum class object_action { create, list, inspect, remove };

/// `tutti config create|ls|inspect|rm` and `tutti secret ...`.
struct object_options {
  protocol::object_kind kind = protocol::object_kind::config;
  object_action action = object_action::list;
  std::string name;
  std::string from_file; // create: the data; "-" reads stdin
  bool data = false;     // inspect: print a config's data instead of its versions
  int64_t version = 0;   // inspect --data: that version; 0: the newest
};

/// Creates a config or secret (a new version when it exists and the data
/// differs), lists them, shows one's versions (or a config's data), removes one.
int run_object(const global_options& g, const streams& io, const object_options& o);

enum class token_action { create, revoke, list };

struct token_options {
  token_action action = token_action::list;
  std::string name;
  std::string role = "viewer";
  std::string ttl; // "90s", "12h", "30d"; empty: never expires
  std::string name_space; // refused: namespaces are not supported yet
};

int run_token(const global_options& g, const streams& io, const token_options& o);

struct audit_options {
  uint32_t limit = 100;
  bool follow = false;
};

int run_audit(const global_options& g, const streams& io, const audit_options& o);

/// Who the credentials in use are, as tuttid sees them.
int run_whoami(const global_options& g, const streams& io);

/// Prints the web dashboard's link that logs in with the token in use.
int run_dashboard(const global_options& g, const streams& io);

struct login_options {
  std::string name = "default"; // of the cluster, user and context written
};

/// Checks the flags' API and credentials (whoami) and writes them to the
/// client config as a context that becomes current.
int run_login(const global_options& g, const streams& io, const login_options& o);

enum class config_action { view, get_contexts, use_context };

struct config_options {
  config_action action = config_action::view;
  std::string name;          // use-context
  bool show_secrets = false; // view
};

int run_config(const global_options& g, const streams& io, const config_options& o);

} // namespace tutti::cli
