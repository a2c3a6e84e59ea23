#pragma once

// What the cluster actor answers from its services, the store and discovery:
// service and replica status, describe, history, events, logs, endpoints. Part
// of the cluster actor.

#include "actors/cluster/cluster_state.hpp"

namespace tutti::actors::cluster_impl {

/// The status of every service, in name order.
caf::result<std::vector<p::service_status>> get_services(self_ptr self);

/// The replicas of service `name` (empty: of every service).
caf::result<std::vector<p::replica_status>> get_replicas(self_ptr self, const std::string& name);

/// A service's rollout, from its service actor.
caf::result<p::rollout_status> rollout_of(self_ptr self, const std::string& name);

/// The revisions of a service the store keeps.
caf::result<std::vector<p::spec_record>> history_of(self_ptr self, const std::string& name);

/// A service's spec, status, replicas and its last `event_limit` events.
caf::result<p::service_detail> describe(self_ptr self, const std::string& name,
                                        uint32_t event_limit);

caf::result<std::vector<p::event>> events(self_ptr self, uint64_t after, uint32_t limit,
                                          const std::string& service);

/// Sends `sink` the events after `after`, then every new one.
caf::result<bool> follow(self_ptr self, uint64_t after, const std::string& service,
                         event_sink_actor sink);

/// The output of a replica of `name` (slot < 0: the lowest placed slot), of
/// its container `container` when it runs several (empty: of each): its id
/// and the text.
caf::result<std::string, std::string> logs(self_ptr self, const std::string& name, int32_t slot,
                                           const std::string& container, uint64_t max_bytes);

/// The endpoint sets of one service (or all); a service that published none yet
/// shows its ports and no endpoint.
caf::result<std::vector<p::service_endpoints>> get_endpoints(self_ptr self,
                                                             const std::string& name);

/// Sends `sink` the endpoint sets of one service (or all) as they change.
caf::result<bool> watch_endpoints(self_ptr self, const std::string& name,
                                  endpoints_sink_actor sink);

} // namespace tutti::actors::cluster_impl
