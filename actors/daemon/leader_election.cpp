#include "actors/daemon/leader_election.hpp"

#include "protocol/errors.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <thread>

namespace tutti::actors {

namespace {

namespace p = tutti::protocol;
namespace etcd = persistence::etcd;
using clock = std::chrono::steady_clock;

/// Sleeps `d`, waking early when `stop` is set.
void nap(std::chrono::milliseconds d, const std::function<bool()>& stop) {
  auto until = clock::now() + d;
  while (!stop() && clock::now() < until)
    std::this_thread::sleep_for(std::min<clock::duration>(std::chrono::milliseconds{10},
                                                          until - clock::now()));
}

} // namespace

leader_election::leader_election(std::shared_ptr<etcd::client> etcd, election_options opts)
    : etcd_(std::move(etcd)), opts_(std::move(opts)) {}

leader_election::~leader_election() = default;

std::chrono::seconds leader_election::ttl() const {
  return granted_ttl_;
}

caf::expected<persistence::write_fence>
leader_election::campaign(const std::function<bool()>& stop,
                          const std::function<void(const std::string&, const std::string&)>&
                              standing_by) {
  std::string seen = "\x01"; // no leader value looks like this: the first look reports
  std::string last_problem;
  auto problem = [&](const caf::error& err) {
    auto text = p::message_of(err);
    if (text != last_problem) {
      spdlog::warn("control: cannot campaign for leadership: {}; trying again", text);
      // Who led before etcd went silent is not known any more.
      standing_by({}, text);
      seen = "\x01";
    }
    last_problem = text;
  };
  for (; !stop(); nap(opts_.poll, stop)) {
    if (lease_ != 0) {
      // Standing by keeps the lease alive, so that taking over needs one request.
      auto left = etcd_->keep_alive(lease_);
      if (!left || *left <= std::chrono::seconds{0})
        lease_ = 0;
    }
    if (lease_ == 0) {
      auto granted = etcd_->grant(opts_.ttl);
      if (!granted) {
        problem(granted.error());
        continue;
      }
      lease_ = granted->id;
      granted_ttl_ = granted->ttl;
      if (!opts_.registry_key.empty())
        if (auto put = etcd_->put(opts_.registry_key, opts_.registry_value, lease_); !put) {
          problem(put.error());
          continue;
        }
    }
    auto r = etcd_->txn({{opts_.key, etcd::compare_target::create_revision,
                          etcd::compare_result::equal, 0, {}}},
                        {etcd::put_op{opts_.key, opts_.candidate, lease_}},
                        {etcd::range_op{opts_.key, {}}});
    if (!r) {
      problem(r.error());
      continue;
    }
    last_problem.clear();
    if (r->succeeded) {
      created_ = r->revision;
      return persistence::write_fence{opts_.key, created_};
    }
    std::string leader;
    if (!r->ranges.empty() && !r->ranges.front().kvs.empty())
      leader = r->ranges.front().kvs.front().value;
    if (leader != seen)
      standing_by(leader, {});
    seen = leader;
  }
  return p::make_error(p::error_code::unavailable, "stopped before leading");
}

caf::error leader_election::renew() {
  auto left = etcd_->keep_alive(lease_);
  if (!left)
    return std::move(left.error());
  if (*left <= std::chrono::seconds{0})
    return p::make_error(p::error_code::not_leader,
                         "this control process's lease in etcd expired (it was frozen or cut "
                         "from etcd for longer than its " +
                             std::to_string(granted_ttl_.count()) + " s TTL)");
  auto key = etcd_->range(opts_.key);
  if (!key)
    return std::move(key.error());
  if (key->kvs.empty() || key->kvs.front().create_revision != created_)
    return p::make_error(p::error_code::not_leader,
                         "the election key " + opts_.key + " is no longer this process's");
  return caf::none;
}

caf::error leader_election::hold(const std::function<bool()>& stop) {
  auto every = std::max<std::chrono::milliseconds>(
      std::chrono::milliseconds{50},
      std::chrono::duration_cast<std::chrono::milliseconds>(granted_ttl_) / 4);
  // etcd's lease ends no earlier than TTL after the last renewal it answered
  // was sent: past that, this process cannot know it still leads.
  auto last_renewal_sent = clock::now();
  while (!stop()) {
    nap(every, stop);
    if (stop())
      break;
    auto sent = clock::now();
    auto err = renew();
    if (!err) {
      last_renewal_sent = sent;
      continue;
    }
    if (p::code_of(err) == p::error_code::not_leader)
      return err;
    if (clock::now() - last_renewal_sent >= granted_ttl_)
      return p::make_error(p::error_code::unavailable,
                           "etcd did not answer this control process for its lease's " +
                               std::to_string(granted_ttl_.count()) + " s TTL (" +
                               p::message_of(err) + ")");
  }
  return caf::none;
}

void leader_election::resign() {
  if (lease_ != 0)
    static_cast<void>(etcd_->revoke(lease_));
  lease_ = 0;
  created_ = 0;
}

} // namespace tutti::actors
