#pragma once

// A private etcd cluster for the tests that need one: `members` etcd processes
// (Debian's etcd-server), member i listening on 127.0.0.(i+1) with client and
// peer ports leased from port_range_lease, data under a temp dir, started with
// a short heartbeat (50 ms) and election timeout (500 ms) so leases and leader
// elections resolve within a second or two. The destructor kills every member
// it started and removes the directory, also when the test failed.

#include "tests/support/child_process.hpp"
#include "tests/support/net.hpp"
#include "tests/support/temp_dir.hpp"

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

namespace tutti::tests::support {

class etcd_cluster {
public:
  /// Starts the members and waits until each answers. nullptr with `why` when
  /// that fails; `unavailable` tells whether this machine has no etcd binary
  /// (tests skip) or etcd failed (tests fail).
  static std::unique_ptr<etcd_cluster> start(size_t members, std::string& why, bool& unavailable);

  ~etcd_cluster();
  etcd_cluster(const etcd_cluster&) = delete;
  etcd_cluster& operator=(const etcd_cluster&) = delete;

  /// http://127.0.0.(i+1):PORT of each member.
  const std::vector<std::string>& client_urls() const { return client_urls_; }

  /// SIGKILLs member i (the others go on while a majority is left).
  void kill(size_t i);

  /// The log of member i, for failure messages.
  std::string log(size_t i) const;

private:
  etcd_cluster() = default;
  bool wait_ready(size_t i, std::string& why);

  std::unique_ptr<temp_dir> dir_;
  std::unique_ptr<port_range_lease> ports_;
  std::vector<std::string> client_urls_;
  std::vector<child_process> members_;
};

} // namespace tutti::tests::support

/// Starts `members` etcd members into `var` (a unique_ptr<etcd_cluster>), or
/// skips the test where etcd is not installed and fails it where etcd failed.
#define TUTTI_START_ETCD_OR_SKIP(var, members)                                                   \
  do {                                                                                           \
    std::string etcd_why_;                                                                       \
    bool etcd_unavailable_ = false;                                                              \
    var = ::tutti::tests::support::etcd_cluster::start(members, etcd_why_, etcd_unavailable_);   \
    if (!var && etcd_unavailable_)                                                               \
      GTEST_SKIP() << "no etcd on this machine (Debian package etcd-server)";                    \
    ASSERT_TRUE(var) << etcd_why_;                                                               \
  } while (false)
