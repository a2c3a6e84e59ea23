#include "persistence/etcd_mirror.hpp"

#include "protocol/errors.hpp"

#include <algorithm>
#include <chrono>

namespace tutti::persistence::etcd {

namespace p = tutti::protocol;

etcd_mirror::etcd_mirror(std::shared_ptr<client> etcd, std::string prefix)
    : etcd_(std::move(etcd)), prefix_(std::move(prefix)), thread_([this] { follow(); }) {}

etcd_mirror::~etcd_mirror() {
  stop_ = true;
  cancel_.cancel();
  thread_.join();
}

int64_t etcd_mirror::revision() const {
  std::lock_guard<std::mutex> guard{mtx_};
  return revision_;
}

caf::error etcd_mirror::read_all() {
  auto r = etcd_->range(prefix_, prefix_end(prefix_));
  if (!r)
    return std::move(r.error());
  std::map<std::string, key_value> keys;
  for (auto& kv : r->kvs)
    keys.emplace(kv.key, std::move(kv));
  std::lock_guard<std::mutex> guard{mtx_};
  keys_ = std::move(keys);
  revision_ = r->revision;
  problem_.clear();
  return caf::none;
}

void etcd_mirror::apply(int64_t revision, std::vector<watch_event> changes) {
  std::lock_guard<std::mutex> guard{mtx_};
  for (auto& c : changes) {
    if (c.deleted)
      keys_.erase(c.kv.key);
    else
      keys_[c.kv.key] = std::move(c.kv);
  }
  revision_ = std::max(revision_, revision);
}

void etcd_mirror::follow() {
  auto stopping = [this] { return stop_.load(); };
  auto pause = [this] {
    for (int i = 0; i < 50 && !stop_; ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds{10});
  };
  while (!stop_) {
    auto err = read_all();
    if (!err) {
      err = etcd_->watch(prefix_, prefix_end(prefix_), revision() + 1,
                         [this](int64_t rev, std::vector<watch_event> xs) {
                           apply(rev, std::move(xs));
                         },
                         stopping, &cancel_);
      if (!err)
        continue; // stopped
    }
    // Served as it is until read again: a standby's reads may be a little old
    // then, as they are while etcd is out of reach (its campaign says so).
    {
      std::lock_guard<std::mutex> guard{mtx_};
      if (revision_ == 0)
        problem_ = p::message_of(err);
    }
    pause();
  }
}

caf::expected<range_result> etcd_mirror::range(const std::string& key,
                                               const std::string& range_end, int64_t limit,
                                               int64_t, bool newest_first) {
  std::lock_guard<std::mutex> guard{mtx_};
  if (revision_ == 0)
    return p::make_error(p::error_code::unavailable,
                         "this standby has not read etcd's state yet (" + problem_ + ")");
  range_result out;
  out.revision = revision_;
  auto first = keys_.lower_bound(key);
  auto last = range_end.empty() ? (first != keys_.end() && first->first == key ? std::next(first)
                                                                               : first)
                                : (range_end == std::string(1, '\0') ? keys_.end()
                                                                     : keys_.lower_bound(range_end));
  std::vector<const key_value*> in;
  for (auto i = first; i != last; ++i)
    in.push_back(&i->second);
  out.count = static_cast<int64_t>(in.size());
  if (newest_first)
    std::reverse(in.begin(), in.end());
  size_t n = limit > 0 ? std::min(in.size(), static_cast<size_t>(limit)) : in.size();
  out.more = n < in.size();
  for (size_t i = 0; i < n; ++i)
    out.kvs.push_back(*in[i]);
  return out;
}

} // namespace tutti::persistence::etcd
