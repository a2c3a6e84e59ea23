#include "actors/daemon/ha_control.hpp"

#include "actors/daemon/controllers_actor.hpp"
#include "actors/daemon/dev_daemon.hpp"
#include "actors/daemon/leader_election.hpp"
#include "actors/daemon/standby_plane.hpp"
#include "actors/daemon/store_setup.hpp"
#include "metrics/catalogue.hpp"
#include "protocol/errors.hpp"

#include <spdlog/spdlog.h>

#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <mutex>
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

/// How long a control plane may take to end when its process leaves the lead.
constexpr std::chrono::seconds shutdown_deadline{20};
constexpr int exit_status_stuck = 3;

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
      : cfg_(cfg), etcd_(etcd), election_(std::move(etcd), election_of(cfg)), stop_(stop),
        status_(std::make_shared<standby_status>()),
        metrics_(std::make_shared<metrics::catalogue>()) {}

  caf::error run() {
    spdlog::info("tuttid control: standing by for leadership ({}, store {})",
                 controller_id(cfg_), describe_store(cfg_));
    if (auto err = expose_metrics())
      return err;
    auto stopping = [this] { return stop_.load(); };
    while (!stop_) {
      metrics_->set_leader(false);
      auto standby = standby_plane::start(standby_context{cfg_, etcd_, status_}, *metrics_);
      if (!standby)
        return standby.error();
      auto fence = election_.campaign(stopping, [this](const std::string& leader,
                                                       const std::string& problem) {
        saw(leader, problem);
      });
      if (!fence)
        break; // stopped
      if (auto err = lead(*fence, *standby))
        return err;
    }
    election_.resign();
    return caf::none;
  }

private:
  /// One metrics endpoint for the process's life: tutti_leader says which
  /// role it has, and the count of leader changes survives them.
  caf::error expose_metrics() {
    try {
      exposer_ = std::make_unique<metrics::exposer>(*metrics_, cfg_.metrics.to_string());
      return caf::none;
    } catch (const std::exception& e) {
      return p::make_error(p::error_code::invalid_argument,
                           std::string{e.what()} + "; choose another --metrics address");
    }
  }

  void saw(const std::string& leader, const std::string& problem) {
    status_->set(leader, problem.empty() ? problem : "etcd does not answer: " + problem);
    if (!problem.empty())
      return; // the campaign logs it
    spdlog::info("tuttid control: standing by; the leader is {}",
                 leader.empty() ? std::string{"(none)"} : leader);
    if (!leader.empty() && leader != last_leader_)
      metrics_->count_leader_change();
    if (!leader.empty())
      last_leader_ = leader;
  }

  /// Runs the control plane until leadership is lost (none: stand by again),
  /// `stop` is set, or it fails (its error).
  /// The lease is renewed from the moment the campaign is won, on a thread
  /// of its own: ending the standby plane and starting the control plane
  /// (reading the whole state from etcd) may take longer than the lease's TTL.
  caf::error lead(persistence::write_fence fence, std::unique_ptr<standby_plane>& standby) {
    spdlog::info("tuttid control: leading (lease TTL {} s)", election_.ttl().count());
    metrics_->count_leader_change();
    last_leader_ = controller_id(cfg_);
    std::atomic<bool> ended{false};
    caf::error lost;
    std::thread holder([&] { lost = election_.hold([&] { return stop_.load() || ended.load(); }); });
    standby.reset(); // the control plane binds the API address now
    auto daemon = dev_daemon::start(cfg_, daemon_mode::control, leadership{std::move(fence), metrics_});
    if (!daemon) {
      ended = true;
      holder.join();
      election_.resign();
      return daemon.error();
    }
    caf::error failure;
    std::thread watcher([&] {
      failure = (*daemon)->wait();
      ended = true;
    });
    holder.join();
    if (lost)
      (*daemon)->stand_down("this control process no longer leads: " + p::message_of(lost));
    end_within(**daemon, shutdown_deadline);
    watcher.join();
    // Its lease may outlive the loss (etcd renews every lease when it elects a
    // leader of its own): kept alive while standing by, the old key would name
    // this process forever and nobody would lead. Revoked, the key goes.
    election_.resign();
    if (failure && !lost)
      return failure;
    if (lost) {
      spdlog::warn("tuttid control: no longer leading: {}; standing by", p::message_of(lost));
      // Until the campaign's first look says who leads: why this one stood down.
      status_->set({}, p::code_of(lost) == p::error_code::unavailable ? p::message_of(lost)
                                                                       : std::string{});
    }
    return caf::none;
  }

  /// Shuts the control plane down, or, when that takes longer than `limit`,
  /// ends the process: a control process that cannot let go of a control
  /// plane it no longer leads must not linger half-stopped (it would never
  /// lead again, nor stop on SIGTERM). Its supervisor (systemd's
  /// Restart=on-failure) starts it again, as Kubernetes' controllers exit
  /// when they lose their lease.
  static void end_within(dev_daemon& daemon, std::chrono::seconds limit) {
    std::mutex mtx;
    std::condition_variable cv;
    bool done = false;
    // The watchdog waits; shutdown runs on this thread, the one that started
    // the control plane: CAF's actor system, ending, waits until its logger is
    // gone, and a thread that spawned actors keeps the logger of their system
    // (a thread-local, set by every spawn) until it clears it by ending one.
    std::thread watchdog([&] {
      std::unique_lock<std::mutex> guard{mtx};
      if (cv.wait_for(guard, limit, [&] { return done; }))
        return;
      spdlog::critical("tuttid control: its control plane did not end within {} s of leaving "
                       "the lead; exiting (status {}) for its supervisor to start it again",
                       limit.count(), exit_status_stuck);
      std::_Exit(exit_status_stuck);
    });
    daemon.shutdown();
    {
      std::lock_guard<std::mutex> guard{mtx};
      done = true;
    }
    cv.notify_all();
    watchdog.join();
  }

  const config::daemon_config& cfg_;
  std::shared_ptr<persistence::etcd::client> etcd_;
  leader_election election_;
  const std::atomic<bool>& stop_;
  std::shared_ptr<standby_status> status_;
  std::shared_ptr<metrics::catalogue> metrics_;
  std::unique_ptr<metrics::exposer> exposer_;
  std::string last_leader_;
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
