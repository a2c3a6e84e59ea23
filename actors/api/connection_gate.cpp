#include "actors/api/connection_gate.hpp"

#include <capnp/rpc-twoparty.h>
#include <kj/debug.h>

#include <spdlog/spdlog.h>

#include <memory>

#include <utility>

namespace tutti::actors {

namespace {

/// A client's stream, read only while no answer to it waits to be written: the
/// kernel's socket buffers then bound what a client that never reads can make
/// tuttid hold. A write that waits longer than `stall` fails, which ends the
/// connection.
class backpressure_stream final : public kj::AsyncIoStream {
public:
  backpressure_stream(kj::Own<kj::AsyncIoStream> inner, kj::Timer& timer, kj::Duration stall)
    : inner_(kj::mv(inner)), timer_(timer), stall_(stall) {}

  kj::Promise<size_t> tryRead(void* buffer, size_t min_bytes, size_t max_bytes) override {
    if (writing_ == 0)
      return inner_->tryRead(buffer, min_bytes, max_bytes);
    auto paf = kj::newPromiseAndFulfiller<void>();
    drained_ = kj::mv(paf.fulfiller);
    return paf.promise.then(
        [this, buffer, min_bytes, max_bytes] { return tryRead(buffer, min_bytes, max_bytes); });
  }

  kj::Promise<void> write(const void* buffer, size_t size) override {
    return track(inner_->write(buffer, size));
  }

  kj::Promise<void> write(kj::ArrayPtr<const kj::ArrayPtr<const kj::byte>> pieces) override {
    return track(inner_->write(pieces));
  }

  kj::Promise<void> whenWriteDisconnected() override { return inner_->whenWriteDisconnected(); }
  void shutdownWrite() override { inner_->shutdownWrite(); }
  void abortRead() override { inner_->abortRead(); }
  void getsockopt(int level, int option, void* value, uint* length) override {
    inner_->getsockopt(level, option, value, length);
  }
  void setsockopt(int level, int option, const void* value, uint length) override {
    inner_->setsockopt(level, option, value, length);
  }
  void getsockname(struct sockaddr* addr, uint* length) override {
    inner_->getsockname(addr, length);
  }
  void getpeername(struct sockaddr* addr, uint* length) override {
    inner_->getpeername(addr, length);
  }
  kj::Maybe<int> getFd() const override { return inner_->getFd(); }

private:
  kj::Promise<void> track(kj::Promise<void> write) {
    ++writing_;
    auto limited =
        timer_.timeoutAfter(stall_, kj::mv(write))
            .catch_([](kj::Exception&& e) -> kj::Promise<void> {
              if (e.getType() == kj::Exception::Type::OVERLOADED)
                return KJ_EXCEPTION(DISCONNECTED, "the client left an answer unread too long");
              return kj::mv(e);
            });
    return limited.attach(kj::defer([this] { written(); }));
  }

  void written() {
    if (--writing_ == 0 && drained_) {
      drained_->fulfill();
      drained_ = nullptr;
    }
  }

  kj::Own<kj::AsyncIoStream> inner_;
  kj::Timer& timer_;
  kj::Duration stall_;
  size_t writing_ = 0;
  kj::Own<kj::PromiseFulfiller<void>> drained_;
};

/// How often a refused connection is logged: the first, then every this many.
constexpr uint64_t refusal_log_interval = 1000;

} // namespace

/// One served connection: its stream, the Cap'n Proto network over it and the
/// RPC system that dispatches its calls to its bootstrap object.
struct connection_gate::connection {
  connection(kj::Own<kj::AsyncIoStream> s, kj::Own<kj::PeerIdentity> peer,
             capnp::ReaderOptions options, capnp::Capability::Client bootstrap)
    : peer(kj::mv(peer)), stream(kj::mv(s)),
      network(*stream, capnp::rpc::twoparty::Side::SERVER, options),
      rpc(capnp::makeRpcServer(network, kj::mv(bootstrap))) {}

  kj::Own<kj::PeerIdentity> peer;
  kj::Own<kj::AsyncIoStream> stream;
  capnp::TwoPartyVatNetwork network;
  capnp::RpcSystem<capnp::rpc::twoparty::VatId> rpc;
};

connection_gate::connection_gate(const protocol::api_limits& limits, kj::Timer& timer,
                                 bootstrap_factory bootstrap, kj::TlsContext* tls,
                                 kj::Duration stall_timeout)
  : limits_(limits), timer_(timer), bootstrap_(kj::mv(bootstrap)), tls_(tls),
    stall_timeout_(stall_timeout), tasks_(*this) {}

kj::Promise<void> connection_gate::listen(kj::ConnectionReceiver& listener) {
  return accept_loop(listener);
}

kj::Promise<void> connection_gate::accept_loop(kj::ConnectionReceiver& listener) {
  return listener.acceptAuthenticated().then([this, &listener](kj::AuthenticatedStream stream) {
    admit(kj::mv(stream));
    return accept_loop(listener);
  });
}

void connection_gate::admit(kj::AuthenticatedStream stream) {
  if (tls_ == nullptr)
    return serve(kj::mv(stream));
  // Counted from the first byte, so that handshakes that never finish cannot
  // pile up beyond limits.connections either.
  if (open_ >= static_cast<size_t>(limits_.connections))
    return serve(kj::mv(stream)); // refused there
  ++open_;
  // The handshake's count ends when it does: on success serve() counts the
  // connection anew, on failure (or timeout) the guard gives the slot back.
  auto counted = std::make_shared<bool>(true);
  auto handshake = timer_.timeoutAfter(stall_timeout_, tls_->wrapServer(kj::mv(stream)));
  tasks_.add(handshake
                 .then([this, counted](kj::AuthenticatedStream s) {
                   *counted = false;
                   --open_;
                   serve(kj::mv(s));
                 })
                 .attach(kj::defer([this, counted] {
                   if (*counted)
                     --open_;
                 })));
}

void connection_gate::serve(kj::AuthenticatedStream authenticated) {
  auto stream = kj::mv(authenticated.stream);
  if (open_ >= static_cast<size_t>(limits_.connections)) {
    if (refused_++ % refusal_log_interval == 0)
      spdlog::warn("api: {} client connections are open (limits.connections); closing new "
                   "ones ({} so far)",
                   open_, refused_);
    return; // dropping the stream closes it
  }
  capnp::ReaderOptions options;
  // Room for the largest request plus its envelope; an apply's own check
  // (limits.request_bytes) answers a large spec with a clear error before this
  // limit, which ends the connection, is reached.
  options.traversalLimitInWords = 2 * limits_.request_bytes / sizeof(capnp::word);
  auto guarded = kj::heap<backpressure_stream>(kj::mv(stream), timer_, stall_timeout_);
  auto bootstrap = bootstrap_(*authenticated.peerIdentity);
  auto conn = kj::heap<connection>(kj::mv(guarded), kj::mv(authenticated.peerIdentity), options,
                                   kj::mv(bootstrap));
  ++open_;
  auto done = conn->network.onDisconnect();
  tasks_.add(done.attach(kj::mv(conn), kj::defer([this] { --open_; })));
}

void connection_gate::taskFailed(kj::Exception&& e) {
  spdlog::debug("api: a connection ended: {}", e.getDescription().cStr());
}

} // namespace tutti::actors
