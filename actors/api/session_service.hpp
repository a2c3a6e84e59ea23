#pragma once

// Private to actors/api: the API as one identity may use it, the session a
// connection's gate hands out (protocol/api.capnp's Tutti).

#include "actors/api/server_parts.hpp"

#include "protocol/api.capnp.h"

namespace tutti::actors::api_internal {

/// A session for `session.who`: every call first asks whether the credential
/// still holds and whether the identity's role allows the call.
kj::Own<protocol::rpc::Tutti::Server> make_session(const server_parts& parts,
                                                  session_info session);

} // namespace tutti::actors::api_internal
