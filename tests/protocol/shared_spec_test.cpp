#include "protocol/messages.hpp"

#include <caf/binary_deserializer.hpp>
#include <caf/binary_serializer.hpp>
#include <caf/deep_to_string.hpp>

#include <gtest/gtest.h>

using namespace tutti::protocol;

namespace {

service_spec web() {
  service_spec x;
  x.name = "web";
  x.replicas = 3;
  x.image = "busybox";
  x.command = {"httpd", "-f", "-p", "8080"};
  x.env = {{"MODE", "test"}};
  x.ports = {{"http", 8080}};
  return x;
}

/// `x` written as CAF writes it on the wire, then read back.
replica_request round_trip(const replica_request& x) {
  std::vector<char> buf;
  caf::binary_serializer sink{nullptr, buf};
  EXPECT_FALSE(sink(const_cast<replica_request&>(x)));
  replica_request y;
  caf::binary_deserializer source{nullptr, buf};
  EXPECT_FALSE(source(y));
  return y;
}

TEST(SharedSpec, CopiesShareOneSpec) {
  shared_spec a{web()};
  auto b = a;
  EXPECT_EQ(&*a, &*b);
  EXPECT_EQ(a, b);
  EXPECT_EQ(b->image, "busybox");
}

TEST(SharedSpec, EqualSpecsCompareEqualWhereverTheyLive) {
  EXPECT_EQ(shared_spec{web()}, shared_spec{web()});
  auto other = web();
  other.image = "alpine";
  EXPECT_FALSE(shared_spec{web()} == shared_spec{other});
  EXPECT_EQ(shared_spec{}, shared_spec{service_spec{}}) << "a default one is the empty spec";
}

TEST(SharedSpec, TravelsAsTheSpecItself) {
  replica_request x{"web", 2, 7, shared_spec{web()}, {{"DB_ADDR", "127.0.0.1:5432"}}, 42};
  auto y = round_trip(x);
  EXPECT_EQ(y.service, "web");
  EXPECT_EQ(y.slot, 2);
  EXPECT_EQ(y.revision, 7);
  EXPECT_EQ(*y.spec, web());
  EXPECT_NE(&*y.spec, &*x.spec) << "what was read is its own";
  EXPECT_EQ(y.discovery_env, x.discovery_env);
  EXPECT_EQ(y.epoch, 42);
}

TEST(SharedPayloads, TravelWithTheRequestButNeverShowInItsRendering) {
  replica_request x{"web", 0, 1, shared_spec{web()}, {}, 1};
  x.objects = shared_payloads{std::vector<object_payload>{
      {object_kind::secret, "pw", 2, "s3cret-value"}, {object_kind::config, "app", 1, "a=1"}}};
  auto y = round_trip(x);
  ASSERT_EQ(y.objects->size(), 2u);
  EXPECT_EQ((*y.objects)[0].data, "s3cret-value");
  EXPECT_EQ((*y.objects)[1], (object_payload{object_kind::config, "app", 1, "a=1"}));
  auto shown = caf::deep_to_string(x);
  EXPECT_EQ(shown.find("s3cret-value"), std::string::npos) << shown;
  EXPECT_NE(shown.find("pw"), std::string::npos) << shown;
}

} // namespace
