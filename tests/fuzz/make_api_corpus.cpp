// Writes the seed corpus of fuzz_api: each file is the byte stream a real
// Cap'n Proto client (this program, through the generated API) sends on one
// connection, captured from an in-memory pipe that nobody answers. It logs in
// with fuzz_api's admin token and pipelines every call on the session
// question, so all of them go out unanswered.
//
//   make_api_corpus DIR
//   make_api_corpus --login FILE...
//
// The second form rewrites inputs recorded before the API had a gate (regress_
// files kept from fuzzing): after each bootstrap it adds a login with the
// admin token, and calls on the bootstrap go to the session instead. A frame
// left incomplete at the end stays as it is.

#include "protocol/api.capnp.h"
#include "tests/fuzz/api_messages.hpp"

#include <capnp/rpc-twoparty.h>
#include <capnp/rpc.capnp.h>
#include <capnp/serialize.h>
#include <kj/async-io.h>

#include <cstdio>
#include <cstring>
#include <iterator>
#include <filesystem>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

namespace {

namespace rpc = tutti::protocol::rpc;

class event_sink final : public rpc::EventSink::Server {
  kj::Promise<void> push(PushContext) override { return kj::READY_NOW; }
};

class endpoint_sink final : public rpc::EndpointSink::Server {
  kj::Promise<void> push(PushContext) override { return kj::READY_NOW; }
};

const char* sim_spec = R"(kind: Service
name: web
replicas: 2
driver: sim
command: [serve, --port, "${PORT}"]
env: {MODE: fuzz}
ports: [{name: http, published: 18080}]
resources: {cpu: 100m, memory: 64Mi}
restart: {policy: always, backoff: {initial: 50ms, max: 1s}}
health: {readiness: {tcp: {port: http}, interval: 1s}}
update: {parallelism: 1, max_surge: 1, max_unavailable: 0, monitor: 1s}
)";

const char* two_documents = R"(kind: Service
name: a
driver: sim
command: [x]
---
kind: Service
name: b
driver: sim
replicas: 0
command: [y]
)";

/// What one seed's client does on its connection.
using script = std::function<void(rpc::Tutti::Client&, std::vector<kj::Promise<void>>&)>;

template <class Request> void keep(Request& request, std::vector<kj::Promise<void>>& out) {
  out.push_back(request.send().ignoreResult());
}

void send_apply(rpc::Tutti::Client& t, std::vector<kj::Promise<void>>& out,
                const std::string& source, bool dry_run = false) {
  auto r = t.applyRequest();
  r.setFileName("web.yaml");
  r.setSource(source);
  r.setDryRun(dry_run);
  keep(r, out);
}

template <class Request> void with_service(Request& r) {
  r.setService("web");
}

std::vector<std::pair<std::string, script>> seeds() {
  using promises = std::vector<kj::Promise<void>>;
  std::vector<std::pair<std::string, script>> out;
  out.emplace_back("version", [](rpc::Tutti::Client& t, promises& ps) {
    auto r = t.versionRequest();
    keep(r, ps);
  });
  out.emplace_back("apply",
                   [](rpc::Tutti::Client& t, promises& ps) { send_apply(t, ps, sim_spec); });
  out.emplace_back("apply_dry_run",
                   [](rpc::Tutti::Client& t, promises& ps) { send_apply(t, ps, sim_spec, true); });
  out.emplace_back("apply_two_documents",
                   [](rpc::Tutti::Client& t, promises& ps) { send_apply(t, ps, two_documents); });
  out.emplace_back("apply_bad_utf8_command", [](rpc::Tutti::Client& t, promises& ps) {
    send_apply(t, ps, "kind: Service\nname: web\ndriver: sim\ncommand: [\"\xFF\xFE\"]\n");
  });
  out.emplace_back("apply_bad_utf8_name", [](rpc::Tutti::Client& t, promises& ps) {
    send_apply(t, ps,
               "kind: Service\nname: w\xC3"
               "d\ndriver: sim\ncommand: [x]\n");
  });
  out.emplace_back("apply_not_yaml", [](rpc::Tutti::Client& t, promises& ps) {
    send_apply(t, ps, "{[: &a *a\n\t- ]");
  });
  out.emplace_back("image_import", [](rpc::Tutti::Client& t, promises& ps) {
    auto r = t.importImageRequest();
    r.setNode("fuzz");
    r.setDriver(rpc::DriverKind::CONTAINERD);
    r.setFileName("image.tar");
    r.setSize(5);
    auto upload = r.send().getUpload();
    auto piece = upload.writeRequest();
    piece.setData(kj::StringPtr{"ustar"}.asBytes());
    ps.push_back(piece.send());
    auto done = upload.doneRequest();
    keep(done, ps);
  });
  out.emplace_back("volumes", [](rpc::Tutti::Client& t, promises& ps) {
    auto list = t.listVolumesRequest();
    keep(list, ps);
    auto remove = t.removeVolumeRequest();
    remove.setNode("fuzz");
    remove.setReplica("../web-0");
    remove.setVolume("data");
    keep(remove, ps);
  });
  // A backup to a sink the client never serves, and the join secret.
  out.emplace_back("backup", [](rpc::Tutti::Client& t, promises& ps) {
    auto backup = t.backupRequest();
    keep(backup, ps);
    auto secret = t.joinSecretRequest();
    keep(secret, ps);
  });
  out.emplace_back("reads", [](rpc::Tutti::Client& t, promises& ps) {
    send_apply(t, ps, sim_spec);
    auto services = t.getServicesRequest();
    keep(services, ps);
    auto replicas = t.getReplicasRequest();
    with_service(replicas);
    keep(replicas, ps);
    auto nodes = t.getNodesRequest();
    keep(nodes, ps);
    auto describe = t.describeServiceRequest();
    with_service(describe);
    describe.setEventLimit(10);
    keep(describe, ps);
    auto events = t.eventsRequest();
    events.setLimit(100);
    keep(events, ps);
    auto endpoints = t.getEndpointsRequest();
    keep(endpoints, ps);
    auto logs = t.logsRequest();
    with_service(logs);
    logs.setSlot(0);
    logs.setMaxBytes(4096);
    keep(logs, ps);
  });
  out.emplace_back("changes", [](rpc::Tutti::Client& t, promises& ps) {
    send_apply(t, ps, sim_spec);
    auto scale = t.scaleRequest();
    with_service(scale);
    scale.setReplicas(3);
    keep(scale, ps);
    auto status = t.rolloutStatusRequest();
    with_service(status);
    keep(status, ps);
    auto history = t.rolloutHistoryRequest();
    with_service(history);
    keep(history, ps);
    auto undo = t.rolloutUndoRequest();
    with_service(undo);
    undo.setToRevision(1);
    keep(undo, ps);
    auto del = t.deleteServiceRequest();
    with_service(del);
    keep(del, ps);
  });
  out.emplace_back("node_state", [](rpc::Tutti::Client& t, promises& ps) {
    auto r = t.setNodeStateRequest();
    r.setNode("fuzz");
    r.setState(rpc::NodeState::DRAINING);
    keep(r, ps);
    auto back = t.setNodeStateRequest();
    back.setNode("fuzz");
    back.setState(rpc::NodeState::READY);
    keep(back, ps);
  });
  out.emplace_back("admin", [](rpc::Tutti::Client& t, promises& ps) {
    auto tree = t.treeRequest();
    keep(tree, ps);
    auto kill = t.killActorRequest();
    kill.setPath("/cluster");
    kill.setReason("fuzz");
    keep(kill, ps);
    auto controllers = t.getControllersRequest();
    keep(controllers, ps);
  });
  out.emplace_back("access", [](rpc::Tutti::Client& t, promises& ps) {
    auto whoami = t.whoamiRequest();
    keep(whoami, ps);
    auto create = t.createTokenRequest();
    create.setName("fuzz-token");
    create.setRole(rpc::AccessRole::DEPLOYER);
    create.setTtlMs(60000);
    keep(create, ps);
    auto list = t.listTokensRequest();
    keep(list, ps);
    auto audit = t.auditRequest();
    audit.setLimit(10);
    keep(audit, ps);
    auto revoke = t.revokeTokenRequest();
    revoke.setName("fuzz-token");
    keep(revoke, ps);
  });
  out.emplace_back("streams", [](rpc::Tutti::Client& t, promises& ps) {
    send_apply(t, ps, sim_spec);
    auto follow = t.followRequest();
    with_service(follow);
    follow.setSink(kj::heap<event_sink>());
    keep(follow, ps);
    auto watch = t.watchEndpointsRequest();
    watch.setSink(kj::heap<endpoint_sink>());
    keep(watch, ps);
  });
  return out;
}

/// The bytes the client sends when it runs `s` on a fresh connection.
std::string capture(kj::AsyncIoContext& io, const script& s) {
  auto pipe = kj::newTwoWayPipe();
  capnp::TwoPartyClient client{*pipe.ends[0]};
  auto gate = client.bootstrap().castAs<rpc::Gate>();
  auto login = gate.sessionRequest();
  login.setToken(tutti::fuzz::admin_token);
  auto session = login.send();
  auto tutti = session.getSession();
  std::vector<kj::Promise<void>> pending;
  s(tutti, pending);
  std::string out;
  char buf[4096];
  while (true) {
    auto read = pipe.ends[1]->tryRead(buf, 1, sizeof(buf));
    if (!read.poll(io.waitScope))
      break; // the client sent everything it sends without answers
    auto n = read.wait(io.waitScope);
    if (n == 0)
      break;
    out.append(buf, n);
  }
  return out;
}

/// The question id of the login added after bootstrap `q`.
uint32_t login_question(uint32_t q) {
  return q ^ 0x40000000u;
}

/// One message rewritten (a login added after a bootstrap, a call on the
/// bootstrap sent to the session); throws kj::Exception when it cannot be read.
std::string login_message(kj::ArrayPtr<const capnp::word> words) {
  capnp::FlatArrayMessageReader reader{words};
  capnp::MallocMessageBuilder message;
  message.setRoot(reader.getRoot<capnp::rpc::Message>());
  auto root = message.getRoot<capnp::rpc::Message>();
  if (root.isCall()) {
    auto target = root.getCall().getTarget();
    if (target.isPromisedAnswer() && target.getPromisedAnswer().getTransform().size() == 0 &&
        root.getCall().getInterfaceId() == capnp::typeId<rpc::Tutti>()) {
      auto promised = target.getPromisedAnswer();
      promised.setQuestionId(login_question(promised.getQuestionId()));
      promised.initTransform(1)[0].setGetPointerField(0);
    }
  }
  auto out = tutti::fuzz::frame(message);
  if (root.isBootstrap()) {
    auto q = root.getBootstrap().getQuestionId();
    out += tutti::fuzz::session_message(login_question(q), q);
  }
  return out;
}

std::string login_rewrite(const std::string& input) {
  std::string out;
  size_t at = 0;
  while (input.size() - at >= sizeof(capnp::word)) {
    size_t words = (input.size() - at) / sizeof(capnp::word);
    auto buf = kj::heapArray<capnp::word>(words);
    std::memcpy(buf.begin(), input.data() + at, words * sizeof(capnp::word));
    size_t size = 0;
    try {
      size = capnp::expectedSizeInWordsFromPrefix(buf);
    } catch (const kj::Exception&) {
      break;
    }
    if (size > words)
      break;
    auto raw = input.substr(at, size * sizeof(capnp::word));
    at += size * sizeof(capnp::word);
    try {
      out += login_message(buf.slice(0, size));
    } catch (const kj::Exception&) {
      out += raw; // a damaged message stays as it was: that is what it tests
    }
  }
  return out + input.substr(at);
}

} // namespace

int main(int argc, char** argv) {
  if (argc >= 2 && std::string{argv[1]} == "--login") {
    for (int i = 2; i < argc; ++i) {
      std::ifstream in{argv[i], std::ios::binary};
      std::string bytes{std::istreambuf_iterator<char>{in}, {}};
      auto rewritten = login_rewrite(bytes);
      std::ofstream{argv[i], std::ios::binary | std::ios::trunc} << rewritten;
      std::printf("%s: %zu -> %zu bytes\n", argv[i], bytes.size(), rewritten.size());
    }
    return 0;
  }
  if (argc != 2) {
    std::fprintf(stderr, "usage: make_api_corpus DIR | make_api_corpus --login FILE...\n");
    return 2;
  }
  std::filesystem::path dir{argv[1]};
  std::filesystem::create_directories(dir);
  auto io = kj::setupAsyncIo();
  for (const auto& [name, s] : seeds()) {
    auto bytes = capture(io, s);
    std::ofstream{dir / name, std::ios::binary} << bytes;
    std::printf("%s: %zu bytes\n", name.c_str(), bytes.size());
  }
}
