#pragma once

// An in-test stand-in for tuttid's API: a capnp TwoPartyServer on 127.0.0.1 (free
// port) in a thread of its own with its own KJ event loop, answering from canned
// data. Stopping it (stop() or the destructor) closes every connection, which is
// how tests make "the server goes away".

#include "protocol/status.hpp"

#include <kj/async.h>

#include <cstdint>
#include <exception>
#include <future>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace tutti::testing {

/// What the fake answers and what it was asked. The server thread reads and writes
/// it under `mutex`; tests set it up before the first call.
struct fake_state {
  std::mutex mutex;
  std::vector<protocol::service_status> services;
  std::vector<protocol::replica_status> replicas;
  std::vector<protocol::node_status> nodes;
  std::vector<protocol::event> events;        // the stored log
  std::vector<protocol::event> follow_events; // pushed by follow, one per push
  bool follow_hangs = false; // after pushing: keep the call open instead of failing

  // Requests seen.
  struct apply_call {
    std::string file_name;
    std::string source;
    bool dry_run = false;
  };
  std::vector<apply_call> applies;
  std::vector<std::pair<std::string, int32_t>> scales;
  std::vector<std::pair<std::string, std::string>> node_states; // node, state asked for
  int event_calls = 0;
};

/// Behaviour (see fake_tuttid.cpp for the details tests rely on):
/// - version: "9.9.9-fake" on node "fake-node".
/// - apply: a source containing "replicas: -1" is refused with two spec errors at
///   3:11 and 4:3; otherwise one change for service "web" (created, revision 3;
///   a dry run: updated, diff "-replicas: 1\n+replicas: 3\n").
/// - describeService: "web" has a detail, "future" fails with an error code
///   no build knows (99), anything else is not_found ("hinted" with a message
///   that names `tutti get services`).
/// - getReplicas: those of the service (all when empty); "future" answers one
///   replica in a state no build knows (42).
/// - scale: revision 7; more than 100 replicas is invalid_argument.
/// - deleteService: "web" works, anything else is not_found.
/// - events: stored events with seq > after (and of the service), first `limit`.
/// - follow: pushes `follow_events`, then fails with unavailable (or hangs).
/// - setNodeState: sets the state of a node of `nodes`; another name is
///   not_found, naming the known ones. getNodes takes one replica off each
///   draining node per call (none off "stuck") and cordons it once empty.
/// - logs: "slow" never answers; otherwise replica "<service>-0", text "hello\n".
class fake_tuttid {
public:
  explicit fake_tuttid(std::shared_ptr<fake_state> state);
  ~fake_tuttid();
  fake_tuttid(const fake_tuttid&) = delete;
  fake_tuttid& operator=(const fake_tuttid&) = delete;

  uint16_t port() const noexcept { return port_; }
  std::string api() const { return "127.0.0.1:" + std::to_string(port_); }

  /// Stops listening, drops every connection and joins the thread. Idempotent and
  /// callable from any thread (also from a client callback).
  void stop();

private:
  void run();

  std::shared_ptr<fake_state> state_;
  std::promise<void> started_;
  uint16_t port_ = 0;
  kj::Own<kj::CrossThreadPromiseFulfiller<void>> stop_fulfiller_; // set by the thread
  std::exception_ptr failure_; // of the server thread after it started
  std::mutex stop_mutex_;
  std::thread thread_;
};

/// A port on 127.0.0.1 where nothing listens: bound, read and closed again.
uint16_t closed_port();

} // namespace tutti::testing
