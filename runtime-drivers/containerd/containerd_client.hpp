#pragma once

// containerd's gRPC API on its unix socket: one channel, a stub per service,
// and the context every call needs (the namespace metadata, a deadline, an
// optional lease). gRPC statuses become tutti errors here, with a message that
// names what failed and what to do. Internal to runtime-drivers.

#include <caf/error.hpp>

#include <grpcpp/grpcpp.h>

#include <github.com/containerd/containerd/api/services/containers/v1/containers.grpc.pb.h>
#include <github.com/containerd/containerd/api/services/content/v1/content.grpc.pb.h>
#include <github.com/containerd/containerd/api/services/diff/v1/diff.grpc.pb.h>
#include <github.com/containerd/containerd/api/services/events/v1/events.grpc.pb.h>
#include <github.com/containerd/containerd/api/services/images/v1/images.grpc.pb.h>
#include <github.com/containerd/containerd/api/services/leases/v1/leases.grpc.pb.h>
#include <github.com/containerd/containerd/api/services/snapshots/v1/snapshots.grpc.pb.h>
#include <github.com/containerd/containerd/api/services/tasks/v1/tasks.grpc.pb.h>
#include <github.com/containerd/containerd/api/services/version/v1/version.grpc.pb.h>

#include <chrono>
#include <memory>
#include <string>

namespace tutti::runtime_drivers::containerd {

namespace api {
namespace containers = ::containerd::services::containers::v1;
namespace content = ::containerd::services::content::v1;
namespace diff = ::containerd::services::diff::v1;
namespace events = ::containerd::services::events::v1;
namespace images = ::containerd::services::images::v1;
namespace leases = ::containerd::services::leases::v1;
namespace snapshots = ::containerd::services::snapshots::v1;
namespace tasks = ::containerd::services::tasks::v1;
namespace version = ::containerd::services::version::v1;
} // namespace api

/// Thread: every member may be used from any number of threads at once (gRPC
/// channels and stubs are thread-safe; contexts are made per call).
class containerd_client {
public:
  containerd_client(std::string socket, std::string name_space);

  /// A context for one call: the namespace, a deadline `timeout` from now and,
  /// when `lease` is not empty, the lease that keeps what the call makes from
  /// the garbage collector. Calls fail at once while containerd cannot be
  /// reached, unless `wait_for_ready`: then they wait for a connection until
  /// the deadline, and drive the connection attempts themselves (gRPC's
  /// background poller looks only every 5 s).
  std::unique_ptr<grpc::ClientContext> context(std::chrono::milliseconds timeout,
                                               const std::string& lease = {},
                                               bool wait_for_ready = false) const;

  /// none for OK; else an error whose code follows the status (not_found,
  /// already_exists, invalid_argument, timeout, driver_failure) and whose
  /// message is "WHAT: containerd's message", or, when containerd cannot be
  /// reached, says so and names the socket.
  caf::error check(const grpc::Status& status, const std::string& what) const;

  const std::string& socket() const { return socket_; }
  const std::string& name_space() const { return namespace_; }

  api::containers::Containers::Stub& containers() const { return *containers_; }
  api::content::Content::Stub& content() const { return *content_; }
  api::diff::Diff::Stub& diff() const { return *diff_; }
  api::events::Events::Stub& events() const { return *events_; }
  api::images::Images::Stub& images() const { return *images_; }
  api::leases::Leases::Stub& leases() const { return *leases_; }
  api::snapshots::Snapshots::Stub& snapshots() const { return *snapshots_; }
  api::tasks::Tasks::Stub& tasks() const { return *tasks_; }
  api::version::Version::Stub& version() const { return *version_; }

private:
  std::string socket_;
  std::string namespace_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<api::containers::Containers::Stub> containers_;
  std::unique_ptr<api::content::Content::Stub> content_;
  std::unique_ptr<api::diff::Diff::Stub> diff_;
  std::unique_ptr<api::events::Events::Stub> events_;
  std::unique_ptr<api::images::Images::Stub> images_;
  std::unique_ptr<api::leases::Leases::Stub> leases_;
  std::unique_ptr<api::snapshots::Snapshots::Stub> snapshots_;
  std::unique_ptr<api::tasks::Tasks::Stub> tasks_;
  std::unique_ptr<api::version::Version::Stub> version_;
};

/// A lease for the time of one import or unpack: content and snapshots made
/// under it survive the garbage collector until they are referenced by an
/// image. Deleted on destruction; containerd expires it after an hour should
/// tuttid die first.
class scoped_lease {
public:
  /// An empty id() when containerd refused (the error is in `err`).
  scoped_lease(const containerd_client& client, caf::error& err);
  ~scoped_lease();
  scoped_lease(const scoped_lease&) = delete;
  scoped_lease& operator=(const scoped_lease&) = delete;
  const std::string& id() const { return id_; }

private:
  const containerd_client& client_;
  std::string id_;
};

} // namespace tutti::runtime_drivers::containerd
