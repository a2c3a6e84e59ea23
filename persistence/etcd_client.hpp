#pragma once

// A client of etcd's v3 API through its JSON gateway (POST /v3/... on the
// client URL) with libcurl: the calls a store backend needs (range, put,
// delete, transactions comparing revisions, leases). Keys and values are
// bytes; the gateway's base64 and its int64-as-string fields stay in the .cpp.
//
// Failover: a call goes to the endpoint that answered last; when it cannot be
// reached (refused, timed out) the next endpoint is tried, each at most once
// per call. An answer of etcd, success or error, ends the call.
//
// Thread-safe: calls are serialised on one curl handle (its connections stay
// open between calls).

#include <caf/expected.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <variant>
#include <vector>

namespace tutti::persistence::etcd {

struct client_options {
  std::vector<std::string> endpoints;      // "http://127.0.0.1:2379" or "https://..."
  std::chrono::milliseconds timeout{5000}; // per request and endpoint
  // TLS (https endpoints): the CA that signed etcd's certificate, and a client
  // certificate and key when etcd asks for one. Paths of PEM files.
  std::string ca;
  std::string certificate;
  std::string key;
  // etcd's own users (auth enabled): a token is asked for and renewed as needed.
  std::string user;
  std::string password;
};

struct key_value {
  std::string key;
  std::string value;
  int64_t create_revision = 0;
  int64_t mod_revision = 0;
  int64_t version = 0;
  int64_t lease = 0;
  friend bool operator==(const key_value&, const key_value&) = default;
};

struct range_result {
  int64_t revision = 0; // the store's revision the range was read at
  std::vector<key_value> kvs;
  bool more = false; // a limit cut the range short
  int64_t count = 0; // keys in the range
};

/// The end of the range of every key that starts with `prefix` (etcd's
/// convention: the prefix with its last byte below 0xFF incremented).
std::string prefix_end(const std::string& prefix);

enum class compare_target { version, create_revision, mod_revision, value, lease };
enum class compare_result { equal, greater, less, not_equal };

/// One condition of a transaction on `key` (numbers for the revision and
/// version targets, `value` for the value target).
struct compare {
  std::string key;
  compare_target target = compare_target::mod_revision;
  compare_result result = compare_result::equal;
  int64_t number = 0;
  std::string value;
};

struct put_op {
  std::string key;
  std::string value;
  int64_t lease = 0;
};

struct delete_op {
  std::string key;
  std::string range_end; // empty: the key alone
};

struct range_op {
  std::string key;
  std::string range_end; // empty: the key alone
};

using operation = std::variant<put_op, delete_op, range_op>;

struct txn_result {
  bool succeeded = false;           // every compare held: the success branch ran
  int64_t revision = 0;             // the store's revision after the transaction
  std::vector<range_result> ranges; // of the range_ops of the branch that ran, in order
};

/// What one etcd member says of itself (its maintenance status).
struct member_status {
  std::string version;
  uint64_t member_id = 0;
  uint64_t leader_id = 0; // the member etcd's raft leader is
  int64_t db_size = 0;    // bytes
};

struct lease_grant {
  int64_t id = 0;
  std::chrono::seconds ttl{0}; // as granted (etcd may raise a short one)
};

/// One change a watch reports: a key put (with its new value) or deleted.
struct watch_event {
  bool deleted = false;
  key_value kv; // of a deletion: the key and its mod_revision
};

/// Ends a watch in progress at once, from another thread (the watch's own
/// checks of `stop` come about once a second while nothing changes).
class watch_cancel {
public:
  void cancel();

  /// The client notes the watch's socket here; false when cancelled already.
  bool note(int socket);

private:
  friend class client;
  std::mutex mtx_;
  int socket_ = -1;
  bool cancelled_ = false;
};

/// What reads keys: etcd itself (client), or a copy of it kept current
/// (etcd_mirror.hpp).
class reader {
public:
  virtual ~reader() = default;

  /// Keys in [key, range_end) in key order (newest_first: from the end), at
  /// most `limit` (0: all) as of `revision` (0: the newest).
  virtual caf::expected<range_result> range(const std::string& key,
                                            const std::string& range_end = {}, int64_t limit = 0,
                                            int64_t revision = 0, bool newest_first = false) = 0;
};

class client final : public reader {
public:
  /// Checks the options (at least one endpoint, http:// or https://, TLS files
  /// readable); contacts no one.
  static caf::expected<std::unique_ptr<client>> make(client_options opts);

  ~client() override;
  client(const client&) = delete;
  client& operator=(const client&) = delete;

  caf::expected<range_result> range(const std::string& key, const std::string& range_end = {},
                                    int64_t limit = 0, int64_t revision = 0,
                                    bool newest_first = false) override;

  /// Streams the changes of [key, range_end) from `start_revision` on to
  /// `changes` (each batch with the revision it brings the keys to) until
  /// `stop` says so (none) or the stream ends or breaks (why). Runs on its own
  /// connection, beside the calls of other threads.
  caf::error watch(const std::string& key, const std::string& range_end, int64_t start_revision,
                   const std::function<void(int64_t revision, std::vector<watch_event>)>& changes,
                   const std::function<bool()>& stop, watch_cancel* cancel = nullptr);

  /// The store's revision after the put.
  caf::expected<int64_t> put(const std::string& key, const std::string& value, int64_t lease = 0);

  /// The number of keys deleted.
  caf::expected<int64_t> erase(const std::string& key, const std::string& range_end = {});

  /// At most 128 operations per branch (etcd's default --max-txn-ops).
  caf::expected<txn_result> txn(const std::vector<compare>& compares,
                                const std::vector<operation>& success,
                                const std::vector<operation>& failure = {});

  caf::expected<lease_grant> grant(std::chrono::seconds ttl);

  /// The lease's remaining TTL after renewing it; 0 when it has expired (or
  /// never existed).
  caf::expected<std::chrono::seconds> keep_alive(int64_t lease);

  caf::expected<void> revoke(int64_t lease);

  /// The status of the member at the endpoint the call reaches.
  caf::expected<member_status> status();

  /// etcd's snapshot of its whole keyspace (what `etcdctl snapshot save`
  /// writes: the database, then its SHA-256) streamed into `path`, a file it
  /// creates (mode 0600; it must not exist); its size. Removed again when the
  /// stream breaks. Runs on its own connection.
  caf::expected<uint64_t> snapshot(const std::string& path);

  /// The endpoint the next call goes to first.
  std::string endpoint() const;

  /// Ends the call in progress and fails every later one at once (not_leader,
  /// `why`): a control process that lost its leadership drops what its store
  /// still tries to write instead of waiting out the timeouts of an etcd it
  /// cannot reach. Thread-safe.
  void cancel(const std::string& why);

private:
  struct impl;
  explicit client(std::unique_ptr<impl> x);
  /// The auth token for a call on a connection of its own (a watch, a
  /// snapshot), asked for first when etcd has users.
  caf::expected<std::string> stream_token();
  std::unique_ptr<impl> impl_;
};

} // namespace tutti::persistence::etcd
