#include "actors/daemon/api_access.hpp"

#include "access/tokens.hpp"
#include "protocol/errors.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <arpa/inet.h>

#include <spdlog/spdlog.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

namespace tutti::actors {

namespace p = tutti::protocol;

namespace {

caf::error file_error(const std::string& path, const std::string& what) {
  return p::make_error(p::error_code::invalid_argument, path + ": " + what);
}

caf::expected<std::string> read_pem(const std::string& path, const char* what) {
  std::ifstream in{path, std::ios::binary};
  if (!in)
    return file_error(path, std::string{"cannot read the API's "} + what + ": " +
                                std::strerror(errno));
  std::ostringstream text;
  text << in.rdbuf();
  if (text.str().find("-----BEGIN") == std::string::npos)
    return file_error(path, std::string{"the API's "} + what + " is not a PEM file");
  return text.str();
}

bool is_loopback(const std::string& host) {
  if (host == "localhost" || host == "::1")
    return true;
  in_addr a{};
  return inet_pton(AF_INET, host.c_str(), &a) == 1 && (ntohl(a.s_addr) >> 24) == 127;
}

std::string trimmed(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ' || s.back() == '\t'))
    s.pop_back();
  return s;
}

/// `tuttid dev` also serves DATA_DIR/api.sock, whose peers are who the kernel
/// says: root and the data directory's owner are admins.
void serve_unix_socket(const config::daemon_config& cfg, api_server::options& opts) {
  auto path = unix_socket_path(cfg);
  struct stat st {};
  if (path.size() > 107 || ::stat(cfg.data_dir.c_str(), &st) != 0) {
    spdlog::warn("the API is not served on a unix socket: {} is longer than a socket path may "
                 "be (107 bytes), or the data directory cannot be read",
                 path);
    return;
  }
  opts.unix_socket = path;
  opts.unix_admin_uid = st.st_uid;
}

} // namespace

std::string unix_socket_path(const config::daemon_config& cfg) {
  return cfg.data_dir + "/api.sock";
}

std::string admin_token_path(const config::daemon_config& cfg) {
  return cfg.access.admin_token_file.empty() ? cfg.data_dir + "/admin.token"
                                             : cfg.access.admin_token_file;
}

caf::expected<std::string> load_or_make_admin_token(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) == 0) {
    if ((st.st_mode & (S_IRWXG | S_IRWXO)) != 0)
      return file_error(path, "the admin token can be read by others than its owner; "
                              "chmod 600 it, or remove it to make a new one");
    std::ifstream in{path, std::ios::binary};
    std::ostringstream text;
    text << in.rdbuf();
    if (!in)
      return file_error(path, std::string{"cannot read the admin token: "} + std::strerror(errno));
    auto token = trimmed(text.str());
    if (token.empty())
      return file_error(path, "the admin token file is empty; remove it to make a new one");
    return token;
  }
  auto secret = access::new_secret();
  if (!secret)
    return secret.error();
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0)
    return file_error(path, std::string{"cannot make the admin token file: "} +
                                std::strerror(errno) + "; is the data directory writable?");
  auto line = *secret + "\n";
  bool written = ::write(fd, line.data(), line.size()) == static_cast<ssize_t>(line.size());
  bool synced = ::fsync(fd) == 0;
  ::close(fd);
  if (!written || !synced) {
    ::unlink(path.c_str());
    return file_error(path, "cannot write the admin token file (disk full?)");
  }
  return *secret;
}

caf::error configure_api_access(const config::daemon_config& cfg, bool dev,
                                api_server::options& opts) {
  auto token = load_or_make_admin_token(admin_token_path(cfg));
  if (!token)
    return token.error();
  opts.tokens = std::make_shared<access::token_book>();
  opts.tokens->set_admin_digest(access::sha256_hex(*token));
  if (dev)
    serve_unix_socket(cfg, opts);
  if (!cfg.cluster.tls.ca_key.empty()) {
    auto joins = load_join_authority(cfg.cluster.join_token, cfg.cluster.tls.ca,
                                     cfg.cluster.tls.ca_key, cfg.cluster.listen.to_string());
    if (!joins)
      return joins.error();
    opts.joins = std::make_shared<const join_authority>(std::move(*joins));
  }
  const auto& a = cfg.access;
  auto cert_path = a.certificate.empty() ? cfg.cluster.tls.certificate : a.certificate;
  auto key_path = a.key.empty() ? cfg.cluster.tls.key : a.key;
  if (cert_path.empty() != key_path.empty())
    return p::make_error(p::error_code::invalid_argument,
                         "the API needs both a certificate and its key (access.certificate and "
                         "access.key, or --api-cert and --api-key)");
  if (cert_path.empty() || a.plaintext) {
    if (cfg.ui && !is_loopback(cfg.ui->host))
      return p::make_error(p::error_code::invalid_argument,
                           "the dashboard on " + cfg.ui->to_string() +
                               " would be plain HTTP: give the API a certificate (the dashboard "
                               "then serves HTTPS with it), or serve it on a loopback address "
                               "(--ui 127.0.0.1:7780)");
    if (!a.client_ca.empty())
      return p::make_error(p::error_code::invalid_argument,
                           "access.client_ca needs TLS: give the API a certificate and key");
    if (!is_loopback(cfg.api.host))
      return p::make_error(p::error_code::invalid_argument,
                           "the API on " + cfg.api.host +
                               " would be plain TCP: give it a certificate and key "
                               "(--api-cert/--api-key or the cluster's TLS), or serve it on a "
                               "loopback address");
    if (!dev && !a.plaintext)
      return p::make_error(p::error_code::invalid_argument,
                           "tuttid control serves its API over TLS: give it a certificate and "
                           "key (--api-cert/--api-key, or --tls-cert/--tls-key for the cluster), "
                           "or --api-plaintext to serve plain TCP on loopback");
    return {};
  }
  api_server::tls_pem pem;
  auto cert = read_pem(cert_path, "certificate");
  if (!cert)
    return cert.error();
  auto key = read_pem(key_path, "key");
  if (!key)
    return key.error();
  pem.certificate = std::move(*cert);
  pem.key = std::move(*key);
  if (!a.client_ca.empty()) {
    auto ca = read_pem(a.client_ca, "client CA");
    if (!ca)
      return ca.error();
    if (!cfg.cluster.tls.ca.empty()) {
      auto cluster_ca = read_pem(cfg.cluster.tls.ca, "cluster CA");
      if (cluster_ca && *cluster_ca == *ca)
        return p::make_error(p::error_code::invalid_argument,
                             a.client_ca +
                                 ": the client CA is the cluster CA, so every node's certificate "
                                 "would be a user's; sign users' certificates with a CA of their own");
    }
    pem.client_ca = std::move(*ca);
  }
  opts.tls = std::move(pem);
  return {};
}

std::string describe_api_access(const config::daemon_config& cfg, const api_server::options& opts) {
  auto token = admin_token_path(cfg);
  if (!opts.unix_socket.empty())
    token += "; root and uid " + std::to_string(opts.unix_admin_uid) + " are admins on unix:" +
             opts.unix_socket;
  if (!opts.tls)
    return "the API is plain TCP on " + cfg.api.host +
           " (loopback): clients authenticate with tokens; the admin token is in " + token;
  return std::string{"the API is TLS: clients authenticate with tokens"} +
         (opts.tls->client_ca.empty() ? "" : " or client certificates of " + cfg.access.client_ca) +
         "; the admin token is in " + token;
}

caf::expected<std::optional<access::secret_box>> load_secrets_key(const config::daemon_config& cfg,
                                                                  bool dev) {
  if (!cfg.secrets.key_file.empty()) {
    auto box = access::secret_box::from_file(cfg.secrets.key_file);
    if (!box)
      return std::move(box.error());
    return std::optional<access::secret_box>{std::move(*box)};
  }
  if (!dev)
    return std::optional<access::secret_box>{};
  auto path = cfg.data_dir + "/secrets.key";
  if (::access(path.c_str(), F_OK) == 0) {
    auto box = access::secret_box::from_file(path);
    if (!box)
      return std::move(box.error());
    return std::optional<access::secret_box>{std::move(*box)};
  }
  auto box = access::secret_box::create_file(path);
  if (!box)
    return std::move(box.error());
  return std::optional<access::secret_box>{std::move(*box)};
}

} // namespace tutti::actors
