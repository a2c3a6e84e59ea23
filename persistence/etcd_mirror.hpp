#pragma once

// A copy in memory of every key under a prefix of etcd, kept current by a
// watch: what a standby control process reads (history, events) without a
// round trip to etcd each time. It reads the prefix at a revision, then
// watches from the next one; when the watch breaks (etcd restarted, the
// revision compacted) it reads again and watches anew. Its range() answers as
// the client's would, from memory, once the first read is in.

#include "persistence/etcd_client.hpp"

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

namespace tutti::persistence::etcd {

class etcd_mirror final : public reader {
public:
  /// Starts following `prefix` on a thread of its own.
  etcd_mirror(std::shared_ptr<client> etcd, std::string prefix);
  ~etcd_mirror() override; // ends the watch and the thread
  etcd_mirror(const etcd_mirror&) = delete;
  etcd_mirror& operator=(const etcd_mirror&) = delete;

  /// From memory; unavailable (saying why) until the first read of etcd is in.
  caf::expected<range_result> range(const std::string& key, const std::string& range_end = {},
                                    int64_t limit = 0, int64_t revision = 0,
                                    bool newest_first = false) override;

  /// The etcd revision the copy is at (0: not read yet).
  int64_t revision() const;

private:
  void follow();
  caf::error read_all();
  void apply(int64_t revision, std::vector<watch_event> changes);

  std::shared_ptr<client> etcd_;
  std::string prefix_;
  mutable std::mutex mtx_;
  std::map<std::string, key_value> keys_;
  int64_t revision_ = 0;
  std::string problem_ = "not read yet"; // why the copy is not filled, while it is not
  std::atomic<bool> stop_{false};
  watch_cancel cancel_; // ends the watch at once when the mirror goes
  std::thread thread_;
};

} // namespace tutti::persistence::etcd
