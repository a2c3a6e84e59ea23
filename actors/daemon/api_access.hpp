#pragma once

// How a control process serves its client API, from its config: the
// bootstrap admin token (a file made at first start, mode 0600, like a
// kubeconfig's first credential), and TLS (its certificate and key, the CA of
// users' client certificates) or, on loopback only, plain TCP.

#include "access/secret_box.hpp"
#include "actors/api/api_server.hpp"
#include "config/daemon_config.hpp"

#include <caf/expected.hpp>

#include <optional>
#include <string>

namespace tutti::actors {

/// Where `tuttid dev` also serves the API: DATA_DIR/api.sock.
std::string unix_socket_path(const config::daemon_config& cfg);

/// The admin token file of `cfg`: access.admin_token_file, or DATA_DIR/admin.token.
std::string admin_token_path(const config::daemon_config& cfg);

/// The token in `path`, made (32 random bytes, mode 0600) when the file is
/// absent. Fails naming the file when it cannot be read or made, is empty, or
/// can be read by others than its owner.
caf::expected<std::string> load_or_make_admin_token(const std::string& path);

/// The API's transport and credentials per `cfg`: TLS when a certificate is
/// configured (access.certificate, else cluster.tls's), else plain TCP, which
/// needs a loopback API address (and for `tuttid control` access.plaintext).
/// `dev` is true for `tuttid dev`, which also serves the unix socket. Fills
/// opts.tokens, opts.tls, opts.unix_socket and, with cluster.tls.ca_key,
/// opts.joins.
caf::error configure_api_access(const config::daemon_config& cfg, bool dev,
                                api_server::options& opts);

/// The key that seals Secret objects in the store: secrets.key_file's, else
/// for `tuttid dev` DATA_DIR/secrets.key (made at first start, mode 0600);
/// none for `tuttid control` without a key file (Secret objects are refused).
caf::expected<std::optional<access::secret_box>> load_secrets_key(const config::daemon_config& cfg,
                                                                  bool dev);

/// One line for the log at start: how the API is served and to whom.
std::string describe_api_access(const config::daemon_config& cfg, const api_server::options& opts);

} // namespace tutti::actors
