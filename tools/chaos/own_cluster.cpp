#include "tools/chaos/own_cluster.hpp"

#include <signal.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <stdexcept>

namespace tutti::chaos {

namespace {

const std::string token = "chaos-token";

/// Heartbeats and leases short enough that a lost peer or leader shows
/// within a second or two (etcd_members runs etcd with a 500 ms election
/// timeout).
const std::string ha_config = "cluster: {heartbeat_interval: 100ms, node_loss_timeout: 1s}\n"
                              "store: {etcd: {leader_ttl: 1s, timeout: 500ms}}\n";

std::string write_config() {
  char path[] = "/tmp/tutti-chaos-XXXXXX.yaml";
  int fd = ::mkstemps(path, 5);
  if (fd < 0)
    throw std::runtime_error("cannot create the config file of the control processes");
  ::close(fd);
  std::ofstream{path} << ha_config;
  return path;
}

} // namespace

own_cluster::own_cluster(int nodes, bool ha) {
  std::vector<std::string> common;
  if (ha) {
    config_ = write_config();
    etcd_ = std::make_unique<harness::etcd_members>(3);
    common = {"-c", config_, "--store", etcd_->store_url()};
  }
  for (int i = 0; i < (ha ? 3 : 1); ++i)
    listens_.push_back(harness::free_port());
  std::string joins;
  for (auto port : listens_)
    joins += (joins.empty() ? "" : ",") + ("127.0.0.1:" + std::to_string(port));
  for (auto port : listens_) {
    auto args = common;
    args.insert(args.end(), {"--listen", "127.0.0.1:" + std::to_string(port), "--join-token",
                             token, "--enable-chaos"});
    controls_.push_back(std::make_unique<harness::daemon_process>(
        harness::daemon_process::mode{"control"}, std::move(args)));
    frozen_.push_back(false);
    etcd_cuts_.emplace_back();
  }
  for (int i = 0; i < nodes; ++i) {
    auto first = 43000 + 200 * i;
    auto args = ha ? std::vector<std::string>{"-c", config_} : std::vector<std::string>{};
    args.insert(args.end(), {"--join", joins, "--join-token", token, "--node-name", node_name(i),
                             "--address", "127.0.0." + std::to_string(i + 2), "--port-range",
                             std::to_string(first) + "-" + std::to_string(first + 199),
                             "--no-docker", "--stop-replicas-on-exit"});
    nodes_.push_back(std::make_unique<harness::daemon_process>(
        harness::daemon_process::mode{"node"}, std::move(args)));
    cuts_.emplace_back();
  }
}

own_cluster::~own_cluster() {
  stop();
  if (!config_.empty())
    ::unlink(config_.c_str());
}

std::vector<std::string> own_cluster::apis() const {
  std::vector<std::string> out;
  for (const auto& c : controls_)
    out.push_back(c->api());
  return out;
}

std::vector<std::string> own_cluster::restart_ended_controls() {
  std::vector<std::string> out;
  for (size_t i = 0; i < controls_.size(); ++i) {
    auto status = controls_[i]->ended();
    if (status < 0)
      continue;
    etcd_cuts_[i].reset();
    frozen_[i] = false;
    controls_[i]->restart();
    out.push_back("control " + std::to_string(i + 1) + " (status " + std::to_string(status) + ")");
  }
  return out;
}

void own_cluster::freeze_control(int i) {
  if (controls_[i]->running() && ::kill(controls_[i]->pid(), SIGSTOP) == 0)
    frozen_[i] = true;
}

void own_cluster::thaw_control(int i) {
  if (frozen_[i] && controls_[i]->running())
    ::kill(controls_[i]->pid(), SIGCONT);
  frozen_[i] = false;
}

bool own_cluster::cut_control(int i) {
  if (!etcd_ || !controls_[i]->running())
    return false;
  std::vector<uint16_t> ports;
  for (const auto& url : etcd_->client_urls())
    ports.push_back(static_cast<uint16_t>(std::stoi(url.substr(url.rfind(':') + 1))));
  auto cut = std::make_unique<harness::process_cut>(controls_[i]->pid(), ports);
  if (!cut->ok())
    return false;
  etcd_cuts_[i] = std::move(cut);
  return true;
}

bool own_cluster::cut_node(int i) {
  // A node is connected to one control process: the leader's listen port.
  for (auto port : listens_) {
    auto cut = std::make_unique<harness::link_cut>(nodes_[i]->pid(), port);
    if (cut->ok()) {
      cuts_[i] = std::move(cut);
      return true;
    }
  }
  return false;
}

int own_cluster::leftover_rules() const {
  int n = harness::process_cut_rules();
  for (auto port : listens_)
    n += harness::rules_mentioning(port);
  return n;
}

void own_cluster::stop() {
  for (auto& c : cuts_)
    c.reset();
  for (auto& c : etcd_cuts_)
    c.reset();
  for (size_t i = 0; i < controls_.size(); ++i)
    thaw_control(static_cast<int>(i));
  for (auto& n : nodes_)
    n->stop();
  for (auto& c : controls_)
    c->stop();
}

} // namespace tutti::chaos
