// The routing mesh's replay of a client's first bytes, through the real forwarder
// (actors/mesh/mesh_forwarder) on loopback, in process: until a replica answers,
// the forwarder keeps what the client sent (up to 64 KiB) and replays it to the
// next replica when one closes or resets without answering.
//
// The replay buffer is no separate piece (a string and a flag inside the
// connection's pumps), so the target drives the whole forwarder: the input is a
// script of replicas (which answer, close or reset after reading some bytes, or
// refuse the connection) and of the client's writes (sizes and pauses). Checks:
// every replica reads a prefix of what the client sent, in order, from its
// start; the client gets the first answering replica's answer and echo of all it
// sent whenever the replay fits (always when the first replica answers); with
// no replica answering it gets nothing; every connection the forwarder counts
// as open is closed again; and the whole exchange ends within a deadline.

#include "actors/mesh/mesh_forwarder.hpp"
#include "tests/fuzz/fuzz_support.hpp"

#include <kj/async-io.h>

#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

using tutti::fuzz::check;

namespace {

namespace mesh = tutti::actors::mesh_detail;
using tutti::actors::upstream;

constexpr size_t replay_limit = 64 * 1024; // mesh_forwarder.cpp's
constexpr size_t max_sent = 256 * 1024;
constexpr size_t max_upstreams = 4;
constexpr size_t max_chunks = 32;
constexpr size_t live_replicas = 3;
const std::string answer_prefix = "ok:";

/// Byte `i` of the client's stream: position-dependent, so a lost, repeated or
/// reordered byte shows.
char stream_byte(size_t i) {
  return static_cast<char>((i * 131 + (i >> 8)) & 0xFF);
}

enum class behaviour { close_early, reset_early, answer };

struct replica_script {
  size_t listener = 0; // < live_replicas; live_replicas: a port nobody listens on
  behaviour act = behaviour::close_early;
  size_t read_first = 0; // bytes read before acting (fewer when the client ends first)
};

struct chunk {
  size_t size = 0;
  unsigned pause_us = 0; // before the write
};

struct script {
  std::vector<replica_script> replicas; // the route's upstreams, in rotation order
  bool least_connections = false;
  std::vector<chunk> chunks;
  size_t total = 0;
};

script read_script(const uint8_t* data, size_t size) {
  tutti::fuzz::byte_reader in{data, size};
  script s;
  uint8_t head = in.byte();
  s.least_connections = (head & 0x80) != 0;
  size_t n = 1 + head % max_upstreams;
  for (size_t i = 0; i < n; ++i) {
    uint8_t b = in.byte();
    replica_script r;
    r.listener = b % (live_replicas + 1);
    r.act = static_cast<behaviour>((b >> 2) % 3);
    r.read_first = in.u16();
    s.replicas.push_back(r);
  }
  while (!in.empty() && s.chunks.size() < max_chunks && s.total < max_sent) {
    uint8_t b = in.byte();
    chunk c;
    // Small writes, or large ones (up to 127 KiB) that cross the replay limit.
    c.size = (b & 0x80) != 0 ? size_t{b & 0x7Fu} * 1024 : b;
    c.size = std::min(c.size, max_sent - s.total);
    c.pause_us = in.byte() * 10u;
    s.total += c.size;
    s.chunks.push_back(c);
  }
  return s;
}

/// The loop, the replicas' listeners and a refusing port, made once: libFuzzer
/// calls the target many times on one thread.
struct environment {
  kj::AsyncIoContext io = kj::setupAsyncIo();
  std::vector<kj::Own<kj::ConnectionReceiver>> listeners;
  std::vector<uint16_t> ports; // of the listeners, then the refusing port

  environment() {
    // The client and replicas write to sockets the forwarder may have closed.
    ::signal(SIGPIPE, SIG_IGN);
    for (size_t i = 0; i <= live_replicas; ++i) {
      auto sa = mesh::ipv4("127.0.0.1", 0);
      auto address = io.provider->getNetwork().getSockaddr(&*sa, sizeof(*sa));
      auto listener = address->listen();
      ports.push_back(static_cast<uint16_t>(listener->getPort()));
      listeners.push_back(kj::mv(listener));
    }
    // Closed again: connecting to it is refused.
    listeners.pop_back();
  }
};

/// Failures of replicas' writes and reads are part of the script; the checks
/// look at what was read and received instead.
struct ignore_errors final : kj::TaskSet::ErrorHandler {
  void taskFailed(kj::Exception&&) override {}
};

environment& env() {
  static auto* x = new environment; // never destroyed: the loop outlives every call
  return *x;
}

/// What one replica saw.
struct replica_log {
  std::string got;
  size_t connections = 0;
  bool answered = false;
};

/// One accepted connection of a replica, run by its script.
class replica_conn {
public:
  replica_conn(kj::Own<kj::AsyncIoStream> stream, const replica_script& s, replica_log& log)
    : stream_(kj::mv(stream)), script_(s), log_(log) {}

  kj::Promise<void> run() {
    return read_first().then([this]() -> kj::Promise<void> {
      switch (script_.act) {
        case behaviour::close_early:
          return kj::READY_NOW; // the stream closes with this object
        case behaviour::reset_early: {
          linger hard{1, 0}; // close sends RST
          stream_->setsockopt(SOL_SOCKET, SO_LINGER, &hard, sizeof(hard));
          return kj::READY_NOW;
        }
        case behaviour::answer:
          log_.answered = true;
          answer_ = answer_prefix + log_.got;
          return stream_->write(answer_.data(), answer_.size()).then([this] { return echo(); });
      }
      return kj::READY_NOW;
    });
  }

private:
  kj::Promise<void> read_first() {
    if (log_.got.size() >= script_.read_first || eof_)
      return kj::READY_NOW;
    return read_some().then([this] { return read_first(); });
  }

  /// One read into log_.got; the end (or a reset by the forwarder) sets eof_.
  kj::Promise<void> read_some() {
    return stream_->tryRead(buf_, 1, sizeof(buf_))
        .then(
            [this](size_t n) {
              if (n == 0)
                eof_ = true;
              log_.got.append(reinterpret_cast<const char*>(buf_), n);
              last_ = n;
            },
            [this](kj::Exception&&) {
              eof_ = true;
              last_ = 0;
            });
  }

  kj::Promise<void> echo() {
    if (eof_) {
      stream_->shutdownWrite();
      return kj::READY_NOW;
    }
    return read_some().then([this]() -> kj::Promise<void> {
      if (last_ == 0)
        return echo();
      return stream_->write(log_.got.data() + log_.got.size() - last_, last_).then([this] {
        return echo();
      });
    });
  }

  kj::Own<kj::AsyncIoStream> stream_;
  const replica_script& script_;
  replica_log& log_;
  kj::byte buf_[4096];
  size_t last_ = 0;
  bool eof_ = false;
  std::string answer_;
};

/// The client's side: writes the script's chunks (with their pauses), then
/// half-closes; reads until the end. A write or read the forwarder cuts short
/// ends that direction.
class client {
public:
  client(kj::Own<kj::AsyncIoStream> stream, const script& s, kj::Timer& timer)
    : stream_(kj::mv(stream)), script_(s), timer_(timer), sent_(s.total, '\0') {
    for (size_t i = 0; i < sent_.size(); ++i)
      sent_[i] = stream_byte(i);
  }

  kj::Promise<void> run() {
    auto writing = write_from(0, 0).catch_([](kj::Exception&&) {});
    auto reading = read().catch_([](kj::Exception&&) {});
    auto both = kj::heapArrayBuilder<kj::Promise<void>>(2);
    both.add(kj::mv(writing));
    both.add(kj::mv(reading));
    return kj::joinPromises(both.finish());
  }

  const std::string& sent() const { return sent_; }
  const std::string& received() const { return received_; }

private:
  kj::Promise<void> write_from(size_t chunk_index, size_t offset) {
    if (chunk_index == script_.chunks.size()) {
      stream_->shutdownWrite();
      return kj::READY_NOW;
    }
    const auto& c = script_.chunks[chunk_index];
    auto pause = c.pause_us == 0 ? kj::Promise<void>(kj::READY_NOW)
                                 : timer_.afterDelay(c.pause_us * kj::MICROSECONDS);
    return pause
        .then([this, &c, offset] {
          return c.size == 0 ? kj::Promise<void>(kj::READY_NOW)
                             : stream_->write(sent_.data() + offset, c.size);
        })
        .then([this, chunk_index, offset, &c] {
          return write_from(chunk_index + 1, offset + c.size);
        });
  }

  kj::Promise<void> read() {
    return stream_->tryRead(buf_, 1, sizeof(buf_)).then([this](size_t n) -> kj::Promise<void> {
      if (n == 0)
        return kj::READY_NOW;
      received_.append(reinterpret_cast<const char*>(buf_), n);
      return read();
    });
  }

  kj::Own<kj::AsyncIoStream> stream_;
  const script& script_;
  kj::Timer& timer_;
  std::string sent_;
  std::string received_;
  kj::byte buf_[4096];
};

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto& e = env();
  auto s = read_script(data, size);
  auto& timer = e.io.provider->getTimer();

  auto route = std::make_shared<mesh::route_state>();
  route->service = "fuzz";
  route->lb.set_policy(s.least_connections ? tutti::protocol::load_balancing::least_connections
                                           : tutti::protocol::load_balancing::round_robin);
  route->stats = std::make_shared<mesh::service_stats>();
  std::vector<upstream> upstreams;
  for (const auto& r : s.replicas)
    upstreams.push_back(
        upstream{"r" + std::to_string(r.listener), "127.0.0.1", e.ports[r.listener]});
  route->lb.set_upstreams(upstreams);

  std::map<std::string, int> active; // replica -> connections the forwarder counts as open
  mesh::forwarder forwarder{
      *e.io.provider, std::chrono::seconds{1}, std::chrono::seconds{10},
      [&active](const std::string& replica, int delta) { active[replica] += delta; }};

  // Each listener serves the first upstream that names it: the forwarder tries
  // an address once per connection.
  std::vector<replica_log> logs(live_replicas);
  std::vector<const replica_script*> order; // the replicas tried, in order
  // Task sets, as mesh_proxy runs its connections: a finished task is destroyed
  // at once, which closes the sockets it holds (a joined promise would keep
  // them open until the join ends).
  ignore_errors errors;
  kj::TaskSet replicas{errors};
  std::vector<bool> serving(live_replicas + 1, false);
  for (const auto& r : s.replicas) {
    if (serving[r.listener])
      continue;
    serving[r.listener] = true;
    order.push_back(&r);
    if (r.listener == live_replicas)
      continue;
    auto& log = logs[r.listener];
    replicas.add(
        e.listeners[r.listener]->accept().then([&r, &log](kj::Own<kj::AsyncIoStream> stream) {
          ++log.connections;
          auto conn = kj::heap<replica_conn>(kj::mv(stream), r, log);
          auto& c = *conn;
          return c.run().attach(kj::mv(conn));
        }));
  }

  auto pipe = e.io.provider->newTwoWayPipe();
  client c{kj::mv(pipe.ends[1]), s, timer};
  kj::TaskSet connection{errors};
  connection.add(forwarder.serve(route, kj::mv(pipe.ends[0])));
  auto all = kj::heapArrayBuilder<kj::Promise<void>>(2);
  all.add(connection.onEmpty());
  all.add(c.run());
  bool done = timer.timeoutAfter(20 * kj::SECONDS, kj::joinPromises(all.finish()))
                  .then([] { return true; }, [](kj::Exception&&) { return false; })
                  .wait(e.io.waitScope);
  check(done, "the connection ends within 20 s");

  const auto& sent = c.sent();
  const auto& received = c.received();
  // What a failed check prints first, to tell a lost byte from a lost answer.
  auto expect = [&](bool ok, const char* what) {
    if (!ok) {
      std::fprintf(stderr, "client sent %zu bytes, received %zu;", sent.size(), received.size());
      for (size_t i = 0; i < logs.size(); ++i)
        std::fprintf(stderr, " replica %zu: %zu connection(s), read %zu bytes%s;", i,
                     logs[i].connections, logs[i].got.size(), logs[i].answered ? ", answered" : "");
      std::fprintf(stderr, "\n");
    }
    check(ok, what);
  };
  for (const auto& log : logs) {
    expect(log.connections <= 1, "a replica is tried at most once per connection");
    expect(sent.compare(0, log.got.size(), log.got) == 0,
           "a replica reads a prefix of the client's bytes, from their start");
  }
  const replica_script* answerer = nullptr;
  bool first_tried = true; // no replica read anything before the answerer
  for (const auto* r : order) {
    if (r->listener == live_replicas)
      continue; // refused: nothing sent to it
    if (r->act == behaviour::answer) {
      answerer = r;
      break;
    }
    first_tried = false;
  }
  auto full = answer_prefix + sent;
  if (answerer == nullptr)
    expect(received.empty(), "without an answering replica the client gets nothing");
  else if (first_tried || sent.size() <= replay_limit)
    expect(received == full, "the client gets the answer and the echo of all it sent");
  else
    expect(received.empty() || received == full,
           "past the replay limit the client gets the whole answer or nothing");
  if (answerer != nullptr && received == full)
    expect(logs[answerer->listener].got == sent, "the answering replica got all the client sent");
  for (const auto& [replica, n] : active)
    expect(n == 0, "every connection the forwarder opened is closed");
  expect(route->stats->active == 0, "the service has no active connection left");
  return 0;
}
