#include "config/daemon_config.hpp"

#include "config/spec_parser.hpp"
#include "config/yaml_walk.hpp"

#include <charconv>

namespace tutti::config {

namespace {

using namespace detail;
using namespace std::chrono_literals;

constexpr int64_t min_host_port = 1024; // below needs root and clashes with services
constexpr int64_t max_host_port = 65535;
constexpr int64_t max_supervision_restarts = 1000000;
constexpr caf::timespan max_supervision_window = 1h;
constexpr int64_t min_map_size = int64_t{1} << 20; // LMDB cannot hold a cluster in less

const std::vector<std::pair<std::string_view, std::string>> log_levels{
    {"trace", "trace"}, {"debug", "debug"}, {"info", "info"}, {"warn", "warn"}, {"error", "error"},
};

bool is_alnum(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

} // namespace

std::optional<std::optional<endpoint>> parse_ui(const std::string& text) {
  if (text == "off")
    return std::optional<endpoint>{};
  auto ep = parse_endpoint(text);
  if (!ep)
    return std::nullopt;
  return std::optional<endpoint>{*ep};
}

bool valid_node_name(const std::string& name) {
  constexpr size_t max_length = 63;
  if (name.empty() || name.size() > max_length || !is_alnum(name.front()))
    return false;
  for (char c : name)
    if (!is_alnum(c) && c != '.' && c != '_' && c != '-')
      return false;
  return true;
}

namespace {

// Label keys and values are what placement constraints can name.
bool valid_label_word(const std::string& text) {
  if (text.empty())
    return false;
  for (char c : text)
    if (!is_alnum(c) && c != '.' && c != '_' && c != '/' && c != '-')
      return false;
  return true;
}


std::optional<uint16_t> parse_port(std::string_view text) {
  unsigned value = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc{} || ptr != text.data() + text.size() ||
      value > max_host_port)
    return std::nullopt;
  return static_cast<uint16_t>(value);
}

void read_endpoint(map_reader& fields, std::string_view key, endpoint& out, error_sink& errors) {
  auto f = fields.take(key);
  if (!f)
    return;
  auto text = read_string(*f, errors);
  if (!text)
    return;
  if (auto parsed = parse_endpoint(*text))
    out = *parsed;
  else
    errors.add(f->mark, f->path, "expected host:port with a port of 0-65535, got '" + *text + "'");
}

/// One address, several separated by commas, or a sequence of them.
void read_endpoints(map_reader& fields, std::string_view key, std::vector<endpoint>& out,
                    error_sink& errors) {
  auto f = fields.take(key);
  if (!f)
    return;
  std::vector<std::string> texts;
  if (f->value.IsSequence()) {
    auto list = read_string_list(*f, errors);
    if (!list)
      return;
    texts = *list;
  } else if (auto text = read_string(*f, errors)) {
    texts.push_back(*text);
  } else {
    return;
  }
  std::vector<endpoint> parsed;
  for (const auto& text : texts) {
    auto eps = parse_endpoints(text);
    if (!eps) {
      errors.add(f->mark, f->path,
                 "expected host:port (or several, separated by commas) with ports of 0-65535, "
                 "got '" +
                     text + "'");
      return;
    }
    parsed.insert(parsed.end(), eps->begin(), eps->end());
  }
  if (parsed.empty()) {
    errors.add(f->mark, f->path, "expected at least one host:port");
    return;
  }
  out = std::move(parsed);
}

void read_port_range(const field& f, node_config& node, error_sink& errors) {
  auto text = read_string(f, errors);
  if (!text)
    return;
  auto dash = text->find('-');
  auto first = dash == std::string::npos ? std::nullopt : parse_port(text->substr(0, dash));
  auto last = dash == std::string::npos ? std::nullopt : parse_port(text->substr(dash + 1));
  if (!first || !last) {
    errors.add(f.mark, f.path, "expected first-last like 20000-29999, got '" + *text + "'");
    return;
  }
  if (*first < min_host_port || *first > *last) {
    errors.add(f.mark, f.path,
               "ports must be between 1024 and 65535 with first <= last, got '" + *text + "'");
    return;
  }
  node.port_range_first = *first;
  node.port_range_last = *last;
}

void read_labels(const field& f, node_config& node, error_sink& errors) {
  auto labels = read_string_map(f, valid_label_word, "label names are of [A-Za-z0-9._/-]", errors);
  if (!labels)
    return;
  map_reader fields{f, errors}; // only for the marks of bad values
  for (const auto& entry : fields.take_all()) {
    if (entry.key == "node.name")
      errors.add(entry.key_mark, entry.path, "'node.name' is reserved for the node's name");
    else if (!valid_label_word(entry.value.Scalar()))
      errors.add(entry.mark, entry.path,
                 "label values are one or more of [A-Za-z0-9._/-], got '" + entry.value.Scalar() +
                     "'");
  }
  node.labels = {labels->begin(), labels->end()};
}

void read_host_volume_paths(const field& f, node_config& node, error_sink& errors) {
  auto paths = read_string_list(f, errors);
  if (!paths)
    return;
  for (auto& path : *paths) {
    if (path.size() < 2 || path.front() != '/' || path.find("/..") != std::string::npos ||
        path.find("/./") != std::string::npos) {
      errors.add(f.mark, f.path,
                 "expected absolute paths of folders (not '/', no '.' or '..' parts), got '" +
                     path + "'");
      continue;
    }
    while (path.size() > 1 && path.back() == '/')
      path.pop_back();
    node.host_volume_paths.push_back(path);
  }
}

void read_secrets(const field& f, secrets_config& out, error_sink& errors) {
  if (!expect_map(f, "a mapping with key_file", errors))
    return;
  map_reader fields{f, errors};
  if (auto path = fields.take("key_file"))
    if (auto text = read_nonempty_string(*path, errors))
      out.key_file = *text;
  fields.finish();
}

void read_node(const field& f, node_config& node, error_sink& errors) {
  if (!expect_map(f, "a mapping with name, address, labels, cpu, memory, disk, port_range, "
                     "host_volume_paths and secrets_dir",
                  errors))
    return;
  map_reader fields{f, errors};
  if (auto name = fields.take("name")) {
    auto text = read_string(*name, errors);
    if (text && !valid_node_name(*text))
      errors.add(name->mark, name->path,
                 "invalid node name '" + *text +
                     "': use 1-63 of [A-Za-z0-9._-], starting with a letter or digit");
    else if (text)
      node.name = *text;
  }
  if (auto address = fields.take("address")) {
    auto text = read_nonempty_string(*address, errors);
    if (text && !parse_endpoint(*text + ":0"))
      errors.add(address->mark, address->path, "expected an IP address, got '" + *text + "'");
    else if (text)
      node.address = *text;
  }
  if (auto labels = fields.take("labels"))
    read_labels(*labels, node, errors);
  if (auto cpu = fields.take("cpu"))
    if (auto value = read_cpu(*cpu, errors))
      node.capacity.cpu = *value;
  if (auto memory = fields.take("memory"))
    if (auto value = read_bytes(*memory, errors))
      node.capacity.memory = *value;
  if (auto disk = fields.take("disk"))
    if (auto value = read_bytes(*disk, errors))
      node.capacity.disk = *value;
  if (auto range = fields.take("port_range"))
    read_port_range(*range, node, errors);
  if (auto paths = fields.take("host_volume_paths"))
    read_host_volume_paths(*paths, node, errors);
  if (auto dir = fields.take("secrets_dir"))
    if (auto text = read_nonempty_string(*dir, errors)) {
      if (text->front() != '/' || text->find("/..") != std::string::npos)
        errors.add(dir->mark, dir->path,
                   "expected the absolute path of a folder on a tmpfs, got '" + *text + "'");
      else
        node.secrets_dir = *text;
    }
  fields.finish();
}

void read_supervision(const field& f, supervision_config& out, error_sink& errors) {
  if (!expect_map(f, "a mapping with max_restarts and window", errors))
    return;
  map_reader fields{f, errors};
  if (auto max = fields.take("max_restarts"))
    if (auto value = read_int(*max, 0, max_supervision_restarts, errors))
      out.max_restarts = static_cast<int32_t>(*value);
  if (auto window = fields.take("window"))
    if (auto value = read_positive_duration(*window, max_supervision_window, errors))
      out.window = *value;
  fields.finish();
}

void read_etcd(const field& f, etcd_config& out, error_sink& errors) {
  if (!expect_map(f,
                  "a mapping with prefix, ca, certificate, key, user, password_file, "
                  "max_txn_ops, timeout and leader_ttl",
                  errors))
    return;
  map_reader fields{f, errors};
  if (auto prefix = fields.take("prefix")) {
    auto text = read_nonempty_string(*prefix, errors);
    if (text && text->front() != '/')
      errors.add(prefix->mark, prefix->path, "must start with '/'");
    else if (text)
      out.prefix = *text;
  }
  for (auto [key, target] : {std::pair{"ca", &out.ca}, std::pair{"certificate", &out.certificate},
                             std::pair{"key", &out.key}, std::pair{"user", &out.user},
                             std::pair{"password_file", &out.password_file}})
    if (auto path = fields.take(key))
      if (auto text = read_nonempty_string(*path, errors))
        *target = *text;
  if (auto ops = fields.take("max_txn_ops"))
    if (auto n = read_int(*ops, 8, 1000000, errors))
      out.max_txn_ops = static_cast<uint32_t>(*n);
  if (auto t = fields.take("timeout"))
    if (auto value = read_positive_duration(*t, 1min, errors))
      out.timeout = *value;
  if (auto t = fields.take("leader_ttl")) {
    auto value = read_positive_duration(*t, 1min, errors);
    if (value && *value < 1s)
      errors.add(t->mark, t->path, "must be at least 1s (etcd's leases count whole seconds)");
    else if (value)
      out.leader_ttl = std::chrono::duration_cast<std::chrono::seconds>(*value);
  }
  fields.finish();
  if (out.certificate.empty() != out.key.empty())
    errors.add(f.mark, f.path, "certificate and key go together");
}

void read_store(const field& f, daemon_config& out, error_sink& errors) {
  if (!expect_map(f, "a mapping with url, map_size and etcd", errors))
    return;
  map_reader fields{f, errors};
  if (auto url = fields.take("url"))
    if (auto text = read_nonempty_string(*url, errors))
      if (auto why = parse_store_url(*text, out.store); !why.empty())
        errors.add(url->mark, url->path, why);
  if (auto size = fields.take("map_size")) {
    auto value = read_bytes(*size, errors);
    if (value && *value < min_map_size)
      errors.add(size->mark, size->path, "must be at least 1Mi");
    else if (value)
      out.store.map_size = static_cast<uint64_t>(*value);
  }
  if (auto etcd = fields.take("etcd"))
    read_etcd(*etcd, out.store.etcd, errors);
  fields.finish();
}

/// One positive count of `limits:`, at most `max`.
void read_limit(map_reader& fields, std::string_view key, int64_t max, int32_t& out,
                error_sink& errors) {
  if (auto f = fields.take(key))
    if (auto value = read_int(*f, 1, max, errors))
      out = static_cast<int32_t>(*value);
}

/// A true/false setting, kept as it was when absent or wrong (then an error).
void read_flag(map_reader& fields, std::string_view key, bool& out, error_sink& errors) {
  if (auto f = fields.take(key))
    if (auto value = read_bool(*f, errors))
      out = *value;
}

void read_limits(const field& f, protocol::api_limits& out, error_sink& errors) {
  if (!expect_map(f,
                  "a mapping with request_bytes, documents_per_apply, services, connections, "
                  "calls_per_connection, streams_per_connection and audit_records",
                  errors))
    return;
  map_reader fields{f, errors};
  if (auto size = fields.take("request_bytes")) {
    constexpr int64_t min_request = 64 << 10;
    constexpr int64_t max_request = int64_t{512} << 20;
    auto value = read_bytes(*size, errors);
    if (value && (*value < min_request || *value > max_request))
      errors.add(size->mark, size->path, "must be between 64Ki and 512Mi");
    else if (value)
      out.request_bytes = static_cast<uint64_t>(*value);
  }
  read_limit(fields, "documents_per_apply", 100000, out.documents_per_apply, errors);
  read_limit(fields, "services", 1000000, out.services, errors);
  read_limit(fields, "connections", 1000000, out.connections, errors);
  read_limit(fields, "calls_per_connection", 100000, out.calls_per_connection, errors);
  read_limit(fields, "streams_per_connection", 10000, out.streams_per_connection, errors);
  if (auto f = fields.take("audit_records"))
    if (auto value = read_int(*f, 1000, int64_t{100000000}, errors))
      out.audit_records = *value;
  fields.finish();
}

void read_process(const field& f, process_config& out, error_sink& errors) {
  if (!expect_map(f, "a mapping with enabled", errors))
    return;
  map_reader fields{f, errors};
  read_flag(fields, "enabled", out.enabled, errors);
  fields.finish();
}

/// `socket:` of a runtime's section: a unix socket path, which fits sockaddr_un.
void read_socket_path(map_reader& fields, std::string& out, error_sink& errors) {
  auto socket = fields.take("socket");
  if (!socket)
    return;
  auto text = read_nonempty_string(*socket, errors);
  // sockaddr_un holds 108 bytes with the terminating NUL.
  constexpr size_t max_socket_path = 107;
  if (text && text->size() > max_socket_path)
    errors.add(socket->mark, socket->path,
               "a unix socket path is at most 107 bytes, got " + std::to_string(text->size()));
  else if (text)
    out = *text;
}

void read_docker(const field& f, docker_config& out, error_sink& errors) {
  if (!expect_map(f, "a mapping with enabled and socket", errors))
    return;
  map_reader fields{f, errors};
  read_flag(fields, "enabled", out.enabled, errors);
  read_socket_path(fields, out.socket, errors);
  fields.finish();
}

void read_containerd(const field& f, containerd_config& out, error_sink& errors) {
  if (!expect_map(f, "a mapping with enabled, socket and namespace", errors))
    return;
  map_reader fields{f, errors};
  read_flag(fields, "enabled", out.enabled, errors);
  read_socket_path(fields, out.socket, errors);
  if (auto ns = fields.take("namespace")) {
    auto text = read_nonempty_string(*ns, errors);
    if (text && !valid_containerd_namespace(*text))
      errors.add(ns->mark, ns->path,
                 "a containerd namespace is letters, digits, '.', '_' and '-', starting with a "
                 "letter or digit, at most 76 characters; got '" +
                     *text + "'");
    else if (text)
      out.name_space = *text;
  }
  fields.finish();
}

void read_mesh(const field& f, mesh_config& out, error_sink& errors) {
  constexpr caf::timespan max_connect_timeout = 1min;
  constexpr caf::timespan max_idle_timeout = 24h;
  if (!expect_map(f, "a mapping with host, connect_timeout and idle_timeout", errors))
    return;
  map_reader fields{f, errors};
  if (auto host = fields.take("host")) {
    auto text = read_nonempty_string(*host, errors);
    if (text && !parse_endpoint(*text + ":0"))
      errors.add(host->mark, host->path, "expected an IP address, got '" + *text + "'");
    else if (text)
      out.host = *text;
  }
  if (auto t = fields.take("connect_timeout"))
    if (auto value = read_positive_duration(*t, max_connect_timeout, errors))
      out.connect_timeout = *value;
  if (auto t = fields.take("idle_timeout"))
    if (auto value = read_positive_duration(*t, max_idle_timeout, errors))
      out.idle_timeout = *value;
  fields.finish();
}

void read_tls(const field& f, tls_config& out, error_sink& errors) {
  if (!expect_map(f, "a mapping with certificate, key, ca and ca_key (paths of PEM files)",
                  errors))
    return;
  map_reader fields{f, errors};
  std::string absent; // a bad value is its own error, not also a missing one
  for (auto [key, target] : {std::pair{"certificate", &out.certificate}, std::pair{"key", &out.key},
                             std::pair{"ca", &out.ca}}) {
    auto path = fields.take(key);
    if (!path) {
      absent += (absent.empty() ? "" : ", ") + std::string{key};
      continue;
    }
    if (auto text = read_nonempty_string(*path, errors))
      *target = *text;
  }
  if (auto path = fields.take("ca_key"))
    if (auto text = read_nonempty_string(*path, errors))
      out.ca_key = *text;
  fields.finish();
  if (!absent.empty())
    errors.add(f.mark, f.path, "TLS needs certificate, key and ca together; missing: " + absent);
}

void read_cluster(const field& f, cluster_config& out, error_sink& errors) {
  constexpr caf::timespan max_time = 1min;
  if (!expect_map(f,
                  "a mapping with listen, join, join_token, heartbeat_interval, "
                  "node_loss_timeout, restart_grace and tls",
                  errors))
    return;
  map_reader fields{f, errors};
  read_endpoint(fields, "listen", out.listen, errors);
  read_endpoints(fields, "join", out.join, errors);
  if (auto token = fields.take("join_token"))
    if (auto text = read_nonempty_string(*token, errors))
      out.join_token = *text;
  auto interval = fields.take("heartbeat_interval");
  if (interval)
    if (auto value = read_positive_duration(*interval, max_time, errors))
      out.heartbeat_interval = *value;
  if (auto t = fields.take("node_loss_timeout")) {
    if (auto value = read_positive_duration(*t, max_time, errors)) {
      out.node_loss_timeout = *value;
      if (out.node_loss_timeout < 2 * out.heartbeat_interval)
        errors.add(t->mark, t->path,
                   "must be at least twice heartbeat_interval, or a healthy link looks lost");
    }
  }
  if (auto tls = fields.take("tls"))
    read_tls(*tls, out.tls, errors);
  if (auto grace = fields.take("restart_grace"))
    if (auto value = read_positive_duration(*grace, 1h, errors))
      out.restart_grace = *value;
  fields.finish();
}

void read_access(const field& f, access_config& out, error_sink& errors) {
  if (!expect_map(f, "a mapping (admin_token_file, plaintext, certificate, key, client_ca)",
                  errors))
    return;
  map_reader fields{f, errors};
  for (auto [key, target] : {std::pair{"admin_token_file", &out.admin_token_file},
                             std::pair{"certificate", &out.certificate}, std::pair{"key", &out.key},
                             std::pair{"client_ca", &out.client_ca}})
    if (auto path = fields.take(key))
      if (auto text = read_nonempty_string(*path, errors))
        *target = *text;
  read_flag(fields, "plaintext", out.plaintext, errors);
  fields.finish();
}

void read_daemon_config(const field& whole, daemon_config& out, error_sink& errors) {
  if (!expect_map(whole, "a mapping (tuttid's configuration)", errors))
    return;
  map_reader fields{whole, errors};
  if (auto dir = fields.take("data_dir"))
    if (auto text = read_nonempty_string(*dir, errors))
      out.data_dir = *text;
  read_endpoint(fields, "api", out.api, errors);
  read_endpoint(fields, "metrics", out.metrics, errors);
  if (auto ui = fields.take("ui"))
    if (auto text = read_string(*ui, errors)) {
      auto parsed = parse_ui(*text);
      if (!parsed)
        errors.add(ui->mark, ui->path, "expected host:port or off, got '" + *text + "'");
      else
        std::tie(out.ui, out.ui_required) = std::pair{*parsed, true};
    }
  if (auto node = fields.take("node"))
    read_node(*node, out.node, errors);
  if (auto supervision = fields.take("supervision"))
    read_supervision(*supervision, out.supervision, errors);
  if (auto mesh = fields.take("mesh"))
    read_mesh(*mesh, out.mesh, errors);
  if (auto store = fields.take("store"))
    read_store(*store, out, errors);
  if (auto process = fields.take("process"))
    read_process(*process, out.process, errors);
  if (auto docker = fields.take("docker"))
    read_docker(*docker, out.docker, errors);
  if (auto containerd = fields.take("containerd"))
    read_containerd(*containerd, out.containerd, errors);
  if (auto limits = fields.take("limits"))
    read_limits(*limits, out.limits, errors);
  if (auto cluster = fields.take("cluster"))
    read_cluster(*cluster, out.cluster, errors);
  if (auto access = fields.take("access"))
    read_access(*access, out.access, errors);
  if (auto secrets = fields.take("secrets"))
    read_secrets(*secrets, out.secrets, errors);
  read_flag(fields, "stop_replicas_on_exit", out.stop_replicas_on_exit, errors);
  read_flag(fields, "enable_chaos", out.enable_chaos, errors);
  if (auto level = fields.take("log_level"))
    if (auto value = read_choice(*level, log_levels, errors))
      out.log_level = *value;
  fields.finish();
}

} // namespace

std::vector<std::string> missing_tls_fields(const tls_config& tls) {
  std::vector<std::string> out;
  if (!tls.enabled())
    return out;
  if (tls.certificate.empty())
    out.emplace_back("certificate");
  if (tls.key.empty())
    out.emplace_back("key");
  if (tls.ca.empty())
    out.emplace_back("ca");
  return out;
}

daemon_config_result parse_daemon_config(const std::string& text, const std::string& file) {
  error_sink errors{file};
  daemon_config config;
  if (auto docs = load_documents(text, errors)) {
    // An empty file is fine: the config file only overrides defaults.
    std::vector<YAML::Node> present;
    for (const auto& doc : *docs)
      if (!doc.IsNull())
        present.push_back(doc);
    if (!present.empty())
      guarded_walk(errors,
                   [&] { read_daemon_config(document_field(present.front()), config, errors); });
    if (present.size() > 1)
      errors.add(present[1].Mark(), "",
                 "expected one document, got " + std::to_string(present.size()));
  }
  daemon_config_result result;
  result.errors = errors.take();
  if (result.errors.empty())
    result.config = std::move(config);
  return result;
}

daemon_config_result load_daemon_config(const std::string& path) {
  error_sink errors{path};
  auto text = read_text_file(path, errors);
  if (!text) {
    daemon_config_result result;
    result.errors = errors.take();
    return result;
  }
  return parse_daemon_config(*text, path);
}

std::string parse_store_url(const std::string& text, store_config& out) {
  constexpr std::string_view lmdb = "lmdb:";
  constexpr std::string_view etcd = "etcd://";
  if (text.rfind(lmdb, 0) == 0) {
    if (text.size() == lmdb.size())
      return "lmdb: needs a directory (lmdb:/var/lib/tutti/store)";
    out.backend = store_backend::lmdb;
    out.dir = text.substr(lmdb.size());
    return {};
  }
  if (text.rfind(etcd, 0) != 0)
    return "expected lmdb:DIR or etcd://HOST:PORT[,HOST:PORT...], got '" + text + "'";
  auto rest = text.substr(etcd.size());
  auto endpoints = parse_endpoints(rest);
  if (!endpoints)
    return "etcd endpoints '" + rest + "' are not HOST:PORT[,HOST:PORT...]";
  for (const auto& ep : *endpoints)
    if (ep.port == 0)
      return "etcd endpoint '" + ep.to_string() + "' needs a port (1-65535)";
  out.backend = store_backend::etcd;
  out.etcd.endpoints = std::move(*endpoints);
  return {};
}

std::string to_string(const std::vector<endpoint>& xs) {
  std::string out;
  for (const auto& x : xs)
    out += (out.empty() ? "" : ",") + x.to_string();
  return out;
}

std::optional<std::vector<endpoint>> parse_endpoints(const std::string& text) {
  std::vector<endpoint> out;
  size_t start = 0;
  for (;;) {
    auto comma = text.find(',', start);
    auto ep = parse_endpoint(
        text.substr(start, comma == std::string::npos ? std::string::npos : comma - start));
    if (!ep)
      return std::nullopt;
    out.push_back(std::move(*ep));
    if (comma == std::string::npos)
      return out;
    start = comma + 1;
  }
}

std::optional<endpoint> parse_endpoint(const std::string& text) {
  auto colon = text.rfind(':');
  if (colon == std::string::npos || colon == 0)
    return std::nullopt;
  std::string host = text.substr(0, colon);
  // An IPv6 address needs brackets, or its colons would be read as the port's.
  bool bracketed = host.front() == '[' && host.back() == ']' && host.size() > 2;
  if (!bracketed && host.find_first_of(":[] \t") != std::string::npos)
    return std::nullopt;
  auto port = parse_port(std::string_view{text}.substr(colon + 1));
  if (!port)
    return std::nullopt;
  return endpoint{std::move(host), *port};
}

bool valid_containerd_namespace(const std::string& text) {
  auto alnum = [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
  };
  if (text.empty() || text.size() > 76 || !alnum(text.front()))
    return false;
  for (char c : text)
    if (!alnum(c) && c != '.' && c != '_' && c != '-')
      return false;
  return true;
}

} // namespace tutti::config
