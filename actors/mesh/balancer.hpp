#pragma once

// The choice of the routing mesh: which upstream (replica endpoint) gets the next
// connection of one published port. Plain logic without I/O or threads, so it is
// tested on its own; mesh_proxy owns one per published port and uses it on its KJ
// thread only.

#include "protocol/spec.hpp"

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace tutti::actors {

/// One address connections can be forwarded to.
struct upstream {
  std::string replica;
  std::string host;
  uint16_t port = 0;
  friend bool operator==(const upstream&, const upstream&) = default;
};

/// "host:port": identifies an upstream across updates of the set.
std::string key_of(const upstream& x);

class balancer {
public:
  explicit balancer(protocol::load_balancing policy = protocol::load_balancing::round_robin);

  void set_policy(protocol::load_balancing policy) { policy_ = policy; }
  protocol::load_balancing policy() const { return policy_; }

  /// Replaces the set. Open connections of upstreams that stay keep counting for
  /// least_connections; those of removed ones still close normally.
  void set_upstreams(std::vector<upstream> xs);
  const std::vector<upstream>& upstreams() const { return upstreams_; }

  /// The upstream for the next attempt, skipping the keys in `tried` (the
  /// upstreams that refused this connection already); nullptr when none is left.
  /// round_robin rotates through the set; least_connections takes the one with
  /// the fewest open connections, rotating among equals. The pointer is valid
  /// until the next set_upstreams.
  const upstream* pick(const std::vector<std::string>& tried = {});

  /// A connection to `key` was established / has ended.
  void opened(const std::string& key);
  void closed(const std::string& key);
  int32_t active(const std::string& key) const;

private:
  bool skipped(size_t i, const std::vector<std::string>& tried) const;

  protocol::load_balancing policy_;
  std::vector<upstream> upstreams_;
  std::vector<std::string> keys_; // key_of(upstreams_[i])
  std::map<std::string, int32_t> active_;
  size_t next_ = 0; // where the rotation goes on
};

} // namespace tutti::actors
