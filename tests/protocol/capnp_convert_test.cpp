#include "protocol/capnp_convert.hpp"

#include <capnp/message.h>
#include <capnp/schema.h>
#include <gtest/gtest.h>
#include <kj/exception.h>

#include <cctype>
#include <vector>

namespace {

using namespace tutti::protocol;

template <class Capnp, class Value> Value round_trip(const Value& x) {
  capnp::MallocMessageBuilder msg;
  auto b = msg.initRoot<Capnp>();
  to_capnp(b, x);
  return from_capnp(b.asReader());
}

/// Every enumerant of a C++ enum of protocol/: they count up from 0, and
/// to_string says "unknown" for the first number past the last.
template <class Enum> std::vector<Enum> every() {
  std::vector<Enum> out;
  for (int i = 0; to_string(static_cast<Enum>(i)) != "unknown"; ++i)
    out.push_back(static_cast<Enum>(i));
  return out;
}

/// "rollingBack" -> "rolling_back": a schema name in the words of to_string.
std::string snake_case(std::string_view camel) {
  std::string out;
  for (char c : camel) {
    if (std::isupper(static_cast<unsigned char>(c)))
      out += '_';
    out += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  return out;
}

/// The name that api.capnp gives the enumerant `x`.
template <class Wire> std::string schema_name(Wire x) {
  for (auto e : capnp::Schema::from<Wire>().getEnumerants())
    if (e.getOrdinal() == static_cast<uint16_t>(x))
      return snake_case(e.getProto().getName().cStr());
  return "<not in the schema>";
}

/// Each C++ enumerant maps to the wire enumerant of the same name and back, and
/// every wire enumerant has a C++ one.
template <class Enum, class Wire> void expect_same_enum(size_t count) {
  auto all = every<Enum>();
  EXPECT_EQ(all.size(), count);
  for (auto x : all) {
    auto wire = to_capnp(x);
    EXPECT_EQ(schema_name(wire), to_string(x));
    EXPECT_EQ(from_capnp(wire), x) << to_string(x);
  }
  auto wire_enumerants = capnp::Schema::from<Wire>().getEnumerants();
  EXPECT_EQ(wire_enumerants.size(), all.size());
  for (auto e : wire_enumerants)
    EXPECT_TRUE(from_capnp(static_cast<Wire>(e.getOrdinal()))) << e.getProto().getName().cStr();
  EXPECT_FALSE(from_capnp(static_cast<Wire>(all.size()))) << "a newer peer's enumerant";
  EXPECT_FALSE(from_capnp(static_cast<Wire>(0xffff)));
}

TEST(CapnpConvert, EveryEnumMapsEveryEnumerantByName) {
  expect_same_enum<error_code, rpc::ErrorCode>(16);
  expect_same_enum<replica_state, rpc::ReplicaState>(7);
  expect_same_enum<driver_kind, rpc::DriverKind>(4);
  expect_same_enum<node_state, rpc::NodeState>(5);
  expect_same_enum<rollout_state, rpc::RolloutState>(4);
  expect_same_enum<load_balancing, rpc::LoadBalancing>(2);
  expect_same_enum<change_kind, rpc::ChangeKind>(4);
  expect_same_enum<actor_state, rpc::ActorState>(7);
  expect_same_enum<control_role, rpc::ControlRole>(3);
  expect_same_enum<access_role, rpc::AccessRole>(4);
  expect_same_enum<credential_kind, rpc::CredentialKind>(4);
}

TEST(CapnpConvert, EnumWordsStayTheCliWords) {
  EXPECT_EQ(to_string(error_code::not_found), "not_found");
  EXPECT_EQ(to_string(replica_state::backoff), "backoff");
  EXPECT_EQ(to_string(driver_kind::docker), "docker");
  EXPECT_EQ(to_string(node_state::cordoned), "cordoned");
  EXPECT_EQ(to_string(rollout_state::rolling_back), "rolling_back");
  EXPECT_EQ(to_string(load_balancing::round_robin), "round_robin");
  EXPECT_EQ(to_string(change_kind::unchanged), "unchanged");
  EXPECT_EQ(to_string(actor_state::restarting), "restarting");
  EXPECT_EQ(to_string(control_role::standby), "standby");
  for (auto x : every<node_state>())
    EXPECT_EQ(to_string(actor_state_of(x)), to_string(x)) << "a node's entry in the tree";
}

TEST(CapnpConvert, EveryEnumerantRoundTripsInItsStruct) {
  for (auto x : every<replica_state>()) {
    replica_status r;
    r.state = x;
    EXPECT_EQ(round_trip<rpc::ReplicaStatus>(r).state, x);
  }
  for (auto x : every<driver_kind>()) {
    service_status s;
    s.driver = x;
    EXPECT_EQ(round_trip<rpc::ServiceStatus>(s).driver, x);
  }
  for (auto x : every<node_state>()) {
    node_status n;
    n.state = x;
    EXPECT_EQ(round_trip<rpc::NodeStatus>(n).state, x);
  }
  node_status drivers;
  drivers.drivers = every<driver_kind>();
  for (auto x : drivers.drivers)
    drivers.driver_errors[x] = to_string(x) + " is down";
  auto back = round_trip<rpc::NodeStatus>(drivers);
  EXPECT_EQ(back.drivers, drivers.drivers);
  EXPECT_EQ(back.driver_errors, drivers.driver_errors);
  for (auto x : every<rollout_state>()) {
    rollout_status r;
    r.state = x;
    EXPECT_EQ(round_trip<rpc::RolloutStatus>(r), r);
  }
  for (auto x : every<load_balancing>()) {
    service_endpoints e;
    e.balancing = x;
    EXPECT_EQ(round_trip<rpc::ServiceEndpoints>(e), e);
  }
  for (auto x : every<change_kind>()) {
    service_change c{"web", x, 3, ""};
    EXPECT_EQ(round_trip<rpc::ServiceChange>(c).kind, x);
  }
  for (auto x : every<actor_state>()) {
    actor_info a{"/cluster", "cluster", x, 7, 1, ""};
    EXPECT_EQ(round_trip<rpc::ActorInfo>(a), a);
  }
  for (auto x : every<error_code>()) {
    if (x == error_code::none)
      continue; // no error at all
    capnp::MallocMessageBuilder msg;
    auto b = msg.initRoot<rpc::Error>();
    to_capnp(b, make_error(x, "why"));
    auto err = from_capnp(b.asReader());
    ASSERT_TRUE(err);
    EXPECT_EQ(err->code, x);
  }
}

TEST(CapnpConvert, AnEnumerantOfANewerPeerIsAClearErrorNotAGuess) {
  capnp::MallocMessageBuilder msg;
  auto r = msg.initRoot<rpc::ReplicaStatus>();
  r.setState(static_cast<rpc::ReplicaState>(42));
  try {
    from_capnp(r.asReader());
    ADD_FAILURE() << "an unknown replica state was read as a known one";
  } catch (const kj::Exception& e) {
    EXPECT_EQ(std::string{e.getDescription().cStr()},
              "the peer sent replica state 42, which this build does not know; tutti and tuttid "
              "must be of the same version");
  }
  auto n = msg.initRoot<rpc::NodeStatus>();
  n.initDrivers(1).set(0, static_cast<rpc::DriverKind>(9));
  EXPECT_THROW(from_capnp(n.asReader()), kj::Exception);
  auto e = msg.initRoot<rpc::ServiceEndpoints>();
  e.setBalancing(static_cast<rpc::LoadBalancing>(2));
  EXPECT_THROW(from_capnp(e.asReader()), kj::Exception);
}

TEST(CapnpConvert, AnErrorCodeOfANewerPeerKeepsItsMessage) {
  capnp::MallocMessageBuilder msg;
  auto b = msg.initRoot<rpc::Error>();
  b.setCode(static_cast<rpc::ErrorCode>(99));
  b.setMessage("quota exceeded");
  auto err = from_capnp(b.asReader());
  ASSERT_TRUE(err) << "still a failure";
  EXPECT_FALSE(err->code);
  EXPECT_EQ(err->message, "quota exceeded");
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
  n.drivers = {driver_kind::process, driver_kind::sim};
  n.driver_errors = {{driver_kind::sim, "the sim engine is down"}};
  auto back = round_trip<rpc::NodeStatus>(n);
  EXPECT_EQ(back.ports_capacity, 1000);
  EXPECT_EQ(back.ports_allocated, 7);
  EXPECT_EQ(back.name, "n1");
  EXPECT_EQ(back.state, node_state::cordoned);
  EXPECT_EQ(back.capacity, n.capacity);
  EXPECT_EQ(back.allocated, n.allocated);
  EXPECT_EQ(back.labels, n.labels);
  EXPECT_EQ(back.drivers, n.drivers);
  EXPECT_EQ(back.driver_errors, n.driver_errors);
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
  EXPECT_EQ(back->code, error_code::not_found);
  EXPECT_EQ(back->message, "service x not found");
}

TEST(CapnpConvert, UnknownEnumTextIsRejected) {
  EXPECT_FALSE(replica_state_from("sleeping"));
  EXPECT_EQ(replica_state_from("running"), replica_state::running);
  EXPECT_EQ(driver_kind_from("process"), driver_kind::process);
  EXPECT_EQ(change_kind_from("updated"), change_kind::updated);
}

} // namespace
