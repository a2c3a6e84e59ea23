#include "actors/daemon/ha_control.hpp"

#include "actors/daemon/controllers_actor.hpp"
#include "actors/daemon/dev_daemon.hpp"
#include "actors/daemon/leader_election.hpp"
#include "actors/daemon/store_setup.hpp"
#include "metrics/catalogue.hpp"
#include "protocol/errors.hpp"

#include <spdlog/spdlog.h>

#include <chrono>
#include <memory>
#include <thread>

namespace tutti::actors {

namespace {

namespace p = tutti::protocol;

int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

election_options election_of(const config::daemon_config& cfg) {
  election_options opts;
  opts.key = cfg.store.etcd.prefix + "leader";
  opts.candidate = controller_id(cfg);
  opts.registry_key = cfg.store.etcd.prefix + "controllers/" + opts.candidate;
  opts.registry_value = controller_record(cfg, now_ms());
  opts.ttl = cfg.store.etcd.leader_ttl;
  return opts;
}

class candidate {
public:
  candidate(const config::daemon_config& cfg, std::shared_ptr<persistence::etcd::client> etcd,
            const std::atomic<bool>& stop)
      : cfg_(cfg), election_(std::move(etcd), election_of(cfg)), stop_(stop) {
    standby_metrics_.set_leader(false);
  }

  caf::error run() {
    spdlog::info("tuttid control: standing by for leadership ({}, store {})",
                 controller_id(cfg_), describe_store(cfg_));
    auto stopping = [this] { return stop_.load(); };
    while (!stop_) {
      if (auto err = expose_standby())
        return err;
      auto fence = election_.campaign(stopping, [](const std::string& leader) {
        spdlog::info("tuttid control: standing by; the leader is {}",
                     leader.empty() ? std::string{"(none)"} : leader);
      });
      if (!fence)
        break; // stopped
      if (auto err = lead(*fence))
        return err;
    }
    election_.resign();
    return caf::none;
  }

private:
  /// Serves tutti_leader 0 on the metrics address while standing by.
  caf::error expose_standby() {
    try {
      standby_exposer_ =
          std::make_unique<metrics::exposer>(standby_metrics_, cfg_.metrics.to_string());
      return caf::none;
    } catch (const std::exception& e) {
      return p::make_error(p::error_code::invalid_argument,
                           std::string{e.what()} + "; choose another --metrics address");
    }
  }

  /// Runs the control plane until leadership is lost (none: stand by again),
  /// `stop` is set, or it fails (its error).
  caf::error lead(persistence::write_fence fence) {
    spdlog::info("tuttid control: leading (lease TTL {} s)", election_.ttl().count());
    standby_exposer_.reset(); // the control plane serves the metrics address now
    auto daemon = dev_daemon::start(cfg_, daemon_mode::control, std::move(fence));
    if (!daemon) {
      election_.resign();
      return daemon.error();
    }
    caf::error failure;
    std::atomic<bool> ended{false};
    std::thread watcher([&] {
      failure = (*daemon)->wait();
      ended = true;
    });
    auto lost = election_.hold([&] { return stop_.load() || ended.load(); });
    (*daemon)->shutdown();
    watcher.join();
    // Its lease may outlive the loss (etcd renews every lease when it elects a
    // leader of its own): kept alive while standing by, the old key would name
    // this process forever and nobody would lead. Revoked, the key goes.
    election_.resign();
    if (failure && !lost)
      return failure;
    if (lost)
      spdlog::warn("tuttid control: no longer leading: {}; standing by", p::message_of(lost));
    return caf::none;
  }

  const config::daemon_config& cfg_;
  leader_election election_;
  const std::atomic<bool>& stop_;
  metrics::catalogue standby_metrics_;
  std::unique_ptr<metrics::exposer> standby_exposer_;
};

} // namespace

caf::error ha_control::run(const config::daemon_config& cfg, const std::atomic<bool>& stop) {
  auto etcd = make_etcd_client(cfg.store.etcd);
  if (!etcd)
    return etcd.error();
  candidate c{cfg, std::move(*etcd), stop};
  return c.run();
}

} // namespace tutti::actors
