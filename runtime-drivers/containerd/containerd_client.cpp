#include "runtime-drivers/containerd/containerd_client.hpp"

#include "protocol/errors.hpp"

#include <openssl/rand.h>

#include <ctime>

namespace tutti::runtime_drivers::containerd {

namespace {

using protocol::error_code;
using protocol::make_error;

constexpr const char* namespace_key = "containerd-namespace";
constexpr const char* lease_key = "containerd-lease";
constexpr auto lease_call_timeout = std::chrono::seconds{10};

error_code code_of(grpc::StatusCode code) {
  switch (code) {
    case grpc::StatusCode::NOT_FOUND:
      return error_code::not_found;
    case grpc::StatusCode::ALREADY_EXISTS:
      return error_code::already_exists;
    case grpc::StatusCode::INVALID_ARGUMENT:
      return error_code::invalid_argument;
    case grpc::StatusCode::DEADLINE_EXCEEDED:
      return error_code::timeout;
    default:
      return error_code::driver_failure;
  }
}

std::string random_hex(size_t bytes) {
  std::string raw(bytes, '\0');
  RAND_bytes(reinterpret_cast<unsigned char*>(raw.data()), static_cast<int>(raw.size()));
  static const char* hex = "0123456789abcdef";
  std::string out;
  for (unsigned char c : raw) {
    out += hex[c >> 4];
    out += hex[c & 15];
  }
  return out;
}

/// RFC 3339 in UTC, as containerd's gc.expire label wants it.
std::string rfc3339_in(std::chrono::seconds from_now) {
  auto t = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now() + from_now);
  std::tm utc{};
  gmtime_r(&t, &utc);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &utc);
  return text;
}

/// A channel that reconnects within a second of containerd coming back: gRPC's
/// default back-off grows to two minutes, far longer than a restart takes.
std::shared_ptr<grpc::Channel> make_channel(const std::string& socket) {
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
  // Also the time a connection attempt may take: containerd busy reloading its
  // tasks after a restart answers slowly.
  args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, 1000);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 1000);
  return grpc::CreateCustomChannel("unix:" + socket, grpc::InsecureChannelCredentials(), args);
}

} // namespace

containerd_client::containerd_client(std::string socket, std::string name_space)
  : socket_(std::move(socket)), namespace_(std::move(name_space)), channel_(make_channel(socket_)),
    containers_(api::containers::Containers::NewStub(channel_)),
    content_(api::content::Content::NewStub(channel_)), diff_(api::diff::Diff::NewStub(channel_)),
    events_(api::events::Events::NewStub(channel_)),
    images_(api::images::Images::NewStub(channel_)),
    leases_(api::leases::Leases::NewStub(channel_)),
    snapshots_(api::snapshots::Snapshots::NewStub(channel_)),
    tasks_(api::tasks::Tasks::NewStub(channel_)),
    version_(api::version::Version::NewStub(channel_)) {}

std::unique_ptr<grpc::ClientContext> containerd_client::context(std::chrono::milliseconds timeout,
                                                                const std::string& lease,
                                                                bool wait_for_ready) const {
  auto ctx = std::make_unique<grpc::ClientContext>();
  ctx->set_wait_for_ready(wait_for_ready);
  ctx->AddMetadata(namespace_key, namespace_);
  if (!lease.empty())
    ctx->AddMetadata(lease_key, lease);
  ctx->set_deadline(std::chrono::system_clock::now() + timeout);
  return ctx;
}

caf::error containerd_client::check(const grpc::Status& status, const std::string& what) const {
  if (status.ok())
    return {};
  if (status.error_code() == grpc::StatusCode::UNAVAILABLE)
    return make_error(error_code::driver_failure, what + ": cannot reach containerd at " + socket_ +
                                                      " (" + status.error_message() +
                                                      "); is containerd running?");
  return make_error(code_of(status.error_code()), what + ": " + status.error_message());
}

scoped_lease::scoped_lease(const containerd_client& client, caf::error& err) : client_(client) {
  api::leases::CreateRequest req;
  req.set_id("tutti-" + random_hex(8));
  (*req.mutable_labels())["containerd.io/gc.expire"] = rfc3339_in(std::chrono::hours{1});
  api::leases::CreateResponse resp;
  auto ctx = client_.context(lease_call_timeout);
  err = client_.check(client_.leases().Create(ctx.get(), req, &resp), "cannot create a lease");
  if (!err)
    id_ = resp.lease().id();
}

scoped_lease::~scoped_lease() {
  if (id_.empty())
    return;
  api::leases::DeleteRequest req;
  req.set_id(id_);
  google::protobuf::Empty resp;
  auto ctx = client_.context(lease_call_timeout);
  // Best effort: an undeleted lease expires by itself.
  (void)client_.leases().Delete(ctx.get(), req, &resp);
}

} // namespace tutti::runtime_drivers::containerd
