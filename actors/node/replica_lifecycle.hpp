#pragma once

// The container of a replica actor: run, adopt, replace and stop it. Part of
// the replica actor.

#include "actors/node/replica_state.hpp"

#include <functional>

namespace tutti::actors::replica_impl {

/// Adopts the container of this replica's name when it runs the same template;
/// replaces or removes it otherwise, or runs a new one when there is none.
void recover(self_ptr self);

/// Creates, starts and watches a new container, in one driver call or request;
/// for a replica of several containers with init ones, runs those first.
void create_and_start(self_ptr self);

/// An init container of this replica exited: the next one runs, or the
/// replica's containers once none is left; a failure restarts it all.
void on_init_exit(self_ptr self, const p::replica_exited& msg);

/// Starts the existing container of this replica's name again (keeping its logs).
void start_existing(self_ptr self);

/// Removes whatever container of this name exists, then runs `next`.
void remove_then(self_ptr self, std::function<void()> next);

/// Asks the driver to stop the running container; its exit tells the rest.
void stop_container(self_ptr self);

/// A new request from the node: new environment, revision or template.
void on_update(self_ptr self, p::replica_request& req);

/// Stops and removes the container, then ends this actor; answers once removed.
caf::result<bool> on_stop(self_ptr self);

/// Removes the container of a stopped replica and ends this actor.
void finish_stop(self_ptr self);

} // namespace tutti::actors::replica_impl
