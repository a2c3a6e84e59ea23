// A client that is not the `tutti` CLI: raw Cap'n Proto calls with text that is
// not UTF-8, thousands of held connections, calls whose answers it never reads.
// The daemon refuses what is wrong with an answer every client can read, stores
// nothing of it, restarts no actor, and goes on serving everyone else.

#include "tests/integration/fixture.hpp"
#include "tests/integration/raw_client.hpp"

#include "protocol/api.capnp.h"
#include "protocol/utf8.hpp"

#include <capnp/rpc-twoparty.h>
#include <capnp/rpc.capnp.h>
#include <capnp/serialize.h>
#include <kj/async-io.h>

#include <sys/resource.h>
#include <sys/socket.h>

#include <sstream>

namespace tutti::tests::integration {
namespace {

namespace rpc = protocol::rpc;
using protocol::valid_utf8;

/// The bytes of a Text field, unchecked: a strict client would refuse them.
std::string bytes_of(capnp::Text::Reader text) {
  return {text.begin(), text.size()};
}

double actor_restarts(s::tuttid_process& d) {
  double total = 0;
  std::istringstream in{metrics_text(d)};
  for (std::string line; std::getline(in, line);)
    if (line.rfind("tutti_actor_restarts_total{", 0) == 0)
      total += std::stod(line.substr(line.rfind(' ') + 1));
  return total;
}

const std::string bad_command = "kind: Service\nname: web\nreplicas: 1\ndriver: sim\n"
                                "command: [\"/bin/echo\", \"caf\xE9\"]\n";
const std::string bad_env = "kind: Service\nname: web\nreplicas: 1\ndriver: sim\n"
                            "command: [/bin/true]\nenv: {GREETING: \"\xC3\x28\"}\n";
const std::string bad_name = "kind: Service\nname: \"web\xFF\"\nreplicas: 1\ndriver: sim\n"
                             "command: [/bin/true]\n";

TEST_F(integration, TextThatIsNotUtf8IsRefusedReadablyAndRestartsNothing) {
  auto& d = start_daemon();
  raw_client c{d};
  for (const auto& source : {bad_command, bad_env, bad_name}) {
    SCOPED_TRACE(source);
    auto req = c.api().applyRequest();
    req.setFileName("hostile.yaml");
    req.setSource(source);
    auto answer = req.send().wait(c.wait());
    auto errors = answer.getSpecErrors();
    ASSERT_EQ(errors.size(), 1u);
    EXPECT_NE(bytes_of(errors[0].getMessage()).find("not valid UTF-8"), std::string::npos)
        << bytes_of(errors[0].getMessage());
    EXPECT_TRUE(valid_utf8(bytes_of(errors[0].getField())));
    EXPECT_TRUE(valid_utf8(bytes_of(errors[0].getMessage())));
    EXPECT_EQ(answer.getChanges().size(), 0u);
  }
  // Names of the other calls are looked up, not parsed: the refusal quotes them.
  auto scale = c.api().scaleRequest();
  scale.setService("web\xFF\xFE");
  scale.setReplicas(2);
  auto scaled = scale.send().wait(c.wait());
  auto message = bytes_of(scaled.getError().getMessage());
  EXPECT_FALSE(message.empty());
  EXPECT_TRUE(valid_utf8(message)) << message;

  auto services = tutti_json(d, {"get", "services"});
  ASSERT_TRUE(services);
  EXPECT_EQ(*services, json::array()) << "nothing of a refused apply is stored";
  EXPECT_EQ(actor_restarts(d), 0) << metrics_text(d);
}

/// Raises this process's descriptor limit to `n` (for a thousand connections).
bool allow_descriptors(rlim_t n) {
  rlimit lim{};
  if (::getrlimit(RLIMIT_NOFILE, &lim) != 0)
    return false;
  if (lim.rlim_cur >= n)
    return true;
  lim.rlim_cur = std::min(n, lim.rlim_max);
  return ::setrlimit(RLIMIT_NOFILE, &lim) == 0 && lim.rlim_cur >= n;
}

TEST_F(integration, AThousandHeldConnectionsDoNotStopOtherClients) {
  if (!allow_descriptors(2500))
    GTEST_SKIP() << "this process may not open 2,000 descriptors";
  auto& d = start_daemon();
  std::vector<s::held_connection> held;
  for (int i = 0; i < 1000; ++i) {
    held.push_back(s::hold_connection("127.0.0.1", d.api_port(), ""));
    ASSERT_TRUE(held.back().connected()) << "connection " << i;
  }
  auto r = d.tutti({"get", "services"}, 10s);
  EXPECT_EQ(r.exit_code, 0) << r.describe();
  EXPECT_EQ(actor_restarts(d), 0);
}

TEST_F(integration, ConnectionsPastTheLimitAreClosedAndServedAgainOnceBelowIt) {
  s::temp_dir scratch;
  auto opts = daemon_options();
  opts.config_file = scratch.write("tuttid.yaml", "limits: {connections: 4}\n");
  auto& d = start_daemon(opts);
  // Connections are held until a client is refused. The daemon may still count
  // a connection that just ended (start_daemon's, or the last `tutti version`)
  // when one arrives, and close that one instead: so hold one more each round.
  std::vector<s::held_connection> held;
  EXPECT_TRUE(s::wait_until(
      [&] {
        if (d.tutti({"version"}, 5s).exit_code != 0)
          return true;
        held.push_back(s::hold_connection("127.0.0.1", d.api_port(), ""));
        return false;
      },
      20s))
      << "a connection past limits.connections was served";
  EXPECT_GE(held.size(), 4u) << "refused before four were held";
  held.clear();
  EXPECT_TRUE(s::wait_until([&] { return d.tutti({"version"}, 5s).exit_code == 0; }, 10s))
      << "the places came free";
  EXPECT_NE(d.log().find("limits.connections"), std::string::npos) << d.log();
}

TEST_F(integration, AClientThatNeverReadsAnswersStallsOnlyItself) {
  auto& d = start_daemon();
  // 300 simulated replicas: a getReplicas answer is then ~50 KB, so unread
  // answers fill the socket buffers within a few hundred calls.
  auto spec = d.scratch().write(
      "web.yaml", "kind: Service\nname: web\nreplicas: 300\ndriver: sim\ncommand: [x]\n");
  auto r = d.tutti({"apply", "-f", spec});
  ASSERT_EQ(r.exit_code, 0) << r.describe();
  ASSERT_TRUE(s::wait_until(
      [&] {
        auto status = service_status(d, "web");
        return status && status->value("running", 0) == 300;
      },
      converge_timeout))
      << d.tutti({"get", "services"}).out;

  // Raw Cap'n Proto messages: a bootstrap, a login at its gate, then
  // getReplicas("web") calls on the session, again and again, on a connection
  // whose answers are never read.
  int fd = s::connect_tcp("127.0.0.1", d.api_port());
  ASSERT_GE(fd, 0);
  auto as_text = [](kj::Array<capnp::word> words) {
    auto bytes = words.asBytes();
    return std::string{reinterpret_cast<const char*>(bytes.begin()), bytes.size()};
  };
  constexpr uint32_t bootstrap_question = 1u << 30;
  capnp::MallocMessageBuilder boot;
  boot.initRoot<capnp::rpc::Message>().initBootstrap().setQuestionId(bootstrap_question);
  ASSERT_TRUE(s::send_within(fd, as_text(capnp::messageToFlatArray(boot)), 5s));
  constexpr uint32_t session_question = bootstrap_question + 1;
  capnp::MallocMessageBuilder login;
  auto session = login.initRoot<capnp::rpc::Message>().initCall();
  session.setQuestionId(session_question);
  session.initTarget().initPromisedAnswer().setQuestionId(bootstrap_question);
  session.setInterfaceId(capnp::typeId<rpc::Gate>());
  session.setMethodId(0);
  session.initParams().getContent().initAs<rpc::Gate::SessionParams>().setToken(
      raw_client::admin_token(d));
  ASSERT_TRUE(s::send_within(fd, as_text(capnp::messageToFlatArray(login)), 5s));
  auto call_bytes = [&](uint32_t question) {
    capnp::MallocMessageBuilder message;
    auto call = message.initRoot<capnp::rpc::Message>().initCall();
    call.setQuestionId(question);
    auto target = call.initTarget().initPromisedAnswer();
    target.setQuestionId(session_question);
    target.initTransform(1)[0].setGetPointerField(0);
    call.setInterfaceId(capnp::typeId<rpc::Tutti>());
    call.setMethodId(3); // getReplicas
    call.initParams().getContent().initAs<rpc::Tutti::GetReplicasParams>().setService("web");
    return as_text(capnp::messageToFlatArray(message));
  };
  auto deadline = std::chrono::steady_clock::now() + 20s;
  uint32_t question = 0;
  bool stalled = false;
  while (!stalled && std::chrono::steady_clock::now() < deadline)
    stalled = !s::send_within(fd, call_bytes(question++), 1s);
  std::printf("calls_sent_without_reading=%u\n", question - 1);
  EXPECT_TRUE(stalled) << "the daemon kept reading calls whose answers pile up unread";

  r = d.tutti({"get", "services"}, 10s);
  EXPECT_EQ(r.exit_code, 0) << r.describe();
  ::close(fd);
  EXPECT_EQ(actor_restarts(d), 0);
}

} // namespace
} // namespace tutti::tests::integration
