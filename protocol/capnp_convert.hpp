#pragma once

// The edge between Cap'n Proto and the rest of tutti: readers and builders never
// leave the RPC code; these turn them into protocol values and back. The C++
// enums are the source of truth; each rpc enum mirrors one of them.

#include "protocol/access.hpp"
#include "protocol/objects.hpp"
#include "protocol/api.capnp.h"
#include "protocol/errors.hpp"
#include "protocol/messages.hpp"
#include "protocol/status.hpp"

#include <caf/error.hpp>

#include <optional>
#include <string>

namespace tutti::protocol {

/// A Text field's value: `text` itself when it is valid UTF-8, else a copy with
/// the other bytes escaped (`\xFF`). Names, messages and logs may hold anyone's
/// bytes (a client's, a replica's output); Cap'n Proto requires UTF-8 in Text,
/// so a strict client could not read an answer that passed them on raw. Lives
/// until the end of the expression that sets the field.
class utf8_text {
public:
  explicit utf8_text(const std::string& text);
  utf8_text(const utf8_text&) = delete; // it may point into itself
  utf8_text& operator=(const utf8_text&) = delete;
  operator capnp::Text::Reader() const { return {text_->data(), text_->size()}; }

private:
  const std::string* text_;
  std::string escaped_;
};

rpc::ErrorCode to_capnp(error_code x);
rpc::ReplicaState to_capnp(replica_state x);
rpc::DriverKind to_capnp(driver_kind x);
rpc::NodeState to_capnp(node_state x);
rpc::RolloutState to_capnp(rollout_state x);
rpc::LoadBalancing to_capnp(load_balancing x);
rpc::ChangeKind to_capnp(change_kind x);
rpc::ActorState to_capnp(actor_state x);
rpc::ControlRole to_capnp(control_role x);
rpc::AccessRole to_capnp(access_role x);
rpc::CredentialKind to_capnp(credential_kind x);

/// nullopt for an enumerant this build does not know: a newer peer's, which
/// Cap'n Proto hands over as its number.
std::optional<error_code> from_capnp(rpc::ErrorCode x);
std::optional<replica_state> from_capnp(rpc::ReplicaState x);
std::optional<driver_kind> from_capnp(rpc::DriverKind x);
std::optional<node_state> from_capnp(rpc::NodeState x);
std::optional<rollout_state> from_capnp(rpc::RolloutState x);
std::optional<load_balancing> from_capnp(rpc::LoadBalancing x);
std::optional<change_kind> from_capnp(rpc::ChangeKind x);
std::optional<actor_state> from_capnp(rpc::ActorState x);
std::optional<control_role> from_capnp(rpc::ControlRole x);
std::optional<access_role> from_capnp(rpc::AccessRole x);
std::optional<credential_kind> from_capnp(rpc::CredentialKind x);

void to_capnp(rpc::ReplicaStatus::Builder b, const replica_status& x);
void to_capnp(rpc::ServiceStatus::Builder b, const service_status& x);
void to_capnp(rpc::Event::Builder b, const event& x);
void to_capnp(rpc::RolloutStatus::Builder b, const rollout_status& x);
void to_capnp(rpc::Revision::Builder b, const spec_record& x);
void to_capnp(rpc::ActorInfo::Builder b, const actor_info& x);
void to_capnp(rpc::ControllerStatus::Builder b, const controller_status& x);
void to_capnp(rpc::StoreEndpoint::Builder b, const store_endpoint& x);
void to_capnp(rpc::NodeStatus::Builder b, const node_status& x);
void to_capnp(rpc::ServiceChange::Builder b, const service_change& x);
void to_capnp(rpc::SpecError::Builder b, const spec_error& x);
void to_capnp(rpc::ServiceDetail::Builder b, const service_detail& x);
void to_capnp(rpc::ServiceEndpoints::Builder b, const service_endpoints& x);
void to_capnp(rpc::Identity::Builder b, const identity& x);
void to_capnp(rpc::TokenInfo::Builder b, const token_record& x); // never the secret's hash
void to_capnp(rpc::AuditRecord::Builder b, const audit_record& x);
void to_capnp(rpc::VolumeInfo::Builder b, const volume_info& x);
void to_capnp(rpc::ObjectInfo::Builder b, const object_info& x);
/// Sets code and message from a caf::error (code_of's code).
void to_capnp(rpc::Error::Builder b, const caf::error& x);

// A value with an enumerant this build does not know cannot be represented:
// these throw kj::Exception (FAILED) naming the field, which RPC code reports as
// a failed call.
replica_status from_capnp(rpc::ReplicaStatus::Reader r);
service_status from_capnp(rpc::ServiceStatus::Reader r);
event from_capnp(rpc::Event::Reader r);
rollout_status from_capnp(rpc::RolloutStatus::Reader r);
spec_record from_capnp(rpc::Revision::Reader r);
actor_info from_capnp(rpc::ActorInfo::Reader r);
controller_status from_capnp(rpc::ControllerStatus::Reader r);
store_endpoint from_capnp(rpc::StoreEndpoint::Reader r);
node_status from_capnp(rpc::NodeStatus::Reader r);
service_change from_capnp(rpc::ServiceChange::Reader r);
spec_error from_capnp(rpc::SpecError::Reader r);
service_detail from_capnp(rpc::ServiceDetail::Reader r);
service_endpoints from_capnp(rpc::ServiceEndpoints::Reader r);
identity from_capnp(rpc::Identity::Reader r);
token_record from_capnp(rpc::TokenInfo::Reader r);
audit_record from_capnp(rpc::AuditRecord::Reader r);
volume_info from_capnp(rpc::VolumeInfo::Reader r);
/// `kind`: the call's (listConfigs or listSecrets): the message does not say.
object_info from_capnp(rpc::ObjectInfo::Reader r, object_kind kind);

/// A failed result's error. `code` is nullopt when the peer failed with a code
/// this build does not know (a newer peer's); the message still says why.
struct rpc_error {
  std::optional<error_code> code;
  std::string message;
};
/// The error of a result, or nullopt when the result has none (code none).
std::optional<rpc_error> from_capnp(rpc::Error::Reader r);

} // namespace tutti::protocol
