#include "fake_tuttid.hpp"

#include "tools/tutti/client.hpp"
#include "tools/tutti/commands.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <condition_variable>
#include <sstream>

namespace {

using namespace std::chrono_literals;
using namespace tutti::cli;
using namespace tutti::protocol;
using tutti::testing::fake_state;
using tutti::testing::fake_tuttid;

replica_status replica(std::string service, int32_t slot) {
  replica_status r;
  r.id = service + "-" + std::to_string(slot);
  r.service = std::move(service);
  r.slot = slot;
  r.node = "local";
  r.state = replica_state::running;
  r.pid = 100 + slot;
  r.runtime_id = std::to_string(r.pid);
  r.ports = {{"http", static_cast<uint16_t>(31000 + slot)}};
  return r;
}

event make_event(uint64_t seq, std::string kind) {
  return {seq,
          1'700'000'000'000 + static_cast<int64_t>(seq),
          std::move(kind),
          "web",
          "web-0",
          "event " + std::to_string(seq)};
}

/// Stops the fake server if the test is still running at the deadline, so a client
/// that misses the end of an event stream fails the test instead of hanging it.
class watchdog {
public:
  watchdog(fake_tuttid& server, std::chrono::seconds limit)
    : thread_([this, &server, limit] {
        std::unique_lock lock{mutex_};
        if (cv_.wait_for(lock, limit, [this] { return done_; }))
          return;
        fired_ = true;
        lock.unlock();
        server.stop();
      }) {}

  ~watchdog() {
    {
      std::lock_guard lock{mutex_};
      done_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }

  bool fired() {
    std::lock_guard lock{mutex_};
    return fired_;
  }

private:
  std::mutex mutex_;
  std::condition_variable cv_;
  bool done_ = false;
  bool fired_ = false;
  std::thread thread_; // last: starts once the members above exist
};

struct captured {
  int code = -1;
  std::string out;
  std::string err;
};

class ClientTest : public ::testing::Test {
protected:
  ClientTest() {
    state_->services = {{"web", 3, 2, 2, driver_kind::process, 1, 1000},
                        {"db", 1, 1, 0, driver_kind::docker, 5, 2000}};
    state_->replicas = {replica("web", 0), replica("web", 1), replica("db", 0)};
    state_->nodes = {node_status{"local",
                                 "127.0.0.1",
                                 node_state::ready,
                                 {4, 1 << 30},
                                 {0.5, 1 << 20},
                                 3,
                                 {{"zone", "a"}},
                                 {driver_kind::process, driver_kind::docker},
                                 {{driver_kind::docker, "cannot reach the Docker engine"}}}};
    for (uint64_t seq = 1; seq <= 5; ++seq)
      state_->events.push_back(make_event(seq, "replica_started"));
    state_->follow_events = {make_event(6, "replica_exited"), make_event(7, "replica_backoff"),
                             make_event(8, "replica_started")};
    server_ = std::make_unique<fake_tuttid>(state_);
  }

  std::unique_ptr<client> connect(std::chrono::milliseconds timeout = 10s) {
    auto c = client::connect(server_->api(), timeout, credentials{});
    if (!c)
      throw std::runtime_error("connect failed: " + c.error().message);
    return std::move(*c);
  }

  global_options options(output_format format = output_format::table) const {
    global_options g;
    g.api = server_->api();
    g.timeout_s = 10;
    g.output = format;
    g.handle_interrupts = false; // this process has threads
    return g;
  }

  template <class Run> static captured run(Run command, const std::string& input = {}) {
    std::istringstream in{input};
    std::ostringstream out;
    std::ostringstream err;
    captured result;
    result.code = command(streams{in, out, err});
    result.out = out.str();
    result.err = err.str();
    return result;
  }

  std::shared_ptr<fake_state> state_ = std::make_shared<fake_state>();
  std::unique_ptr<fake_tuttid> server_;
};

TEST_F(ClientTest, VersionOfTheServer) {
  auto v = connect()->version();
  ASSERT_TRUE(v) << v.error().message;
  EXPECT_EQ(v->version, "9.9.9-fake");
  EXPECT_EQ(v->node, "fake-node");
}

TEST_F(ClientTest, GetServicesReturnsProtocolValues) {
  auto services = connect()->get_services();
  ASSERT_TRUE(services) << services.error().message;
  ASSERT_EQ(services->size(), 2u);
  EXPECT_EQ((*services)[1].name, "db");
  EXPECT_EQ((*services)[1].driver, driver_kind::docker);
  EXPECT_EQ((*services)[1].restarts, 5);
}

TEST_F(ClientTest, GetReplicasFiltersByService) {
  auto c = connect();
  auto web = c->get_replicas("web");
  ASSERT_TRUE(web);
  EXPECT_EQ(*web, (std::vector{replica("web", 0), replica("web", 1)}));
  auto all = c->get_replicas("");
  ASSERT_TRUE(all);
  EXPECT_EQ(all->size(), 3u);
  auto nodes = c->get_nodes();
  ASSERT_TRUE(nodes);
  EXPECT_EQ(nodes->at(0).labels.at("zone"), "a");
  EXPECT_EQ(nodes->at(0).driver_errors.at(driver_kind::docker), "cannot reach the Docker engine");
}

TEST_F(ClientTest, ApplySendsTheSourceAndReturnsChanges) {
  auto r = connect()->apply("web.yaml", "kind: Service\nname: web\n", false);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_TRUE(r->errors.empty());
  ASSERT_EQ(r->changes.size(), 1u);
  EXPECT_EQ(r->changes[0].kind, change_kind::created);
  EXPECT_EQ(r->changes[0].revision, 3);
  std::lock_guard lock{state_->mutex};
  ASSERT_EQ(state_->applies.size(), 1u);
  EXPECT_EQ(state_->applies[0].file_name, "web.yaml");
  EXPECT_EQ(state_->applies[0].source, "kind: Service\nname: web\n");
  EXPECT_FALSE(state_->applies[0].dry_run);
}

TEST_F(ClientTest, ApplyReturnsSpecErrorsAsValues) {
  auto r = connect()->apply("web.yaml", "replicas: -1\n", true);
  ASSERT_TRUE(r) << "spec errors are a normal answer, not a client_error";
  ASSERT_EQ(r->errors.size(), 2u);
  EXPECT_EQ(r->errors[0],
            (spec_error{"web.yaml", 3, 11, "replicas", "must be between 0 and 10000"}));
  EXPECT_TRUE(r->changes.empty());
}

TEST_F(ClientTest, ServerErrorsCarryCodeAndMessage) {
  auto c = connect();
  auto detail = c->describe_service("nope", 10);
  ASSERT_FALSE(detail);
  EXPECT_EQ(detail.error().code, error_code::not_found);
  EXPECT_EQ(detail.error().message, "service 'nope' not found");
  auto web = c->describe_service("web", 10);
  ASSERT_TRUE(web);
  EXPECT_EQ(web->status.name, "web");
  EXPECT_EQ(web->spec_yaml, "kind: Service\nname: web\nreplicas: 2\n");
  EXPECT_EQ(web->events.size(), 5u);
}

TEST_F(ClientTest, WhatANewerTuttidMightSendIsAClearError) {
  auto c = connect();
  auto detail = c->describe_service("future", 10);
  ASSERT_FALSE(detail);
  EXPECT_EQ(detail.error().code, client_code::rpc_failure);
  EXPECT_EQ(detail.error().message,
            "tuttid failed with an error code this tutti does not know: quota exceeded; run a "
            "tutti of the same version as tuttid");
  auto replicas = c->get_replicas("future");
  ASSERT_FALSE(replicas);
  EXPECT_EQ(replicas.error().code, client_code::rpc_failure);
  EXPECT_NE(replicas.error().message.find("replica state 42"), std::string::npos)
      << replicas.error().message;
  EXPECT_TRUE(c->get_replicas("web")) << "the connection is still usable";
}

TEST_F(ClientTest, ScaleAndDelete) {
  auto c = connect();
  auto revision = c->scale("web", 4);
  ASSERT_TRUE(revision);
  EXPECT_EQ(*revision, 7);
  EXPECT_EQ(c->scale("web", 1000).error().code, error_code::invalid_argument);
  EXPECT_TRUE(c->delete_service("web"));
  EXPECT_EQ(c->delete_service("nope").error().code, error_code::not_found);
  std::lock_guard lock{state_->mutex};
  EXPECT_EQ(state_->scales, (std::vector<std::pair<std::string, int32_t>>{{"web", 4}}));
}

TEST_F(ClientTest, EventsAfterASequenceNumber) {
  auto events = connect()->events(3, 100, "web");
  ASSERT_TRUE(events);
  EXPECT_EQ(*events,
            (std::vector{make_event(4, "replica_started"), make_event(5, "replica_started")}));
}

TEST_F(ClientTest, FollowDeliversEachPushThenTheServersError) {
  watchdog guard{*server_, 20s};
  std::vector<event> seen;
  auto ended = connect()->follow(
      5, "web",
      [&](const std::vector<event>& batch) {
        seen.insert(seen.end(), batch.begin(), batch.end());
        return true;
      },
      false);
  ASSERT_FALSE(guard.fired());
  EXPECT_EQ(seen, state_->follow_events);
  ASSERT_FALSE(ended);
  EXPECT_EQ(ended.error().code, error_code::unavailable);
  EXPECT_EQ(ended.error().message, "tuttid is stopping");
}

TEST_F(ClientTest, FollowReportsLostConnectionWhenTheServerGoesAway) {
  state_->follow_hangs = true;
  watchdog guard{*server_, 20s};
  size_t seen = 0;
  auto ended = connect()->follow(
      5, "",
      [&](const std::vector<event>& batch) {
        seen += batch.size();
        if (seen == 3)
          server_->stop();
        return true;
      },
      false);
  ASSERT_FALSE(guard.fired());
  EXPECT_EQ(seen, 3u);
  ASSERT_FALSE(ended);
  EXPECT_EQ(ended.error().code, client_code::disconnected);
  EXPECT_EQ(ended.error().message, "connection to tuttid lost");
}

TEST_F(ClientTest, FollowEndsWhenTheHandlerSaysSo) {
  state_->follow_hangs = true;
  watchdog guard{*server_, 20s};
  int batches = 0;
  auto ended = connect()->follow(
      0, "", [&](const std::vector<event>&) { return ++batches < 2; }, false);
  ASSERT_FALSE(guard.fired());
  EXPECT_TRUE(ended) << ended.error().message;
  EXPECT_EQ(batches, 2);
}

TEST_F(ClientTest, CallsTimeOut) {
  auto c = connect(300ms);
  auto logs = c->logs("slow", -1, 100);
  ASSERT_FALSE(logs);
  EXPECT_EQ(logs.error().code, client_code::timeout);
  EXPECT_EQ(logs.error().message, "tuttid at " + server_->api() + " did not answer within 0.3s");
  auto fast = c->logs("web", -1, 100); // the connection is still usable
  ASSERT_TRUE(fast);
  EXPECT_EQ(fast->replica, "web-0");
  EXPECT_EQ(fast->text, "hello\n");
}

TEST(ClientConnect, RefusedConnectionSaysWhatToDo) {
  auto api = "127.0.0.1:" + std::to_string(tutti::testing::closed_port());
  auto c = client::connect(api, 5s, credentials{});
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error().code, client_code::unreachable);
  EXPECT_EQ(c.error().message,
            "cannot reach tuttid at " + api + ": connection refused; is `tuttid dev` running?");
}

// -- commands against the fake ---------------------------------------------------------

TEST_F(ClientTest, ApplyCommandPrintsEachChange) {
  auto r = run(
      [&](const streams& io) {
        return run_apply(options(), io, {{"-"}, false});
      },
      "kind: Service\nname: web\n");
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "service/web created (revision 3)\n");
  auto dry = run(
      [&](const streams& io) {
        return run_apply(options(), io, {{"-"}, true});
      },
      "kind: Service\nname: web\n");
  EXPECT_EQ(dry.out, "service/web would be updated\n    -replicas: 1\n    +replicas: 3\n");
}

TEST_F(ClientTest, ApplyCommandPrintsSpecErrorsAndExitsOne) {
  auto r = run(
      [&](const streams& io) {
        return run_apply(options(), io, {{"-"}, false});
      },
      "replicas: -1\n");
  EXPECT_EQ(r.code, 1);
  EXPECT_EQ(r.out, "");
  EXPECT_NE(r.err.find("<stdin>:3:11: replicas: must be between 0 and 10000\n"), std::string::npos)
      << r.err;
  EXPECT_NE(r.err.find("<stdin>:4:3: drivr: unknown field"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("nothing was applied"), std::string::npos) << r.err;
}

TEST_F(ClientTest, ScaleCommandChecksSyntaxBeforeConnecting) {
  auto g = options();
  g.api = "127.0.0.1:" + std::to_string(tutti::testing::closed_port());
  auto r = run([&](const streams& io) { return run_scale(g, io, {{"web=2", "web"}}); });
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("expected NAME=REPLICAS, got 'web'"), std::string::npos) << r.err;
  std::lock_guard lock{state_->mutex};
  EXPECT_TRUE(state_->scales.empty());
}

TEST_F(ClientTest, ScaleCommandGoesOnAfterARefusal) {
  auto r = run([&](const streams& io) {
    return run_scale(options(), io, {{"web=1000", "web=2"}});
  });
  EXPECT_EQ(r.code, 1);
  EXPECT_EQ(r.out, "service/web scaled to 2 (revision 7)\n");
  EXPECT_NE(r.err.find("error: at most 100 replicas on this fake (invalid_argument)"),
            std::string::npos)
      << r.err;
}

TEST_F(ClientTest, DeleteCommandSuggestsListingServices) {
  auto r = run([&](const streams& io) { return run_delete(options(), io, {{"service", "nope"}}); });
  EXPECT_EQ(r.code, 1);
  EXPECT_EQ(r.err, "error: service 'nope' not found (not_found)\n"
                   "hint: run `tutti get services` to see which services exist\n");
}

TEST_F(ClientTest, NoHintWhenTuttidsMessageAlreadyNamesTheCommand) {
  auto r = run([&](const streams& io) { return run_describe(options(), io, {"hinted", 5}); });
  EXPECT_EQ(r.code, 1);
  EXPECT_EQ(r.err, "error: service hinted not found; `tutti get services` lists them "
                   "(not_found)\n");
}

TEST_F(ClientTest, GetCommandWritesJsonAndExitsThreeWhenUnreachable) {
  auto r = run([&](const streams& io) {
    return run_get(options(output_format::json), io, {resource_kind::replicas, "web"});
  });
  ASSERT_EQ(r.code, 0) << r.err;
  auto parsed = nlohmann::json::parse(r.out);
  ASSERT_EQ(parsed.size(), 2u);
  EXPECT_EQ(parsed[1]["id"], "web-1");
  EXPECT_EQ(parsed[1]["runtime_id"], "101");

  auto g = options();
  g.api = "127.0.0.1:" + std::to_string(tutti::testing::closed_port());
  auto down = run([&](const streams& io) { return run_get(g, io, {}); });
  EXPECT_EQ(down.code, 3);
  EXPECT_NE(down.err.find("is `tuttid dev` running?"), std::string::npos) << down.err;
}

TEST_F(ClientTest, EventsCommandShowsTheLastEventsOfALongLog) {
  {
    std::lock_guard lock{state_->mutex};
    state_->events.clear();
    for (uint64_t seq = 1; seq <= 2500; ++seq)
      state_->events.push_back(make_event(seq, "replica_started"));
  }
  auto r = run([&](const streams& io) { return run_events(options(), io, {"", 100, false}); });
  ASSERT_EQ(r.code, 0) << r.err;
  std::istringstream lines{r.out};
  std::vector<std::string> all;
  for (std::string line; std::getline(lines, line);)
    all.push_back(line);
  ASSERT_EQ(all.size(), 101u); // header + 100
  EXPECT_NE(all[1].find(" 2401 "), std::string::npos) << all[1];
  EXPECT_NE(all[100].find(" 2500 "), std::string::npos) << all[100];
  std::lock_guard lock{state_->mutex};
  EXPECT_EQ(state_->event_calls, 3); // pages of 1000, 1000 and 500
}

TEST_F(ClientTest, EventsFollowWritesJsonLinesUntilTheStreamEnds) {
  watchdog guard{*server_, 20s};
  auto r = run([&](const streams& io) {
    return run_events(options(output_format::json), io, {"web", 2, true});
  });
  ASSERT_FALSE(guard.fired());
  EXPECT_EQ(r.code, 1); // the fake ends the stream with an error
  std::istringstream lines{r.out};
  std::vector<uint64_t> seqs;
  for (std::string line; std::getline(lines, line);)
    seqs.push_back(nlohmann::json::parse(line)["seq"].get<uint64_t>());
  EXPECT_EQ(seqs, (std::vector<uint64_t>{4, 5, 6, 7, 8}));
  EXPECT_NE(r.err.find("error: tuttid is stopping (unavailable)"), std::string::npos) << r.err;
}

TEST_F(ClientTest, LogsCommandPrintsTextAsIs) {
  auto r = run([&](const streams& io) { return run_logs(options(), io, {"web", -1, 1024}); });
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "hello\n");
}

} // namespace
