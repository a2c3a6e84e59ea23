#pragma once

// Cap'n Proto RPC messages of a client of the tutti API, framed as they go on
// the wire, built by hand: fuzz_api sends them around the fuzzed bytes, and
// make_api_corpus writes its seeds with them.

#include "protocol/api.capnp.h"

#include <capnp/message.h>
#include <capnp/rpc.capnp.h>
#include <capnp/serialize.h>
#include <kj/function.h>

#include <cstdint>
#include <string>

namespace tutti::fuzz {

/// The framed bytes of one message.
inline std::string frame(capnp::MessageBuilder& message) {
  auto words = capnp::messageToFlatArray(message);
  auto bytes = words.asBytes();
  return {reinterpret_cast<const char*>(bytes.begin()), bytes.size()};
}

/// The admin token of fuzz_api's daemon; make_api_corpus's seeds log in with it.
inline constexpr const char* admin_token = "tutti_fuzz_admin_token_0123456789abcdef";

/// Asks for the server's bootstrap capability (the Gate interface) as question `id`.
inline std::string bootstrap_message(uint32_t id) {
  capnp::MallocMessageBuilder message;
  message.initRoot<capnp::rpc::Message>().initBootstrap().setQuestionId(id);
  return frame(message);
}

/// Asks the gate that bootstrap question `gate` answered for an admin session,
/// as question `id`.
inline std::string session_message(uint32_t id, uint32_t gate) {
  capnp::MallocMessageBuilder message;
  auto call = message.initRoot<capnp::rpc::Message>().initCall();
  call.setQuestionId(id);
  call.initTarget().initPromisedAnswer().setQuestionId(gate);
  call.setInterfaceId(capnp::typeId<protocol::rpc::Gate>());
  call.setMethodId(0);
  call.initParams().initContent().initAs<protocol::rpc::Gate::SessionParams>().setToken(admin_token);
  return frame(message);
}

/// Calls method `Params`'s method of the session that question `target` (a
/// session_message) answered, as question `id`; `fill` sets the parameters.
template <class Params>
std::string call_message(uint32_t id, uint32_t target, uint16_t method,
                         kj::Function<void(typename Params::Builder)> fill) {
  capnp::MallocMessageBuilder message;
  auto call = message.initRoot<capnp::rpc::Message>().initCall();
  call.setQuestionId(id);
  auto promised = call.initTarget().initPromisedAnswer();
  promised.setQuestionId(target);
  promised.initTransform(1)[0].setGetPointerField(0); // the results' session
  call.setInterfaceId(capnp::typeId<protocol::rpc::Tutti>());
  call.setMethodId(method);
  fill(call.initParams().initContent().initAs<Params>());
  return frame(message);
}

/// Tutti's methods by their ordinal in protocol/api.capnp.
enum class api_method : uint16_t {
  version = 0,
  apply = 1,
  get_services = 2,
  get_replicas = 3,
  get_nodes = 4,
  describe_service = 5,
  scale = 6,
  delete_service = 7,
  events = 8,
  follow = 9,
  logs = 10,
  get_endpoints = 11,
  watch_endpoints = 12,
  rollout_status = 13,
  rollout_history = 14,
  rollout_undo = 15,
  set_node_state = 16,
  tree = 17,
  kill_actor = 18,
  get_controllers = 19,
  whoami = 20,
  create_token = 21,
  revoke_token = 22,
  list_tokens = 23,
  audit = 24,
};

} // namespace tutti::fuzz
