// The control plane's door for node agents refuses a node whose tuttid is too
// far from its own version (or says none), with both versions, before it
// looks at anything else.

#include "actors/cluster/gateway_actor.hpp"
#include "actors/runtime/system_config.hpp"
#include "protocol/errors.hpp"

#include <caf/all.hpp>

#include <gtest/gtest.h>

#include <chrono>

namespace {

using namespace tutti::actors;
namespace p = tutti::protocol;
using namespace std::chrono_literals;

class Gateway : public ::testing::Test {
protected:
  /// The gateway's refusal of a join, or "" when it let it through to the
  /// control plane (here none: the join then fails otherwise).
  caf::error join(const std::vector<std::string>& args) {
    caf::scoped_actor self{sys_};
    caf::error out;
    auto answer = [&](caf::actor&, caf::actor&, caf::actor&) {};
    auto failed = [&](caf::error& err) { out = std::move(err); };
    if (args.size() == 3)
      self->request(gateway_, 5s, p::join_atom::value, args[0], args[1], args[2])
          .receive(answer, failed);
    else
      self->request(gateway_, 5s, p::join_atom::value, args[0], args[1]).receive(answer, failed);
    return out;
  }

  system_config cfg_{false};
  caf::actor_system sys_{cfg_};
  gateway_actor gateway_ = spawn_gateway(sys_, caf::actor{}, "s3cret");
};

TEST_F(Gateway, RefusesANodeTooFarFromItsVersion) {
  auto err = join({"s3cret", "n2", "99.0.0"});
  EXPECT_EQ(p::code_of(err), p::error_code::invalid_argument);
  EXPECT_NE(p::message_of(err).find("node n2 runs tuttid 99.0.0, the control plane "),
            std::string::npos)
      << p::message_of(err);
}

TEST_F(Gateway, RefusesANodeThatSaysNoVersion) {
  auto err = join({"s3cret", "n2"});
  EXPECT_EQ(p::code_of(err), p::error_code::invalid_argument);
  EXPECT_NE(p::message_of(err).find("node n2 runs a tuttid older than"), std::string::npos)
      << p::message_of(err);
}

} // namespace
