#pragma once

// tuttid's own configuration: a YAML file (optional) overridden by flags.

#include "protocol/limits.hpp"
#include "protocol/spec.hpp"
#include "protocol/status.hpp"

#include <caf/timespan.hpp>

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace tutti::config {

struct endpoint {
  std::string host = "127.0.0.1";
  uint16_t port = 0;
  std::string to_string() const { return host + ":" + std::to_string(port); }
};

struct node_config {
  std::string name;                  // default: the host name
  std::string address = "127.0.0.1"; // where its replicas' host ports listen
  std::map<std::string, std::string> labels;
  protocol::resource_spec capacity;  // default (0): what the host has
  uint16_t port_range_first = 20000; // host ports handed to replicas
  uint16_t port_range_last = 29999;
  /// Folders of the host that `type: host` volumes may be (or be under);
  /// empty: the node lends none.
  std::vector<std::string> host_volume_paths;
  /// Where the files of replicas' configs and secrets are written: a folder on
  /// a tmpfs. Empty: /dev/shm/tutti-UID-HASH, HASH naming the data directory.
  std::string secrets_dir;
};

/// Secret objects (control and dev): sealed in the store with the key in
/// `key_file` (64 hex digits). Empty: dev makes DATA_DIR/secrets.key; control
/// has no key and refuses Secret objects.
struct secrets_config {
  std::string key_file;
};

struct supervision_config {
  int32_t max_restarts = 10; // restarts of one child ...
  caf::timespan window = std::chrono::duration_cast<caf::timespan>(std::chrono::seconds{10});
};

/// The docker driver: which engine, and whether the node offers it at all.
struct docker_config {
  bool enabled = true;                         // false: docker specs are refused
  std::string socket = "/var/run/docker.sock"; // the engine's unix socket
};

/// The containerd driver: which containerd, which of its namespaces, and whether
/// the node offers it at all.
struct containerd_config {
  bool enabled = true; // false: containerd specs are refused
  std::string socket = "/run/containerd/containerd.sock";
  std::string name_space = "tutti"; // containerd's namespace of tutti's containers
};

/// The process driver: whether the node runs `driver: process` specs, which run
/// any command as tuttid's user.
struct process_config {
  bool enabled = true; // false: process specs are refused
};

/// The routing mesh of the node: where it listens and how long it waits.
struct mesh_config {
  std::string host = "127.0.0.1"; // published ports listen here; <SERVICE>_ADDR names it
  caf::timespan connect_timeout =
      std::chrono::duration_cast<caf::timespan>(std::chrono::seconds{1});
  caf::timespan idle_timeout = std::chrono::duration_cast<caf::timespan>(std::chrono::minutes{5});
};

/// TLS between node agents and the control plane (caf::openssl). Off when all
/// three are empty; on when any is set, and then all three are required (see
/// missing_tls_fields). Paths of PEM files.
struct tls_config {
  std::string certificate; // this process's certificate (chain), signed by `ca`
  std::string key;         // its private key, unencrypted
  std::string ca;          // the cluster CA: the peer's certificate must chain to it
  /// The CA's key (control only, optional): the control plane signs the
  /// certificates of hosts that join with `tutti cluster join`.
  std::string ca_key;

  bool enabled() const { return !certificate.empty() || !key.empty() || !ca.empty(); }
};

/// What `ui:` and --ui take: "off" (an empty endpoint) or HOST:PORT; nullopt
/// when malformed.
std::optional<std::optional<endpoint>> parse_ui(const std::string& text);

/// 1-63 of [A-Za-z0-9._-], starting with a letter or digit.
bool valid_node_name(const std::string& name);

/// The fields of an enabled tls_config that are empty ("key", "ca", ...), in the
/// order certificate, key, ca; empty when TLS is off or complete.
std::vector<std::string> missing_tls_fields(const tls_config& tls);

/// Who may use the client API, and over what (docs/security.md).
struct access_config {
  /// The bootstrap admin token: read from this file, or made (mode 0600) when
  /// it is absent. Empty: DATA_DIR/admin.token.
  std::string admin_token_file;
  /// Serve the API without TLS. `tuttid control` needs it (or a certificate),
  /// and only on a loopback address; `tuttid dev` serves plain TCP on
  /// loopback unless it has a certificate.
  bool plaintext = false;
  std::string certificate; // PEM: the API's certificate; empty: cluster.tls's
  std::string key;         // PEM: its key; empty: cluster.tls's
  /// PEM: the CA that signs users' client certificates (CN = user, O =
  /// groups). Empty: no client certificates, tokens only. It must not be the
  /// CA of node certificates, so that a node's certificate is no user's.
  std::string client_ca;
};

/// How control plane and node agents find and watch each other (CAF's network
/// layer). Every process of a cluster must use the same heartbeat settings.
struct cluster_config {
  endpoint listen{"127.0.0.1", 7701}; // control: where node agents join
  /// node: the control plane to join; with several control processes (an etcd
  /// store) each of them, tried in turn: the leader accepts.
  std::vector<endpoint> join{{"127.0.0.1", 7701}};
  std::string join_token; // required by `control` and `node`
  caf::timespan heartbeat_interval =
      std::chrono::duration_cast<caf::timespan>(std::chrono::milliseconds{250});
  /// A peer silent this long is lost (a cut link sends no RST).
  caf::timespan node_loss_timeout =
      std::chrono::duration_cast<caf::timespan>(std::chrono::seconds{2});
  tls_config tls; // off by default: the cluster's traffic is plain TCP
  /// control: how long the replicas of a node whose agent restarts (it says
  /// so when it stops) stay placed on it, waiting for the next agent.
  caf::timespan restart_grace =
      std::chrono::duration_cast<caf::timespan>(std::chrono::seconds{30});
};

enum class store_backend : uint8_t { lmdb, etcd };

/// etcd as the store (`store: {url: etcd://...}`): the state of a control plane
/// that several `tuttid control` share, one leading.
struct etcd_config {
  std::vector<endpoint> endpoints; // etcd's client URLs, HOST:PORT
  std::string prefix = "/tutti/";  // every key of this cluster starts with it
  // TLS to etcd (https) when `ca` is set: the CA of etcd's certificate, and a
  // client certificate and key when etcd asks for one. Paths of PEM files.
  std::string ca;
  std::string certificate;
  std::string key;
  // etcd's own users (auth enabled); the password is read from a file so that
  // it shows in no process list.
  std::string user;
  std::string password_file;
  uint32_t max_txn_ops = 128; // etcd's --max-txn-ops
  caf::timespan timeout = std::chrono::duration_cast<caf::timespan>(std::chrono::seconds{5});
  /// The leader's lease: how long a dead or cut-off leader keeps leadership.
  /// etcd grants no less than 1.5 election timeouts (2 s with its defaults).
  std::chrono::seconds leader_ttl{2};
};

struct store_config {
  store_backend backend = store_backend::lmdb;
  std::string dir;                       // lmdb: empty means DATA_DIR/store
  uint64_t map_size = uint64_t{1} << 30; // LMDB map size in bytes
  etcd_config etcd;
};

/// Reads "lmdb:DIR" or "etcd://HOST:PORT[,HOST:PORT...]" (what --store and
/// store.url take) into `out`; returns what is wrong with it, or empty.
std::string parse_store_url(const std::string& text, store_config& out);

struct daemon_config {
  std::string data_dir = ".tutti";
  endpoint api{"127.0.0.1", 7700};
  endpoint metrics{"127.0.0.1", 9770};
  /// The web dashboard (dev and control); nullopt: off (`ui: off`).
  std::optional<endpoint> ui = endpoint{"127.0.0.1", 7780};
  /// Set when `ui` was given: its address taken is then an error, where the
  /// default's only leaves the dashboard off.
  bool ui_required = false;
  node_config node;
  supervision_config supervision;
  mesh_config mesh;
  process_config process;
  docker_config docker;
  containerd_config containerd;
  cluster_config cluster;
  store_config store;
  protocol::api_limits limits; // what one client may ask at once
  access_config access;
  secrets_config secrets;
  bool stop_replicas_on_exit = false;
  /// --enable-chaos: the admin RPC may kill any actor by path (for chaos tests).
  bool enable_chaos = false;
  std::string log_level = "info";
};

struct daemon_config_result {
  daemon_config config;
  std::vector<protocol::spec_error> errors;
  bool ok() const { return errors.empty(); }
};

/// Parses a daemon config file's text over the defaults. Unknown keys, wrong types
/// and out-of-range values are errors with line and column.
daemon_config_result parse_daemon_config(const std::string& text, const std::string& file);

/// Reads `path`; a missing or unreadable file is an error naming it.
daemon_config_result load_daemon_config(const std::string& path);

/// "HOST:PORT,HOST:PORT" (what parse_endpoints reads back).
std::string to_string(const std::vector<endpoint>& xs);

/// "HOST:PORT[,HOST:PORT...]" -> endpoints; nullopt when one is malformed.
std::optional<std::vector<endpoint>> parse_endpoints(const std::string& text);

/// "127.0.0.1:7700" -> endpoint; nullopt when malformed (port must be 0-65535).
std::optional<endpoint> parse_endpoint(const std::string& text);

/// containerd's rule for a namespace name: [A-Za-z0-9]([A-Za-z0-9._-]*), at most 76.
bool valid_containerd_namespace(const std::string& text);

} // namespace tutti::config
