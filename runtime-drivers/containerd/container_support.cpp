#include "runtime-drivers/containerd/container_support.hpp"

#include "protocol/errors.hpp"
#include "runtime-drivers/containerd/containerd_client.hpp"
#include "runtime-drivers/containerd/image_store.hpp"
#include "runtime-drivers/containerd/log_copier.hpp"
#include "runtime-drivers/process/proc_stat.hpp"

#include <nlohmann/json.hpp>

#include <openssl/rand.h>
#include <sys/mount.h>
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace tutti::runtime_drivers::containerd {

namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using protocol::error_code;
using protocol::make_error;

constexpr const char* process_type = "types.containerd.io/opencontainers/runtime-spec/1/Process";
constexpr size_t max_exec_output = 4096;
/// A killed exec ends at once; this bounds the wait for its end.
constexpr auto exec_kill_wait = std::chrono::seconds{5};
/// /etc/passwd and /etc/group of an image: never this large.
constexpr size_t max_account_file = size_t{1} << 20;

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

json parse_spec(const std::string& spec_json) {
  auto doc = json::parse(spec_json, nullptr, false);
  return doc.is_discarded() ? json::object() : doc;
}

std::vector<std::string> env_list(const json& spec) {
  std::vector<std::string> out;
  auto process = spec.find("process");
  if (process == spec.end() || !process->is_object())
    return out;
  auto env = process->find("env");
  if (env == process->end() || !env->is_array())
    return out;
  for (const auto& entry : *env)
    if (entry.is_string())
      out.push_back(entry.get<std::string>());
  return out;
}

resolved_user user_of_spec(const json& spec) {
  resolved_user out;
  auto process = spec.find("process");
  if (process == spec.end() || !process->is_object())
    return out;
  auto user = process->find("user");
  if (user == process->end() || !user->is_object())
    return out;
  out.uid = user->value("uid", 0u);
  out.gid = user->value("gid", 0u);
  if (auto gids = user->find("additionalGids"); gids != user->end() && gids->is_array())
    for (const auto& g : *gids)
      if (g.is_number_unsigned() && g.get<uint32_t>() != out.gid)
        out.additional_gids.push_back(g.get<uint32_t>());
  return out;
}

std::string cwd_of_spec(const json& spec) {
  auto process = spec.find("process");
  if (process == spec.end() || !process->is_object())
    return "/";
  auto cwd = process->find("cwd");
  return cwd != process->end() && cwd->is_string() ? cwd->get<std::string>() : "/";
}

uint64_t boot_time_s() {
  std::ifstream in{"/proc/stat"};
  std::string key;
  while (in >> key) {
    if (key == "btime") {
      uint64_t t = 0;
      in >> t;
      return t;
    }
    in.ignore(std::numeric_limits<std::streamsize>::max(), '\n');
  }
  return 0;
}

/// mount(2) flags and data of an OCI mount's options.
std::pair<unsigned long, std::string> mount_flags(const ::containerd::types::Mount& m) {
  unsigned long flags = 0;
  std::string data;
  for (const auto& o : m.options()) {
    if (o == "ro")
      flags |= MS_RDONLY;
    else if (o == "bind")
      flags |= MS_BIND;
    else if (o == "rbind")
      flags |= MS_BIND | MS_REC;
    else if (o == "rw")
      continue;
    else
      data += (data.empty() ? "" : ",") + o;
  }
  return {flags, data};
}

std::string read_small(const std::string& path) {
  std::ifstream in{path, std::ios::binary};
  if (!in)
    return {};
  std::string out(max_account_file, '\0');
  in.read(out.data(), static_cast<std::streamsize>(out.size()));
  out.resize(static_cast<size_t>(in.gcount()));
  return out;
}

} // namespace

// ----- small readers -------------------------------------------------------------------

std::map<std::string, std::string> env_of_spec(const std::string& spec_json) {
  std::map<std::string, std::string> out;
  for (const auto& entry : env_list(parse_spec(spec_json))) {
    auto eq = entry.find('=');
    out[entry.substr(0, eq)] = eq == std::string::npos ? std::string{} : entry.substr(eq + 1);
  }
  return out;
}

int64_t process_started_ms(int64_t pid) {
  auto stat = read_proc_stat(static_cast<pid_t>(pid));
  if (!stat)
    return 0;
  static const uint64_t boot = boot_time_s();
  static const long ticks = sysconf(_SC_CLK_TCK);
  return static_cast<int64_t>(boot * 1000 +
                              stat->start_ticks * 1000 / static_cast<uint64_t>(ticks));
}

std::string host_name() {
  char name[256] = {};
  if (gethostname(name, sizeof name - 1) != 0)
    return "localhost";
  return name;
}

int signal_number(const std::string& name) {
  static const std::map<std::string, int> known{
      {"HUP", SIGHUP},   {"INT", SIGINT},   {"QUIT", SIGQUIT}, {"KILL", SIGKILL},
      {"USR1", SIGUSR1}, {"USR2", SIGUSR2}, {"TERM", SIGTERM}, {"WINCH", SIGWINCH},
      {"STOP", SIGSTOP}, {"PWR", SIGPWR}};
  auto bare = name.rfind("SIG", 0) == 0 ? name.substr(3) : name;
  if (auto i = known.find(bare); i != known.end())
    return i->second;
  if (!bare.empty() && bare.find_first_not_of("0123456789") == std::string::npos &&
      bare.size() < 3) {
    auto n = std::stoi(bare);
    if (n > 0 && n < 65)
      return n;
  }
  return SIGTERM;
}

std::optional<std::string> replica_of_id(const std::string& id, const std::string& prefix,
                                         const std::string& node) {
  if (id.rfind(prefix, 0) != 0)
    return std::nullopt;
  auto rest = id.substr(prefix.size());
  if (!node.empty()) {
    auto tail = "_" + node;
    if (rest.size() <= tail.size() ||
        rest.compare(rest.size() - tail.size(), tail.size(), tail) != 0)
      return std::nullopt;
    rest.resize(rest.size() - tail.size());
  }
  auto underscores = std::count(rest.begin(), rest.end(), '_');
  if (rest.empty() || underscores > (node.empty() ? 0 : 1))
    return std::nullopt;
  return rest;
}

caf::expected<std::string> read_tail(const std::string& path, size_t max_bytes) {
  std::ifstream in{path, std::ios::binary | std::ios::ate};
  if (!in)
    return std::string{};
  auto size = static_cast<size_t>(in.tellg());
  auto from = size > max_bytes ? size - max_bytes : 0;
  in.seekg(static_cast<std::streamoff>(from));
  std::string out(size - from, '\0');
  in.read(out.data(), static_cast<std::streamsize>(out.size()));
  out.resize(static_cast<size_t>(in.gcount()));
  return out;
}

// ----- image users -----------------------------------------------------------------------

image_users::image_users(const containerd_client& client, std::string snapshotter,
                         std::chrono::milliseconds call_timeout)
  : client_(client), snapshotter_(std::move(snapshotter)), call_timeout_(call_timeout) {}

caf::expected<resolved_user> image_users::resolve(const unpacked_image& image) {
  std::unique_lock<std::mutex> lock{mutex_};
  auto i = cache_.find(image.snapshot);
  if (i == cache_.end()) {
    auto read = read_files(image.snapshot);
    if (!read)
      return std::move(read.error());
    i = cache_.emplace(image.snapshot, std::move(*read)).first;
  }
  return resolve_user(image.config.user, i->second.passwd, i->second.group);
}

caf::expected<image_users::files> image_users::read_files(const std::string& snapshot) {
  auto key = "tutti-view-" + random_hex(8);
  api::snapshots::ViewSnapshotRequest view;
  view.set_snapshotter(snapshotter_);
  view.set_key(key);
  view.set_parent(snapshot);
  api::snapshots::ViewSnapshotResponse mounts;
  auto ctx = client_.context(call_timeout_);
  if (auto err = client_.check(client_.snapshots().View(ctx.get(), view, &mounts),
                               "cannot read the image's /etc/passwd"))
    return err;
  auto dir = fs::temp_directory_path() / key;
  std::error_code ec;
  fs::create_directories(dir, ec);
  files out;
  caf::error failed;
  bool mounted = false;
  for (const auto& m : mounts.mounts()) {
    auto [flags, data] = mount_flags(m);
    if (::mount(m.source().c_str(), dir.c_str(), m.type().c_str(), flags | MS_RDONLY,
                data.empty() ? nullptr : data.c_str()) != 0) {
      failed = make_error(
          error_code::driver_failure,
          "cannot mount the image to read its /etc/passwd: " + std::string{std::strerror(errno)} +
              " (the containerd driver runs as root)");
      break;
    }
    mounted = true;
    break; // a view is one mount
  }
  if (mounted) {
    out.passwd = read_small((dir / "etc/passwd").string());
    out.group = read_small((dir / "etc/group").string());
    ::umount2(dir.c_str(), MNT_DETACH);
  }
  fs::remove(dir, ec);
  api::snapshots::RemoveSnapshotRequest remove;
  remove.set_snapshotter(snapshotter_);
  remove.set_key(key);
  google::protobuf::Empty done;
  auto rctx = client_.context(call_timeout_);
  (void)client_.snapshots().Remove(rctx.get(), remove, &done);
  if (failed)
    return failed;
  return out;
}

// ----- exec --------------------------------------------------------------------------------

caf::expected<exec_result> run_exec(const containerd_client& client, const exec_request& request) {
  auto spec = parse_spec(request.spec_json);
  auto exec_id = "tutti-exec-" + random_hex(8);
  std::error_code ec;
  fs::create_directories(request.output_dir, ec);
  // Through the log copier, as a task's output: containerd 1.6's file://
  // writes stderr to stdout's file and loses it when stdout ends first.
  auto output = request.output_dir + "/" + exec_id + ".out";
  auto uri =
      request.log_binary.empty() ? "file://" + output : log_copier_uri(request.log_binary, output);
  auto remove_outputs = [&] { fs::remove(output, ec); };
  const auto& id = request.container_id;
  auto cleanup = [&] {
    api::tasks::DeleteProcessRequest req;
    req.set_container_id(id);
    req.set_exec_id(exec_id);
    api::tasks::DeleteResponse resp;
    auto ctx = client.context(request.call_timeout);
    (void)client.tasks().DeleteProcess(ctx.get(), req, &resp);
  };
  api::tasks::WaitRequest wait;
  wait.set_container_id(id);
  wait.set_exec_id(exec_id);
  // Ends a command that may still run (containerd deletes no running process),
  // then deletes it: what every way out after a started Exec does.
  auto abandon = [&] {
    api::tasks::KillRequest kill;
    kill.set_container_id(id);
    kill.set_exec_id(exec_id);
    kill.set_signal(SIGKILL);
    google::protobuf::Empty none;
    auto kctx = client.context(request.call_timeout);
    (void)client.tasks().Kill(kctx.get(), kill, &none);
    api::tasks::WaitResponse ignored;
    auto w2 = client.context(exec_kill_wait);
    (void)client.tasks().Wait(w2.get(), wait, &ignored);
    cleanup();
    remove_outputs();
  };
  api::tasks::ExecProcessRequest exec;
  exec.set_container_id(id);
  exec.set_exec_id(exec_id);
  exec.set_stdout(uri);
  exec.set_stderr(uri);
  exec.mutable_spec()->set_type_url(process_type);
  exec.mutable_spec()->set_value(
      exec_process(request.command, env_list(spec), user_of_spec(spec), cwd_of_spec(spec)));
  google::protobuf::Empty empty;
  auto ectx = client.context(request.call_timeout);
  if (auto err = client.check(client.tasks().Exec(ectx.get(), exec, &empty),
                              "cannot run a command in " + id))
    return err;
  api::tasks::StartRequest start;
  start.set_container_id(id);
  start.set_exec_id(exec_id);
  api::tasks::StartResponse started;
  auto sctx = client.context(request.call_timeout);
  if (auto err = client.check(client.tasks().Start(sctx.get(), start, &started),
                              "cannot run a command in " + id)) {
    abandon(); // its start may have gone through all the same
    return err;
  }
  api::tasks::WaitResponse waited;
  auto wait_until = std::chrono::steady_clock::now() + request.timeout;
  auto wctx = client.context(request.timeout);
  auto status = client.tasks().Wait(wctx.get(), wait, &waited);
  // containerd may answer first, with Unknown "context deadline exceeded".
  bool timed_out = status.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED ||
                   (!status.ok() && std::chrono::steady_clock::now() >= wait_until);
  if (timed_out) {
    abandon();
    return make_error(error_code::timeout, "command did not finish within " +
                                               std::to_string(request.timeout.count()) + "ms");
  }
  if (!status.ok()) {
    abandon();
    return client.check(status, "cannot wait for a command in " + id);
  }
  cleanup(); // closes its output first
  auto out = read_tail(output, max_exec_output);
  auto text = out ? *out : std::string{};
  remove_outputs();
  if (auto err = client.check(status, "cannot wait for a command in " + id))
    return err;
  if (text.size() > max_exec_output)
    text.erase(0, text.size() - max_exec_output);
  return exec_result{static_cast<int32_t>(waited.exit_status()), std::move(text)};
}

} // namespace tutti::runtime_drivers::containerd
