#pragma once

// The Cap'n Proto RPC edge of the control plane. It runs a KJ event loop on a
// thread of its own; each call crosses into CAF as a request to the cluster actor
// and its answer returns through a KJ cross-thread fulfiller, so neither side
// blocks the other. Cap'n Proto readers and builders stay in this file's .cpp.
//
// Every connection's bootstrap capability is a gate: a client proves who it is
// (a bearer token, or its TLS client certificate) and gets a session that
// allows what its role allows (access/authorizer.hpp); mutating and refused
// calls go to the audit log in the store.

#include "access/token_book.hpp"
#include "actors/api/node_joins.hpp"
#include "actors/interfaces.hpp"
#include "protocol/limits.hpp"

#include <caf/expected.hpp>

#include <functional>

#include <memory>
#include <optional>
#include <string>

namespace tutti::metrics {
class recorder;
}

namespace tutti::actors {

class api_server {
public:
  /// PEM texts of the API's TLS (read once at startup).
  struct tls_pem {
    std::string certificate;
    std::string key;
    std::string client_ca; // empty: no client certificates, tokens only
  };

  struct options {
    std::string host = "127.0.0.1";
    uint16_t port = 7700; // 0 picks a free one
    std::string node_name;
    std::string version;
    caf::timespan call_timeout =
        std::chrono::duration_cast<caf::timespan>(std::chrono::seconds{30});
    protocol::api_limits limits; // what one client may ask at once
    /// What this control process is, asked on each `version` call (from the
    /// KJ thread); empty: single.
    std::function<protocol::role_report()> role;
    /// The credentials accepted (never null; shared with whoever else serves
    /// the same cluster's API in this process).
    std::shared_ptr<access::token_book> tokens;
    std::optional<tls_pem> tls; // nullopt: plain TCP
    /// Also serve the API on this unix socket (made mode 0600, a stale one
    /// replaced); empty: none. Its peers' uid is their identity: root and
    /// `unix_admin_uid` are admins, everyone else is refused.
    std::string unix_socket;
    uint32_t unix_admin_uid = 0;
    /// Where the store's copies wait while `tutti backup create` receives
    /// them (the data directory's backups/); empty: backups are refused.
    std::string backup_dir;
    /// The web dashboard's address (HTTPS with the API's certificate, else
    /// HTTP, which configure_api_access allows on loopback only); an empty
    /// host: no dashboard. Port 0 picks one.
    std::string ui_host;
    uint16_t ui_port = 0;
    /// When the dashboard's address is taken: true ends start() with the
    /// reason; false (the default address) leaves the dashboard off and warns.
    bool ui_required = false;
    /// Signs the certificates of hosts that join with the cluster's token
    /// (`tutti cluster join`); null: joins are refused.
    std::shared_ptr<const join_authority> joins;
  };

  api_server(caf::actor_system& sys, options opts, metrics::recorder& metrics);
  ~api_server(); // stops the thread; calls in flight fail at the client
  api_server(const api_server&) = delete;
  api_server& operator=(const api_server&) = delete;

  /// Binds and starts serving. Fails with a message naming the address when the
  /// port is taken or the address is not local.
  caf::expected<uint16_t> start();

  /// The dashboard's URL once started (http[s]://HOST:PORT/ui/); empty when off.
  std::string dashboard_url() const;

  /// Points the server at the admin actor that answers the tree and chaos calls.
  void set_admin(supervising_actor admin);
  /// The reporter of `tutti get controllers`.
  void set_controllers(controllers_actor controllers);

  /// The store actor (after each of its restarts): tokens and the audit log.
  void set_store(store_actor store);

  /// Points the server at the live cluster actor (thread-safe; called after each
  /// restart of the cluster actor).
  void set_cluster(cluster_actor cluster);

  void stop();

private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

} // namespace tutti::actors
