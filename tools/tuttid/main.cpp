// tuttid: the tutti daemon. Thin: parse flags, build the config, start the actors,
// wait for a signal.

#include "actors/runtime/allocator_tuning.hpp"
#include "actors/daemon/dev_daemon.hpp"
#include "actors/daemon/ha_control.hpp"
#include "actors/daemon/node_daemon.hpp"
#include "actors/daemon/store_setup.hpp"
#include "config/daemon_config.hpp"
#include "protocol/errors.hpp"
#include "protocol/utf8.hpp"
#include "runtime-drivers/containerd/log_copier.hpp"

#include <CLI/CLI.hpp>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <csignal>
#include <cstdio>
#include <string_view>
#include <thread>
#include <tuple>

namespace {

using tutti::config::daemon_config;
namespace rdc = tutti::runtime_drivers::containerd;

struct dev_flags {
  std::string config_file;
  std::string data_dir;
  std::string store;
  std::string api;
  std::string metrics;
  std::string ui;
  std::string node_name;
  std::string port_range;
  std::string log_level;
  std::string docker_socket;
  bool no_docker = false;
  std::string containerd_socket;
  std::string containerd_namespace;
  bool no_containerd = false;
  bool no_process = false;
  bool stop_replicas_on_exit = false;
  bool enable_chaos = false;
  // control and node
  std::string listen;
  std::string join;
  std::string join_token;
  std::string address;
  std::string tls_cert;
  std::string tls_key;
  std::string tls_ca;
  // who may use the API (dev and control)
  std::string admin_token_file;
  bool api_plaintext = false;
  std::string api_cert;
  std::string api_key;
  std::string api_client_ca;
  std::string secrets_key_file; // dev and control
  std::string secrets_dir;      // dev and node
};

int fail(const std::string& message) {
  std::fprintf(stderr, "tuttid: %s\n", message.c_str());
  return 1;
}

/// The first text flag that is not valid UTF-8, named, or empty: names and
/// addresses end up in the store, in logs and in answers to clients.
std::string invalid_utf8_flag(const dev_flags& f) {
  const std::pair<const char*, const std::string*> texts[] = {
      {"--config", &f.config_file},
      {"--data-dir", &f.data_dir},
      {"--store", &f.store},
      {"--api", &f.api},
      {"--metrics", &f.metrics},
      {"--ui", &f.ui},
      {"--node-name", &f.node_name},
      {"--port-range", &f.port_range},
      {"--log-level", &f.log_level},
      {"--docker-socket", &f.docker_socket},
      {"--containerd-socket", &f.containerd_socket},
      {"--containerd-namespace", &f.containerd_namespace},
      {"--listen", &f.listen},
      {"--join", &f.join},
      {"--join-token", &f.join_token},
      {"--address", &f.address},
      {"--tls-cert", &f.tls_cert},
      {"--tls-key", &f.tls_key},
      {"--tls-ca", &f.tls_ca},
      {"--admin-token-file", &f.admin_token_file},
      {"--api-cert", &f.api_cert},
      {"--api-key", &f.api_key},
      {"--api-client-ca", &f.api_client_ca},
      {"--secrets-key-file", &f.secrets_key_file},
      {"--secrets-dir", &f.secrets_dir}};
  for (const auto& [flag, text] : texts)
    if (!tutti::protocol::valid_utf8(*text))
      return std::string{flag} + ": not valid UTF-8: '" +
             tutti::protocol::escape_invalid_utf8(*text) + "'";
  return {};
}

/// Applies flags over the config file; returns an error message or empty.
std::string apply_flags(const dev_flags& f, daemon_config& cfg) {
  if (!f.data_dir.empty())
    cfg.data_dir = f.data_dir;
  if (!f.store.empty())
    if (auto why = tutti::config::parse_store_url(f.store, cfg.store); !why.empty())
      return "--store: " + why;
  if (!f.api.empty()) {
    auto ep = tutti::config::parse_endpoint(f.api);
    if (!ep)
      return "--api: expected HOST:PORT, got '" + f.api + "'";
    cfg.api = *ep;
  }
  if (!f.metrics.empty()) {
    auto ep = tutti::config::parse_endpoint(f.metrics);
    if (!ep)
      return "--metrics: expected HOST:PORT, got '" + f.metrics + "'";
    cfg.metrics = *ep;
  }
  if (!f.ui.empty()) {
    auto ui = tutti::config::parse_ui(f.ui);
    if (!ui)
      return "--ui: expected HOST:PORT or off, got '" + f.ui + "'";
    cfg.ui = *ui;
    cfg.ui_required = true;
  }
  if (!f.node_name.empty())
    cfg.node.name = f.node_name;
  if (!f.port_range.empty()) {
    unsigned first = 0, last = 0;
    char extra = 0;
    if (std::sscanf(f.port_range.c_str(), "%u-%u%c", &first, &last, &extra) != 2 || first < 1024 ||
        last > 65535 || first > last)
      return "--port-range: expected FIRST-LAST within 1024-65535, got '" + f.port_range + "'";
    cfg.node.port_range_first = static_cast<uint16_t>(first);
    cfg.node.port_range_last = static_cast<uint16_t>(last);
  }
  if (!f.log_level.empty())
    cfg.log_level = f.log_level;
  if (!f.docker_socket.empty()) {
    if (f.docker_socket.size() > 107)
      return "--docker-socket: a unix socket path is at most 107 bytes, got '" + f.docker_socket +
             "'";
    cfg.docker.socket = f.docker_socket;
    cfg.docker.enabled = true;
  }
  if (f.no_docker)
    cfg.docker.enabled = false;
  if (!f.containerd_socket.empty()) {
    if (f.containerd_socket.size() > 107)
      return "--containerd-socket: a unix socket path is at most 107 bytes, got '" +
             f.containerd_socket + "'";
    cfg.containerd.socket = f.containerd_socket;
    cfg.containerd.enabled = true;
  }
  if (!f.containerd_namespace.empty()) {
    if (!tutti::config::valid_containerd_namespace(f.containerd_namespace))
      return "--containerd-namespace: letters, digits, '.', '_' and '-', starting with a letter "
             "or digit, at most 76 characters; got '" +
             f.containerd_namespace + "'";
    cfg.containerd.name_space = f.containerd_namespace;
  }
  if (f.no_containerd)
    cfg.containerd.enabled = false;
  if (f.no_process)
    cfg.process.enabled = false;
  if (!f.listen.empty()) {
    auto ep = tutti::config::parse_endpoint(f.listen);
    if (!ep)
      return "--listen: expected HOST:PORT, got '" + f.listen + "'";
    cfg.cluster.listen = *ep;
  }
  if (!f.join.empty()) {
    auto eps = tutti::config::parse_endpoints(f.join);
    if (!eps)
      return "--join: expected HOST:PORT[,HOST:PORT...], got '" + f.join + "'";
    cfg.cluster.join = *eps;
  }
  if (!f.join_token.empty())
    cfg.cluster.join_token = f.join_token;
  for (auto [text, target] :
       {std::pair{&f.tls_cert, &cfg.cluster.tls.certificate},
        std::pair{&f.tls_key, &cfg.cluster.tls.key}, std::pair{&f.tls_ca, &cfg.cluster.tls.ca}})
    if (!text->empty())
      *target = *text;
  if (!f.address.empty()) {
    if (!tutti::config::parse_endpoint(f.address + ":0"))
      return "--address: expected an IP address, got '" + f.address + "'";
    cfg.node.address = f.address;
    cfg.mesh.host = f.address; // published ports of this node listen there too
  }
  if (f.stop_replicas_on_exit)
    cfg.stop_replicas_on_exit = true;
  if (f.enable_chaos)
    cfg.enable_chaos = true;
  for (auto [text, target] :
       {std::pair{&f.admin_token_file, &cfg.access.admin_token_file},
        std::pair{&f.api_cert, &cfg.access.certificate}, std::pair{&f.api_key, &cfg.access.key},
        std::pair{&f.api_client_ca, &cfg.access.client_ca},
        std::pair{&f.secrets_key_file, &cfg.secrets.key_file}})
    if (!text->empty())
      *target = *text;
  if (!f.secrets_dir.empty()) {
    if (f.secrets_dir.front() != '/' || f.secrets_dir.find("/..") != std::string::npos)
      return "--secrets-dir: expected the absolute path of a folder on a tmpfs, got '" +
             f.secrets_dir + "'";
    cfg.node.secrets_dir = f.secrets_dir;
  }
  if (f.api_plaintext)
    cfg.access.plaintext = true;
  return {};
}

enum class mode { dev, control, node };

/// Waits for SIGINT/SIGTERM or for `wait` to return (the daemon failed), then
/// runs `shutdown`.
template <class Wait, class Shutdown>
int serve(sigset_t& signals, bool stop_replicas, Wait wait, Shutdown shutdown) {
  caf::error failure;
  std::thread watcher([&] {
    failure = wait();
    ::kill(::getpid(), SIGUSR1);
  });
  int sig = 0;
  sigwait(&signals, &sig);
  spdlog::info("tuttid: {} received, shutting down{}", sig == SIGUSR1 ? "failure" : strsignal(sig),
               stop_replicas ? " and stopping replicas" : "; replicas keep running");
  shutdown();
  watcher.join();
  if (failure)
    return fail(tutti::protocol::message_of(failure));
  return 0;
}

int run_node(const daemon_config& cfg, sigset_t& signals) {
  auto daemon = tutti::actors::node_daemon::start(cfg);
  if (!daemon)
    return fail(tutti::protocol::message_of(daemon.error()));
  spdlog::info("tuttid node {}: joining {}, metrics http://{}:{}/metrics, data {}",
               cfg.node.name.empty() ? tutti::actors::host_name() : cfg.node.name,
               tutti::config::to_string(cfg.cluster.join), cfg.metrics.host,
               (*daemon)->metrics_port(), cfg.data_dir);
  return serve(
      signals, cfg.stop_replicas_on_exit, [&] { return (*daemon)->wait(); },
      [&] { (*daemon)->shutdown(); });
}

/// A control process of several on one etcd store (actors/daemon/ha_control.hpp);
/// SIGTERM or SIGINT hands leadership over at once.
int run_ha_control(const daemon_config& cfg, sigset_t& signals) {
  std::atomic<bool> stop{false};
  std::thread signal_waiter([&] {
    int sig = 0;
    sigwait(&signals, &sig);
    if (sig != SIGUSR1)
      spdlog::info("tuttid: {} received, shutting down", strsignal(sig));
    stop = true;
  });
  auto failure = tutti::actors::ha_control::run(cfg, stop);
  if (!stop)
    ::kill(::getpid(), SIGUSR1); // wakes the signal waiter
  signal_waiter.join();
  return failure ? fail(tutti::protocol::message_of(failure)) : 0;
}

int run(const dev_flags& flags, mode m) {
  daemon_config cfg;
  if (!flags.config_file.empty()) {
    auto loaded = tutti::config::load_daemon_config(flags.config_file);
    if (!loaded.ok()) {
      for (auto& e : loaded.errors)
        std::fprintf(stderr, "tuttid: %s\n", tutti::protocol::to_string(e).c_str());
      return 2;
    }
    cfg = loaded.config;
  }
  if (auto err = apply_flags(flags, cfg); !err.empty())
    return std::fprintf(stderr, "tuttid: %s\n", err.c_str()), 2;
  spdlog::set_level(spdlog::level::from_str(cfg.log_level));
  if (!tutti::actors::allocator_tuned())
    spdlog::info("tuttid: {} (TUTTI_MALLOC_TUNING=off, GLIBC_TUNABLES chose tcache_count, or "
                 "/proc/self/exe could not be run)",
                 tutti::actors::allocator_summary());

  // Block the stop signals in every thread (threads inherit the mask) and take
  // them synchronously below, so no handler runs inside CAF or KJ code.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGUSR1);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  if (m == mode::node)
    return run_node(cfg, signals);
  if (cfg.store.backend == tutti::config::store_backend::etcd) {
    // Writes to etcd are fenced by an election, which only `control` holds: two
    // dev processes on one etcd would both write unfenced.
    if (m == mode::dev)
      return fail("tuttid dev keeps its state in LMDB (--store lmdb:DIR); a cluster on etcd "
                  "runs `tuttid control --store etcd://...`, and several may share it");
    return run_ha_control(cfg, signals);
  }
  auto daemon =
      tutti::actors::dev_daemon::start(cfg, m == mode::control ? tutti::actors::daemon_mode::control
                                                               : tutti::actors::daemon_mode::dev);
  if (!daemon)
    return fail(tutti::protocol::message_of(daemon.error()));
  auto ports = (*daemon)->bound();
  if (!ports.dashboard.empty())
    spdlog::info("the dashboard is at {} (`tutti dashboard` prints a link that logs in)",
                 ports.dashboard);
  if (m == mode::control)
    spdlog::info("tuttid control ready: api {}:{}, nodes join {}:{}, metrics http://{}:{}/metrics, "
                 "data {}, store {}",
                 cfg.api.host, ports.api, cfg.cluster.listen.host, ports.cluster, cfg.metrics.host,
                 ports.metrics, cfg.data_dir, tutti::actors::describe_store(cfg));
  else
    spdlog::info("tuttid dev ready: api {}:{}, metrics http://{}:{}/metrics, data {}, store {}",
                 cfg.api.host, ports.api, cfg.metrics.host, ports.metrics, cfg.data_dir,
                 tutti::actors::describe_store(cfg));
  // The control plane failing (a supervisor over its restart limit) also ends us.
  return serve(
      signals, cfg.stop_replicas_on_exit, [&] { return (*daemon)->wait(); },
      [&] { (*daemon)->shutdown(); });
}

/// Flags every subcommand shares; `node_flags`: those of a process that runs
/// replicas, `api_flags`: those of a process that serves the client API.
void add_common_flags(CLI::App* cmd, dev_flags& flags, bool node_flags, bool api_flags) {
  cmd->add_option("-c,--config", flags.config_file, "Daemon config file (YAML)")
      ->check(CLI::ExistingFile);
  cmd->add_option("--data-dir", flags.data_dir,
                  "Where the store and replica logs live (default .tutti)");
  if (api_flags) {
    cmd->add_option("--store", flags.store,
                    "Where the cluster's state lives: lmdb:DIR (default DATA_DIR/store) or "
                    "etcd://HOST:PORT[,HOST:PORT...] (shared by several `tuttid control`; TLS, "
                    "users and key prefix under store.etcd in the config) (or store.url)");
    cmd->add_option("--api", flags.api, "Client API address HOST:PORT (default 127.0.0.1:7700)");
    cmd->add_option("--ui", flags.ui,
                    "The web dashboard's address HOST:PORT, or off (default 127.0.0.1:7780, "
                    "left off with a warning when taken; HTTPS when the API has a certificate, "
                    "else loopback only) (or ui)");
    cmd->add_flag("--enable-chaos", flags.enable_chaos,
                  "Let `tutti chaos kill PATH` (the admin RPC) kill any actor of the tree, for "
                  "chaos tests; refused without it");
    cmd->add_option("--secrets-key-file", flags.secrets_key_file,
                    "Key that seals Secret objects in the store: 64 hex digits, mode 0600 "
                    "(dev default DATA_DIR/secrets.key, made at first start; control: none, "
                    "Secret objects refused) (or secrets.key_file)");
    const char* group = "Who may use the API (docs/security.md)";
    cmd->add_option("--admin-token-file", flags.admin_token_file,
                    "The bootstrap admin token: read from this file, made (mode 0600) when absent "
                    "(default DATA_DIR/admin.token) (or access.admin_token_file)")
        ->group(group);
    cmd->add_option("--api-cert", flags.api_cert,
                    "PEM certificate the API presents; turns TLS on (default: --tls-cert) (or "
                    "access.certificate)")
        ->group(group);
    cmd->add_option("--api-key", flags.api_key,
                    "Its unencrypted PEM private key (default: --tls-key) (or access.key)")
        ->group(group);
    cmd->add_option("--api-client-ca", flags.api_client_ca,
                    "PEM CA of users' client certificates (CN = user, O = groups such as "
                    "tutti:deployer); not the cluster CA (or access.client_ca)")
        ->group(group);
    cmd->add_flag("--api-plaintext", flags.api_plaintext,
                  "Serve the API as plain TCP, on a loopback address only (tuttid control needs "
                  "it or a certificate) (or access.plaintext)")
        ->group(group);
  }
  cmd->add_option("--metrics", flags.metrics,
                  "Prometheus metrics address HOST:PORT (default 127.0.0.1:9770)");
  cmd->add_option("--log-level", flags.log_level,
                  "trace, debug, info, warn or error (default info)")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error"}));
  if (!node_flags)
    return;
  cmd->add_option("--node-name", flags.node_name, "Name of this node (default: the host name)");
  cmd->add_option("--port-range", flags.port_range,
                  "Host ports handed to replicas, FIRST-LAST (default 20000-29999)");
  cmd->add_option("--docker-socket", flags.docker_socket,
                  "The Docker engine's unix socket for `driver: docker` specs (default "
                  "/var/run/docker.sock)");
  cmd->add_flag("--no-docker", flags.no_docker,
                "Offer no docker driver (docker specs fail on this node)");
  cmd->add_option("--containerd-socket", flags.containerd_socket,
                  "containerd's gRPC socket for `driver: containerd` specs (default "
                  "/run/containerd/containerd.sock)");
  cmd->add_option("--containerd-namespace", flags.containerd_namespace,
                  "The containerd namespace of tutti's containers (default tutti)");
  cmd->add_flag("--no-containerd", flags.no_containerd,
                "Offer no containerd driver (containerd specs fail on this node)");
  cmd->add_flag("--no-process", flags.no_process,
                "Offer no process driver (process specs, which run any command as "
                "tuttid's user, fail on this node)");
  cmd->add_option("--secrets-dir", flags.secrets_dir,
                  "Folder on a tmpfs for the files of replicas' configs and secrets (default "
                  "/dev/shm/tutti-UID-HASH) (or node.secrets_dir)");
  cmd->add_flag("--stop-replicas-on-exit", flags.stop_replicas_on_exit,
                "On SIGTERM/SIGINT stop every replica instead of leaving them for adoption");
}

/// TLS between nodes and the control plane (control and node only).
void add_tls_flags(CLI::App* cmd, dev_flags& flags) {
  const char* group = "TLS between nodes and control plane (all three, or none)";
  cmd->add_option("--tls-cert", flags.tls_cert,
                  "PEM certificate of this process, signed by the cluster CA; turns TLS on: "
                  "peers without a certificate of that CA are refused (or "
                  "cluster.tls.certificate)")
      ->group(group);
  cmd->add_option("--tls-key", flags.tls_key,
                  "Its unencrypted PEM private key (or cluster.tls.key)")
      ->group(group);
  cmd->add_option("--tls-ca", flags.tls_ca,
                  "PEM certificate of the cluster CA: the peer's certificate must chain to it; "
                  "names and addresses in it are not checked (or cluster.tls.ca)")
      ->group(group);
}

CLI::App* add_dev_command(CLI::App& app, dev_flags& flags) {
  auto* dev =
      app.add_subcommand("dev", "Control plane and node agent in one process (one-host cluster)");
  add_common_flags(dev, flags, true, true);
  return dev;
}

CLI::App* add_control_command(CLI::App& app, dev_flags& flags) {
  auto* control = app.add_subcommand(
      "control", "The control plane of a multi-host cluster: nodes join it with `tuttid node`");
  add_common_flags(control, flags, false, true);
  control->add_option("--listen", flags.listen,
                      "Where node agents join, HOST:PORT (default 127.0.0.1:7701)");
  control->add_option("--join-token", flags.join_token,
                      "Secret a node must show to join (or cluster.join_token in the config)");
  add_tls_flags(control, flags);
  control->footer("Example: tuttid control --join-token s3cret --listen 127.0.0.1:7701\n"
                  "With TLS: ... --tls-cert control.crt --tls-key control.key --tls-ca ca.crt\n"
                  "(every node then needs TLS too, with a certificate of the same CA)");
  return control;
}

CLI::App* add_node_command(CLI::App& app, dev_flags& flags) {
  auto* node = app.add_subcommand(
      "node", "A node agent: joins a control plane and runs the replicas placed on it");
  add_common_flags(node, flags, true, false);
  node->add_option("--join", flags.join,
                   "The control plane's --listen address HOST:PORT; with several control "
                   "processes (an etcd store) each of them, HOST:PORT,HOST:PORT,...: the "
                   "leader accepts the node");
  node->add_option("--join-token", flags.join_token, "The control plane's join token");
  node->add_option("--address", flags.address,
                   "This node's IP address: its replicas' ports and its routing mesh listen "
                   "there (default 127.0.0.1)");
  add_tls_flags(node, flags);
  node->footer("Example: tuttid node --join 127.0.0.1:7701 --join-token s3cret --node-name n2 "
               "--address 127.0.0.2\n"
               "With TLS: ... --tls-cert n2.crt --tls-key n2.key --tls-ca ca.crt");
  return node;
}

} // namespace

int main(int argc, char** argv) {
  // Run by containerd's shims for each task (runtime-drivers/containerd/
  // log_copier.hpp), many at a time: first, before anything that costs.
  if (argc == 3 && std::string_view{argv[1]} == rdc::log_copier_command)
    return rdc::run_log_copier(argv[2]);
  tutti::actors::tune_allocator(argv); // first: it may run us again
  CLI::App app{"tuttid: the tutti container orchestrator daemon.\n"
               "Runs specs applied with `tutti apply` as supervised replicas."};
  app.set_version_flag("--version", std::string{"tuttid "} + TUTTI_VERSION + " (" +
                                        tutti::actors::allocator_summary() + ")");
  app.require_subcommand(1);
  dev_flags flags;
  auto* dev = add_dev_command(app, flags);
  auto* control = add_control_command(app, flags);
  auto* node = add_node_command(app, flags);
  CLI11_PARSE(app, argc, argv);
  if (auto bad = invalid_utf8_flag(flags); !bad.empty()) {
    std::fprintf(stderr, "tuttid: %s\n", bad.c_str());
    return 2;
  }
  spdlog::set_default_logger(spdlog::stderr_color_mt("tuttid"));
  if (dev->parsed())
    return run(flags, mode::dev);
  if (control->parsed())
    return run(flags, mode::control);
  if (node->parsed())
    return run(flags, mode::node);
  return 2;
}
