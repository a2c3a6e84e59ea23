#pragma once

// The inside of the client, for the files that implement its calls
// (client.cpp, image_client.cpp): one KJ event loop, the connection, and how
// answers and exceptions become results.

#include "tools/tutti/client.hpp"

#include "protocol/api.capnp.h"

#include <capnp/rpc-twoparty.h>
#include <kj/async-io.h>

#include <optional>
#include <string>

namespace tutti::cli {

namespace rpc = protocol::rpc;

/// The error of an answer's `error` field; nullopt when it holds none.
std::optional<client_error> error_of(rpc::Error::Reader r);

/// "2.5s"
std::string seconds_text(kj::Duration d);

/// An RPC exception as people should read it (a lost connection, a refusal).
client_error from_exception(const kj::Exception& e);

struct client::impl {
  // Both in client.cpp, where client_tls is complete.
  impl(std::string api, kj::Duration timeout);
  ~impl();

  std::string api;
  kj::Duration timeout;
  // Declared before the connection objects so it is destroyed after them.
  kj::AsyncIoContext io = kj::setupAsyncIo();
  kj::Own<client_tls> tls;
  kj::Own<kj::AsyncIoStream> stream;
  kj::Own<capnp::TwoPartyClient> network;
  rpc::Gate::Client gate = nullptr;
  rpc::Tutti::Client tutti = nullptr;
  /// The gate's answer; held so that the session call stays alive.
  kj::Maybe<kj::Promise<void>> session;

  /// The value of `promise`, or nullptr when `timeout` (or `limit`) passed first.
  template <class T> kj::Maybe<T> wait(kj::Promise<T> promise) { return wait(kj::mv(promise), timeout); }
  template <class T> kj::Maybe<T> wait(kj::Promise<T> promise, kj::Duration limit) {
    // The timer's "now" moves only when the loop runs: after the client sat idle
    // (a program holding it between calls) the deadline would be in the past.
    io.waitScope.poll();
    auto deadline =
        io.provider->getTimer().afterDelay(limit).then([]() -> kj::Maybe<T> { return nullptr; });
    return promise.then([](T value) -> kj::Maybe<T> { return kj::mv(value); })
        .exclusiveJoin(kj::mv(deadline))
        .wait(io.waitScope);
  }

  /// Waits for a response and turns it into a result with `read`; timeouts and
  /// RPC exceptions become client_errors.
  template <class Response, class Read>
  auto call(kj::Promise<Response> promise, Read read) -> decltype(read(std::declval<Response&>())) {
    try {
      KJ_IF_MAYBE (response, wait(kj::mv(promise)))
        return read(*response);
      return client_error{client_code::timeout,
                          "tuttid at " + api + " did not answer within " + seconds_text(timeout)};
    } catch (const kj::Exception& e) {
      return from_exception(e);
    }
  }

  client_error unreachable(const std::string& why) const {
    return {client_code::unreachable,
            "cannot reach tuttid at " + api + ": " + why + "; is `tuttid dev` running?"};
  }
};

} // namespace tutti::cli
