#include "runtime-drivers/pod_driver.hpp"

#include "protocol/errors.hpp"

#include <algorithm>
#include <charconv>
#include <system_error>
#include <thread>
#include <utility>

namespace tutti::runtime_drivers {

using protocol::error_code;

namespace {

constexpr char separator = '_';

/// Labels of the whole: a part's, without what names the part.
std::map<std::string, std::string> whole_labels(std::map<std::string, std::string> labels) {
  labels.erase(label::container);
  labels.erase(label::order);
  return labels;
}

bool is_not_found(const caf::error& err) {
  return err && protocol::code_of(err) == error_code::not_found;
}

/// The first error of several calls, or none.
void keep_first(caf::error& first, caf::error next) {
  if (!first && next)
    first = std::move(next);
}

/// The order a listed part starts in; init containers and unlabelled ones last.
int order_of(const container_info& info) {
  auto i = info.labels.find(label::order);
  if (i == info.labels.end())
    return -1;
  const auto& text = i->second;
  int order = -1;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), order);
  bool whole = ec == std::errc{} && end == text.data() + text.size();
  return whole && order >= 0 && order < 64 ? order : -1; // a label anyone could have set
}

} // namespace

std::string part_name(const std::string& replica, const std::string& part) {
  return replica + separator + part;
}

std::optional<std::string> replica_of_part(const std::string& name) {
  auto at = name.find(separator);
  if (at == std::string::npos || at == 0)
    return std::nullopt;
  return name.substr(0, at);
}

container_info combine_parts(const std::string& replica, const std::vector<container_info>& parts) {
  container_info out;
  if (parts.empty())
    return out;
  const auto& first = parts.front();
  out.name = replica;
  out.runtime_id = first.runtime_id;
  out.pid = first.pid;
  out.started_at_ms = first.started_at_ms;
  out.labels = whole_labels(first.labels);
  out.env = first.env;
  bool all_running = true;
  for (const auto& part : parts) {
    all_running = all_running && part.state == container_state::running;
    if (part.state == container_state::exited && out.state != container_state::exited) {
      out.state = container_state::exited;
      out.exit_code = part.exit_code;
    }
  }
  if (out.state != container_state::exited)
    out.state = all_running ? container_state::running : container_state::created;
  return out;
}

pod_driver::pod_driver(std::unique_ptr<driver> inner, std::string node)
  : inner_(std::move(inner)), node_(std::move(node)) {}

pod_driver::~pod_driver() {
  std::unique_ptr<task_thread> thread;
  {
    std::lock_guard<std::mutex> guard{thread_mutex_};
    thread = std::move(thread_);
  }
  thread.reset(); // joins: no task calls the inner driver any more
  inner_.reset();
}

void pod_driver::post(std::function<void()> task) {
  std::lock_guard<std::mutex> guard{thread_mutex_};
  if (thread_)
    thread_->post(std::move(task));
}

void pod_driver::post_at(std::chrono::steady_clock::time_point when, std::function<void()> task) {
  std::lock_guard<std::mutex> guard{thread_mutex_};
  if (thread_)
    thread_->post_at(when, std::move(task));
}

protocol::driver_kind pod_driver::kind() const {
  return inner_->kind();
}

bool pod_driver::blocking() const {
  return inner_->blocking();
}

bool pod_driver::inline_calls() const {
  return inner_->inline_calls();
}

size_t pod_driver::concurrency() const {
  return inner_->concurrency();
}

void pod_driver::learn(const std::vector<container_info>& owned) {
  // Per replica: its running parts by order, its init containers.
  std::map<std::string, std::vector<std::pair<int, std::string>>> found;
  for (const auto& info : owned)
    if (auto replica = replica_of_part(info.name))
      found[*replica].emplace_back(order_of(info), info.name);
  std::lock_guard<std::mutex> guard{mutex_};
  discovered_ = true;
  for (auto& [replica, parts] : found) {
    auto& p = pods_[replica];
    if (!p.parts.empty())
      continue; // known since its creation: what it knows is newer
    p.generation = ++generations_;
    std::sort(parts.begin(), parts.end());
    for (const auto& [order, name] : parts)
      if (order >= 0)
        p.parts.push_back(name);
      else
        p.others.insert(name);
  }
}

caf::error pod_driver::discover() {
  std::lock_guard<std::mutex> once{discovery_mutex_};
  {
    std::lock_guard<std::mutex> guard{mutex_};
    if (discovered_)
      return {};
  }
  // A runtime that does not answer is asked again after a pause, not on every call.
  auto now = std::chrono::steady_clock::now();
  if (discovery_error_ && now < next_discovery_)
    return discovery_error_;
  auto owned = inner_->list_owned(node_);
  if (!owned) {
    next_discovery_ = now + std::chrono::seconds{1};
    discovery_error_ = protocol::make_error(
        error_code::unavailable,
        "cannot list the containers the runtime holds for this node yet: " +
            protocol::message_of(owned.error()));
    return discovery_error_;
  }
  discovery_error_ = caf::error{};
  learn(*owned);
  return {};
}

caf::expected<std::optional<std::vector<std::string>>>
pod_driver::parts_of(const std::string& name) {
  if (replica_of_part(name))
    return std::optional<std::vector<std::string>>{};
  if (auto err = discover())
    return err;
  std::lock_guard<std::mutex> guard{mutex_};
  auto i = pods_.find(name);
  if (i == pods_.end() || i->second.parts.empty())
    return std::optional<std::vector<std::string>>{};
  return std::optional<std::vector<std::string>>{i->second.parts};
}

caf::expected<std::vector<std::string>> pod_driver::all_parts_of(const std::string& name) {
  if (auto err = discover())
    return err;
  std::lock_guard<std::mutex> guard{mutex_};
  std::vector<std::string> out;
  if (auto i = pods_.find(name); i != pods_.end()) {
    out = i->second.parts;
    out.insert(out.end(), i->second.others.begin(), i->second.others.end());
  }
  return out;
}

void pod_driver::note_single(const std::string& name) {
  std::lock_guard<std::mutex> guard{mutex_};
  if (auto replica = replica_of_part(name))
    pods_[*replica].others.insert(name); // an init container: it goes with its replica
  else
    pods_.erase(name); // a single container of this name replaces what ran as several
}

std::vector<caf::expected<container_info>>
pod_driver::create_parts(const std::vector<container_spec>& parts) {
  std::vector<std::optional<caf::expected<container_info>>> slots(parts.size());
  // Made at once where the runtime takes calls at once (an engine's create is
  // a round trip); started in order after. A part no thread could be had for
  // is made on this one.
  std::vector<std::thread> threads;
  if (inner_->concurrency() > 1) {
    try {
      for (size_t i = 1; i < parts.size(); ++i)
        threads.emplace_back([this, &parts, &slots, i] { slots[i] = inner_->create(parts[i]); });
    } catch (const std::system_error&) {
    }
  }
  for (size_t i = 0; i < parts.size(); ++i)
    if (i == 0 || i > threads.size())
      slots[i] = inner_->create(parts[i]);
  for (auto& t : threads)
    t.join();
  std::vector<caf::expected<container_info>> out;
  for (auto& x : slots)
    out.push_back(std::move(*x));
  return out;
}

caf::expected<container_info> pod_driver::create_one(const container_spec& spec) {
  auto info = inner_->create(spec);
  if (info || protocol::code_of(info.error()) != error_code::already_exists)
    return info;
  // A part of this replica left by an earlier one (a remove that failed, a
  // restarted tuttid): the replica's own name, so it goes.
  (void)inner_->remove(spec.name, true);
  return inner_->create(spec);
}

caf::expected<container_info> pod_driver::create(const container_spec& spec) {
  if (spec.parts.empty()) {
    note_single(spec.name);
    return inner_->create(spec);
  }
  auto results = create_parts(spec.parts);
  std::vector<container_info> made;
  std::optional<caf::error> failed;
  for (size_t i = 0; i < results.size(); ++i) {
    auto& info = results[i];
    if (!info && protocol::code_of(info.error()) == error_code::already_exists)
      info = create_one(spec.parts[i]);
    if (info)
      made.push_back(std::move(*info));
    else if (!failed)
      failed = std::move(info.error());
  }
  if (failed) {
    for (const auto& x : made) // all or nothing: a new try finds no leftovers
      (void)inner_->remove(x.name, true);
    return std::move(*failed);
  }
  std::lock_guard<std::mutex> guard{mutex_};
  auto& p = pods_[spec.name];
  p.parts.clear();
  for (const auto& part : spec.parts)
    p.parts.push_back(part.name);
  p.grace = spec.stop_grace;
  p.generation = ++generations_;
  return combine_parts(spec.name, made);
}

caf::expected<container_info> pod_driver::start(const std::string& name) {
  auto parts = parts_of(name);
  if (!parts)
    return std::move(parts.error());
  if (!*parts)
    return inner_->start(name);
  {
    std::lock_guard<std::mutex> guard{mutex_};
    auto& p = pods_[name];
    p.generation = ++generations_; // exits of the last incarnation no longer count
    p.ending = false;
    p.waiting.clear();
    p.on_exit = nullptr;
  }
  std::vector<container_info> started;
  for (const auto& part : **parts) {
    auto info = inner_->start(part);
    if (!info) {
      for (const auto& x : started) // none runs alone: a new try starts them all
        (void)inner_->stop(x.name, caf::timespan{0});
      return protocol::make_error(protocol::code_of(info.error()),
                                  "container " + part.substr(name.size() + 1) + ": " +
                                      protocol::message_of(info.error()));
    }
    started.push_back(std::move(*info));
  }
  return combine_parts(name, started);
}

caf::expected<container_info>
pod_driver::run(container_spec spec,
                const std::function<exit_callback(const container_info&)>& watcher) {
  if (spec.parts.empty()) {
    note_single(spec.name);
    return inner_->run(std::move(spec), watcher);
  }
  return driver::run(std::move(spec), watcher); // create, start and watch, as one
}

caf::error pod_driver::watch(const std::string& name, exit_callback on_exit) {
  auto parts = parts_of(name);
  if (!parts)
    return std::move(parts.error());
  if (!*parts)
    return inner_->watch(name, std::move(on_exit));
  uint64_t generation = 0;
  {
    std::lock_guard<std::mutex> guard{mutex_};
    auto& p = pods_[name];
    generation = p.generation;
    p.on_exit = std::move(on_exit);
    p.waiting = {(*parts)->begin(), (*parts)->end()};
  }
  for (const auto& part : **parts) {
    auto notice = [this, name, generation](const std::string& part, int32_t code) {
      post([this, name, part, code, generation] {
        part_exited(name, part, code, generation);
      });
    };
    if (auto err = inner_->watch(part, std::move(notice)))
      return err;
  }
  return {};
}

void pod_driver::part_exited(const std::string& replica, const std::string& part, int32_t code,
                             uint64_t generation) {
  std::vector<std::string> siblings;
  caf::timespan grace{0};
  {
    std::lock_guard<std::mutex> guard{mutex_};
    auto i = pods_.find(replica);
    if (i == pods_.end() || i->second.generation != generation)
      return; // an earlier incarnation's
    auto& p = i->second;
    p.waiting.erase(part);
    if (!p.ending) {
      p.ending = true;
      p.exit_code = code;
      siblings.assign(p.waiting.begin(), p.waiting.end());
      grace = p.grace;
    }
  }
  for (const auto& sibling : siblings)
    stop_sibling(replica, sibling, grace, generation, 0); // their exits come back here
  report_if_ended(replica, generation);
}

void pod_driver::stop_sibling(const std::string& replica, const std::string& part,
                              caf::timespan grace, uint64_t generation, int attempt) {
  if (!inner_->stop(part, grace))
    return;
  // The runtime did not take it (a timeout): asked again, harder, a few times;
  // then the part is given up for stopped, so that the replica is not stuck.
  constexpr int attempts = 5;
  if (attempt + 1 < attempts) {
    post_at(std::chrono::steady_clock::now() + std::chrono::seconds{1},
            [this, replica, part, generation, attempt] {
              stop_sibling(replica, part, caf::timespan{0}, generation, attempt + 1);
            });
    return;
  }
  {
    std::lock_guard<std::mutex> guard{mutex_};
    auto i = pods_.find(replica);
    if (i == pods_.end() || i->second.generation != generation)
      return;
    i->second.waiting.erase(part);
  }
  report_if_ended(replica, generation);
}

void pod_driver::report_if_ended(const std::string& replica, uint64_t generation) {
  exit_callback done;
  int32_t exit_code = 0;
  {
    std::lock_guard<std::mutex> guard{mutex_};
    auto i = pods_.find(replica);
    if (i == pods_.end() || i->second.generation != generation || !i->second.ending ||
        !i->second.waiting.empty())
      return;
    done = std::exchange(i->second.on_exit, nullptr);
    exit_code = i->second.exit_code;
  }
  if (done)
    done(replica, exit_code);
}

caf::error pod_driver::stop(const std::string& name, caf::timespan grace) {
  auto parts = all_parts_of(name);
  if (!parts)
    return std::move(parts.error());
  if (parts->empty())
    return inner_->stop(name, grace);
  caf::error first;
  for (const auto& part : *parts)
    keep_first(first, inner_->stop(part, grace));
  return first;
}

caf::error pod_driver::remove(const std::string& name, bool force) {
  auto parts = all_parts_of(name);
  if (!parts)
    return std::move(parts.error());
  if (parts->empty())
    return inner_->remove(name, force);
  caf::error first;
  bool any = false;
  std::vector<std::string> left;
  for (const auto& part : *parts) {
    auto err = inner_->remove(part, force);
    any = any || !is_not_found(err);
    if (err && !is_not_found(err))
      left.push_back(part);
    if (!is_not_found(err))
      keep_first(first, std::move(err));
  }
  {
    // What could not be removed stays known, so that the next remove (or a
    // sweep) takes it; the rest is forgotten.
    std::lock_guard<std::mutex> guard{mutex_};
    pods_.erase(name);
    if (!left.empty())
      pods_[name].others.insert(left.begin(), left.end());
  }
  if (!any)
    return protocol::make_error(error_code::not_found, "no container " + name);
  return first;
}

caf::expected<container_info> pod_driver::inspect(const std::string& name) {
  auto parts = parts_of(name);
  if (!parts)
    return std::move(parts.error());
  if (!*parts)
    return inner_->inspect(name);
  std::vector<container_info> infos;
  for (const auto& part : **parts) {
    auto info = inner_->inspect(part);
    if (info)
      infos.push_back(std::move(*info));
    else if (is_not_found(info.error()))
      // A part gone: the whole cannot run again as it is; made anew, its
      // leftovers replaced (create_one).
      return protocol::make_error(error_code::not_found,
                                  "container " + part.substr(name.size() + 1) + " of " + name +
                                      " is gone");
    else
      return info;
  }
  return combine_parts(name, infos);
}

caf::expected<std::string> pod_driver::logs(const std::string& name, size_t max_bytes) {
  auto parts = parts_of(name);
  if (!parts)
    return std::move(parts.error());
  if (!*parts)
    return inner_->logs(name, max_bytes);
  // Each container's end, under a line naming it: `--container` shows one whole.
  std::string out;
  auto share = std::max<size_t>(max_bytes / (*parts)->size(), 1);
  for (const auto& part : **parts) {
    auto text = inner_->logs(part, share);
    if (!text)
      return text;
    out += "==> container " + part.substr(name.size() + 1) + " <==\n" + *text;
    if (!out.empty() && out.back() != '\n')
      out += '\n';
  }
  return out;
}

caf::expected<container_stats> pod_driver::stats(const std::string& name) {
  auto parts = parts_of(name);
  if (!parts)
    return std::move(parts.error());
  if (!*parts)
    return inner_->stats(name);
  container_stats sum;
  for (const auto& part : **parts) {
    auto one = inner_->stats(part);
    if (!one)
      return one;
    sum.cpu_seconds += one->cpu_seconds;
    sum.memory_bytes += one->memory_bytes;
  }
  return sum;
}

caf::expected<std::vector<container_info>> pod_driver::list_owned(const std::string& node) {
  auto owned = inner_->list_owned(node);
  if (!owned)
    return owned;
  learn(*owned);
  std::vector<container_info> out;
  std::map<std::string, std::vector<std::pair<int, container_info>>> pods;
  for (auto& info : *owned) {
    auto replica = replica_of_part(info.name);
    if (!replica)
      out.push_back(std::move(info));
    else if (auto order = order_of(info); order >= 0)
      pods[*replica].emplace_back(order, std::move(info));
    else
      pods[*replica]; // only init containers: listed, so that a sweep removes them
  }
  for (auto& [replica, parts] : pods) {
    std::sort(parts.begin(), parts.end(),
              [](const auto& a, const auto& b) { return a.first < b.first; });
    std::vector<container_info> infos;
    for (auto& x : parts)
      infos.push_back(std::move(x.second));
    if (infos.empty()) {
      container_info leftover;
      leftover.name = replica;
      leftover.state = container_state::exited;
      leftover.exit_code = -1;
      out.push_back(std::move(leftover));
    } else {
      out.push_back(combine_parts(replica, infos));
    }
  }
  return out;
}

caf::expected<std::vector<std::string>> pod_driver::names_owned(const std::string& node) {
  auto names = inner_->names_owned(node);
  if (!names)
    return names;
  std::set<std::string> out;
  std::vector<std::string> parts;
  for (auto& name : *names)
    if (auto replica = replica_of_part(name)) {
      out.insert(*replica);
      parts.push_back(name);
    } else {
      out.insert(std::move(name));
    }
  {
    // A sweep removes what it finds: every part must be known by then.
    std::lock_guard<std::mutex> guard{mutex_};
    for (const auto& part : parts) {
      auto& p = pods_[*replica_of_part(part)];
      if (std::find(p.parts.begin(), p.parts.end(), part) == p.parts.end())
        p.others.insert(part);
    }
  }
  return std::vector<std::string>{out.begin(), out.end()};
}

caf::error pod_driver::health() {
  return inner_->health();
}

caf::expected<std::vector<std::string>> pod_driver::import_images(const std::string& archive_path) {
  return inner_->import_images(archive_path);
}

caf::expected<exec_result> pod_driver::exec(const std::string& name,
                                            const std::vector<std::string>& command,
                                            caf::timespan timeout) {
  auto parts = parts_of(name);
  if (!parts)
    return std::move(parts.error());
  if (*parts)
    return inner_->exec((*parts)->front(), command, timeout); // no container named: the first
  return inner_->exec(name, command, timeout);
}

} // namespace tutti::runtime_drivers
