#include "actors/mesh/balancer.hpp"

#include <algorithm>
#include <limits>

namespace tutti::actors {

std::string key_of(const upstream& x) {
  return x.host + ":" + std::to_string(x.port);
}

balancer::balancer(protocol::load_balancing policy) : policy_(policy) {}

void balancer::set_upstreams(std::vector<upstream> xs) {
  upstreams_ = std::move(xs);
  keys_.clear();
  for (const auto& x : upstreams_)
    keys_.push_back(key_of(x));
  if (next_ >= upstreams_.size())
    next_ = 0;
}

bool balancer::skipped(size_t i, const std::vector<std::string>& tried) const {
  return std::find(tried.begin(), tried.end(), keys_[i]) != tried.end();
}

const upstream* balancer::pick(const std::vector<std::string>& tried) {
  auto n = upstreams_.size();
  if (n == 0)
    return nullptr;
  size_t best = n;
  int32_t best_active = std::numeric_limits<int32_t>::max();
  for (size_t step = 0; step < n; ++step) {
    auto i = (next_ + step) % n;
    if (skipped(i, tried))
      continue;
    if (policy_ == protocol::load_balancing::round_robin) {
      best = i;
      break;
    }
    // Strictly fewer wins, so among equals the first in rotation order does.
    auto load = active(keys_[i]);
    if (load < best_active) {
      best = i;
      best_active = load;
    }
  }
  if (best == n)
    return nullptr;
  next_ = (best + 1) % n;
  return &upstreams_[best];
}

void balancer::opened(const std::string& key) {
  ++active_[key];
}

void balancer::closed(const std::string& key) {
  auto i = active_.find(key);
  if (i == active_.end())
    return;
  if (--i->second <= 0)
    active_.erase(i);
}

int32_t balancer::active(const std::string& key) const {
  auto i = active_.find(key);
  return i == active_.end() ? 0 : i->second;
}

} // namespace tutti::actors
