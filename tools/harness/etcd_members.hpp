#pragma once

// A private etcd cluster for benchmarks and the chaos tool: `members` etcd
// processes (Debian's etcd-server), member i on 127.0.0.(i+1) with free client
// and peer ports, data in a temp directory, a short heartbeat (50 ms) and
// election timeout (500 ms) so that leases of 1 s work. Killed, with the
// directory removed, when the object goes away.

#include <cstddef>
#include <string>
#include <vector>

namespace tutti::harness {

class etcd_members {
public:
  /// Starts the members and waits until each answers; throws
  /// std::runtime_error naming what failed (no etcd binary, a member that
  /// did not come up).
  explicit etcd_members(size_t members);
  ~etcd_members();
  etcd_members(const etcd_members&) = delete;
  etcd_members& operator=(const etcd_members&) = delete;

  /// "etcd://HOST:PORT,HOST:PORT,..." for --store.
  std::string store_url() const;

  /// "http://HOST:PORT" of each member.
  std::vector<std::string> client_urls() const;

  /// SIGKILLs member i.
  void kill(size_t i);

  /// Starts killed member i again on its data (it rejoins the cluster).
  void restart(size_t i);

  bool up(size_t i) const { return pids_.at(i) > 0; }
  size_t size() const { return pids_.size(); }

private:
  std::string dir_;
  std::vector<std::string> clients_;           // HOST:PORT
  std::vector<std::vector<std::string>> args_; // each member's command line
  std::vector<int> pids_;
};

} // namespace tutti::harness
