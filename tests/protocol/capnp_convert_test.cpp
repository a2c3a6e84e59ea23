#include "protocol/capnp_convert.hpp"

#include <capnp/message.h>
#include <gtest/gtest.h>

namespace {

using namespace tutti::protocol;

template <class Capnp, class Value> Value round_trip(const Value& x) {
  capnp::MallocMessageBuilder msg;
  auto b = msg.initRoot<Capnp>();
  to_capnp(b, x);
  return from_capnp(b.asReader());
}

TEST(CapnpConvert, ReplicaStatusRoundTrips) {
  replica_status x;
  x.id = "web-2";
  x.service = "web";
  x.slot = 2;
  x.node = "n1";
  x.state = replica_state::backoff;
  x.pid = 4242;
  x.runtime_id = "4242";
  x.restarts = 7;
  x.revision = 3;
  x.exit_code = -1;
  x.message = "exited; restarting in 400ms";
  x.since_ms = 1700000000123;
  x.ports = {{"http", 20001}, {"admin", 20002}};
  x.address = "127.0.0.2";
  EXPECT_EQ(round_trip<rpc::ReplicaStatus>(x), x);
}

TEST(CapnpConvert, ServiceEndpointsRoundTrip) {
  service_endpoints x;
  x.service = "web";
  x.ports = {{"http", 8080}, {"admin", 0}};
  x.balancing = load_balancing::least_connections;
  x.endpoints = {{"web-0", "n1", "http", "127.0.0.1", 20001},
                 {"web-0", "n1", "admin", "127.0.0.1", 20002}};
  EXPECT_EQ(round_trip<rpc::ServiceEndpoints>(x), x);
  service_endpoints gone{"api", {}, load_balancing::round_robin, {}, true};
  EXPECT_EQ(round_trip<rpc::ServiceEndpoints>(gone), gone);
}

TEST(CapnpConvert, EventAndSpecErrorRoundTrip) {
  event e{42, 1700000000000, "replica_exited", "web", "web-0", "exited with code 137"};
  EXPECT_EQ(round_trip<rpc::Event>(e), e);
  spec_error s{"a.yaml", 3, 11, "replicas", "must be between 0 and 10000, got -1"};
  EXPECT_EQ(round_trip<rpc::SpecError>(s), s);
  EXPECT_EQ(to_string(s), "a.yaml:3:11: replicas: must be between 0 and 10000, got -1");
}

TEST(CapnpConvert, NodeStatusKeepsLabelsAndResources) {
  node_status n;
  n.name = "n1";
  n.state = node_state::cordoned;
  n.capacity = {4, 8LL << 30};
  n.allocated = {0.5, 64 << 20};
  n.replicas = 3;
  n.ports_capacity = 1000;
  n.ports_allocated = 7;
  n.labels = {{"zone", "a"}, {"disk", "ssd"}};
  n.drivers = {"process", "sim"};
  auto back = round_trip<rpc::NodeStatus>(n);
  EXPECT_EQ(back.ports_capacity, 1000);
  EXPECT_EQ(back.ports_allocated, 7);
  EXPECT_EQ(back.name, "n1");
  EXPECT_EQ(back.state, node_state::cordoned);
  EXPECT_EQ(back.capacity, n.capacity);
  EXPECT_EQ(back.allocated, n.allocated);
  EXPECT_EQ(back.labels, n.labels);
  EXPECT_EQ(back.drivers, n.drivers);
}

TEST(CapnpConvert, ServiceDetailCarriesEverything) {
  service_detail d;
  d.status = {"web", 4, 3, 2, driver_kind::sim, 5, 1700000000000};
  d.spec_yaml = "kind: Service\nname: web\n";
  d.replicas.resize(2);
  d.replicas[0].id = "web-0";
  d.events = {{1, 2, "service_applied", "web", "", "revision 4 applied"}};
  auto back = round_trip<rpc::ServiceDetail>(d);
  EXPECT_EQ(back.status.name, "web");
  EXPECT_EQ(back.status.driver, driver_kind::sim);
  EXPECT_EQ(back.status.restarts, 5);
  EXPECT_EQ(back.spec_yaml, d.spec_yaml);
  ASSERT_EQ(back.replicas.size(), 2u);
  EXPECT_EQ(back.replicas[0].id, "web-0");
  EXPECT_EQ(back.events, d.events);
}

TEST(CapnpConvert, ErrorsCarryCodeNameAndMessage) {
  capnp::MallocMessageBuilder msg;
  auto b = msg.initRoot<rpc::Error>();
  EXPECT_FALSE(from_capnp(b.asReader())) << "an empty error means success";
  to_capnp(b, make_error(error_code::not_found, "service x not found"));
  auto back = from_capnp(b.asReader());
  ASSERT_TRUE(back);
  EXPECT_EQ(back->code, "not_found");
  EXPECT_EQ(back->message, "service x not found");
}

TEST(CapnpConvert, UnknownEnumTextIsRejected) {
  EXPECT_FALSE(replica_state_from("sleeping"));
  EXPECT_EQ(replica_state_from("running"), replica_state::running);
  EXPECT_EQ(driver_kind_from("process"), driver_kind::process);
  EXPECT_EQ(change_kind_from("updated"), change_kind::updated);
}

} // namespace
