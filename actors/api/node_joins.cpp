#include "actors/api/node_joins.hpp"

#include "access/tokens.hpp"
#include "config/daemon_config.hpp"
#include "protocol/errors.hpp"

#include <fstream>
#include <sstream>

namespace tutti::actors {

namespace {

namespace p = tutti::protocol;

constexpr int node_certificate_days = 365;

caf::expected<std::string> read_pem(const std::string& path, const char* what) {
  std::ifstream in{path};
  std::stringstream text;
  text << in.rdbuf();
  if (!in || text.str().empty())
    return p::make_error(p::error_code::invalid_argument,
                         std::string{what} + " '" + path + "' cannot be read; check the path "
                         "and that tuttid's user may read it");
  return text.str();
}

} // namespace

caf::expected<join_authority> load_join_authority(const std::string& token,
                                                  const std::string& ca_file,
                                                  const std::string& ca_key_file,
                                                  const std::string& join) {
  auto cert = read_pem(ca_file, "the cluster CA (cluster.tls.ca)");
  if (!cert)
    return std::move(cert.error());
  auto key = read_pem(ca_key_file, "the cluster CA's key (cluster.tls.ca_key)");
  if (!key)
    return std::move(key.error());
  join_authority out{token, {*cert, *key}, {}, join};
  // A trial signature proves the key is the CA's before any host asks.
  auto trial = access::make_certificate(out.ca, {"trial", {}, {}, 1});
  auto pin = access::certificate_sha256(*cert);
  if (!trial || !pin)
    return p::make_error(p::error_code::invalid_argument,
                         "cluster.tls.ca_key '" + ca_key_file + "' cannot sign for the CA '" +
                             ca_file + "': " + p::message_of(trial ? pin.error() : trial.error()));
  out.ca_sha256 = *pin;
  return out;
}

caf::expected<std::string> sign_join(const join_authority& authority, const std::string& token,
                                     const std::string& node, const std::string& csr) {
  if (authority.token.empty() || !access::same_digest(token, authority.token))
    return p::make_error(p::error_code::unauthenticated,
                         "the join token is not this cluster's; print the join command again "
                         "with `tutti cluster join-command`");
  if (!config::valid_node_name(node))
    return p::make_error(p::error_code::invalid_argument,
                         "invalid node name '" + node +
                             "': use 1-63 of [A-Za-z0-9._-], starting with a letter or digit");
  return access::sign_request(authority.ca, csr, {node, {}, {}, node_certificate_days});
}

} // namespace tutti::actors
