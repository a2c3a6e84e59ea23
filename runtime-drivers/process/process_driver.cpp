#include "runtime-drivers/process/process_driver.hpp"

#include "protocol/errors.hpp"
#include "runtime-drivers/container_name.hpp"
#include "runtime-drivers/process/proc_stat.hpp"
#include "runtime-drivers/process/process_reaper.hpp"
#include "runtime-drivers/process/process_record.hpp"
#include "runtime-drivers/process/process_spawn.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <set>

namespace tutti::runtime_drivers {

namespace {

namespace fs = std::filesystem;
using protocol::error_code;
using protocol::make_error;

/// A SIGKILLed process is gone within microseconds unless the kernel holds it
/// in an uninterruptible sleep; this bounds remove(force) for that case.
constexpr auto kill_wait = std::chrono::milliseconds{1000};

constexpr const char* record_suffix = ".json";
/// Put into every replica's environment, with the state directory as value.
constexpr const char* state_marker_name = "TUTTI_PROCESS_STATE";

int64_t now_ms() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

/// The recorded process exists (pid and start time match; zombies count).
bool is_alive(const process_record& x) {
  return x.state == container_state::running && x.pid > 0 &&
         is_same_process(static_cast<pid_t>(x.pid), x.start_ticks);
}

container_info info_of(const process_record& x, bool running) {
  container_info info;
  info.name = x.spec.name;
  info.runtime_id = x.pid > 0 ? std::to_string(x.pid) : std::string{};
  info.started_at_ms = x.started_at_ms;
  info.labels = x.spec.labels;
  info.env = x.spec.env;
  if (running) {
    info.state = container_state::running;
    info.pid = x.pid;
  } else if (x.state == container_state::created) {
    info.state = container_state::created;
  } else {
    // A record still saying running is a process that ended while nobody
    // watched (or whose end the reaper has yet to record): code unknown.
    info.state = container_state::exited;
    info.exit_code = x.state == container_state::exited ? x.exit_code : -1;
  }
  return info;
}

caf::error unlink_file(const std::string& path) {
  if (::unlink(path.c_str()) != 0 && errno != ENOENT)
    return make_error(error_code::driver_failure,
                      "cannot delete " + path + ": " + std::strerror(errno));
  return {};
}

/// Kills and reaps a child we just spawned but cannot keep track of.
void abandon_child(pid_t pid) {
  ::kill(-pid, SIGKILL);
  while (::waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {
  }
}

caf::expected<std::string> read_tail(const std::string& path, size_t max_bytes) {
  auto fail = [&](const char* what) {
    return make_error(error_code::driver_failure,
                      std::string{what} + " " + path + ": " + std::strerror(errno));
  };
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return errno == ENOENT ? caf::expected<std::string>{std::string{}}
                           : caf::expected<std::string>{fail("cannot open")};
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    auto err = fail("cannot stat");
    ::close(fd);
    return err;
  }
  auto size = static_cast<size_t>(st.st_size);
  auto offset = size > max_bytes ? size - max_bytes : 0;
  std::string text(size - offset, '\0');
  size_t done = 0;
  while (done < text.size()) {
    auto n = ::pread(fd, text.data() + done, text.size() - done, static_cast<off_t>(offset + done));
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0) {
      auto err = fail("cannot read");
      ::close(fd);
      return err;
    }
    if (n == 0)
      break; // truncated meanwhile
    done += static_cast<size_t>(n);
  }
  ::close(fd);
  text.resize(done);
  return text;
}

bool ends_with(const std::string& text, const std::string& suffix) {
  return text.size() >= suffix.size() &&
         text.compare(text.size() - suffix.size(), suffix.size(), suffix) == 0;
}

} // namespace

caf::expected<std::unique_ptr<process_driver>> process_driver::make(const std::string& state_dir) {
  if (state_dir.empty())
    return make_error(error_code::invalid_argument, "the process driver needs a state directory");
  std::error_code ec;
  fs::create_directories(fs::path{state_dir} / "logs", ec);
  if (ec)
    return make_error(error_code::driver_failure,
                      "cannot create " + state_dir + "/logs: " + ec.message());
  std::unique_ptr<process_driver> self{new process_driver(state_dir)};
  auto* raw = self.get();
  auto reaper =
      process_reaper::make([raw](pid_t pid, int32_t exit_code) { raw->on_exit(pid, exit_code); });
  if (!reaper)
    return std::move(reaper.error());
  self->reaper_ = std::move(*reaper);
  if (auto err = self->adopt_all())
    return err;
  return self;
}

process_driver::process_driver(std::string state_dir) : state_dir_(std::move(state_dir)) {}

process_driver::~process_driver() {
  // First: the reaper thread calls on_exit(), which uses the other members.
  reaper_.reset();
}

protocol::driver_kind process_driver::kind() const {
  return protocol::driver_kind::process;
}

bool process_driver::blocking() const {
  return false;
}

std::string process_driver::record_path(const std::string& name) const {
  return state_dir_ + "/" + name + record_suffix;
}

std::string process_driver::log_path(const std::string& name) const {
  return state_dir_ + "/logs/" + name + ".log";
}

caf::expected<process_record> process_driver::load(const std::string& name) const {
  if (auto err = check_container_name(name))
    return err;
  auto record = read_record(record_path(name));
  if (!record && protocol::code_of(record.error()) == error_code::not_found)
    return make_error(error_code::not_found, "no container named " + name);
  return record;
}

caf::expected<std::vector<process_record>> process_driver::load_all() const {
  std::vector<process_record> result;
  std::error_code ec;
  for (fs::directory_iterator i{state_dir_, ec}, end; !ec && i != end; i.increment(ec)) {
    auto file = i->path().filename().string();
    // Skips logs/ and the temporary files of interrupted writes.
    if (!ends_with(file, record_suffix))
      continue;
    auto record = read_record(i->path().string());
    if (!record)
      return std::move(record.error());
    result.push_back(std::move(*record));
  }
  if (ec)
    return make_error(error_code::driver_failure,
                      "cannot list " + state_dir_ + ": " + ec.message());
  return result;
}

caf::error process_driver::adopt_all() {
  std::lock_guard<std::mutex> guard{mutex_};
  auto records = load_all();
  if (!records)
    return std::move(records.error());
  for (auto& record : *records) {
    if (record.state != container_state::running)
      continue;
    if (is_alive(record)) {
      auto err = track(record);
      if (!err)
        continue;
      if (is_alive(record))
        return err;
    }
    // Ended while no daemon watched it: its exit code is lost.
    record.state = container_state::exited;
    record.exit_code = -1;
    if (auto err = write_record(record_path(record.spec.name), record))
      return err;
  }
  kill_unrecorded(*records);
  return {};
}

void process_driver::kill_unrecorded(const std::vector<process_record>& records) {
  // A daemon killed between spawning a process and writing its record leaves a
  // process nobody knows: its replica was started again (a duplicate) or is no
  // longer wanted. Each is the leader of its own process group.
  std::set<pid_t> recorded;
  for (const auto& r : records)
    if (r.state == container_state::running && is_alive(r))
      recorded.insert(static_cast<pid_t>(r.pid));
  for (const auto& x : processes_with_env(std::string{state_marker_name} + "=" + state_dir_)) {
    if (recorded.count(x.pgid) || x.pid == ::getpid())
      continue;
    ::kill(x.pgid == x.pid ? -x.pgid : x.pid, SIGKILL);
  }
}

caf::error process_driver::track(const process_record& record) {
  auto pid = static_cast<pid_t>(record.pid);
  auto pidfd = open_pidfd(pid);
  if (!pidfd)
    return std::move(pidfd.error());
  // Checked again now that the pidfd pins the process: the pid might have been
  // reused between the caller's check and pidfd_open.
  if (!is_same_process(pid, record.start_ticks))
    return make_error(error_code::driver_failure, "process " + std::to_string(pid) + " of " +
                                                      record.spec.name +
                                                      " ended while being adopted");
  live_[pid] = live_process{record.spec.name, {}};
  reaper_->watch(pid, std::move(*pidfd));
  return {};
}

/// The reaper watches the record's process and has not yet reported its exit.
bool process_driver::is_tracked(const process_record& record) const {
  auto i = live_.find(static_cast<pid_t>(record.pid));
  return i != live_.end() && i->second.name == record.spec.name;
}

bool process_driver::is_running(const process_record& record) const {
  // A process the reaper has reaped but whose exit it has not yet recorded still
  // counts as running: the state changes together with the exit callback, so
  // watch() in between gets the real exit code from the reaper.
  return record.state == container_state::running && (is_tracked(record) || is_alive(record));
}

caf::expected<container_info> process_driver::create(const container_spec& spec) {
  if (auto err = check_container_name(spec.name))
    return err;
  if (spec.command.empty())
    return make_error(error_code::invalid_argument, "container " + spec.name + " has no command");
  std::lock_guard<std::mutex> guard{mutex_};
  auto path = record_path(spec.name);
  if (::access(path.c_str(), F_OK) == 0)
    return make_error(error_code::already_exists,
                      "a container named " + spec.name + " already exists");
  process_record record;
  record.spec = spec;
  if (auto err = write_record(path, record))
    return err;
  return info_of(record, false);
}

caf::expected<container_info> process_driver::start(const std::string& name) {
  std::lock_guard<std::mutex> guard{mutex_};
  auto record = load(name);
  if (!record)
    return std::move(record.error());
  if (is_running(*record))
    return info_of(*record, true);
  // The marker finds the process even if this daemon dies before its record is
  // written (see kill_unrecorded).
  auto env = record->spec.env;
  env[state_marker_name] = state_dir_;
  auto pid = spawn_process(name, record->spec.command, env, log_path(name));
  if (!pid)
    return std::move(pid.error());
  // The child cannot be reaped before the reaper watches it, so its /proc entry
  // and pid stay valid until then even if it already exited.
  auto pidfd = open_pidfd(*pid);
  auto stat = read_proc_stat(*pid);
  if (!pidfd || !stat) {
    abandon_child(*pid);
    return make_error(error_code::driver_failure,
                      "cannot start " + name + ": cannot observe process " + std::to_string(*pid) +
                          (pidfd ? std::string{} : ": " + protocol::message_of(pidfd.error())));
  }
  record->state = container_state::running;
  record->pid = *pid;
  record->start_ticks = stat->start_ticks;
  record->started_at_ms = now_ms();
  record->exit_code = -1;
  if (auto err = write_record(record_path(name), *record)) {
    abandon_child(*pid);
    return err;
  }
  live_[*pid] = live_process{name, {}};
  reaper_->watch(*pid, std::move(*pidfd));
  return info_of(*record, true);
}

caf::error process_driver::stop(const std::string& name, caf::timespan grace) {
  std::lock_guard<std::mutex> guard{mutex_};
  auto record = load(name);
  if (!record)
    return std::move(record.error());
  if (!is_alive(*record))
    return {};
  auto pgid = static_cast<pid_t>(record->pid);
  if (::kill(-pgid, SIGTERM) != 0 && errno != ESRCH)
    return make_error(error_code::driver_failure,
                      "cannot stop " + name + ": " + std::strerror(errno));
  auto grace_steady = std::chrono::duration_cast<process_reaper::clock::duration>(grace);
  reaper_->kill_after(pgid, process_reaper::clock::now() + grace_steady);
  return {};
}

caf::error process_driver::kill_and_wait(const process_record& record) {
  auto pid = static_cast<pid_t>(record.pid);
  auto pidfd = open_pidfd(pid);
  if (!is_same_process(pid, record.start_ticks))
    return {}; // gone already
  if (!pidfd)
    return std::move(pidfd.error());
  if (::kill(-pid, SIGKILL) != 0 && errno != ESRCH)
    return make_error(error_code::driver_failure,
                      "cannot kill " + record.spec.name + ": " + std::strerror(errno));
  if (!wait_exited(*pidfd, kill_wait))
    return make_error(error_code::driver_failure, "container " + record.spec.name + " (pid " +
                                                      std::to_string(pid) +
                                                      ") still runs after SIGKILL; try again");
  return {};
}

caf::error process_driver::remove(const std::string& name, bool force) {
  std::lock_guard<std::mutex> guard{mutex_};
  auto record = load(name);
  if (!record)
    return std::move(record.error());
  if (is_running(*record)) {
    if (!force)
      return make_error(error_code::invalid_argument,
                        "container " + name + " is running; stop it first or remove it with force");
    if (auto err = kill_and_wait(*record))
      return err;
  }
  // The reaper still reaps the process; without the entry it reports no exit.
  // The name check matters: an exited record keeps its old pid, which may now
  // belong to another container.
  if (auto i = live_.find(static_cast<pid_t>(record->pid));
      i != live_.end() && i->second.name == name)
    live_.erase(i);
  if (auto err = unlink_file(record_path(name)))
    return err;
  return unlink_file(log_path(name));
}

caf::expected<container_info> process_driver::inspect(const std::string& name) {
  std::lock_guard<std::mutex> guard{mutex_};
  auto record = load(name);
  if (!record)
    return std::move(record.error());
  return info_of(*record, is_running(*record));
}

caf::error process_driver::watch(const std::string& name, exit_callback on_exit) {
  std::lock_guard<std::mutex> guard{mutex_};
  auto record = load(name);
  if (!record)
    return std::move(record.error());
  if (record->state == container_state::created)
    return make_error(error_code::invalid_argument,
                      "cannot watch " + name + ": it has not been started");
  if (is_running(*record)) {
    auto err = is_tracked(*record) ? caf::error{} : track(*record);
    if (!err) {
      live_[static_cast<pid_t>(record->pid)].on_exit = std::move(on_exit);
      return {};
    }
    if (is_alive(*record))
      return err;
    // It ended just now, before the reaper knew it: report it like any exit
    // nobody watched.
  }
  auto exit_code = info_of(*record, false).exit_code;
  reaper_->post([on_exit = std::move(on_exit), name, exit_code] { on_exit(name, exit_code); });
  return {};
}

caf::expected<std::string> process_driver::logs(const std::string& name, size_t max_bytes) {
  std::lock_guard<std::mutex> guard{mutex_};
  auto record = load(name);
  if (!record)
    return std::move(record.error());
  return read_tail(log_path(name), max_bytes);
}

caf::expected<container_stats> process_driver::stats(const std::string& name) {
  std::lock_guard<std::mutex> guard{mutex_};
  auto record = load(name);
  if (!record)
    return std::move(record.error());
  container_stats result;
  if (!is_alive(*record))
    return result;
  auto pid = static_cast<pid_t>(record->pid);
  if (auto stat = read_proc_stat(pid))
    result.cpu_seconds = static_cast<double>(stat->utime + stat->stime) / clock_ticks_per_second();
  if (auto rss = read_rss_bytes(pid))
    result.memory_bytes = *rss;
  return result;
}

caf::expected<std::vector<container_info>> process_driver::list_owned(const std::string& node) {
  std::lock_guard<std::mutex> guard{mutex_};
  auto records = load_all();
  if (!records)
    return std::move(records.error());
  std::vector<container_info> result;
  for (const auto& record : *records) {
    auto i = record.spec.labels.find(label::node);
    if (i != record.spec.labels.end() && i->second == node)
      result.push_back(info_of(record, is_running(record)));
  }
  return result;
}

void process_driver::on_exit(pid_t pid, int32_t exit_code) {
  std::string name;
  exit_callback callback;
  {
    std::lock_guard<std::mutex> guard{mutex_};
    auto i = live_.find(pid);
    if (i == live_.end())
      return; // removed meanwhile
    name = i->second.name;
    callback = std::move(i->second.on_exit);
    live_.erase(i);
    auto record = read_record(record_path(name));
    if (!record) {
      report_background_error("cannot record the exit of " + name + ": " +
                              protocol::message_of(record.error()));
    } else if (record->state == container_state::running && record->pid == pid) {
      record->state = container_state::exited;
      record->exit_code = exit_code;
      if (auto err = write_record(record_path(name), *record))
        report_background_error("cannot record the exit of " + name + ": " +
                                protocol::message_of(err));
    }
  }
  if (callback)
    callback(name, exit_code);
}

caf::expected<exec_result> process_driver::exec(const std::string& name,
                                                const std::vector<std::string>& command,
                                                caf::timespan timeout) {
  std::map<std::string, std::string> env;
  {
    std::lock_guard<std::mutex> guard{mutex_};
    auto record = load(name);
    if (!record)
      return std::move(record.error());
    if (!is_running(*record))
      return make_error(error_code::invalid_argument, name + " is not running");
    env = record->spec.env;
  }
  // Each run gets a file of its own: probes of one replica may overlap.
  static std::atomic<uint64_t> counter{0};
  auto out_path = state_dir_ + "/logs/" + name + ".exec-" + std::to_string(::getpid()) + "-" +
                  std::to_string(++counter);
  auto pid = spawn_process(name, command, env, out_path);
  if (!pid) {
    unlink_file(out_path);
    return std::move(pid.error());
  }
  auto cleanup = [&] { unlink_file(out_path); };
  auto pidfd = open_pidfd(*pid);
  auto limit = std::chrono::duration_cast<std::chrono::milliseconds>(timeout);
  if (!pidfd || !wait_exited(*pidfd, limit)) {
    abandon_child(*pid); // kills its process group too
    cleanup();
    return make_error(error_code::timeout,
                      "command did not finish within " + std::to_string(limit.count()) + "ms");
  }
  int status = 0;
  while (::waitpid(*pid, &status, 0) < 0 && errno == EINTR) {
  }
  ::kill(-*pid, SIGKILL); // whatever it left behind in its group
  exec_result out;
  out.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  constexpr size_t max_output = 4096;
  if (auto text = read_tail(out_path, max_output))
    out.output = std::move(*text);
  cleanup();
  return out;
}

} // namespace tutti::runtime_drivers
