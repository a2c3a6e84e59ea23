#pragma once

// Asking CAF actors from the API server's KJ thread: the answer arrives as a
// KJ promise, resolved on the KJ thread.

#include "protocol/errors.hpp"
#include "protocol/utf8.hpp"

#include <caf/all.hpp>

#include <kj/async.h>
#include <kj/exception.h>

#include <memory>

namespace tutti::actors::api_calls {

namespace p = tutti::protocol;

template <class T> struct reply_box {
  kj::Own<kj::CrossThreadPromiseFulfiller<caf::expected<T>>> fulfiller;
};

/// Asks `dest` from the KJ thread; the promise resolves on the KJ thread once
/// CAF answers (or fails).
template <class T, class Handle, class... Ts>
inline kj::Promise<caf::expected<T>> ask_actor(caf::actor_system& sys, Handle dest,
                                               caf::timespan timeout, Ts... xs) {
  auto paf = kj::newPromiseAndCrossThreadFulfiller<caf::expected<T>>();
  auto box = std::make_shared<reply_box<T>>(reply_box<T>{kj::mv(paf.fulfiller)});
  if (!dest) {
    box->fulfiller->fulfill(caf::expected<T>{p::make_error(
        p::error_code::unavailable, "tuttid is starting or restarting its control plane; retry")});
    return kj::mv(paf.promise);
  }
  sys.spawn([dest, box, timeout, xs...](caf::event_based_actor* self) {
    self->request(dest, timeout, xs...)
        .then(
            [box](T& x) { box->fulfiller->fulfill(caf::expected<T>{std::move(x)}); },
            [box](caf::error& err) { box->fulfiller->fulfill(caf::expected<T>{std::move(err)}); });
  });
  return kj::mv(paf.promise);
}

/// A refusal as the exception a call fails with: "CODE: message", which the
/// client reads back as the code (tools/tutti/client.cpp).
inline kj::Exception refusal(const caf::error& err) {
  return kj::Exception{kj::Exception::Type::FAILED, __FILE__, __LINE__,
                       kj::str(p::to_string(p::code_of(err)).c_str(), ": ",
                               p::escape_invalid_utf8(p::message_of(err)).c_str())};
}

} // namespace tutti::actors::api_calls
