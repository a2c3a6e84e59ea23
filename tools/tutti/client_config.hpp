#pragma once

// The client's config file, like a kubeconfig: clusters (where an API is and
// how to trust it), users (how to prove who one is), contexts (a cluster, a
// user and a namespace by one name) and the current context. `tutti login`
// writes it; every command uses the current context for what its flags and
// environment do not say. Kept at $TUTTI_CONFIG, else
// $XDG_CONFIG_HOME/tutti/config.yaml, else ~/.config/tutti/config.yaml,
// mode 0600 (it may hold tokens).

#include "tools/tutti/result.hpp"

#include <optional>
#include <string>
#include <vector>

namespace tutti::cli {

struct cluster_entry {
  std::string name;
  std::string api;         // HOST:PORT[,HOST:PORT...] or unix:PATH
  std::string ca;          // PEM file; empty: plain TCP
  std::string server_name; // the name the API's certificate holds; empty: the host
  friend bool operator==(const cluster_entry&, const cluster_entry&) = default;
};

struct user_entry {
  std::string name;
  std::string token;      // the secret itself, or
  std::string token_file; // a file holding it
  std::string cert;       // PEM client certificate and key
  std::string key;
  friend bool operator==(const user_entry&, const user_entry&) = default;
};

struct context_entry {
  std::string name;
  std::string cluster;
  std::string user;
  std::string name_space; // empty: default
  friend bool operator==(const context_entry&, const context_entry&) = default;
};

struct client_config {
  std::vector<cluster_entry> clusters;
  std::vector<user_entry> users;
  std::vector<context_entry> contexts;
  std::string current_context;
  friend bool operator==(const client_config&, const client_config&) = default;

  /// The context named `name` (the current one when empty) with its cluster
  /// and user; an error naming what is missing.
  struct resolved {
    context_entry context;
    cluster_entry cluster;
    user_entry user;
  };
  result<resolved> resolve(const std::string& name) const;

  /// Puts (or replaces) a cluster, a user and a context of one name, and
  /// makes it current.
  void put(const std::string& name, cluster_entry cluster, user_entry user,
           const std::string& name_space);
};

/// Where the config file is (see above); empty when no home is known.
std::string client_config_path();

/// The config in `path`; an absent file is an empty config. A file that is
/// not a valid config is an error naming the file, line and field.
result<client_config> load_client_config(const std::string& path);

/// Writes `config` to `path` (made with its directories, mode 0600, replaced
/// at once: a crash leaves the old file or the new one).
result<done> save_client_config(const std::string& path, const client_config& config);

/// The config as YAML; tokens shown as "(set)" unless `with_secrets`.
std::string to_yaml_text(const client_config& config, bool with_secrets);

} // namespace tutti::cli
