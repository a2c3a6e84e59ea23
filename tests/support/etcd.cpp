#include "tests/support/etcd.hpp"

#include "tests/support/wait.hpp"

#include <unistd.h>

#include <chrono>

namespace tutti::tests::support {

namespace {

constexpr const char* etcd_binary = "/usr/bin/etcd";

std::string host_of(size_t i) {
  return "127.0.0." + std::to_string(i + 1);
}

/// Member i's URL on its client port (offset 0) or peer port (offset 1).
std::string url_of(size_t i, const port_range_lease& ports, size_t offset) {
  return "http://" + host_of(i) + ":" + std::to_string(ports.first() + 2 * i + offset);
}

} // namespace

std::unique_ptr<etcd_cluster> etcd_cluster::start(size_t members, std::string& why,
                                                  bool& unavailable) {
  unavailable = false;
  if (::access(etcd_binary, X_OK) != 0) {
    unavailable = true;
    why = std::string{etcd_binary} + " is missing (Debian package etcd-server)";
    return nullptr;
  }
  std::unique_ptr<etcd_cluster> c{new etcd_cluster};
  c->dir_ = std::make_unique<temp_dir>("tutti-etcd-");
  c->ports_ = std::make_unique<port_range_lease>(static_cast<uint16_t>(2 * members));
  std::string initial;
  for (size_t i = 0; i < members; ++i) {
    initial += (i == 0 ? "" : ",") + ("m" + std::to_string(i)) + "=" + url_of(i, *c->ports_, 1);
  }
  for (size_t i = 0; i < members; ++i) {
    auto name = "m" + std::to_string(i);
    auto client = url_of(i, *c->ports_, 0);
    auto peer = url_of(i, *c->ports_, 1);
    c->client_urls_.push_back(client);
    child_process::options opts;
    opts.stderr_file = c->dir_->file(name + ".log");
    c->members_.push_back(child_process::start({etcd_binary,
                                                "--name",
                                                name,
                                                "--data-dir",
                                                c->dir_->file(name),
                                                "--listen-client-urls",
                                                client,
                                                "--advertise-client-urls",
                                                client,
                                                "--listen-peer-urls",
                                                peer,
                                                "--initial-advertise-peer-urls",
                                                peer,
                                                "--initial-cluster",
                                                initial,
                                                "--initial-cluster-state",
                                                "new",
                                                "--heartbeat-interval",
                                                "50",
                                                "--election-timeout",
                                                "500",
                                                "--log-level",
                                                "warn"},
                                               opts));
  }
  for (size_t i = 0; i < members; ++i)
    if (!c->wait_ready(i, why))
      return nullptr;
  return c;
}

bool etcd_cluster::wait_ready(size_t i, std::string& why) {
  auto port = static_cast<uint16_t>(ports_->first() + 2 * i);
  bool ok = wait_until(
      [&] {
        auto r = http_get(host_of(i), port, "/health", std::chrono::milliseconds{500});
        return r && r->status == 200 && r->body.find("\"true\"") != std::string::npos;
      },
      std::chrono::seconds{20});
  if (!ok)
    why = "etcd member " + std::to_string(i) + " at " + client_urls_[i] +
          " not healthy within 20 s: " + log(i);
  return ok;
}

etcd_cluster::~etcd_cluster() {
  for (auto& m : members_)
    m.kill_group();
}

void etcd_cluster::kill(size_t i) {
  members_.at(i).kill_group();
}

std::string etcd_cluster::log(size_t i) const {
  return read_file(dir_->file("m" + std::to_string(i) + ".log"));
}

} // namespace tutti::tests::support
