// tutti cluster init|join-command|join: a cluster from nothing to running
// hosts, without a page of openssl commands.

#include "tools/tutti/command_support.hpp"
#include "tools/tutti/client_config.hpp"
#include "tools/tutti/commands.hpp"
#include "tools/tutti/join_client.hpp"
#include "tools/tutti/output.hpp"
#include "tools/tutti/views.hpp"

#include "access/certificates.hpp"
#include "access/tokens.hpp"
#include "protocol/errors.hpp"

#include <yaml-cpp/yaml.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <filesystem>

#include <fcntl.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

namespace tutti::cli {

using json = json_value;

namespace {

namespace fs = std::filesystem;

constexpr int ca_days = 3650;
constexpr int control_days = 825;

/// Who owns the files tuttid reads: its service user (the packages' `tutti`)
/// for the control plane, else whoever runs the command.
struct owner {
  uid_t uid = ::geteuid();
  gid_t gid = ::getegid();
  std::string name;
};

result<owner> owner_named(const std::string& name) {
  if (name.empty()) {
    if (auto* pw = ::getpwnam("tutti"))
      return owner{pw->pw_uid, pw->pw_gid, "tutti"};
    auto* me = ::getpwuid(::geteuid());
    return owner{::geteuid(), ::getegid(), me ? me->pw_name : std::to_string(::geteuid())};
  }
  auto* pw = ::getpwnam(name.c_str());
  if (!pw)
    return client_error{client_code::invalid_argument, "--owner " + name + ": no such user"};
  return owner{pw->pw_uid, pw->pw_gid, name};
}

std::string host_name() {
  char buf[256] = {};
  ::gethostname(buf, sizeof buf - 1);
  return buf;
}

std::string today() {
  auto now = std::time(nullptr);
  std::tm utc{};
  gmtime_r(&now, &utc);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%d", &utc);
  return text;
}

/// Writes `text` to `path` at once (a temporary file renamed), with `mode`,
/// owned by `who` when root runs this.
result<done> write_file(const std::string& path, const std::string& text, mode_t mode,
                        const owner& who) {
  auto fail = [&path](const std::string& why) {
    return client_error{client_code::invalid_argument, "cannot write " + path + ": " + why};
  };
  std::error_code ec;
  fs::create_directories(fs::path{path}.parent_path(), ec);
  if (ec)
    return fail(ec.message());
  // A new file of our own: a link or file left at the temporary name (by the
  // user the files are for, say) is removed, never followed.
  auto temp = path + ".new";
  ::unlink(temp.c_str());
  int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
  if (fd < 0)
    return fail(std::strerror(errno));
  bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()) &&
            ::fchmod(fd, mode) == 0 && ::fsync(fd) == 0;
  if (ok && ::geteuid() == 0)
    ok = ::fchown(fd, who.uid, who.gid) == 0;
  auto why = std::string{std::strerror(errno)};
  ::close(fd);
  if (!ok || ::rename(temp.c_str(), path.c_str()) != 0) {
    ::unlink(temp.c_str());
    return fail(ok ? std::strerror(errno) : why);
  }
  return done{};
}

result<done> make_dir(const std::string& dir, const owner& who) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (!ec)
    fs::permissions(dir, fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec, ec);
  if (ec)
    return client_error{client_code::invalid_argument, "cannot make " + dir + ": " + ec.message()};
  if (::geteuid() == 0 && ::lchown(dir.c_str(), who.uid, who.gid) != 0)
    return client_error{client_code::invalid_argument,
                        "cannot give " + dir + " to " + who.name + ": " + std::strerror(errno)};
  return done{};
}

std::string first_line(const std::string& text) {
  return text.substr(0, text.find('\n'));
}

std::string yaml_text(const YAML::Node& config, const std::string& header) {
  YAML::Emitter out;
  out << config;
  return header + out.c_str() + "\n";
}

/// Keeps a config that is there (the packages' default, or an earlier one).
result<done> keep_old(const std::string& path, std::string& kept) {
  std::error_code ec;
  if (!fs::exists(path, ec))
    return done{};
  kept = path + ".before-" + today();
  fs::rename(path, kept, ec);
  if (ec)
    return client_error{client_code::invalid_argument,
                        "cannot move " + path + " aside: " + ec.message()};
  return done{};
}

YAML::Node tls_node(const std::string& tls, const std::string& name) {
  YAML::Node x;
  x["certificate"] = tls + "/" + name + ".crt";
  x["key"] = tls + "/" + name + ".key";
  x["ca"] = tls + "/ca.crt";
  return x;
}

template <class T> result<T> checked(caf::expected<T> x) {
  if (!x)
    return client_error{client_code::invalid_argument, protocol::message_of(x.error())};
  return std::move(*x);
}

// -- init -------------------------------------------------------------------------

struct init_files {
  std::string tls;
  std::string config;
  std::string admin_token;
  std::string kept_config;
};

result<done> write_certificates(const cluster_options& o, const std::string& name,
                                const owner& who, const std::string& tls) {
  auto ca = checked(access::make_ca("tutti cluster CA", ca_days));
  if (!ca)
    return ca.error();
  auto control = checked(access::make_certificate(
      *ca, {name, {}, {o.address, "127.0.0.1", "localhost", host_name()}, control_days}));
  if (!control)
    return control.error();
  const owner root{};
  // The control certificate carries the CA after it: a joining host sees
  // the CA in the handshake and checks it against its pin.
  struct file {
    const char* name;
    std::string text;
    mode_t mode;
    const owner* holder;
  };
  const file files[] = {{"ca.crt", ca->certificate, 0644, &root},
                        {"ca.key", ca->key, 0600, &who},
                        {"control.crt", control->certificate + ca->certificate, 0644, &root},
                        {"control.key", control->key, 0600, &who}};
  for (const auto& f : files) {
    auto written = write_file(tls + "/" + f.name, f.text, f.mode, *f.holder);
    if (!written)
      return written.error();
  }
  return done{};
}

std::string control_config(const cluster_options& o, const std::string& name,
                           const std::string& tls, const std::string& join_token) {
  YAML::Node config;
  config["data_dir"] = o.data_dir;
  config["api"] = o.address + ":" + std::to_string(o.api_port);
  config["metrics"] = "127.0.0.1:9770";
  config["node"]["name"] = name;
  config["cluster"]["listen"] = o.address + ":" + std::to_string(o.cluster_port);
  config["cluster"]["join_token"] = join_token;
  auto tls_config = tls_node(tls, "control");
  tls_config["ca_key"] = tls + "/ca.key";
  config["cluster"]["tls"] = tls_config;
  config["log_level"] = "info";
  return yaml_text(config, "# Written by `tutti cluster init` on " + today() +
                               ": the control plane " + name + " (docs/operations.md).\n");
}

/// The admin token tuttid control reads at start (DATA/admin.token): the one
/// there (a regular file, never a link), or a new one.
result<std::string> admin_token(const std::string& path, const owner& who) {
  int fd = ::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  if (fd >= 0) {
    struct stat st {};
    char buf[512] = {};
    bool regular = ::fstat(fd, &st) == 0 && S_ISREG(st.st_mode);
    auto n = regular ? ::read(fd, buf, sizeof buf - 1) : -1;
    // tuttid control reads it as its own user (a `tuttid dev` of root may have made it).
    bool owned = ::geteuid() != 0 || ::fchown(fd, who.uid, who.gid) == 0;
    ::close(fd);
    auto there = n > 0 ? first_line(std::string(buf, static_cast<size_t>(n))) : std::string{};
    if (!regular || !owned)
      return client_error{client_code::invalid_argument,
                          path + " is not a token file tutti can take over; move it away"};
    if (!there.empty())
      return there;
  }
  auto secret = checked(access::new_secret());
  if (!secret)
    return secret.error();
  auto written = write_file(path, *secret + "\n", 0600, who);
  if (!written)
    return written.error();
  return *secret;
}

int init(const global_options& g, const streams& io, const cluster_options& o) {
  if (o.address.empty())
    return report(io, {client_code::invalid_argument, "--address is required"},
                  "give the address other hosts reach this one at, e.g. --address 10.0.0.10");
  auto name = o.name.empty() ? host_name() : o.name;
  auto tls = o.config_dir + "/tls";
  std::error_code ec;
  if (!o.force && fs::exists(tls + "/ca.key", ec))
    return report(io, {client_code::invalid_argument,
                       "a cluster was initialised here already (" + tls + "/ca.key exists)"},
                  "`tutti cluster join-command` prints how hosts join it; --force makes a new "
                  "cluster (every host must join again)");
  auto who = owner_named(o.owner);
  if (!who)
    return report(io, who.error());
  std::string kept;
  auto config_path = o.config_dir + "/tuttid.yaml";
  result<done> step = make_dir(o.data_dir, *who);
  if (step)
    step = write_certificates(o, name, *who, tls);
  auto join_token = checked(access::new_secret());
  if (!join_token)
    return report(io, join_token.error());
  auto secret = step ? admin_token(o.data_dir + "/admin.token", *who) : step.error();
  if (!secret)
    return report(io, secret.error());
  step = keep_old(config_path, kept);
  if (step)
    step = write_file(config_path, control_config(o, name, tls, *join_token), 0640,
                      {0, who->gid, who->name});
  if (!step)
    return report(io, step.error());
  auto client_path = client_config_path();
  auto clients = load_client_config(client_path);
  if (clients) {
    clients->put(name, {name, o.address + ":" + std::to_string(o.api_port), tls + "/ca.crt", {}},
                 {name, *secret, {}, {}, {}}, {});
    auto saved = save_client_config(client_path, *clients);
    if (!saved)
      return report(io, saved.error());
  }
  json value = {{"name", name},          {"config", config_path}, {"tls", tls},
                {"data_dir", o.data_dir}, {"client_config", client_path},
                {"kept_config", kept}};
  std::string text = "cluster initialised: the control plane " + name + " at " + o.address +
                     "\n  certificates and keys: " + tls + " (the CA's key signs joining hosts)" +
                     "\n  config: " + config_path +
                     (kept.empty() ? "" : " (the one there is kept as " + kept + ")") +
                     "\n  admin credential: context " + name + " in " + client_path +
                     "\nnext: systemctl enable --now tuttid-control (or tuttid control -c " +
                     config_path + "),\n      then `tutti cluster join-command` prints how "
                     "other hosts join\n";
  io.out << render_as(g.output, value, text);
  return exit_code::ok;
}

// -- join-command -----------------------------------------------------------------

int join_command(const global_options& g, const streams& io, const cluster_options& o) {
  auto c = connect_to_tuttid(g);
  if (!c)
    return report(io, c.error());
  auto secret = (*c)->get_join_secret();
  if (!secret)
    return report(io, secret.error());
  auto api = o.api_address.empty() ? g.api.substr(0, g.api.find(',')) : o.api_address;
  auto command = "tutti cluster join " + api + " --token " + secret->token + " --ca-sha256 " +
                 secret->ca_sha256;
  json value = {{"command", command},
                {"api", api},
                {"token", secret->token},
                {"ca_sha256", secret->ca_sha256}};
  std::string text = "# on the new host, as root (add --name NAME and --address IP when its host "
                     "name and 127.0.0.1 will not do):\n" + command + "\n";
  if (api.rfind("127.", 0) == 0 || api.rfind("localhost", 0) == 0)
    text += "# " + api + " is a loopback address: other machines need --api-address HOST:PORT\n";
  io.out << render_as(g.output, value, text);
  return exit_code::ok;
}

// -- join -------------------------------------------------------------------------

std::string node_config(const cluster_options& o, const std::string& name, const std::string& token,
                        const std::string& tls, const std::string& join) {
  YAML::Node config;
  config["data_dir"] = o.data_dir;
  config["metrics"] = "127.0.0.1:9770";
  config["node"]["name"] = name;
  if (!o.address.empty())
    config["node"]["address"] = o.address;
  config["cluster"]["join"].push_back(join);
  config["cluster"]["join_token"] = token;
  config["cluster"]["tls"] = tls_node(tls, "node");
  config["log_level"] = "info";
  return yaml_text(config, "# Written by `tutti cluster join` on " + today() + ": node " + name +
                               " of the cluster at " + o.target + " (docs/operations.md).\n");
}

/// Where node agents join: the control plane's listen address, with the host
/// the API was reached at when it listens on every address.
std::string join_address(const std::string& listen, const std::string& api) {
  auto colon = listen.rfind(':');
  auto host = listen.substr(0, colon);
  if (host != "0.0.0.0" && host != "::" && host != "[::]" && !host.empty())
    return listen;
  return api.substr(0, api.rfind(':')) + listen.substr(colon);
}

/// The join token: --token, else the first line of --token-file (which keeps
/// it out of the process list).
result<std::string> join_token(const cluster_options& o) {
  if (!o.token.empty())
    return o.token;
  if (o.token_file.empty())
    return client_error{client_code::invalid_argument,
                        "give the join token: --token or --token-file"};
  return credentials::read_token_file(o.token_file);
}

int join(const global_options& g, const streams& io, const cluster_options& o) {
  auto token = join_token(o);
  if (!token)
    return report(io, token.error(), "`tutti cluster join-command` prints it");
  auto name = o.name.empty() ? host_name() : o.name;
  auto timeout = std::chrono::milliseconds{static_cast<int64_t>(g.timeout_s * 1000)};
  auto ca = fetch_pinned_ca(o.target, o.ca_sha256, timeout);
  if (!ca)
    return report(io, ca.error());
  auto tls = o.config_dir + "/tls";
  const owner root{};
  // The CA goes in place only once the control plane signed: a refused join
  // leaves nothing behind.
  auto trusted = tls + "/ca.crt.joining";
  auto step = write_file(trusted, *ca, 0644, root);
  auto request = checked(access::make_request(name));
  if (!step || !request)
    return report(io, step ? request.error() : step.error());
  credentials creds;
  creds.ca_file = trusted;
  auto answer = [&]() -> result<join_answer> {
    auto c = client::connect(o.target, timeout, creds, false);
    if (!c)
      return c.error();
    return (*c)->join_cluster(*token, name, request->certificate);
  }();
  if (answer)
    step = write_file(tls + "/ca.crt", *ca, 0644, root);
  ::unlink(trusted.c_str());
  if (!answer)
    return report(io, answer.error(),
                  "the join token and CA pin come from `tutti cluster join-command`, run by an "
                  "admin");
  if (!step)
    return report(io, step.error());
  auto join = join_address(answer->join, o.target);
  std::string kept;
  auto config_path = o.config_dir + "/tuttid.yaml";
  step = write_file(tls + "/node.crt", answer->certificate, 0644, root);
  if (step)
    step = write_file(tls + "/node.key", request->key, 0600, root);
  if (step)
    step = keep_old(config_path, kept);
  if (step)
    step = write_file(config_path, node_config(o, name, *token, tls, join), 0600, root);
  if (!step)
    return report(io, step.error());
  json value = {{"name", name}, {"config", config_path}, {"join", join}, {"kept_config", kept}};
  std::string text = "node " + name + " has its certificate, signed by the cluster at " +
                     o.target + "\n  config: " + config_path +
                     (kept.empty() ? "" : " (the one there is kept as " + kept + ")") +
                     "\nnext: systemctl enable --now tuttid-node (or tuttid node -c " +
                     config_path + ")\n";
  io.out << render_as(g.output, value, text);
  return exit_code::ok;
}

} // namespace

int run_cluster(const global_options& g, const streams& io, const cluster_options& o) {
  switch (o.action) {
    case cluster_action::init:
      return init(g, io, o);
    case cluster_action::join_command:
      return join_command(g, io, o);
    case cluster_action::join:
      return join(g, io, o);
  }
  return exit_code::usage;
}

} // namespace tutti::cli
