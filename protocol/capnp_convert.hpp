#pragma once

// The edge between Cap'n Proto and the rest of tutti: readers and builders never
// leave the RPC code; these turn them into protocol values and back.

#include "protocol/api.capnp.h"
#include "protocol/errors.hpp"
#include "protocol/messages.hpp"
#include "protocol/status.hpp"

#include <caf/error.hpp>

#include <optional>
#include <string>

namespace tutti::protocol {

void to_capnp(rpc::ReplicaStatus::Builder b, const replica_status& x);
void to_capnp(rpc::ServiceStatus::Builder b, const service_status& x);
void to_capnp(rpc::Event::Builder b, const event& x);
void to_capnp(rpc::RolloutStatus::Builder b, const rollout_status& x);
void to_capnp(rpc::Revision::Builder b, const spec_record& x);
void to_capnp(rpc::ActorInfo::Builder b, const actor_info& x);
void to_capnp(rpc::NodeStatus::Builder b, const node_status& x);
void to_capnp(rpc::ServiceChange::Builder b, const service_change& x);
void to_capnp(rpc::SpecError::Builder b, const spec_error& x);
void to_capnp(rpc::ServiceDetail::Builder b, const service_detail& x);
void to_capnp(rpc::ServiceEndpoints::Builder b, const service_endpoints& x);
/// Sets code and message from a caf::error (code names are error_code's).
void to_capnp(rpc::Error::Builder b, const caf::error& x);

replica_status from_capnp(rpc::ReplicaStatus::Reader r);
service_status from_capnp(rpc::ServiceStatus::Reader r);
event from_capnp(rpc::Event::Reader r);
rollout_status from_capnp(rpc::RolloutStatus::Reader r);
spec_record from_capnp(rpc::Revision::Reader r);
actor_info from_capnp(rpc::ActorInfo::Reader r);
node_status from_capnp(rpc::NodeStatus::Reader r);
service_change from_capnp(rpc::ServiceChange::Reader r);
spec_error from_capnp(rpc::SpecError::Reader r);
service_detail from_capnp(rpc::ServiceDetail::Reader r);
service_endpoints from_capnp(rpc::ServiceEndpoints::Reader r);

/// A failed result's error, or nullopt when the result has none.
struct rpc_error {
  std::string code;
  std::string message;
};
std::optional<rpc_error> from_capnp(rpc::Error::Reader r);

/// Inverse of to_string for the enums that cross the wire as text.
std::optional<replica_state> replica_state_from(const std::string& text);
std::optional<driver_kind> driver_kind_from(const std::string& text);
std::optional<node_state> node_state_from(const std::string& text);
std::optional<change_kind> change_kind_from(const std::string& text);
std::optional<load_balancing> load_balancing_from(const std::string& text);

} // namespace tutti::protocol
