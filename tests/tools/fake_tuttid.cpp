#include "fake_tuttid.hpp"

#include "protocol/api.capnp.h"
#include "protocol/capnp_convert.hpp"

#include <capnp/rpc-twoparty.h>
#include <gtest/gtest.h>
#include <kj/async-io.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <stdexcept>

namespace tutti::testing {

namespace {

namespace rpc = protocol::rpc;

std::string text(capnp::Text::Reader r) {
  return {r.cStr(), r.size()};
}

template <class Builder, class Values> void fill(Builder list, const Values& xs) {
  for (unsigned i = 0; i < xs.size(); ++i)
    protocol::to_capnp(list[i], xs[i]);
}

void set_error(rpc::Error::Builder b, protocol::error_code code, const std::string& message) {
  b.setCode(protocol::to_capnp(code));
  b.setMessage(message);
}

class fake_api final : public rpc::Tutti::Server {
public:
  explicit fake_api(std::shared_ptr<fake_state> state) : state_(std::move(state)) {}

protected:
  kj::Promise<void> version(VersionContext context) override {
    auto results = context.getResults();
    results.setVersion("9.9.9-fake");
    results.setNode("fake-node");
    return kj::READY_NOW;
  }

  kj::Promise<void> apply(ApplyContext context) override {
    auto params = context.getParams();
    auto results = context.getResults();
    std::string source = text(params.getSource());
    std::string file = text(params.getFileName());
    bool dry_run = params.getDryRun();
    {
      std::lock_guard lock{state_->mutex};
      state_->applies.push_back({file, source, dry_run});
    }
    if (source.find("replicas: -1") != std::string::npos) {
      fill(results.initSpecErrors(2),
           std::vector<protocol::spec_error>{
               {file, 3, 11, "replicas", "must be between 0 and 10000"},
               {"", 4, 3, "drivr", "unknown field; did you mean 'driver'?"}});
      set_error(results.initError(), protocol::error_code::invalid_spec, "the spec has 2 problems");
      return kj::READY_NOW;
    }
    protocol::service_change change{"web", protocol::change_kind::created, 3, ""};
    if (dry_run)
      change = {"web", protocol::change_kind::updated, 0, "-replicas: 1\n+replicas: 3\n"};
    fill(results.initChanges(1), std::vector{change});
    return kj::READY_NOW;
  }

  kj::Promise<void> getServices(GetServicesContext context) override {
    std::lock_guard lock{state_->mutex};
    fill(context.getResults().initServices(state_->services.size()), state_->services);
    return kj::READY_NOW;
  }

  kj::Promise<void> getReplicas(GetReplicasContext context) override {
    auto service = text(context.getParams().getService());
    if (service == "future") { // a state that a newer tuttid might send
      auto r = context.getResults().initReplicas(1)[0];
      r.setId("future-0");
      r.setState(static_cast<rpc::ReplicaState>(42));
      return kj::READY_NOW;
    }
    std::vector<protocol::replica_status> out;
    std::lock_guard lock{state_->mutex};
    std::copy_if(state_->replicas.begin(), state_->replicas.end(), std::back_inserter(out),
                 [&](const auto& r) { return service.empty() || r.service == service; });
    fill(context.getResults().initReplicas(out.size()), out);
    return kj::READY_NOW;
  }

  kj::Promise<void> getNodes(GetNodesContext context) override {
    std::lock_guard lock{state_->mutex};
    fill(context.getResults().initNodes(state_->nodes.size()), state_->nodes);
    // A draining node loses one replica per look, except "stuck"; empty, it is
    // cordoned, as tuttid does.
    for (auto& n : state_->nodes)
      if (n.state == protocol::node_state::draining && n.name != "stuck" && n.replicas > 0 &&
          --n.replicas == 0)
        n.state = protocol::node_state::cordoned;
    return kj::READY_NOW;
  }

  kj::Promise<void> setNodeState(SetNodeStateContext context) override {
    auto params = context.getParams();
    auto name = text(params.getNode());
    auto state = protocol::from_capnp(params.getState());
    std::lock_guard lock{state_->mutex};
    state_->node_states.emplace_back(name, state ? to_string(*state) : "unknown");
    std::string known;
    for (auto& n : state_->nodes) {
      known += (known.empty() ? "" : ", ") + n.name;
      if (n.name != name)
        continue;
      n.state = state.value_or(n.state);
      protocol::to_capnp(context.getResults().initNode(), n);
      return kj::READY_NOW;
    }
    set_error(context.getResults().initError(), protocol::error_code::not_found,
              "node " + name + " not found; known nodes: " + known);
    return kj::READY_NOW;
  }

  kj::Promise<void> describeService(DescribeServiceContext context) override {
    auto service = text(context.getParams().getService());
    if (service == "hinted") { // the way the real tuttid words it
      set_error(context.getResults().initError(), protocol::error_code::not_found,
                "service hinted not found; `tutti get services` lists them");
      return kj::READY_NOW;
    }
    if (service == "future") { // an error code that a newer tuttid might send
      auto err = context.getResults().initError();
      err.setCode(static_cast<rpc::ErrorCode>(99));
      err.setMessage("quota exceeded");
      return kj::READY_NOW;
    }
    if (service != "web") {
      set_error(context.getResults().initError(), protocol::error_code::not_found,
                "service '" + service + "' not found");
      return kj::READY_NOW;
    }
    protocol::service_detail detail;
    detail.status = {"web", 3, 2, 1, protocol::driver_kind::process, 4, 1000};
    detail.spec_yaml = "kind: Service\nname: web\nreplicas: 2\n";
    std::lock_guard lock{state_->mutex};
    detail.replicas = state_->replicas;
    detail.events = state_->events;
    protocol::to_capnp(context.getResults().initDetail(), detail);
    return kj::READY_NOW;
  }

  kj::Promise<void> scale(ScaleContext context) override {
    auto params = context.getParams();
    auto service = text(params.getService());
    if (params.getReplicas() > 100) {
      set_error(context.getResults().initError(), protocol::error_code::invalid_argument,
                "at most 100 replicas on this fake");
      return kj::READY_NOW;
    }
    std::lock_guard lock{state_->mutex};
    state_->scales.emplace_back(service, params.getReplicas());
    context.getResults().setRevision(7);
    return kj::READY_NOW;
  }

  kj::Promise<void> deleteService(DeleteServiceContext context) override {
    auto service = text(context.getParams().getService());
    if (service != "web")
      set_error(context.getResults().initError(), protocol::error_code::not_found,
                "service '" + service + "' not found");
    return kj::READY_NOW;
  }

  kj::Promise<void> events(EventsContext context) override {
    auto params = context.getParams();
    auto service = text(params.getService());
    std::vector<protocol::event> out;
    std::lock_guard lock{state_->mutex};
    ++state_->event_calls;
    for (const auto& e : state_->events)
      if (e.seq > params.getAfter() && (service.empty() || e.service == service) &&
          out.size() < params.getLimit())
        out.push_back(e);
    fill(context.getResults().initEvents(out.size()), out);
    return kj::READY_NOW;
  }

  kj::Promise<void> follow(FollowContext context) override {
    auto sink = context.getParams().getSink();
    std::vector<protocol::event> pushes;
    bool hang = false;
    {
      std::lock_guard lock{state_->mutex};
      pushes = state_->follow_events;
      hang = state_->follow_hangs;
    }
    kj::Promise<void> chain = kj::READY_NOW;
    for (const auto& e : pushes)
      chain = chain.then([sink, e]() mutable {
        auto req = sink.pushRequest();
        protocol::to_capnp(req.initEvents(1)[0], e);
        return req.send();
      });
    return chain.then([context, hang]() mutable -> kj::Promise<void> {
      if (hang)
        return kj::NEVER_DONE;
      set_error(context.getResults().initError(), protocol::error_code::unavailable,
                "tuttid is stopping");
      return kj::READY_NOW;
    });
  }

  kj::Promise<void> logs(LogsContext context) override {
    auto service = text(context.getParams().getService());
    if (service == "slow")
      return kj::NEVER_DONE;
    auto results = context.getResults();
    results.setReplica(service + "-0");
    results.setText("hello\n");
    return kj::READY_NOW;
  }

private:
  std::shared_ptr<fake_state> state_;
};

/// The bootstrap: any token (or none) gets a session of the fake API.
class fake_gate final : public rpc::Gate::Server {
public:
  explicit fake_gate(std::shared_ptr<fake_state> state) : state_(std::move(state)) {}

  kj::Promise<void> session(SessionContext ctx) override {
    ctx.getResults().setSession(kj::heap<fake_api>(state_));
    return kj::READY_NOW;
  }

private:
  std::shared_ptr<fake_state> state_;
};

} // namespace

fake_tuttid::fake_tuttid(std::shared_ptr<fake_state> state) : state_(std::move(state)) {
  auto started = started_.get_future();
  thread_ = std::thread([this] { run(); });
  try {
    started.get();
  } catch (...) {
    thread_.join();
    throw;
  }
}

fake_tuttid::~fake_tuttid() {
  try {
    stop();
  } catch (const std::exception& e) {
    ADD_FAILURE() << "fake tuttid failed: " << e.what();
  }
}

void fake_tuttid::run() {
  bool running = false;
  try {
    auto io = kj::setupAsyncIo();
    auto stop = kj::newPromiseAndCrossThreadFulfiller<void>();
    capnp::TwoPartyServer server{kj::heap<fake_gate>(state_)};
    auto address = io.provider->getNetwork().parseAddress("127.0.0.1", 0).wait(io.waitScope);
    auto listener = address->listen();
    port_ = static_cast<uint16_t>(listener->getPort());
    stop_fulfiller_ = kj::mv(stop.fulfiller);
    running = true;
    started_.set_value();
    server.listen(*listener).exclusiveJoin(kj::mv(stop.promise)).wait(io.waitScope);
  } catch (...) {
    if (running)
      failure_ = std::current_exception();
    else
      started_.set_exception(std::current_exception());
  }
}

void fake_tuttid::stop() {
  std::lock_guard lock{stop_mutex_};
  if (!thread_.joinable())
    return;
  stop_fulfiller_->fulfill();
  thread_.join();
  if (failure_)
    std::rethrow_exception(std::exchange(failure_, nullptr));
}

uint16_t closed_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0)
    throw std::runtime_error("socket() failed");
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    ::close(fd);
    throw std::runtime_error("bind() to 127.0.0.1:0 failed");
  }
  ::close(fd);
  return ntohs(addr.sin_port);
}

} // namespace tutti::testing
