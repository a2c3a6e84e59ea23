// A replica's packed status (in its actor and in its service's slot) gives back
// every field as reported, and a setter changes its own field alone.

#include "actors/node/packed_status.hpp"

#include <gtest/gtest.h>

#include <string>

namespace {

using tutti::actors::packed_status;
namespace p = tutti::protocol;

p::replica_status full() {
  p::replica_status x;
  x.id = "web-7";
  x.service = "web";
  x.slot = 7;
  x.node = "node-with-a-long-name-in-zone-b";
  x.state = p::replica_state::backoff;
  x.pid = 4242;
  x.runtime_id = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
  x.restarts = 3;
  x.revision = 12;
  x.exit_code = -1;
  x.message = "exited with code 1; restarting in 400 ms";
  x.since_ms = 1764892800123;
  x.ports = {{"http", 30001}, {"admin", 30002}};
  x.address = "127.0.0.2";
  x.ready = true;
  x.unhealthy = true;
  x.health = "readiness: connection refused";
  x.log_tail = std::string(300, 'x') + "\nlast line"; // longer than one length byte
  x.template_hash = "0123456789abcdef";
  return x;
}

TEST(PackedStatus, GivesBackEveryFieldAsReported) {
  auto x = full();
  packed_status s{x};
  EXPECT_EQ(s.unpack(), x);
  EXPECT_TRUE(s.reported());
  EXPECT_EQ(s.id(), "web-7");
  EXPECT_EQ(s.node(), x.node);
  EXPECT_EQ(s.address(), "127.0.0.2");
  EXPECT_EQ(s.message(), x.message);
  EXPECT_EQ(s.health(), x.health);
  EXPECT_EQ(s.state, p::replica_state::backoff);
  EXPECT_EQ(s.restarts, 3);
  EXPECT_EQ(s.ports, x.ports);
}

TEST(PackedStatus, AnEmptyOneIsUnreportedAndPending) {
  packed_status s;
  EXPECT_FALSE(s.reported());
  EXPECT_EQ(s.state, p::replica_state::pending);
  EXPECT_EQ(s.unpack(), p::replica_status{});
  EXPECT_EQ(packed_status{p::replica_status{}}.unpack(), p::replica_status{});
}

TEST(PackedStatus, SettingTheMessageChangesNothingElse) {
  auto x = full();
  packed_status s{x};
  s.set_message("node n3 lost; placing it again");
  x.message = "node n3 lost; placing it again";
  EXPECT_EQ(s.unpack(), x);
  s.set_message("");
  x.message.clear();
  EXPECT_EQ(s.unpack(), x);
  packed_status empty;
  empty.set_message("0/5 nodes: 5 insufficient memory");
  EXPECT_FALSE(empty.reported());
  EXPECT_EQ(empty.message(), "0/5 nodes: 5 insufficient memory");
}

TEST(PackedStatus, EachSetterChangesItsFieldAlone) {
  auto x = full();
  packed_status s{x};
  s.set_runtime_id("");
  x.runtime_id.clear();
  s.set_health("liveness: timed out");
  x.health = "liveness: timed out";
  s.set_log_tail("");
  x.log_tail.clear();
  s.set_template_hash("fedcba9876543210");
  x.template_hash = "fedcba9876543210";
  s.set_message(s.message()); // from its own buffer
  EXPECT_EQ(s.unpack(), x);
  EXPECT_EQ(s.runtime_id(), "");
  EXPECT_EQ(s.service(), "web");
  EXPECT_EQ(s.template_hash(), "fedcba9876543210");
  EXPECT_EQ(s.log_tail(), "");
}

} // namespace
