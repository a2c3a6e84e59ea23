#include "runtime-drivers/containerd/containerd_driver.hpp"

#include "protocol/errors.hpp"
#include "runtime-drivers/container_name.hpp"
#include "runtime-drivers/containerd/cgroup_stats.hpp"
#include "runtime-drivers/containerd/containerd_client.hpp"
#include "runtime-drivers/containerd/exit_stream.hpp"
#include "runtime-drivers/containerd/image_archive.hpp"
#include "runtime-drivers/containerd/image_store.hpp"
#include "runtime-drivers/containerd/log_copier.hpp"
#include "runtime-drivers/containerd/oci_spec.hpp"
#include "runtime-drivers/containerd/container_support.hpp"
#include "runtime-drivers/task_thread.hpp"

#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <cstdio>
#include <filesystem>

namespace tutti::runtime_drivers {

namespace {

namespace cd = containerd;
namespace api = containerd::api;
namespace fs = std::filesystem;
using protocol::error_code;
using protocol::make_error;
using steady = std::chrono::steady_clock;
using task_status = ::containerd::v1::types::Status;

constexpr const char* spec_type = "types.containerd.io/opencontainers/runtime-spec/1/Spec";
constexpr const char* id_prefix = "tutti-";
constexpr const char* stop_signal_label = "tutti.stop-signal";
/// How long a task exit is remembered for a watch() that races with it.
constexpr auto recent_exit_keep = std::chrono::minutes{1};
/// The largest log tail kept in memory, whatever the caller asks.
constexpr size_t max_log_bytes = size_t{64} << 20;
/// A watched task that could not be looked up after a reconnect is looked up
/// again this much later.
constexpr auto resync_retry = std::chrono::seconds{1};
/// How long a forced removal waits for the killed task to end.
constexpr auto kill_wait = std::chrono::seconds{10};

caf::error not_found(const std::string& name) {
  return make_error(error_code::not_found, "no container named " + name);
}

bool is_not_found(const caf::error& err) {
  return err && protocol::code_of(err) == error_code::not_found;
}

} // namespace

/// containerd's record of a container.
struct containerd_driver::container_record {
  ::containerd::services::containers::v1::Container container;
};

/// A snapshot's mounts: the rootfs of a task.
struct containerd_driver::rootfs {
  google::protobuf::RepeatedPtrField<::containerd::types::Mount> mounts;
};

/// What Tasks.Get says of a container's task.
struct containerd_driver::task_state {
  bool exists = false;
  task_status status = task_status::UNKNOWN;
  uint32_t pid = 0;
  uint32_t exit_status = 0;
};

caf::expected<std::unique_ptr<containerd_driver>>
containerd_driver::make(containerd_options options) {
  if (options.socket.empty())
    return make_error(error_code::invalid_argument,
                      "the containerd driver needs the path of containerd's socket");
  if (options.state_dir.empty())
    return make_error(error_code::invalid_argument,
                      "the containerd driver needs a state directory for its logs");
  std::error_code ec;
  fs::create_directories(options.state_dir + "/logs", ec);
  if (ec)
    return make_error(error_code::driver_failure,
                      "cannot create " + options.state_dir + "/logs: " + ec.message());
  std::unique_ptr<containerd_driver> self{new containerd_driver(std::move(options))};
  auto* raw = self.get();
  cd::exit_stream::handlers h;
  h.on_exit = [raw](const cd::task_exit& e) { raw->on_exit(e); };
  h.on_connected = [raw] { raw->on_connected(); };
  h.on_lost = [raw](const std::string& why, bool was) { raw->on_lost(why, was); };
  self->tasks_ = std::make_unique<task_thread>();
  self->events_ = std::make_unique<cd::exit_stream>(*self->client_, std::move(h));
  self->events_->start();
  return self;
}

containerd_driver::containerd_driver(containerd_options options)
  : options_(std::move(options)),
    client_(std::make_unique<cd::containerd_client>(options_.socket, options_.name_space)),
    images_(
        std::make_unique<cd::image_store>(*client_, options_.snapshotter, options_.call_timeout)),
    users_(
        std::make_unique<cd::image_users>(*client_, options_.snapshotter, options_.call_timeout)) {}

containerd_driver::~containerd_driver() {
  // First: their threads call the other members.
  events_.reset();
  tasks_.reset();
}

protocol::driver_kind containerd_driver::kind() const {
  return protocol::driver_kind::containerd;
}

bool containerd_driver::blocking() const {
  return true;
}

size_t containerd_driver::concurrency() const {
  return std::max<size_t>(options_.concurrency, 1);
}

caf::error containerd_driver::health() {
  google::protobuf::Empty req;
  api::version::VersionResponse resp;
  auto ctx = client_->context(std::chrono::seconds{1}, {}, true);
  auto status = client_->version().Version(ctx.get(), req, &resp);
  if (status.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED) {
    std::error_code ec;
    return make_error(
        error_code::driver_failure,
        "cannot reach containerd at " + options_.socket + " (" +
            (fs::exists(options_.socket, ec) ? "no answer within a second" : "no such socket") +
            "); is containerd running?");
  }
  return client_->check(status, "containerd does not answer");
}

bool containerd_driver::events_connected() const {
  return events_->connected();
}

std::string containerd_driver::container_id(const std::string& name) const {
  return id_prefix + name + (options_.node.empty() ? std::string{} : "_" + options_.node);
}

std::string containerd_driver::log_path(const std::string& id) const {
  return options_.state_dir + "/logs/" + id + ".log";
}

void containerd_driver::report(const std::string& what) {
  std::fprintf(stderr, "tutti containerd driver: %s\n", what.c_str());
}

caf::expected<std::vector<std::string>>
containerd_driver::import_images(const std::string& archive_path) {
  return images_->import_archive(archive_path);
}

// ----- lookups --------------------------------------------------------------------

caf::expected<containerd_driver::task_state> containerd_driver::task_of(const std::string& id) {
  api::tasks::GetRequest req;
  req.set_container_id(id);
  api::tasks::GetResponse resp;
  auto ctx = client_->context(options_.call_timeout);
  auto err = client_->check(client_->tasks().Get(ctx.get(), req, &resp), "task " + id);
  if (is_not_found(err))
    return task_state{};
  if (err)
    return err;
  const auto& p = resp.process();
  return task_state{true, p.status(), p.pid(), p.exit_status()};
}

caf::expected<containerd_driver::container_record>
containerd_driver::container_of(const std::string& name, const std::string& id) {
  api::containers::GetContainerRequest req;
  req.set_id(id);
  api::containers::GetContainerResponse resp;
  auto ctx = client_->context(options_.call_timeout);
  auto err = client_->check(client_->containers().Get(ctx.get(), req, &resp), "container " + id);
  if (is_not_found(err))
    return not_found(name);
  if (err)
    return err;
  return container_record{std::move(*resp.mutable_container())};
}

caf::expected<container_info> containerd_driver::describe(const std::string& name,
                                                          const std::string& id) {
  auto found = container_of(name, id);
  if (!found)
    return std::move(found.error());
  const auto& c = found->container;
  auto task = task_of(id);
  if (!task)
    return std::move(task.error());
  container_info info;
  info.name = name;
  info.runtime_id = id;
  for (const auto& [k, v] : c.labels())
    info.labels.emplace(k, v);
  info.env = cd::env_of_spec(c.spec().value());
  std::error_code ec;
  if (!task->exists && !fs::exists(log_path(id), ec)) {
    info.state = container_state::created; // the first start makes the log file
  } else if (!task->exists) {
    // A task is deleted only to start anew or when its shim died: an end.
    info.state = container_state::exited;
    info.exit_code = -1;
  } else if (task->status == task_status::STOPPED) {
    info.state = container_state::exited;
    info.exit_code = static_cast<int32_t>(task->exit_status);
  } else if (task->status == task_status::CREATED) {
    info.state = container_state::created;
  } else {
    info.state = container_state::running;
    info.pid = task->pid;
    info.started_at_ms = cd::process_started_ms(task->pid);
  }
  return info;
}

caf::expected<container_info> containerd_driver::inspect(const std::string& name) {
  if (auto err = check_container_name(name))
    return err;
  return describe(name, container_id(name));
}

// ----- create ------------------------------------------------------------------------

caf::error containerd_driver::check_image(const std::string& image) {
  std::lock_guard<std::mutex> guard{mutex_};
  auto i = failed_images_.find(image);
  if (i == failed_images_.end())
    return {};
  if (steady::now() - i->second.first > options_.image_retry_after) {
    failed_images_.erase(i);
    return {};
  }
  return make_error(error_code::driver_failure, i->second.second);
}

caf::error containerd_driver::prepare_snapshot(const std::string& id, const std::string& parent,
                                               rootfs& mounts) {
  auto prepare = [&] {
    api::snapshots::PrepareSnapshotRequest req;
    req.set_snapshotter(options_.snapshotter);
    req.set_key(id);
    req.set_parent(parent);
    api::snapshots::PrepareSnapshotResponse resp;
    auto ctx = client_->context(options_.call_timeout);
    auto err = client_->check(client_->snapshots().Prepare(ctx.get(), req, &resp),
                              "cannot prepare the snapshot of " + id);
    if (!err)
      mounts.mounts = std::move(*resp.mutable_mounts());
    return err;
  };
  auto err = prepare();
  if (err && protocol::code_of(err) == error_code::already_exists) {
    // Left by a container removed halfway: it has no owner any more.
    api::snapshots::RemoveSnapshotRequest req;
    req.set_snapshotter(options_.snapshotter);
    req.set_key(id);
    google::protobuf::Empty resp;
    auto ctx = client_->context(options_.call_timeout);
    (void)client_->snapshots().Remove(ctx.get(), req, &resp);
    err = prepare();
  }
  return err;
}

caf::expected<container_info> containerd_driver::create(const container_spec& spec) {
  rootfs mounts;
  return make_container(spec, mounts);
}

caf::expected<container_info> containerd_driver::make_container(const container_spec& spec,
                                                                rootfs& mounts) {
  if (auto err = check_container_name(spec.name))
    return err;
  if (spec.image.empty())
    return make_error(error_code::invalid_argument,
                      "container " + spec.name + " has no image (the containerd driver needs one)");
  auto image_key = cd::full_image_name(spec.image);
  if (auto err = check_image(image_key))
    return make_error(error_code::driver_failure,
                      "cannot create " + spec.name + ": " + protocol::message_of(err));
  auto image = images_->prepare(spec.image, spec.image_archive);
  if (!image) {
    auto why = protocol::message_of(image.error());
    {
      std::lock_guard<std::mutex> guard{mutex_};
      failed_images_[image_key] = {steady::now(), why};
    }
    return make_error(protocol::code_of(image.error()), "cannot create " + spec.name + ": " + why);
  }
  auto id = container_id(spec.name);
  auto user = users_->resolve(*image);
  if (!user)
    return make_error(protocol::code_of(user.error()),
                      "cannot create " + spec.name + ": " + protocol::message_of(user.error()));
  cd::runtime_spec_options spec_options;
  spec_options.hostname = cd::host_name();
  spec_options.cgroups_path = options_.cgroup_parent + "/" + id;
  auto runtime_spec = cd::runtime_spec(spec, image->config, *user, spec_options);
  if (!runtime_spec)
    return std::move(runtime_spec.error());
  api::containers::CreateContainerRequest req;
  auto* c = req.mutable_container();
  c->set_id(id);
  for (const auto& [k, v] : spec.labels)
    (*c->mutable_labels())[k] = v;
  if (!image->config.stop_signal.empty())
    (*c->mutable_labels())[stop_signal_label] = image->config.stop_signal;
  c->set_image(image->name);
  c->mutable_runtime()->set_name(options_.runtime);
  c->mutable_spec()->set_type_url(spec_type);
  c->mutable_spec()->set_value(*runtime_spec);
  c->set_snapshotter(options_.snapshotter);
  c->set_snapshot_key(id);
  api::containers::CreateContainerResponse resp;
  auto ctx = client_->context(options_.call_timeout);
  auto err = client_->check(client_->containers().Create(ctx.get(), req, &resp),
                            "cannot create " + spec.name);
  if (err && protocol::code_of(err) == error_code::already_exists)
    return make_error(error_code::already_exists, "a container named " + spec.name +
                                                      " already exists (containerd id " + id + ")");
  if (err)
    return err;
  // After the container: its record names the snapshot, which keeps the
  // garbage collector from it.
  if (auto failed = prepare_snapshot(id, image->snapshot, mounts)) {
    if (is_not_found(failed))
      images_->forget(spec.image); // the image's snapshot went: unpack again next time
    (void)remove(spec.name, true);
    return failed;
  }
  container_info info;
  info.name = spec.name;
  info.runtime_id = id;
  info.state = container_state::created;
  info.labels = spec.labels;
  info.env = spec.env;
  return info;
}

// ----- start, stop, remove ----------------------------------------------------------

std::shared_ptr<std::mutex> containerd_driver::task_lock(const std::string& id) {
  std::lock_guard<std::mutex> guard{mutex_};
  auto& lock = task_locks_[id];
  if (!lock)
    lock = std::make_shared<std::mutex>();
  return lock;
}

void containerd_driver::reap(const std::string& id, uint32_t pid) {
  auto lock = task_lock(id);
  std::lock_guard<std::mutex> one_at_a_time{*lock};
  auto task = task_of(id);
  if (!task || !task->exists || task->pid != pid || task->status != task_status::STOPPED)
    return; // gone, or a later run
  api::tasks::DeleteTaskRequest req;
  req.set_container_id(id);
  api::tasks::DeleteResponse resp;
  auto ctx = client_->context(options_.call_timeout);
  (void)client_->tasks().Delete(ctx.get(), req, &resp); // a restart deletes what is left
}

caf::error containerd_driver::delete_task(const std::string& id) {
  auto lock = task_lock(id);
  std::lock_guard<std::mutex> one_at_a_time{*lock};
  api::tasks::DeleteTaskRequest req;
  req.set_container_id(id);
  api::tasks::DeleteResponse resp;
  auto ctx = client_->context(options_.call_timeout);
  auto err = client_->check(client_->tasks().Delete(ctx.get(), req, &resp),
                            "cannot delete the task of " + id);
  return is_not_found(err) ? caf::error{} : err;
}

caf::expected<container_info> containerd_driver::start(const std::string& name) {
  if (auto err = check_container_name(name))
    return err;
  auto id = container_id(name);
  auto current = describe(name, id);
  if (!current)
    return current;
  if (current->state == container_state::running)
    return current;
  if (auto err = delete_task(id)) // the ended run's
    return err;
  api::snapshots::MountsRequest mreq;
  mreq.set_snapshotter(options_.snapshotter);
  mreq.set_key(id);
  api::snapshots::MountsResponse found;
  auto mctx = client_->context(options_.call_timeout);
  if (auto err = client_->check(client_->snapshots().Mounts(mctx.get(), mreq, &found),
                                "cannot start " + name + ": its snapshot"))
    return err;
  rootfs mounts;
  mounts.mounts = std::move(*found.mutable_mounts());
  return start_task(std::move(*current), mounts);
}

caf::expected<container_info> containerd_driver::start_task(container_info current,
                                                            const rootfs& mounts) {
  const auto& name = current.name;
  const auto& id = current.runtime_id;
  std::error_code ec;
  fs::create_directories(options_.state_dir + "/logs", ec); // removed by hand since, say
  auto log = options_.log_binary.empty() ? "file://" + log_path(id)
                                         : cd::log_copier_uri(options_.log_binary, log_path(id));
  api::tasks::CreateTaskRequest creq;
  creq.set_container_id(id);
  *creq.mutable_rootfs() = mounts.mounts;
  creq.set_stdout(log);
  creq.set_stderr(log);
  api::tasks::CreateTaskResponse created;
  auto cctx = client_->context(options_.call_timeout);
  if (auto err = client_->check(client_->tasks().Create(cctx.get(), creq, &created),
                                "cannot start " + name))
    return err;
  api::tasks::StartRequest sreq;
  sreq.set_container_id(id);
  api::tasks::StartResponse started;
  auto sctx = client_->context(options_.call_timeout);
  if (auto err = client_->check(client_->tasks().Start(sctx.get(), sreq, &started),
                                "cannot start " + name)) {
    (void)delete_task(id);
    return err;
  }
  current.state = container_state::running;
  current.pid = started.pid();
  current.exit_code = 0;
  current.started_at_ms = cd::process_started_ms(started.pid());
  return current;
}

caf::expected<container_info>
containerd_driver::run(container_spec spec,
                       const std::function<exit_callback(const container_info&)>& watcher) {
  // What create, start and watch do, without their look-ups: the container
  // is new, so it has no task yet, and the snapshot's mounts are at hand.
  rootfs mounts;
  auto created = make_container(spec, mounts);
  if (!created)
    return created;
  auto started = start_task(std::move(*created), mounts);
  if (!started)
    return started;
  auto key = std::make_pair(started->runtime_id, static_cast<uint32_t>(started->pid));
  auto on_exit = watcher(*started); // before the lock: it may call back into the driver
  std::lock_guard<std::mutex> guard{mutex_};
  auto ended = recent_exits_.find(key);
  if (ended == recent_exits_.end()) {
    watches_[spec.name] = watch_entry{key.first, key.second, std::move(on_exit)};
  } else {
    tasks_->post([on_exit = std::move(on_exit), name = spec.name, code = ended->second.first] {
      on_exit(name, code);
    });
  }
  return started;
}

caf::error containerd_driver::kill(const std::string& id, const std::string& exec_id, int signal,
                                   bool all) {
  api::tasks::KillRequest req;
  req.set_container_id(id);
  req.set_exec_id(exec_id);
  req.set_signal(static_cast<uint32_t>(signal));
  req.set_all(all);
  google::protobuf::Empty resp;
  auto ctx = client_->context(options_.call_timeout);
  auto err = client_->check(client_->tasks().Kill(ctx.get(), req, &resp), "cannot signal " + id);
  // Not found: the process ended already.
  return is_not_found(err) ? caf::error{} : err;
}

void containerd_driver::kill_if_same_task(const std::string& id, uint32_t pid) {
  auto task = task_of(id);
  if (!task || !task->exists || task->pid != pid || task->status == task_status::STOPPED)
    return; // gone, ended, or a later run
  if (auto err = kill(id, {}, SIGKILL, true))
    report("cannot kill " + id + " after its stop grace: " + protocol::message_of(err));
}

caf::error containerd_driver::stop(const std::string& name, caf::timespan grace) {
  if (auto err = check_container_name(name))
    return err;
  auto id = container_id(name);
  auto x = describe(name, id);
  if (!x)
    return std::move(x.error());
  if (x->state != container_state::running)
    return {};
  if (grace.count() <= 0)
    return kill(id, {}, SIGKILL, true);
  auto signal = cd::signal_number(x->labels.count(stop_signal_label) ? x->labels[stop_signal_label]
                                                                     : std::string{});
  if (auto err = kill(id, {}, signal, false))
    return err;
  auto pid = static_cast<uint32_t>(x->pid);
  tasks_->post_at(steady::now() + std::chrono::duration_cast<steady::duration>(grace),
                  [this, id, pid] { kill_if_same_task(id, pid); });
  return {};
}

caf::error containerd_driver::remove(const std::string& name, bool force) {
  if (auto err = check_container_name(name))
    return err;
  auto id = container_id(name);
  std::optional<watch_entry> unwatched;
  if (force) {
    // Before the kill: its exit must find no watch.
    std::lock_guard<std::mutex> guard{mutex_};
    if (auto i = watches_.find(name); i != watches_.end()) {
      unwatched = std::move(i->second);
      watches_.erase(i);
    }
  }
  // A removal that fails leaves the container watched as it was.
  auto keep_watch = [&](caf::error err) {
    if (unwatched) {
      std::lock_guard<std::mutex> guard{mutex_};
      watches_.emplace(name, std::move(*unwatched));
    }
    return err;
  };
  auto task = task_of(id);
  if (!task)
    return keep_watch(std::move(task.error()));
  if (task->exists && task->status != task_status::STOPPED) {
    if (!force)
      return make_error(error_code::invalid_argument,
                        "container " + name + " is running; stop it first or remove it with force");
    if (auto err = kill(id, {}, SIGKILL, true))
      return keep_watch(std::move(err));
    auto deadline = steady::now() + kill_wait;
    while (task && task->exists && task->status != task_status::STOPPED &&
           steady::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds{10});
      task = task_of(id);
    }
  }
  if (auto err = delete_task(id))
    return keep_watch(std::move(err));
  api::containers::DeleteContainerRequest req;
  req.set_id(id);
  google::protobuf::Empty resp;
  auto ctx = client_->context(options_.call_timeout);
  auto err =
      client_->check(client_->containers().Delete(ctx.get(), req, &resp), "cannot remove " + name);
  if (is_not_found(err))
    return not_found(name);
  if (err)
    return err;
  api::snapshots::RemoveSnapshotRequest sreq;
  sreq.set_snapshotter(options_.snapshotter);
  sreq.set_key(id);
  auto sctx = client_->context(options_.call_timeout);
  auto gone = client_->check(client_->snapshots().Remove(sctx.get(), sreq, &resp),
                             "cannot remove the snapshot of " + name);
  std::error_code ec;
  fs::remove(log_path(id), ec);
  {
    std::lock_guard<std::mutex> guard{mutex_};
    watches_.erase(name);
    task_locks_.erase(id);
  }
  return is_not_found(gone) ? caf::error{} : gone;
}

// ----- watch, logs, stats, list, exec ---------------------------------------------------

caf::error containerd_driver::watch(const std::string& name, exit_callback on_exit) {
  if (auto err = check_container_name(name))
    return err;
  auto id = container_id(name);
  auto x = describe(name, id);
  if (!x)
    return std::move(x.error());
  if (x->state == container_state::created)
    return make_error(error_code::invalid_argument,
                      "cannot watch " + name + ": it has not been started");
  int32_t code = x->exit_code;
  if (x->state == container_state::running) {
    std::lock_guard<std::mutex> guard{mutex_};
    // An exit handled between the lookup and now found no watch: it is
    // remembered, and taken here instead.
    auto ended = recent_exits_.find({id, static_cast<uint32_t>(x->pid)});
    if (ended == recent_exits_.end()) {
      watches_[name] = watch_entry{id, static_cast<uint32_t>(x->pid), std::move(on_exit)};
      return {};
    }
    code = ended->second.first;
  }
  tasks_->post([on_exit = std::move(on_exit), name, code] { on_exit(name, code); });
  return {};
}

caf::expected<std::string> containerd_driver::logs(const std::string& name, size_t max_bytes) {
  if (auto err = check_container_name(name))
    return err;
  auto id = container_id(name);
  auto x = describe(name, id);
  if (!x)
    return std::move(x.error());
  return cd::read_tail(log_path(id), std::min(max_bytes, max_log_bytes));
}

caf::expected<container_stats> containerd_driver::stats(const std::string& name) {
  if (auto err = check_container_name(name))
    return err;
  auto id = container_id(name);
  auto x = describe(name, id);
  if (!x)
    return std::move(x.error());
  if (x->state != container_state::running)
    return container_stats{};
  auto sample = cd::read_cgroup(options_.cgroup_parent + "/" + id, cd::read_mountinfo());
  if (!sample)
    return std::move(sample.error());
  return container_stats{sample->cpu_seconds, sample->memory_bytes};
}

caf::expected<std::vector<container_info>> containerd_driver::list_owned(const std::string& node) {
  api::containers::ListContainersRequest req;
  req.add_filters("labels.\"" + std::string{label::node} + "\"==" + node);
  api::containers::ListContainersResponse resp;
  auto ctx = client_->context(options_.call_timeout);
  if (auto err = client_->check(client_->containers().List(ctx.get(), req, &resp),
                                "cannot list the containers of node " + node))
    return err;
  std::vector<container_info> out;
  for (const auto& c : resp.containers()) {
    auto name = cd::replica_of_id(c.id(), id_prefix, options_.node);
    // Only ids this driver would use, so that remove(name) reaches them.
    if (!name || container_id(*name) != c.id())
      continue;
    auto x = describe(*name, c.id());
    if (!x && protocol::code_of(x.error()) == error_code::not_found)
      continue; // removed meanwhile
    if (!x)
      return std::move(x.error());
    out.push_back(std::move(*x));
  }
  std::sort(out.begin(), out.end(),
            [](const container_info& a, const container_info& b) { return a.name < b.name; });
  return out;
}

caf::expected<exec_result> containerd_driver::exec(const std::string& name,
                                                   const std::vector<std::string>& command,
                                                   caf::timespan timeout) {
  if (auto err = check_container_name(name))
    return err;
  auto id = container_id(name);
  auto found = container_of(name, id);
  if (!found)
    return std::move(found.error());
  cd::exec_request request{id,
                           command,
                           found->container.spec().value(),
                           options_.state_dir + "/exec",
                           options_.log_binary,
                           std::max(std::chrono::duration_cast<std::chrono::milliseconds>(timeout),
                                    std::chrono::milliseconds{1}),
                           options_.call_timeout};
  return cd::run_exec(*client_, request);
}

// ----- the exit stream -------------------------------------------------------------

void containerd_driver::on_exit(const cd::task_exit& e) {
  if (e.id != e.container_id)
    return; // an exec's end: run_exec waits for it itself
  auto code = static_cast<int32_t>(e.exit_status);
  std::string name;
  exit_callback callback;
  {
    std::lock_guard<std::mutex> guard{mutex_};
    auto now = steady::now();
    recent_exits_[{e.container_id, e.pid}] = {code, now};
    for (auto i = recent_exits_.begin(); i != recent_exits_.end();)
      i = now - i->second.second > recent_exit_keep ? recent_exits_.erase(i) : std::next(i);
    for (auto i = watches_.begin(); i != watches_.end(); ++i) {
      if (i->second.id == e.container_id && i->second.pid == e.pid) {
        name = i->first;
        callback = std::move(i->second.on_exit);
        watches_.erase(i);
        break;
      }
    }
  }
  if (!callback)
    return;
  callback(name, code);
  // The ended task's shim and state go now, not when the replica restarts:
  // a restart then only makes the new task.
  tasks_->post([this, id = e.container_id, pid = e.pid] { reap(id, pid); });
}

void containerd_driver::on_connected() {
  {
    std::lock_guard<std::mutex> guard{mutex_};
    if (reported_down_)
      report("the event stream of containerd at " + options_.socket + " is back");
    reported_down_ = false;
  }
  resync();
}

void containerd_driver::on_lost(const std::string& why, bool was_connected) {
  std::lock_guard<std::mutex> guard{mutex_};
  // Once per outage, not once per attempt.
  if (was_connected || !reported_down_)
    report(why + "; retrying");
  reported_down_ = true;
}

void containerd_driver::resync() {
  std::map<std::string, watch_entry> watched;
  {
    std::lock_guard<std::mutex> guard{mutex_};
    for (const auto& [name, entry] : watches_)
      watched.emplace(name, watch_entry{entry.id, entry.pid, {}});
  }
  bool failed = false;
  for (const auto& [name, entry] : watched) {
    auto task = task_of(entry.id);
    if (!task) {
      failed = true; // looked up again soon: the stream may well stay up
      continue;
    }
    int32_t code = -1;
    if (task->exists && task->pid == entry.pid) {
      if (task->status != task_status::STOPPED)
        continue;
      code = static_cast<int32_t>(task->exit_status);
    }
    exit_callback callback;
    {
      std::lock_guard<std::mutex> guard{mutex_};
      auto i = watches_.find(name);
      if (i == watches_.end() || i->second.id != entry.id || i->second.pid != entry.pid)
        continue; // fired, cancelled or replaced meanwhile
      callback = std::move(i->second.on_exit);
      watches_.erase(i);
    }
    callback(name, code);
  }
  if (failed)
    tasks_->post_at(steady::now() + resync_retry, [this] { resync(); });
}

} // namespace tutti::runtime_drivers
