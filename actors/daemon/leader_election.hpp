#pragma once

// Which of several `tuttid control` on one etcd store leads: the one whose
// election key (PREFIX "leader") exists under its own lease. A candidate puts
// the key only if it does not exist (a transaction comparing its
// create_revision with 0) and keeps its lease alive; when the leader dies,
// freezes or loses etcd, its lease expires after its TTL and the key goes with
// it, and the next candidate to look takes it. The key's value names the
// leader (its API address), for `tutti get controllers` and the standbys' logs.
//
// Leadership is also the fence of the store (persistence/etcd_store.hpp):
// every write compares the key's create_revision, so a leader whose lease
// expired writes nothing, even before it notices.

#include "persistence/etcd_client.hpp"
#include "persistence/etcd_store.hpp"

#include <caf/expected.hpp>

#include <chrono>
#include <functional>
#include <memory>
#include <string>

namespace tutti::actors {

struct election_options {
  std::string key;                          // PREFIX + "leader"
  std::string candidate;                    // this process, as the key's value names it
  std::chrono::seconds ttl{1};              // etcd may raise a short one
  std::chrono::milliseconds poll{100};      // how often a standby looks at the key
  // This process's entry in the registry of control processes, kept under
  // the same lease: it vanishes with the process (`tutti get controllers`).
  std::string registry_key;
  std::string registry_value;
};

class leader_election {
public:
  leader_election(std::shared_ptr<persistence::etcd::client> etcd, election_options opts);
  ~leader_election();
  leader_election(const leader_election&) = delete;
  leader_election& operator=(const leader_election&) = delete;

  /// Blocks until this process leads (the fence of its writes) or `stop` is
  /// set (an error then). `standing_by` hears the current leader's value each
  /// time it changes (empty: none yet), or, when etcd does not answer, why
  /// (`problem`, with an empty leader).
  caf::expected<persistence::write_fence>
  campaign(const std::function<bool()>& stop,
           const std::function<void(const std::string& leader, const std::string& problem)>&
               standing_by);

  /// Renews the lease until leadership is lost (returns why) or `stop` is set
  /// (returns none). Lost: not_leader when etcd says so (the lease expired
  /// while this process was frozen, or the key is no longer the one it
  /// created); unavailable when etcd did not answer for a whole TTL.
  caf::error hold(const std::function<bool()>& stop);

  /// Gives leadership up at once (revokes the lease): a standby takes over
  /// without waiting for the TTL.
  void resign();

  /// The lease's TTL as etcd granted it.
  std::chrono::seconds ttl() const;

private:
  /// Renews the lease and checks the key is still this process's: none when
  /// both hold, not_leader when leadership is gone for sure, another error
  /// when etcd did not answer.
  caf::error renew();

  std::shared_ptr<persistence::etcd::client> etcd_;
  election_options opts_;
  int64_t lease_ = 0;
  std::chrono::seconds granted_ttl_{0};
  int64_t created_ = 0; // the key's create_revision while this process leads
};

} // namespace tutti::actors
