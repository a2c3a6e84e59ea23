#pragma once

// A blocking client of tuttid's Cap'n Proto API (protocol/api.capnp). Each call runs
// a KJ event loop owned by the client on the calling thread until the answer comes
// or the timeout passes, and returns protocol values or a client_error; it never
// throws for network or server failures. One client per thread: KJ allows a single
// event loop per thread, and the client must be used on the thread that made it.

#include "protocol/access.hpp"
#include "protocol/messages.hpp"
#include "protocol/status.hpp"
#include "tools/tutti/result.hpp"

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace tutti::cli {

struct client_tls;

struct server_version {
  std::string version;
  std::string node;
  protocol::role_report role; // single from a tuttid that does not say
  std::string dashboard;      // the web dashboard's URL; empty when it is off
};

/// How a client proves who it is and checks whom it talks to (docs/security.md).
struct credentials {
  std::string token;     // a bearer token's secret; empty: none
  std::string ca_file;   // PEM of the CA that signed tuttid's API certificate; set: TLS
  std::string cert_file; // PEM client certificate (with key_file), for TLS
  std::string key_file;
  /// The name tuttid's certificate must hold; empty: the host of the address.
  std::string server_name;

  /// From the environment, as `tutti` reads it when no flag says otherwise:
  /// TUTTI_TOKEN, else the file named by TUTTI_TOKEN_FILE, else
  /// ./.tutti/admin.token when present (not when TUTTI_TOKEN_FILE is set but
  /// empty); TUTTI_CA, TUTTI_CERT, TUTTI_KEY,
  /// TUTTI_SERVER_NAME. An error names a token file that cannot be read.
  static result<credentials> from_environment();

  /// The first line of `path` as the token; an error naming the file.
  static result<std::string> read_token_file(const std::string& path);
};

struct backup_taken {
  uint64_t bytes = 0;
  std::string sha256; // hex, as tuttid computed it and the client checked
};

/// What the control plane gives a host that joins.
struct join_answer {
  std::string certificate; // PEM, signed by the cluster CA
  std::string ca;          // PEM
  std::string join;        // HOST:PORT where node agents join
};

/// The cluster's join token and the pin of its CA, for `tutti cluster join-command`.
struct join_secret {
  std::string token;
  std::string ca_sha256;
};

struct log_tail {
  std::string replica; // which replica the text came from
  std::string text;
};

class client {
public:
  /// Receives each batch that tuttid pushes during follow(); returns false to stop
  /// following (e.g. stdout was closed).
  using event_handler = std::function<bool(const std::vector<protocol::event>&)>;
  /// Receives a service's endpoint set each time it changes; false stops.
  using endpoints_handler = std::function<bool(const protocol::service_endpoints&)>;

  /// Connects to `api` (`HOST:PORT`). Fails with client_code::unreachable and a
  /// message telling the user what to check. `timeout` bounds the connect and every
  /// later call except follow(). Without `session`, it asks the gate for no
  /// session (a joining host has no credential yet: join_cluster only).
  static result<std::unique_ptr<client>> connect(const std::string& api,
                                                 std::chrono::milliseconds timeout,
                                                 const credentials& creds, bool session = true);

  /// Of several addresses (the control processes of an etcd store), the
  /// leader's: the first that answers and does not stand by; a standby (it
  /// reads what is stored and names the leader for the rest) when no leader
  /// answers. One address: connect().
  static result<std::unique_ptr<client>> connect_any(const std::vector<std::string>& apis,
                                                     std::chrono::milliseconds timeout,
                                                     const credentials& creds);

  ~client();
  client(const client&) = delete;
  client& operator=(const client&) = delete;

  result<server_version> version();
  /// `errors` of the result is not empty when tuttid refused the input (and
  /// stored nothing); that is not a client_error.
  /// `name_space`: documents without one go there, and one naming another is
  /// refused; empty: each document's own (default when it names none).
  result<protocol::apply_result> apply(const std::string& file_name, const std::string& source,
                                       bool dry_run, const std::string& name_space = {});
  result<std::vector<protocol::service_status>> get_services();
  /// All replicas, or those of `service` when not empty.
  result<std::vector<protocol::replica_status>> get_replicas(const std::string& service);
  result<std::vector<protocol::node_status>> get_nodes();
  /// Sets a node's scheduling state (ready, cordoned or draining); the node as
  /// placement sees it afterwards.
  result<protocol::node_status> set_node_state(const std::string& node, protocol::node_state state);
  result<protocol::service_detail> describe_service(const std::string& service,
                                                    uint32_t event_limit);
  /// The revision that the new replica count was committed as.
  result<int64_t> scale(const std::string& service, int32_t replicas);
  result<protocol::rollout_status> rollout_status(const std::string& service);
  result<std::vector<protocol::spec_record>> rollout_history(const std::string& service);
  result<int64_t> rollout_undo(const std::string& service, int64_t to_revision);
  result<done> delete_service(const std::string& service);
  /// The live supervision tree, sorted by path.
  result<std::vector<protocol::actor_info>> tree();
  /// Who this client's session acts for.
  result<protocol::identity> whoami();
  /// A new bearer token (ttl 0: it does not expire): its secret, shown once, and
  /// what is stored of it.
  result<std::pair<std::string, protocol::token_record>>
  create_token(const std::string& name, protocol::access_role role, std::chrono::milliseconds ttl,
               const std::string& name_space = {});
  result<done> revoke_token(const std::string& name);
  result<std::vector<protocol::token_record>> list_tokens();
  /// Audit records after the one with id `after` (all when empty), oldest first.
  result<std::vector<protocol::audit_record>> audit(const std::string& after, uint32_t limit);
  /// The control processes (several on an etcd store) and the store's health.
  result<protocol::controllers_report> get_controllers();
  /// Ends the actor at `path` (chaos); answers with the path that was killed.
  result<std::string> kill_actor(const std::string& path, const std::string& reason);
  /// Stored events with seq > after (of `service` when not empty), oldest first.
  result<std::vector<protocol::event>> events(uint64_t after, uint32_t limit,
                                              const std::string& service);
  /// Blocks while tuttid streams events with seq > after to `on_events` (on this
  /// thread). Ends with done when `on_events` returns false or, if
  /// `stop_on_interrupt`, on SIGINT; otherwise with the error that ended the stream
  /// (client_code::disconnected when the connection was lost). `stop_on_interrupt`
  /// captures SIGINT process-wide, so only a single-threaded program may set it.
  result<done> follow(uint64_t after, const std::string& service, event_handler on_events,
                      bool stop_on_interrupt);
  /// The tail of a replica's output; slot -1 means the lowest slot.
  /// `container`: one of a replica's several; empty: its only one, or each one's end.
  result<log_tail> logs(const std::string& service, int32_t slot, uint32_t max_bytes,
                        const std::string& container = {});
  /// Receives how many bytes of an upload tuttid took so far, of how many.
  using progress_handler = std::function<void(uint64_t sent, uint64_t total)>;
  /// Sends the image archive at `path` (docker save or OCI layout) to node
  /// `node`, whose `driver` loads it; the images it holds. Sending may take
  /// long: each piece has the client's timeout, the load half an hour.
  result<std::vector<std::string>> import_image(const std::string& path, const std::string& node,
                                                protocol::driver_kind driver,
                                                const progress_handler& progress);
  /// Receives a backup of the store into the file at `path` (created or
  /// replaced, mode 0600; removed again when the backup fails). Checks the
  /// SHA-256 tuttid names against what arrived. `progress` hears the bytes so
  /// far (total 0: unknown).
  result<backup_taken> backup(const std::string& path, const progress_handler& progress);
  /// Asks the gate to sign `csr` for node `node`, proving the cluster's join
  /// token (no session needed).
  result<join_answer> join_cluster(const std::string& token, const std::string& node,
                                   const std::string& csr);
  /// The join token and the CA's pin (admins only).
  result<join_secret> get_join_secret();
  /// The versions of configs or secrets: of namespace `ns` (every visible one
  /// when empty), of `name` (qualified) only when set, with a config's data
  /// when `with_data`.
  result<std::vector<protocol::object_info>> list_objects(protocol::object_kind kind,
                                                          const std::string& ns,
                                                          const std::string& name,
                                                          bool with_data = false);
  /// Removes every version of a config or secret (qualified name).
  result<done> remove_object(protocol::object_kind kind, const std::string& name);
  /// The persistent volumes of every connected node.
  result<std::vector<protocol::volume_info>> list_volumes();
  /// Removes a persistent volume (with its data) from a node.
  result<done> remove_volume(const std::string& node, const std::string& replica,
                             const std::string& volume);
  /// The endpoint sets of `service`, or of every service when empty.
  result<std::vector<protocol::service_endpoints>> get_endpoints(const std::string& service);
  /// Blocks while tuttid pushes the endpoint sets of `service` (every service
  /// when empty): first as they are, then on each change. Ends as follow() does.
  result<done> watch_endpoints(const std::string& service, endpoints_handler on_change,
                               bool stop_on_interrupt);

private:
  struct impl;
  explicit client(std::unique_ptr<impl> state);
  std::unique_ptr<impl> impl_;
};

} // namespace tutti::cli
