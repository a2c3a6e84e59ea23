#include "tools/tutti/client_config.hpp"

#include <yaml-cpp/yaml.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace tutti::cli {

namespace {

client_error config_error(const std::string& path, const std::string& what) {
  return client_error{client_code::invalid_argument, path + ": " + what};
}

client_error at(const std::string& path, const YAML::Node& node, const std::string& what) {
  auto mark = node.Mark();
  return config_error(path + ":" + std::to_string(mark.line + 1) + ":" +
                          std::to_string(mark.column + 1),
                      what);
}

/// Reads the string fields `fields` of map `node` into their targets; any
/// other key, or a value that is no string, is an error.
template <class Fields>
std::optional<client_error> read_fields(const std::string& path, const YAML::Node& node,
                                        const std::string& where, Fields fields) {
  if (!node.IsMap())
    return at(path, node, where + ": expected a mapping");
  for (const auto& kv : node) {
    auto key = kv.first.as<std::string>("");
    std::string* target = nullptr;
    for (auto& [name, field] : fields)
      if (key == name)
        target = field;
    if (target == nullptr)
      return at(path, kv.first, where + "." + key + ": unknown field");
    if (!kv.second.IsScalar())
      return at(path, kv.second, where + "." + key + ": expected a string");
    *target = kv.second.Scalar();
  }
  return std::nullopt;
}

template <class Entry, class Read>
std::optional<client_error> read_list(const std::string& path, const YAML::Node& root,
                                      const char* key, std::vector<Entry>& out, Read read) {
  auto list = root[key];
  if (!list)
    return std::nullopt;
  if (!list.IsSequence())
    return at(path, list, std::string{key} + ": expected a list");
  for (size_t i = 0; i < list.size(); ++i) {
    Entry x;
    auto where = std::string{key} + "[" + std::to_string(i) + "]";
    if (auto err = read(list[i], where, x))
      return err;
    if (x.name.empty())
      return at(path, list[i], where + ".name: required");
    out.push_back(std::move(x));
  }
  return std::nullopt;
}

template <class Entry>
const Entry* find(const std::vector<Entry>& xs, const std::string& name) {
  for (const auto& x : xs)
    if (x.name == name)
      return &x;
  return nullptr;
}

template <class Entry> void put_entry(std::vector<Entry>& xs, Entry x) {
  for (auto& y : xs)
    if (y.name == x.name) {
      y = std::move(x);
      return;
    }
  xs.push_back(std::move(x));
}

} // namespace

result<client_config::resolved> client_config::resolve(const std::string& name) const {
  auto wanted = name.empty() ? current_context : name;
  if (wanted.empty())
    return client_error{client_code::invalid_argument,
                        "no current context: run `tutti login` or give --context"};
  auto* context = find(contexts, wanted);
  if (context == nullptr)
    return client_error{client_code::invalid_argument,
                        "no context named " + wanted + " in " + client_config_path() +
                            " (`tutti config get-contexts` lists them)"};
  auto* cluster = find(clusters, context->cluster);
  auto* user = find(users, context->user);
  if (cluster == nullptr || user == nullptr)
    return client_error{client_code::invalid_argument,
                        "context " + wanted + " names " +
                            (cluster == nullptr ? "cluster " + context->cluster
                                                : "user " + context->user) +
                            ", which " + client_config_path() + " does not hold"};
  return resolved{*context, *cluster, *user};
}

void client_config::put(const std::string& name, cluster_entry cluster, user_entry user,
                        const std::string& name_space) {
  cluster.name = name;
  user.name = name;
  put_entry(clusters, std::move(cluster));
  put_entry(users, std::move(user));
  put_entry(contexts, context_entry{name, name, name, name_space});
  current_context = name;
}

std::string client_config_path() {
  if (const char* explicit_path = std::getenv("TUTTI_CONFIG"); explicit_path && *explicit_path)
    return explicit_path;
  if (const char* xdg = std::getenv("XDG_CONFIG_HOME"); xdg && *xdg)
    return std::string{xdg} + "/tutti/config.yaml";
  if (const char* home = std::getenv("HOME"); home && *home)
    return std::string{home} + "/.config/tutti/config.yaml";
  return {};
}

result<client_config> load_client_config(const std::string& path) {
  client_config out;
  if (path.empty())
    return out;
  // A file this user cannot even see (absent, or under a directory closed to
  // it, as root's home is to other uids) is no config; one it sees but
  // cannot read is an error.
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0)
    return out;
  std::ifstream in{path, std::ios::binary};
  if (!in)
    return config_error(path, std::string{"cannot read it: "} + std::strerror(errno));
  std::ostringstream text;
  text << in.rdbuf();
  YAML::Node root;
  try {
    root = YAML::Load(text.str());
  } catch (const YAML::Exception& e) {
    return config_error(path + ":" + std::to_string(e.mark.line + 1) + ":" +
                            std::to_string(e.mark.column + 1),
                        "not YAML: " + e.msg);
  }
  if (root.IsNull())
    return out;
  if (!root.IsMap())
    return at(path, root, "expected a mapping with clusters, users, contexts and current_context");
  for (const auto& kv : root) {
    auto key = kv.first.as<std::string>("");
    if (key != "clusters" && key != "users" && key != "contexts" && key != "current_context")
      return at(path, kv.first, key + ": unknown field");
  }
  auto err = read_list(path, root, "clusters", out.clusters,
                       [&](const YAML::Node& n, const std::string& where, cluster_entry& x) {
                         return read_fields(path, n, where,
                                            std::initializer_list<std::pair<const char*, std::string*>>{
                                                {"name", &x.name},
                                                {"api", &x.api},
                                                {"ca", &x.ca},
                                                {"server_name", &x.server_name}});
                       });
  if (!err)
    err = read_list(path, root, "users", out.users,
                    [&](const YAML::Node& n, const std::string& where, user_entry& x) {
                      return read_fields(path, n, where,
                                         std::initializer_list<std::pair<const char*, std::string*>>{
                                             {"name", &x.name},
                                             {"token", &x.token},
                                             {"token_file", &x.token_file},
                                             {"cert", &x.cert},
                                             {"key", &x.key}});
                    });
  if (!err)
    err = read_list(path, root, "contexts", out.contexts,
                    [&](const YAML::Node& n, const std::string& where, context_entry& x) {
                      return read_fields(path, n, where,
                                         std::initializer_list<std::pair<const char*, std::string*>>{
                                             {"name", &x.name},
                                             {"cluster", &x.cluster},
                                             {"user", &x.user},
                                             {"namespace", &x.name_space}});
                    });
  if (err)
    return *err;
  if (auto current = root["current_context"]) {
    if (!current.IsScalar())
      return at(path, current, "current_context: expected a string");
    out.current_context = current.Scalar();
  }
  return out;
}

std::string to_yaml_text(const client_config& config, bool with_secrets) {
  YAML::Emitter out;
  out << YAML::BeginMap;
  auto optional = [&](const char* key, const std::string& value) {
    if (!value.empty())
      out << YAML::Key << key << YAML::Value << value;
  };
  out << YAML::Key << "clusters" << YAML::Value << YAML::BeginSeq;
  for (const auto& c : config.clusters) {
    out << YAML::BeginMap << YAML::Key << "name" << YAML::Value << c.name;
    out << YAML::Key << "api" << YAML::Value << c.api;
    optional("ca", c.ca);
    optional("server_name", c.server_name);
    out << YAML::EndMap;
  }
  out << YAML::EndSeq << YAML::Key << "users" << YAML::Value << YAML::BeginSeq;
  for (const auto& u : config.users) {
    out << YAML::BeginMap << YAML::Key << "name" << YAML::Value << u.name;
    if (!u.token.empty())
      out << YAML::Key << "token" << YAML::Value << (with_secrets ? u.token : "(set)");
    optional("token_file", u.token_file);
    optional("cert", u.cert);
    optional("key", u.key);
    out << YAML::EndMap;
  }
  out << YAML::EndSeq << YAML::Key << "contexts" << YAML::Value << YAML::BeginSeq;
  for (const auto& c : config.contexts) {
    out << YAML::BeginMap << YAML::Key << "name" << YAML::Value << c.name;
    out << YAML::Key << "cluster" << YAML::Value << c.cluster;
    out << YAML::Key << "user" << YAML::Value << c.user;
    optional("namespace", c.name_space);
    out << YAML::EndMap;
  }
  out << YAML::EndSeq;
  out << YAML::Key << "current_context" << YAML::Value << config.current_context;
  out << YAML::EndMap;
  return std::string{out.c_str()} + "\n";
}

result<done> save_client_config(const std::string& path, const client_config& config) {
  if (path.empty())
    return config_error("the client config", "no path: set HOME, XDG_CONFIG_HOME or TUTTI_CONFIG");
  std::error_code ec;
  std::filesystem::create_directories(std::filesystem::path{path}.parent_path(), ec);
  auto tmp = path + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0)
    return config_error(path, std::string{"cannot write it: "} + std::strerror(errno));
  auto text = to_yaml_text(config, true);
  bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
  ok = ::fchmod(fd, 0600) == 0 && ok;
  ok = ::fsync(fd) == 0 && ok;
  ::close(fd);
  if (!ok || ::rename(tmp.c_str(), path.c_str()) != 0) {
    ::unlink(tmp.c_str());
    return config_error(path, std::string{"cannot write it: "} + std::strerror(errno));
  }
  return done{};
}

} // namespace tutti::cli
