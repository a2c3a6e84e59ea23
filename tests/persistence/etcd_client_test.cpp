// The etcd client against real etcd members on loopback (tests/support/etcd.hpp):
// bytes in keys and values, revisions, transactions that compare them, leases
// that expire, and failover to the next endpoint when a member dies.

#include "persistence/etcd_client.hpp"

#include "protocol/errors.hpp"
#include "tests/support/etcd.hpp"
#include "tests/support/net.hpp"
#include "tests/support/wait.hpp"

#include <gtest/gtest.h>

#include <thread>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

namespace {

using namespace tutti::persistence::etcd;
namespace p = tutti::protocol;
namespace s = tutti::tests::support;
using namespace std::chrono_literals;

std::unique_ptr<s::etcd_cluster> start_etcd(size_t members) {
  std::string why;
  bool unavailable = false;
  auto c = s::etcd_cluster::start(members, why, unavailable);
  if (!c && !unavailable)
    ADD_FAILURE() << why;
  return c;
}

std::unique_ptr<client> client_of(const std::vector<std::string>& endpoints) {
  client_options opts;
  opts.endpoints = endpoints;
  opts.timeout = 1s;
  auto c = client::make(opts);
  EXPECT_TRUE(c) << p::message_of(c.error());
  return c ? std::move(*c) : nullptr;
}

#define START_ETCD(var, members)                                                                   \
  auto var = start_etcd(members);                                                                  \
  if (!var)                                                                                        \
    GTEST_SKIP() << "no etcd on this machine (Debian package etcd-server)";

TEST(EtcdClient, PrefixEndCoversEveryKeyWithThePrefix) {
  EXPECT_EQ(prefix_end("/tutti/specs/"), "/tutti/specs0");
  EXPECT_EQ(prefix_end(std::string{"a\xFF"}), "b");
  EXPECT_EQ(prefix_end(std::string{"\xFF\xFF"}), std::string(1, '\0'));
}

TEST(EtcdClient, RefusesOptionsItCannotUseNamingThem) {
  client_options none;
  auto c = client::make(none);
  ASSERT_FALSE(c);
  EXPECT_EQ(p::message_of(c.error()), "etcd: no endpoint given");
  client_options bad;
  bad.endpoints = {"127.0.0.1:2379"};
  c = client::make(bad);
  ASSERT_FALSE(c);
  EXPECT_NE(p::message_of(c.error()).find("'127.0.0.1:2379': expected http://HOST:PORT"),
            std::string::npos);
  client_options tls;
  tls.endpoints = {"https://127.0.0.1:2379"};
  tls.ca = "/nonexistent/ca.pem";
  c = client::make(tls);
  ASSERT_FALSE(c);
  EXPECT_EQ(p::message_of(c.error()), "etcd TLS CA '/nonexistent/ca.pem' cannot be read");
}

TEST(EtcdClient, UnreachableEtcdIsUnavailableNamingEveryEndpoint) {
  auto port = std::to_string(s::free_port());
  auto c = client_of({"http://127.0.0.1:" + port});
  auto r = c->range("/x");
  ASSERT_FALSE(r);
  EXPECT_EQ(p::code_of(r.error()), p::error_code::unavailable);
  auto message = p::message_of(r.error());
  EXPECT_NE(message.find("http://127.0.0.1:" + port), std::string::npos) << message;
  EXPECT_NE(message.find("is etcd running there?"), std::string::npos) << message;
}

TEST(EtcdClient, CancelEndsTheCallInProgressAndFailsTheNextAtOnce) {
  // A listener that never answers: a call to it waits out its timeout.
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in at{};
  at.sin_family = AF_INET;
  at.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&at), sizeof(at)), 0);
  ASSERT_EQ(::listen(fd, 4), 0);
  socklen_t len = sizeof(at);
  ASSERT_EQ(::getsockname(fd, reinterpret_cast<sockaddr*>(&at), &len), 0);
  client_options opts;
  opts.endpoints = {"http://127.0.0.1:" + std::to_string(ntohs(at.sin_port))};
  opts.timeout = 30s;
  auto c = client::make(opts);
  ASSERT_TRUE(c);
  caf::expected<range_result> r{range_result{}};
  auto start = std::chrono::steady_clock::now();
  std::thread call([&] { r = (*c)->range("/x"); });
  // The call is in progress once its connection waits on the listener.
  pollfd pending{fd, POLLIN, 0};
  EXPECT_EQ(::poll(&pending, 1, 10000), 1) << "the call did not connect";
  (*c)->cancel("stood down");
  call.join();
  ::close(fd);
  EXPECT_LT(std::chrono::steady_clock::now() - start, 10s) << "the call waited out its timeout";
  ASSERT_FALSE(r);
  auto next = (*c)->range("/x");
  ASSERT_FALSE(next);
  EXPECT_EQ(p::code_of(next.error()), p::error_code::not_leader);
  EXPECT_EQ(p::message_of(next.error()), "stood down");
}

TEST(EtcdClient, KeepsBytesAndCountsRevisions) {
  START_ETCD(etcd, 1);
  auto c = client_of(etcd->client_urls());
  std::string key{"/t/\0\xFF", 5};
  std::string value{"v\0\xFE\x01", 4};
  auto first = c->put(key, value);
  ASSERT_TRUE(first) << p::message_of(first.error());
  auto second = c->put("/t/b", "2");
  ASSERT_TRUE(second);
  EXPECT_EQ(*second, *first + 1);
  ASSERT_TRUE(c->put("/u/c", "3"));

  auto all = c->range("/t/", prefix_end("/t/"));
  ASSERT_TRUE(all) << p::message_of(all.error());
  ASSERT_EQ(all->kvs.size(), 2u);
  EXPECT_EQ(all->count, 2);
  EXPECT_EQ(all->kvs[0].key, key);
  EXPECT_EQ(all->kvs[0].value, value);
  EXPECT_EQ(all->kvs[0].mod_revision, *first);
  EXPECT_EQ(all->kvs[0].create_revision, *first);
  EXPECT_EQ(all->kvs[0].version, 1);
  EXPECT_EQ(all->kvs[1].key, "/t/b");

  auto one = c->range("/t/", prefix_end("/t/"), 1);
  ASSERT_TRUE(one);
  EXPECT_EQ(one->kvs.size(), 1u);
  EXPECT_TRUE(one->more);

  auto before = c->range("/t/", prefix_end("/t/"), 0, *first); // as it was then
  ASSERT_TRUE(before);
  EXPECT_EQ(before->kvs.size(), 1u);

  auto erased = c->erase("/t/", prefix_end("/t/"));
  ASSERT_TRUE(erased);
  EXPECT_EQ(*erased, 2);
  auto empty = c->range("/t/", prefix_end("/t/"));
  ASSERT_TRUE(empty);
  EXPECT_TRUE(empty->kvs.empty());
  EXPECT_GT(empty->revision, *second);
}

TEST(EtcdClient, TransactionsCompareRevisionsAndRunOneBranch) {
  START_ETCD(etcd, 1);
  auto c = client_of(etcd->client_urls());
  // Create only when absent.
  compare absent{"/s/web", compare_target::create_revision, compare_result::equal, 0, {}};
  auto created = c->txn({absent}, {put_op{"/s/web", "rev1"}}, {range_op{"/s/web", {}}});
  ASSERT_TRUE(created) << p::message_of(created.error());
  EXPECT_TRUE(created->succeeded);
  auto again = c->txn({absent}, {put_op{"/s/web", "other"}}, {range_op{"/s/web", {}}});
  ASSERT_TRUE(again);
  EXPECT_FALSE(again->succeeded);
  ASSERT_EQ(again->ranges.size(), 1u);
  ASSERT_EQ(again->ranges[0].kvs.size(), 1u);
  EXPECT_EQ(again->ranges[0].kvs[0].value, "rev1");
  auto read_at = again->ranges[0].kvs[0].mod_revision;

  // Update only when nobody wrote since it was read (optimistic concurrency).
  compare unchanged{"/s/web", compare_target::mod_revision, compare_result::equal, read_at, {}};
  auto updated = c->txn({unchanged}, {put_op{"/s/web", "rev2"}});
  ASSERT_TRUE(updated);
  EXPECT_TRUE(updated->succeeded);
  auto stale = c->txn({unchanged}, {put_op{"/s/web", "lost update"}});
  ASSERT_TRUE(stale);
  EXPECT_FALSE(stale->succeeded);
  auto now = c->range("/s/web");
  ASSERT_TRUE(now);
  EXPECT_EQ(now->kvs.at(0).value, "rev2");

  compare by_value{"/s/web", compare_target::value, compare_result::equal, 0, "rev2"};
  auto deleted = c->txn({by_value}, {delete_op{"/s/web", {}}});
  ASSERT_TRUE(deleted);
  EXPECT_TRUE(deleted->succeeded);
}

TEST(EtcdClient, AKeyOnALeaseGoesWhenTheLeaseIsNotRenewed) {
  START_ETCD(etcd, 1);
  auto c = client_of(etcd->client_urls());
  auto lease = c->grant(1s);
  ASSERT_TRUE(lease) << p::message_of(lease.error());
  EXPECT_NE(lease->id, 0);
  EXPECT_GE(lease->ttl, 1s);
  ASSERT_TRUE(c->put("/leader", "me", lease->id));
  auto renewed = c->keep_alive(lease->id);
  ASSERT_TRUE(renewed) << p::message_of(renewed.error());
  EXPECT_GE(*renewed, 1s);
  auto read = c->range("/leader");
  ASSERT_TRUE(read);
  EXPECT_EQ(read->kvs.at(0).lease, lease->id);
  // Not renewed: gone within the TTL plus an election timeout or two.
  EXPECT_TRUE(s::wait_until(
      [&] {
        auto r = c->range("/leader");
        return r && r->kvs.empty();
      },
      10s));
  auto expired = c->keep_alive(lease->id);
  ASSERT_TRUE(expired);
  EXPECT_EQ(*expired, 0s);

  auto other = c->grant(5s);
  ASSERT_TRUE(other);
  ASSERT_TRUE(c->put("/held", "x", other->id));
  ASSERT_TRUE(c->revoke(other->id));
  auto held = c->range("/held");
  ASSERT_TRUE(held);
  EXPECT_TRUE(held->kvs.empty());
}

TEST(EtcdClient, GoesOnWithTheNextMemberWhenOneDies) {
  START_ETCD(etcd, 3);
  auto c = client_of(etcd->client_urls());
  ASSERT_TRUE(c->put("/k", "1"));
  EXPECT_EQ(c->endpoint(), etcd->client_urls()[0]);
  etcd->kill(0);
  // Two of three members still make a quorum; the first endpoint refuses.
  caf::expected<int64_t> put = c->put("/k", "2");
  EXPECT_TRUE(s::wait_until([&] {
    put = c->put("/k", "2");
    return static_cast<bool>(put);
  }));
  ASSERT_TRUE(put) << p::message_of(put.error());
  EXPECT_NE(c->endpoint(), etcd->client_urls()[0]);
  auto read = c->range("/k");
  ASSERT_TRUE(read);
  EXPECT_EQ(read->kvs.at(0).value, "2");
}

} // namespace
