#pragma once

// Who can be told what: the typed interface of every actor of tutti, in one table.

#include "protocol/access.hpp"
#include "protocol/messages.hpp"
#include "protocol/spec.hpp"
#include "protocol/status.hpp"
#include "runtime-drivers/driver.hpp"
#include "runtime-drivers/probe.hpp"

#include <caf/typed_actor.hpp>
#include <caf/replies_to.hpp>

#include <map>
#include <string>
#include <vector>

namespace tutti::actors {

namespace p = tutti::protocol;
namespace rd = tutti::runtime_drivers;

/// Receives committed events (followers of `tutti events --follow`).
using event_sink_actor = caf::typed_actor<caf::reacts_to<std::vector<p::event>>>;

/// Receives a service's endpoint set whenever it changes (routers, watchers of
/// the API).
using endpoints_sink_actor = caf::typed_actor<caf::reacts_to<p::service_endpoints>>;

/// The routing mesh of one node: follows every service's endpoint set and
/// forwards connections to published ports. `drain` answers once no connection of
/// this router goes to the replica any more (or the timeout passed).
using router_actor =
    caf::typed_actor<caf::reacts_to<p::service_endpoints>,
                     caf::replies_to<p::drain_atom, std::string, caf::timespan>::with<bool>,
                     caf::reacts_to<p::tick_atom>, caf::reacts_to<p::load_atom>>;

/// Service discovery: the endpoint set of every service, as the service actors
/// publish them. Fans each change out to the routers and to watchers.
using discovery_actor = caf::typed_actor<
    caf::reacts_to<p::service_endpoints>,
    caf::replies_to<p::get_atom, std::string>::with<std::vector<p::service_endpoints>>,
    caf::replies_to<p::watch_atom, std::string, endpoints_sink_actor>::with<bool>,
    caf::replies_to<p::register_atom, router_actor>::with<bool>,
    caf::replies_to<p::drain_atom, std::string, caf::timespan>::with<bool>,
    // Each node's mesh reports its traffic every second; a service's sum over
    // the nodes that reported lately is its load (autoscaling).
    caf::reacts_to<p::mesh_load>,
    caf::replies_to<p::load_atom, std::string>::with<p::service_load>>;

/// Owns the LMDB store; the one writer. Every reply to a mutating request is sent
/// after the durable commit. Assignments, node records and events queued together
/// share one commit (group commit); `flush` is its own trigger. Assignments get
/// their fencing epoch from the store when committed (the answer to `assign`);
/// `sweep` reads a service's assignments (none for "") with an epoch greater
/// than all of theirs and smaller than any committed later.
using store_actor = caf::typed_actor<
    caf::replies_to<p::load_atom>::with<std::vector<p::spec_record>>,
    caf::replies_to<p::load_atom, std::string>::with<p::spec_record>,
    caf::replies_to<p::put_atom, std::vector<p::spec_record>>::with<std::vector<p::spec_record>>,
    caf::replies_to<p::delete_atom, std::string>::with<bool>,
    caf::replies_to<p::assign_atom, std::vector<p::assignment>>::with<int64_t>,
    caf::replies_to<p::unassign_atom, std::string>::with<bool>,
    caf::replies_to<p::get_atom, p::assign_atom, std::string>::with<std::vector<p::assignment>>,
    caf::replies_to<p::sweep_atom, std::string>::with<std::vector<p::assignment>, int64_t>,
    caf::reacts_to<p::append_atom, p::event>, caf::reacts_to<p::append_atom, std::vector<p::event>>,
    caf::replies_to<p::history_atom, std::string>::with<std::vector<p::spec_record>>,
    caf::replies_to<p::events_atom, uint64_t, uint32_t, std::string>::with<std::vector<p::event>>,
    caf::replies_to<p::follow_atom, uint64_t, std::string, event_sink_actor>::with<bool>,
    caf::reacts_to<p::follow_atom, p::tick_atom, uint64_t>, // the next page of a backlog
    caf::replies_to<p::put_atom, p::node_status>::with<bool>,
    caf::replies_to<p::get_atom, p::nodes_atom>::with<std::vector<p::node_status>>,
    caf::reacts_to<p::flush_atom>, caf::reacts_to<p::fold_atom>,
    // tokens and audit records (persistence::store's objects)
    caf::replies_to<p::put_atom, p::stored_object>::with<bool>,
    caf::replies_to<p::delete_atom, p::object_kind, std::string>::with<bool>,
    caf::replies_to<p::get_atom, p::object_kind, std::string, uint32_t>::with<
        std::vector<p::stored_object>>,
    // keeps the newest N of a kind; answers how many it removed
    caf::replies_to<p::delete_atom, p::object_kind, uint64_t>::with<uint64_t>,
    // writes a backup to the file it names (persistence::store::write_backup)
    caf::replies_to<p::backup_atom, std::string>::with<uint64_t>>;

/// Reconciles one service's desired state with what its replicas do. Its
/// replicas report to it directly (their node tells them which actor that is),
/// events too: it passes those on to the store in bursts.
using service_actor =
    caf::typed_actor<caf::reacts_to<p::update_atom, p::service_spec, int64_t>,
                     caf::reacts_to<p::env_atom, std::map<std::string, std::string>>,
                     caf::reacts_to<p::replica_status>,
                     caf::reacts_to<p::replica_status, p::event>,
                     caf::reacts_to<p::append_atom, p::event>,
                     caf::reacts_to<p::tick_atom>, caf::reacts_to<p::capacity_atom>,
                     caf::reacts_to<p::reconcile_atom>, caf::reacts_to<p::lost_atom, std::vector<std::string>>,
                     caf::reacts_to<p::drain_atom, std::string, bool>,
                     caf::reacts_to<p::flush_atom>,
                     caf::replies_to<p::status_atom>::with<p::service_status>,
                     caf::replies_to<p::rollout_atom>::with<p::rollout_status>,
                     caf::replies_to<p::get_atom>::with<std::vector<p::replica_status>>,
                     caf::replies_to<p::delete_atom>::with<bool>>;

/// Owns one replica: one container at a time, restarted per the restart policy.
/// `route` names the service actor that hears its reports (one that restarted).
/// `stop` ends it once its container is stopped and removed; the answer says
/// whether the removal left no container of its name.
using replica_actor = caf::typed_actor<
    caf::reacts_to<p::replica_request>, caf::reacts_to<p::route_atom, service_actor>,
    caf::reacts_to<p::replica_exited>, caf::reacts_to<p::restart_atom, std::string>,
    caf::reacts_to<p::probe_atom, int32_t, uint64_t>, caf::replies_to<p::stop_atom>::with<bool>,
    caf::replies_to<p::status_atom>::with<p::replica_status>>;

/// A supervising actor as the chaos admin RPC and `tutti tree` see it: its
/// subtree (paths relative to it), and killing an actor below it by path.
using supervising_actor = caf::typed_actor<
    caf::replies_to<p::tree_atom>::with<std::vector<p::actor_info>>,
    caf::replies_to<p::kill_atom, std::string, std::string>::with<std::string>>;

/// Reports the control processes of the cluster and the health of its store
/// (`tutti get controllers`); detached, as it waits on etcd.
using controllers_actor =
    caf::typed_actor<caf::replies_to<p::get_atom>::with<p::controllers_report>>;

/// Runs the containers of one node through one driver; detached when the driver
/// blocks. `run` is create, start and watch in one request: what a new replica
/// needs, for a third of the messages.
using driver_actor = caf::typed_actor<
    caf::replies_to<p::create_atom, rd::container_spec>::with<rd::container_info>,
    caf::replies_to<p::run_atom, rd::container_spec, replica_actor>::with<rd::container_info>,
    caf::replies_to<p::start_atom, std::string>::with<rd::container_info>,
    caf::replies_to<p::stop_atom, std::string, caf::timespan>::with<bool>,
    caf::replies_to<p::remove_atom, std::string, bool>::with<bool>,
    caf::replies_to<p::inspect_atom, std::string>::with<rd::container_info>,
    caf::replies_to<p::watch_atom, std::string, std::string, replica_actor>::with<bool>,
    caf::replies_to<p::logs_atom, std::string, uint64_t>::with<std::string>,
    caf::replies_to<p::stats_atom, std::string>::with<rd::container_stats>,
    caf::replies_to<p::list_atom, std::string>::with<std::vector<rd::container_info>>,
    caf::replies_to<p::sweep_atom, std::string>::with<std::vector<std::string>>, // names only
    caf::replies_to<p::health_atom>::with<bool>>;

/// Runs health probes off the actor threads (they block up to their timeout).
using prober_actor = caf::typed_actor<caf::replies_to<p::probe_atom, p::driver_kind, p::probe_spec,
                                                      rd::probe_target>::with<rd::probe_outcome>>;

/// One image archive on its way into a node's driver (`tutti image import`):
/// writes the pieces to a file in order and, after the last, has the driver
/// load it (the answer to the last piece: the images loaded). Detached, as
/// writes and the load block; ends after the last piece, an idle minute
/// (`tick`) or an exit, removing the file.
using image_upload_actor =
    caf::typed_actor<caf::replies_to<p::import_atom, p::image_chunk>::with<std::vector<std::string>>,
                     caf::reacts_to<p::tick_atom>>;

/// A node agent: runs replicas placed on its host. `import` passes the pieces
/// of an image archive to the upload they belong to (the first one starts it);
/// `import, delete` discards an upload its client gave up.
using node_actor = caf::typed_actor<
    caf::replies_to<p::run_atom, p::replica_request>::with<bool>,
    caf::replies_to<p::stop_atom, std::string>::with<bool>,
    caf::replies_to<p::logs_atom, std::string, uint64_t>::with<std::string>,
    caf::replies_to<p::status_atom>::with<p::node_status>,
    caf::replies_to<p::sweep_atom, std::vector<std::string>, int64_t>::with<
        std::vector<std::string>>,
    caf::reacts_to<p::replica_status>, caf::reacts_to<p::health_atom>,
    caf::replies_to<p::child_atom, std::string>::with<caf::actor>,
    caf::replies_to<p::reserve_atom, std::vector<p::reservation>>::with<
        std::vector<p::reservation_reply>>,
    caf::reacts_to<p::release_atom, std::string>,
    caf::replies_to<p::tree_atom>::with<std::vector<p::actor_info>>,
    caf::replies_to<p::kill_atom, std::string, std::string>::with<std::string>,
    caf::replies_to<p::import_atom, p::image_chunk>::with<std::vector<std::string>>,
    caf::reacts_to<p::import_atom, p::delete_atom, std::string>,
    // the persistent volumes it keeps; removing one (replica, volume) that no
    // replica here runs with
    caf::replies_to<p::volumes_atom>::with<std::vector<p::volume_info>>,
    caf::replies_to<p::volumes_atom, p::delete_atom, std::string, std::string>::with<bool>>;

/// Knows the nodes and their free resources; picks a node for each replica and
/// has the node confirm the reservation before it answers (with the node's
/// handle, so a service needs no lookup per node). A batch is answered once,
/// for all its replicas; offers to one node go out together, one message per
/// node when placement's mailbox has been worked off (`flush`, its reminder). `capacity` is its own reminder
/// to tell services with pending replicas that capacity appeared. It monitors the
/// nodes and tells each service with replicas on a lost node (`lost`).
///
/// `cordon` sets a node's scheduling state (ready, cordoned or draining; an
/// unknown node is an error naming the known ones) and answers the node as it
/// is then; every service hears `drain, node, bool` when a node starts or stops
/// draining. `load` restores stored states (also of nodes not joined yet: a
/// node that joins takes its stored state, not ready). `drain` lists the
/// draining nodes, for a service that (re)starts.
using placement_actor = caf::typed_actor<
    caf::replies_to<p::register_atom, p::node_status, node_actor>::with<bool>,
    caf::replies_to<p::place_atom, p::placement_request>::with<p::placement_decision, node_actor>,
    caf::replies_to<p::place_atom, p::placement_batch>::with<std::vector<p::placement_outcome>,
                                                             std::vector<node_actor>>,
    caf::reacts_to<p::flush_atom>,
    caf::reacts_to<p::release_atom, std::string>,
    caf::replies_to<p::get_atom, std::string>::with<node_actor>,
    caf::replies_to<p::nodes_atom>::with<std::vector<p::node_status>>,
    caf::reacts_to<p::capacity_atom>,
    caf::replies_to<p::cordon_atom, std::string, p::node_state>::with<p::node_status>,
    caf::reacts_to<p::load_atom, std::vector<p::node_status>>,
    caf::replies_to<p::drain_atom>::with<std::vector<std::string>>,
    // a node's slots with persistent volumes (replica ids), all of them each time
    caf::reacts_to<p::volumes_atom, std::string, std::vector<std::string>>,
    // a node agent about to restart: its replicas stay placed for a grace
    caf::replies_to<p::restart_atom, std::string>::with<bool>,
    caf::reacts_to<p::restart_atom, p::tick_atom, uint64_t, uint64_t>>;

/// The control plane's front: what the client API asks, answered from the store
/// and the service actors.
using cluster_actor = caf::typed_actor<
    // file, source, dry run, the request's namespace (empty: each document's)
    caf::replies_to<p::apply_atom, std::string, std::string, bool, std::string>::with<
        p::apply_result>,
    caf::replies_to<p::get_atom>::with<std::vector<p::service_status>>,
    caf::replies_to<p::get_atom, std::string>::with<std::vector<p::replica_status>>,
    caf::replies_to<p::nodes_atom>::with<std::vector<p::node_status>>,
    caf::replies_to<p::describe_atom, std::string, uint32_t>::with<p::service_detail>,
    caf::replies_to<p::scale_atom, std::string, int32_t>::with<int64_t>,
    caf::replies_to<p::delete_atom, std::string>::with<bool>,
    caf::replies_to<p::events_atom, uint64_t, uint32_t, std::string>::with<std::vector<p::event>>,
    caf::replies_to<p::follow_atom, uint64_t, std::string, event_sink_actor>::with<bool>,
    // service, slot, container (empty: all of them), max bytes -> replica, text
    caf::replies_to<p::logs_atom, std::string, int32_t, std::string, uint64_t>::with<std::string,
                                                                                   std::string>,
    caf::replies_to<p::child_atom, std::string>::with<caf::actor>,
    caf::replies_to<p::endpoints_atom, std::string>::with<std::vector<p::service_endpoints>>,
    caf::replies_to<p::watch_atom, std::string, endpoints_sink_actor>::with<bool>,
    caf::replies_to<p::rollout_atom, std::string>::with<p::rollout_status>,
    caf::replies_to<p::history_atom, std::string>::with<std::vector<p::spec_record>>,
    caf::replies_to<p::rollback_atom, std::string, int64_t, std::string>::with<int64_t>,
    caf::reacts_to<p::sweep_atom, std::string>, caf::reacts_to<p::flush_atom>,
    caf::replies_to<p::cordon_atom, std::string, p::node_state>::with<p::node_status>,
    caf::reacts_to<p::tick_atom, std::string>,
    caf::replies_to<p::tree_atom>::with<std::vector<p::actor_info>>,
    caf::replies_to<p::kill_atom, std::string, std::string>::with<std::string>,
    // the node agent of a node, for an image import; an unknown node is an
    // error naming the known ones
    caf::replies_to<p::import_atom, std::string>::with<node_actor>,
    // the persistent volumes of every connected node; removing one of a node
    caf::replies_to<p::volumes_atom>::with<std::vector<p::volume_info>>,
    caf::replies_to<p::volumes_atom, p::delete_atom, std::string, std::string,
                    std::string>::with<bool>,
    // configs or secrets: of a namespace ("" every one), of a name ("" every
    // one), with a config's data; removing every version of one
    caf::replies_to<p::objects_atom, p::object_kind, std::string, std::string, bool>::with<
        std::vector<p::object_info>>,
    caf::replies_to<p::objects_atom, p::delete_atom, p::object_kind, std::string>::with<bool>,
    // a service actor asks for the data its spec's references name
    caf::replies_to<p::payload_atom, p::service_spec>::with<p::shared_payloads>>;

/// A control plane's children by name ("store", "placement", "discovery",
/// "cluster"), as the gateway asks for them on every join; a null handle while
/// that child restarts.
using directory_actor =
    caf::typed_actor<caf::replies_to<p::child_atom, std::string>::with<caf::actor>>;

/// The control plane's door for node agents (published on cluster.listen): a
/// node that shows the join token gets the store, placement and discovery it
/// works with.
/// A join names the token, the node and its tuttid version (protocol/versions.hpp);
/// a join without a version (a tuttid from before versions were checked) is
/// refused, saying so.
using gateway_actor = caf::typed_actor<
    caf::replies_to<p::join_atom, std::string, std::string, std::string>::with<
        caf::actor, caf::actor, caf::actor>,
    caf::replies_to<p::join_atom, std::string, std::string>::with<caf::actor, caf::actor,
                                                                 caf::actor>>;

} // namespace tutti::actors

// Driver values travel only between a node and its own driver actor (one process),
// but CAF 0.17 still wants to know how to inspect them.
namespace tutti::runtime_drivers {

template <class Inspector> typename Inspector::result_type inspect(Inspector& f, volume_mount& x) {
  return f(caf::meta::type_name("volume_mount"), x.source, x.target, x.read_only);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, container_spec& x) {
  return f(caf::meta::type_name("container_spec"), x.name, x.image, x.image_archive, x.command,
           x.env, x.resources, x.labels, x.mounts, x.parts, x.stop_grace);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, container_info& x) {
  return f(caf::meta::type_name("container_info"), x.name, x.runtime_id, x.pid, x.state,
           x.exit_code, x.started_at_ms, x.labels, x.env);
}

template <class Inspector> typename Inspector::result_type inspect(Inspector& f, probe_target& x) {
  return f(caf::meta::type_name("probe_target"), x.container, x.address, x.ports);
}

template <class Inspector> typename Inspector::result_type inspect(Inspector& f, probe_outcome& x) {
  return f(caf::meta::type_name("probe_outcome"), x.healthy, x.message);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, container_stats& x) {
  return f(caf::meta::type_name("container_stats"), x.cpu_seconds, x.memory_bytes);
}

} // namespace tutti::runtime_drivers
