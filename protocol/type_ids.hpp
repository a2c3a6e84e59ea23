#pragma once

// Every type that crosses an actor boundary, announced to CAF in one block.
// Nodes of one cluster must agree on these names (CAF 0.17 puts type names on
// the wire), so add new types at the end.

#include "protocol/access.hpp"
#include "protocol/messages.hpp"
#include "protocol/objects.hpp"
#include "protocol/spec.hpp"
#include "protocol/status.hpp"

#include <caf/type_id.hpp>

#include <map>
#include <string>
#include <vector>

CAF_BEGIN_TYPE_ID_BLOCK(tutti, caf::first_custom_type_id)
CAF_ADD_TYPE_ID(tutti, (tutti::protocol::service_spec))
CAF_ADD_TYPE_ID(tutti, (tutti::protocol::replica_status))
CAF_ADD_TYPE_ID(tutti, (std::vector<tutti::protocol::replica_status>))
CAF_ADD_TYPE_ID(tutti, (tutti::protocol::service_status))
CAF_ADD_TYPE_ID(tutti, (std::vector<tutti::protocol::service_status>))
CAF_ADD_TYPE_ID(tutti, (tutti::protocol::service_detail))
CAF_ADD_TYPE_ID(tutti, (tutti::protocol::event))
CAF_ADD_TYPE_ID(tutti, (std::vector<tutti::protocol::event>))
CAF_ADD_TYPE_ID(tutti, (tutti::protocol::node_status))
CAF_ADD_TYPE_ID(tutti, (std::vector<tutti::protocol::node_status>))
CAF_ADD_TYPE_ID(tutti, (tutti::protocol::apply_result))
CAF_ADD_TYPE_ID(tutti, (tutti::protocol::spec_record))
CAF_ADD_TYPE_ID(tutti, (std::vector<tutti::protocol::spec_record>))
CAF_ADD_TYPE_ID(tutti, (tutti::protocol::assignment))
CAF_ADD_TYPE_ID(tutti, (std::vector<tutti::protocol::assignment>))
CAF_ADD_TYPE_ID(tutti, (tutti::protocol::replica_request))
CAF_ADD_TYPE_ID(tutti, (tutti::protocol::replica_exited))
CAF_ADD_TYPE_ID(tutti, (tutti::protocol::placement_request))
CAF_ADD_TYPE_ID(tutti, (tutti::protocol::placement_decision))
CAF_ADD_TYPE_ID(tutti, (std::vector<std::string>))
CAF_ADD_TYPE_ID(tutti, (tutti::protocol::service_endpoints))
CAF_ADD_TYPE_ID(tutti, (std::vector<tutti::protocol::service_endpoints>))
CAF_ADD_TYPE_ID(tutti, (std::map<std::string, std::string>))
CAF_ADD_TYPE_ID(tutti, (tutti::protocol::reservation))
CAF_ADD_TYPE_ID(tutti, (tutti::protocol::reservation_reply))
CAF_ADD_TYPE_ID(tutti, (tutti::protocol::rollout_status))
CAF_ADD_TYPE_ID(tutti, (tutti::protocol::actor_info))
CAF_ADD_TYPE_ID(tutti, (std::vector<tutti::protocol::actor_info>))
CAF_ADD_TYPE_ID(tutti, (tutti::protocol::node_state))
CAF_ADD_TYPE_ID(tutti, (tutti::protocol::placement_ask))
CAF_ADD_TYPE_ID(tutti, (tutti::protocol::placement_batch))
CAF_ADD_TYPE_ID(tutti, (tutti::protocol::placement_outcome))
CAF_ADD_TYPE_ID(tutti, (std::vector<tutti::protocol::placement_outcome>))
CAF_ADD_TYPE_ID(tutti, (std::vector<tutti::protocol::reservation>))
CAF_ADD_TYPE_ID(tutti, (std::vector<tutti::protocol::reservation_reply>))
CAF_ADD_TYPE_ID(tutti, (tutti::protocol::controllers_report))
CAF_ADD_TYPE_ID(tutti, (tutti::protocol::object_kind))
CAF_ADD_TYPE_ID(tutti, (tutti::protocol::stored_object))
CAF_ADD_TYPE_ID(tutti, (std::vector<tutti::protocol::stored_object>))
CAF_ADD_TYPE_ID(tutti, (tutti::protocol::image_chunk))
CAF_ADD_TYPE_ID(tutti, (tutti::protocol::volume_info))
CAF_ADD_TYPE_ID(tutti, (std::vector<tutti::protocol::volume_info>))
CAF_ADD_TYPE_ID(tutti, (tutti::protocol::object_info))
CAF_ADD_TYPE_ID(tutti, (std::vector<tutti::protocol::object_info>))
CAF_ADD_TYPE_ID(tutti, (tutti::protocol::shared_payloads))
CAF_ADD_TYPE_ID(tutti, (tutti::protocol::mesh_load))
CAF_ADD_TYPE_ID(tutti, (tutti::protocol::service_load))
CAF_END_TYPE_ID_BLOCK(tutti)
