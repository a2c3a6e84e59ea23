#include "runtime-drivers/sim/sim_driver.hpp"

#include "protocol/errors.hpp"
#include "protocol/packed_strings.hpp"
#include "runtime-drivers/container_name.hpp"
#include "runtime-drivers/task_thread.hpp"

#include <algorithm>
#include <optional>
#include <string_view>
#include <thread>

namespace tutti::runtime_drivers {

namespace {

using protocol::error_code;
using protocol::make_error;

/// Exit code of a process ended by SIGTERM.
constexpr int32_t terminated_code = 128 + 15;

/// Exit code of a crash drawn by crash_rate.
constexpr int32_t crash_code = 1;

int64_t now_ms() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

} // namespace

std::shared_ptr<task_thread> make_sim_events() {
  return std::make_shared<task_thread>();
}

sim_driver::sim_driver(sim_options options)
  : options_(options), rng_(options.seed),
    worker_(options.events ? options.events : std::make_shared<task_thread>()) {
  options_.events = nullptr; // only worker_ keeps it
}

sim_driver::~sim_driver() {
  // First: pending crash timers and callbacks use the other members. A shared
  // thread lives on; its owner ends it after every driver (make_sim_events).
  worker_.reset();
}

protocol::driver_kind sim_driver::kind() const {
  return protocol::driver_kind::sim;
}

bool sim_driver::blocking() const {
  return options_.start_delay > caf::timespan{0};
}

bool sim_driver::inline_calls() const {
  return !blocking();
}

caf::expected<sim_driver::entry*> sim_driver::find(const std::string& name) {
  auto i = containers_.find(name);
  if (i == containers_.end())
    return make_error(error_code::not_found, "no container named " + name);
  return &*i;
}

namespace {

using protocol::put_packed;
using protocol::take_packed;

/// Pairs as one string: key, value, key, value... (protocol/packed_strings.hpp).
std::string pack_pairs(const std::map<std::string, std::string>& xs) {
  size_t size = 0;
  for (const auto& [k, v] : xs)
    size += protocol::packed_size(k) + protocol::packed_size(v);
  std::string out;
  out.reserve(size);
  for (const auto& [k, v] : xs) {
    put_packed(out, k);
    put_packed(out, v);
  }
  return out;
}

std::map<std::string, std::string> unpack_pairs(std::string_view in) {
  std::map<std::string, std::string> out;
  while (!in.empty()) {
    auto k = take_packed(in);
    auto v = take_packed(in);
    out.emplace_hint(out.end(), k, v); // packed from a map: in order
  }
  return out;
}

/// The value of `key` in packed pairs, if there.
std::optional<std::string_view> find_packed(std::string_view in, std::string_view key) {
  while (!in.empty()) {
    auto k = take_packed(in);
    auto v = take_packed(in);
    if (k == key)
      return v;
  }
  return std::nullopt;
}

/// Whether packed labels name `node` as the container's node.
bool on_node(std::string_view labels, const std::string& node) {
  return find_packed(labels, label::node) == std::string_view{node};
}

} // namespace

container_info sim_driver::info_of(const entry& x, bool with_pairs) const {
  const auto& [name, c] = x;
  container_info info;
  info.name = name;
  info.runtime_id = c.pid > 0 ? std::to_string(c.pid) : std::string{};
  info.state = c.state;
  info.pid = c.state == container_state::running ? c.pid : 0;
  info.exit_code = c.exit_code;
  info.started_at_ms = c.started_at_ms;
  if (with_pairs) {
    info.labels = unpack_pairs(c.labels);
    info.env = unpack_pairs(c.env);
  }
  return info;
}

double sim_driver::draw() {
  // 53 random bits as a double in [0, 1): the same on every standard library,
  // unlike std::uniform_real_distribution.
  return static_cast<double>(rng_() >> 11) * 0x1.0p-53;
}

void sim_driver::schedule_crash(const entry& x) {
  auto after =
      std::chrono::duration_cast<task_thread::clock::duration>(options_.crash_within * draw());
  worker_->post_at(task_thread::clock::now() + after, [this, name = x.first, run = x.second.run] {
    std::lock_guard<std::mutex> guard{mutex_};
    auto i = containers_.find(name);
    if (i != containers_.end() && i->second.run == run &&
        i->second.state == container_state::running)
      finish(*i, crash_code);
  });
}

void sim_driver::finish(entry& x, int32_t exit_code) {
  auto& [name, c] = x;
  c.state = container_state::exited;
  c.exit_code = exit_code;
  c.log += "sim: " + name + " exited with code " + std::to_string(exit_code) + "\n";
  if (c.on_exit)
    worker_->post(
        [on_exit = std::move(c.on_exit), name = name, exit_code] { on_exit(name, exit_code); });
  c.on_exit = nullptr;
}

caf::expected<sim_driver::entry*> sim_driver::add(const container_spec& spec) {
  if (auto err = check_container_name(spec.name))
    return err;
  auto [i, added] = containers_.try_emplace(spec.name);
  if (!added)
    return make_error(error_code::already_exists,
                      "a container named " + spec.name + " already exists");
  auto& c = i->second;
  c.labels = pack_pairs(spec.labels);
  c.env = pack_pairs(spec.env);
  c.resources = spec.resources;
  return &*i;
}

caf::expected<container_info> sim_driver::create(const container_spec& spec) {
  std::lock_guard<std::mutex> guard{mutex_};
  auto x = add(spec);
  if (!x)
    return std::move(x.error());
  return info_of(**x);
}

caf::expected<container_info> sim_driver::start(const std::string& name) {
  {
    std::lock_guard<std::mutex> guard{mutex_};
    auto x = find(name);
    if (!x)
      return std::move(x.error());
    if ((*x)->second.state == container_state::running)
      return info_of(**x);
  }
  if (blocking())
    std::this_thread::sleep_for(options_.start_delay); // the simulated work
  std::lock_guard<std::mutex> guard{mutex_};
  auto x = find(name);
  if (!x)
    return std::move(x.error());
  return start(**x);
}

caf::expected<container_info> sim_driver::start(entry& x, bool with_pairs) {
  auto& [name, c] = x;
  if (c.state == container_state::running)
    return info_of(x, with_pairs);
  if (options_.failure_rate > 0 && draw() < options_.failure_rate) {
    c.log += "sim: start of " + name + " failed\n";
    return make_error(error_code::driver_failure,
                      "cannot start " + name + ": simulated start failure");
  }
  c.state = container_state::running;
  c.pid = next_pid_++;
  c.exit_code = 0;
  c.started_at_ms = now_ms();
  c.started = std::chrono::steady_clock::now();
  ++c.run;
  // Appended piece by piece, with no temporary strings: every start of a
  // simulated replica passes here, and a simulated cluster starts one per replica.
  c.log.append("sim: started ").append(name).append(" as pid ").append(std::to_string(c.pid));
  c.log += '\n';
  if (options_.crash_rate > 0 && draw() < options_.crash_rate)
    schedule_crash(x);
  return info_of(x, with_pairs);
}

caf::expected<container_info>
sim_driver::run(container_spec spec,
                const std::function<exit_callback(const container_info&)>& watcher) {
  if (blocking()) // the simulated work happens in start, outside the lock
    return driver::run(std::move(spec), watcher);
  std::lock_guard<std::mutex> guard{mutex_};
  auto x = add(spec);
  if (!x)
    return std::move(x.error());
  auto started = start(**x, false);
  if (!started)
    return started;
  // The labels and env just packed, as given: unpacking them again cost eight
  // allocations per container.
  started->labels = std::move(spec.labels);
  started->env = std::move(spec.env);
  (*x)->second.on_exit = watcher(*started);
  return started;
}

caf::error sim_driver::stop(const std::string& name, caf::timespan) {
  std::lock_guard<std::mutex> guard{mutex_};
  auto x = find(name);
  if (!x)
    return std::move(x.error());
  if ((*x)->second.state == container_state::running)
    finish(**x, terminated_code);
  return {};
}

caf::error sim_driver::remove(const std::string& name, bool force) {
  std::lock_guard<std::mutex> guard{mutex_};
  auto x = find(name);
  if (!x)
    return std::move(x.error());
  if ((*x)->second.state == container_state::running && !force)
    return make_error(error_code::invalid_argument,
                      "container " + name + " is running; stop it first or remove it with force");
  containers_.erase(name);
  return {};
}

caf::expected<container_info> sim_driver::inspect(const std::string& name) {
  std::lock_guard<std::mutex> guard{mutex_};
  auto x = find(name);
  if (!x)
    return std::move(x.error());
  return info_of(**x);
}

caf::error sim_driver::watch(const std::string& name, exit_callback on_exit) {
  std::lock_guard<std::mutex> guard{mutex_};
  auto x = find(name);
  if (!x)
    return std::move(x.error());
  auto& c = (*x)->second;
  switch (c.state) {
    case container_state::created:
      return make_error(error_code::invalid_argument,
                        "cannot watch " + name + ": it has not been started");
    case container_state::running:
      c.on_exit = std::move(on_exit);
      return {};
    case container_state::exited:
      worker_->post(
          [on_exit = std::move(on_exit), name, code = c.exit_code] { on_exit(name, code); });
      return {};
  }
  return {};
}

caf::expected<std::string> sim_driver::logs(const std::string& name, size_t max_bytes) {
  std::lock_guard<std::mutex> guard{mutex_};
  auto x = find(name);
  if (!x)
    return std::move(x.error());
  const auto& log = (*x)->second.log;
  return log.size() > max_bytes ? log.substr(log.size() - max_bytes) : log;
}

caf::expected<container_stats> sim_driver::stats(const std::string& name) {
  std::lock_guard<std::mutex> guard{mutex_};
  auto x = find(name);
  if (!x)
    return std::move(x.error());
  container_stats result;
  const auto& c = (*x)->second;
  if (c.state != container_state::running)
    return result;
  std::chrono::duration<double> running = std::chrono::steady_clock::now() - c.started;
  result.cpu_seconds = c.resources.cpu * running.count();
  result.memory_bytes = c.resources.memory;
  return result;
}

caf::expected<std::vector<container_info>> sim_driver::list_owned(const std::string& node) {
  std::lock_guard<std::mutex> guard{mutex_};
  std::vector<container_info> result;
  for (const auto& x : containers_) {
    if (on_node(x.second.labels, node))
      result.push_back(info_of(x));
  }
  std::sort(result.begin(), result.end(),
            [](const container_info& a, const container_info& b) { return a.name < b.name; });
  return result;
}

caf::expected<std::vector<std::string>> sim_driver::names_owned(const std::string& node) {
  std::lock_guard<std::mutex> guard{mutex_};
  std::vector<std::string> result;
  for (const auto& [name, c] : containers_)
    if (on_node(c.labels, node))
      result.push_back(name);
  std::sort(result.begin(), result.end()); // listed by name, as a runtime lists
  return result;
}

size_t sim_driver::drop_all() {
  container_map gone;
  {
    std::lock_guard<std::mutex> guard{mutex_};
    gone.swap(containers_);
  }
  return gone.size(); // freed outside the lock
}

caf::expected<exec_result>
sim_driver::exec(const std::string& name, const std::vector<std::string>& command, caf::timespan) {
  std::lock_guard<std::mutex> guard{mutex_};
  auto x = find(name);
  if (!x)
    return std::move(x.error());
  if ((*x)->second.state != container_state::running)
    return protocol::make_error(protocol::error_code::invalid_argument, name + " is not running");
  return exec_result{exec_exit_code_, command.empty() ? "" : command.front() + "\n"};
}

void sim_driver::set_exec_exit_code(int32_t code) {
  std::lock_guard<std::mutex> guard{mutex_};
  exec_exit_code_ = code;
}

caf::error sim_driver::health() {
  std::lock_guard<std::mutex> guard{mutex_};
  if (unhealthy_.empty())
    return caf::none;
  return protocol::make_error(protocol::error_code::driver_failure, unhealthy_);
}

void sim_driver::set_unhealthy(std::string why) {
  std::lock_guard<std::mutex> guard{mutex_};
  unhealthy_ = std::move(why);
}

caf::error sim_driver::crash(const std::string& name, int32_t exit_code) {
  std::lock_guard<std::mutex> guard{mutex_};
  auto x = find(name);
  if (!x)
    return std::move(x.error());
  if ((*x)->second.state != container_state::running)
    return make_error(error_code::invalid_argument, "cannot crash " + name + ": it is not running");
  finish(**x, exit_code);
  return {};
}

} // namespace tutti::runtime_drivers
