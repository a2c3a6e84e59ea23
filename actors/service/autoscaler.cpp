#include "actors/service/autoscaler.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <optional>
#include <utility>

namespace tutti::actors {

namespace {

using protocol::autoscale_metric;

/// The short (panic) window: a tenth of the stable one, at least a second.
autoscaler::clock::duration panic_window(caf::timespan window) {
  return std::max<autoscaler::clock::duration>(window / 10, std::chrono::seconds{1});
}

std::string format(double x) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.*f", x < 10 ? 1 : 0, x);
  return buf;
}

std::string reason_of(autoscale_metric type, double total, int32_t current, double target) {
  bool share = type == autoscale_metric::cpu || type == autoscale_metric::memory;
  auto unit = share ? std::string{"%"} : std::string{};
  return protocol::to_string(type) + " " + format(total) + unit + " (" +
         format(total / std::max(current, 1)) + unit + " per replica, target " + format(target) +
         unit + ")";
}

} // namespace

autoscaler::autoscaler(protocol::autoscale_spec spec) : spec_(std::move(spec)) {}

void autoscaler::observe(autoscale_metric metric, double total, clock::time_point now) {
  samples_[metric].push_back({now, std::max(total, 0.0)});
  forget_before(now);
}

void autoscaler::forget_before(clock::time_point now) {
  auto window = std::chrono::duration_cast<clock::duration>(spec_.window);
  auto keep = std::max<clock::duration>(
      window, std::chrono::duration_cast<clock::duration>(spec_.scale_down_stabilization));
  for (auto& [metric, xs] : samples_)
    while (!xs.empty() && xs.front().at < now - window)
      xs.pop_front();
  while (!proposals_.empty() && proposals_.front().first < now - keep)
    proposals_.pop_front();
  auto period = std::chrono::duration_cast<clock::duration>(
      std::max(spec_.scale_up.period, spec_.scale_down.period));
  // One count older than the period stays: the count at the period's start.
  while (counts_.size() > 1 && counts_[1].first <= now - period)
    counts_.pop_front();
}

double autoscaler::mean_since(autoscale_metric metric, clock::time_point since) const {
  auto i = samples_.find(metric);
  if (i == samples_.end())
    return -1;
  double sum = 0;
  int n = 0;
  for (const auto& s : i->second)
    if (s.at >= since) {
      sum += s.total;
      ++n;
    }
  return n == 0 ? -1 : sum / n;
}

double autoscaler::value(autoscale_metric metric, clock::time_point now) const {
  return mean_since(metric, now - std::chrono::duration_cast<clock::duration>(spec_.window));
}

autoscale_decision autoscaler::propose(int32_t current, clock::time_point now) {
  autoscale_decision out{current, {}};
  bool any = false;
  auto short_since = now - panic_window(spec_.window);
  for (const auto& m : spec_.metrics) {
    auto stable = value(m.type, now);
    if (stable < 0)
      continue; // no sample: this metric has no say
    auto burst = mean_since(m.type, short_since);
    if (burst >= 2 * m.target * std::max(current, 1))
      panic_until_ = now + std::chrono::duration_cast<clock::duration>(spec_.window);
    // In a panic the short window decides, and only upwards.
    auto used = panicking(now) && burst > stable ? burst : stable;
    auto wanted = static_cast<int32_t>(std::ceil(used / m.target));
    if (current > 0 && std::abs(used / (m.target * current) - 1) <= tolerance)
      wanted = current;
    if (!any || wanted > out.desired) {
      out = {wanted, reason_of(m.type, used, current, m.target)};
      any = true;
    }
  }
  if (!any)
    return {current, {}};
  if (panicking(now))
    out.desired = std::max(out.desired, current);
  return out;
}

int32_t autoscaler::limit(int32_t current, int32_t proposal, clock::time_point now) {
  proposals_.emplace_back(now, proposal);
  auto desired = proposal;
  if (desired < current) {
    // The highest proposal of the stabilization window: a dip does not scale down.
    auto since = now - std::chrono::duration_cast<clock::duration>(spec_.scale_down_stabilization);
    for (const auto& [at, p] : proposals_)
      if (at >= since)
        desired = std::max(desired, p);
    desired = std::min(desired, current);
  }
  // The count at the start of each rule's period bounds the move.
  auto base_at = [&](caf::timespan period, bool lowest) {
    auto since = now - std::chrono::duration_cast<clock::duration>(period);
    auto pick = [lowest](int32_t a, int32_t b) { return lowest ? std::min(a, b) : std::max(a, b); };
    int32_t base = current;
    std::optional<int32_t> before; // the count in force when the period began
    for (const auto& [at, n] : counts_) {
      if (at < since)
        before = n;
      else
        base = pick(base, n);
    }
    return before ? pick(base, *before) : base;
  };
  if (desired > current) {
    auto base = base_at(spec_.scale_up.period, true);
    auto by_share = static_cast<int32_t>(std::ceil(base * (1 + spec_.scale_up.percent / 100.0)));
    desired = std::min(desired, std::max({base + spec_.scale_up.replicas, by_share, base + 1}));
  } else if (desired < current) {
    auto base = base_at(spec_.scale_down.period, false);
    auto by_share = static_cast<int32_t>(std::floor(base * spec_.scale_down.percent / 100.0));
    desired = std::max(desired, base - std::max(spec_.scale_down.replicas, by_share));
  }
  return std::clamp(desired, spec_.min, spec_.max);
}

autoscale_decision autoscaler::decide(int32_t current, clock::time_point now) {
  forget_before(now);
  auto proposal = propose(current, now);
  auto desired = limit(current, std::clamp(proposal.desired, spec_.min, spec_.max), now);
  if (current < spec_.min || current > spec_.max)
    desired = std::clamp(current, spec_.min, spec_.max); // the bounds first
  counts_.emplace_back(now, desired);
  if (desired == current)
    return {current, {}};
  return {desired, proposal.reason.empty() ? "bounds " + std::to_string(spec_.min) + "-" +
                                                 std::to_string(spec_.max)
                                           : proposal.reason};
}

} // namespace tutti::actors
