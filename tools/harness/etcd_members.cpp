#include "tools/harness/etcd_members.hpp"

#include "persistence/etcd_client.hpp"
#include "tools/harness/daemon_process.hpp"
#include "tools/harness/private_daemon.hpp"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <stdexcept>
#include <thread>

extern char** environ;

namespace tutti::harness {

namespace {

constexpr const char* etcd_binary = "/usr/bin/etcd";

/// Ends with the tool (a test's timeout kills it without a cleanup).
int spawn(std::vector<std::string> args, const std::string& log) {
  std::string why;
  auto pid = spawn_private_daemon(args, log, why, true);
  if (pid == 0)
    throw std::runtime_error(std::string{"cannot start "} + etcd_binary + ": " + why);
  return pid;
}

bool answers(const std::string& client) {
  persistence::etcd::client_options opts;
  opts.endpoints = {"http://" + client};
  opts.timeout = std::chrono::milliseconds{500};
  auto c = persistence::etcd::client::make(opts);
  return c && (*c)->range("/health-probe");
}

} // namespace

etcd_members::etcd_members(size_t members) {
  if (::access(etcd_binary, X_OK) != 0)
    throw std::runtime_error(std::string{etcd_binary} +
                             " is missing: install the Debian package etcd-server");
  char tmpl[] = "/tmp/tutti-etcd-XXXXXX";
  if (::mkdtemp(tmpl) == nullptr)
    throw std::runtime_error("cannot create a temp directory");
  dir_ = tmpl;
  std::vector<std::string> peers;
  std::string initial;
  for (size_t i = 0; i < members; ++i) {
    auto host = "127.0.0." + std::to_string(i + 1);
    clients_.push_back(host + ":" + std::to_string(free_port()));
    peers.push_back("http://" + host + ":" + std::to_string(free_port()));
    initial += (i ? "," : "") + ("m" + std::to_string(i)) + "=" + peers.back();
  }
  for (size_t i = 0; i < members; ++i) {
    auto name = "m" + std::to_string(i);
    auto client = "http://" + clients_[i];
    // A member started again finds its data and ignores the initial-cluster flags.
    args_.push_back({etcd_binary,
                     "--name",
                     name,
                     "--data-dir",
                     dir_ + "/" + name,
                     "--listen-client-urls",
                     client,
                     "--advertise-client-urls",
                     client,
                     "--listen-peer-urls",
                     peers[i],
                     "--initial-advertise-peer-urls",
                     peers[i],
                     "--initial-cluster",
                     initial,
                     "--initial-cluster-state",
                     "new",
                     "--heartbeat-interval",
                     "50",
                     "--election-timeout",
                     "500",
                     "--log-level",
                     "warn"});
    pids_.push_back(spawn(args_[i], dir_ + "/" + name + ".log"));
  }
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds{20};
  for (const auto& client : clients_)
    while (!answers(client)) {
      if (std::chrono::steady_clock::now() > deadline)
        throw std::runtime_error("etcd at " + client + " did not answer within 20 s; see " + dir_);
      std::this_thread::sleep_for(std::chrono::milliseconds{20});
    }
}

etcd_members::~etcd_members() {
  for (size_t i = 0; i < pids_.size(); ++i)
    kill(i);
  std::error_code ec;
  std::filesystem::remove_all(dir_, ec);
}

std::string etcd_members::store_url() const {
  std::string out = "etcd://";
  for (size_t i = 0; i < clients_.size(); ++i)
    out += (i ? "," : "") + clients_[i];
  return out;
}

std::vector<std::string> etcd_members::client_urls() const {
  std::vector<std::string> out;
  for (const auto& c : clients_)
    out.push_back("http://" + c);
  return out;
}

void etcd_members::restart(size_t i) {
  if (pids_.at(i) > 0)
    return;
  pids_[i] = spawn(args_[i], dir_ + "/m" + std::to_string(i) + ".log");
}

void etcd_members::kill(size_t i) {
  if (pids_.at(i) <= 0)
    return;
  ::kill(pids_[i], SIGKILL);
  int status = 0;
  ::waitpid(pids_[i], &status, 0);
  pids_[i] = -1;
}

} // namespace tutti::harness
