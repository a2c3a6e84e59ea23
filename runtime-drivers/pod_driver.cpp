#include "runtime-drivers/pod_driver.hpp"

#include "protocol/errors.hpp"

#include <algorithm>
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
  if (i == info.labels.end() || i->second.empty() ||
      !std::all_of(i->second.begin(), i->second.end(), [](char c) { return c >= '0' && c <= '9'; }))
    return -1;
  return std::stoi(i->second);
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
    std::sort(parts.begin(), parts.end());
    for (const auto& [order, name] : parts)
      if (order >= 0)
        p.parts.push_back(name);
      else
        p.others.insert(name);
  }
}

void pod_driver::discover() {
  {
    std::lock_guard<std::mutex> guard{mutex_};
    if (discovered_)
      return;
  }
  if (auto owned = inner_->list_owned(node_))
    learn(*owned);
}

std::optional<std::vector<std::string>> pod_driver::parts_of(const std::string& name) {
  if (replica_of_part(name))
    return std::nullopt;
  discover();
  std::lock_guard<std::mutex> guard{mutex_};
  auto i = pods_.find(name);
  if (i == pods_.end() || i->second.parts.empty())
    return std::nullopt;
  return i->second.parts;
}

std::vector<std::string> pod_driver::all_parts_of(const std::string& name) {
  discover();
  std::lock_guard<std::mutex> guard{mutex_};
  std::vector<std::string> out;
  if (auto i = pods_.find(name); i != pods_.end()) {
    out = i->second.parts;
    out.insert(out.end(), i->second.others.begin(), i->second.others.end());
  }
  return out;
}

std::vector<caf::expected<container_info>>
pod_driver::create_parts(const std::vector<container_spec>& parts) {
  std::vector<caf::expected<container_info>> out;
  if (inner_->concurrency() <= 1 || parts.size() == 1) {
    for (const auto& part : parts)
      out.push_back(inner_->create(part));
    return out;
  }
  // Made at once where the runtime takes calls at once (an engine's create is
  // a round trip); started in order after.
  std::vector<std::optional<caf::expected<container_info>>> slots(parts.size());
  std::vector<std::thread> threads;
  for (size_t i = 1; i < parts.size(); ++i)
    threads.emplace_back([this, &parts, &slots, i] { slots[i] = inner_->create(parts[i]); });
  slots[0] = inner_->create(parts[0]);
  for (auto& t : threads)
    t.join();
  for (auto& x : slots)
    out.push_back(std::move(*x));
  return out;
}

caf::expected<container_info> pod_driver::create(const container_spec& spec) {
  if (spec.parts.empty()) {
    if (auto replica = replica_of_part(spec.name)) {
      std::lock_guard<std::mutex> guard{mutex_};
      pods_[*replica].others.insert(spec.name);
    }
    return inner_->create(spec);
  }
  auto results = create_parts(spec.parts);
  std::vector<container_info> made;
  std::optional<caf::error> failed;
  for (auto& info : results)
    if (info)
      made.push_back(std::move(*info));
    else if (!failed)
      failed = std::move(info.error());
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
  return combine_parts(spec.name, made);
}

caf::expected<container_info> pod_driver::start(const std::string& name) {
  auto parts = parts_of(name);
  if (!parts)
    return inner_->start(name);
  {
    std::lock_guard<std::mutex> guard{mutex_};
    auto& p = pods_[name];
    ++p.generation; // exits of the last incarnation no longer count
    p.ending = false;
    p.waiting.clear();
    p.on_exit = nullptr;
  }
  std::vector<container_info> started;
  for (const auto& part : *parts) {
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
    if (auto replica = replica_of_part(spec.name)) {
      std::lock_guard<std::mutex> guard{mutex_};
      pods_[*replica].others.insert(spec.name);
    }
    return inner_->run(std::move(spec), watcher);
  }
  return driver::run(std::move(spec), watcher); // create, start and watch, as one
}

caf::error pod_driver::watch(const std::string& name, exit_callback on_exit) {
  auto parts = parts_of(name);
  if (!parts)
    return inner_->watch(name, std::move(on_exit));
  uint64_t generation = 0;
  {
    std::lock_guard<std::mutex> guard{mutex_};
    auto& p = pods_[name];
    generation = p.generation;
    p.on_exit = std::move(on_exit);
    p.waiting = {parts->begin(), parts->end()};
  }
  for (const auto& part : *parts) {
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
  exit_callback done;
  int32_t exit_code = 0;
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
    if (p.waiting.empty()) {
      done = std::exchange(p.on_exit, nullptr);
      exit_code = p.exit_code;
    }
  }
  for (const auto& sibling : siblings)
    (void)inner_->stop(sibling, grace); // their exits come back here
  if (done)
    done(replica, exit_code);
}

caf::error pod_driver::stop(const std::string& name, caf::timespan grace) {
  auto parts = all_parts_of(name);
  if (parts.empty())
    return inner_->stop(name, grace);
  caf::error first;
  for (const auto& part : parts)
    keep_first(first, inner_->stop(part, grace));
  return first;
}

caf::error pod_driver::remove(const std::string& name, bool force) {
  auto parts = all_parts_of(name);
  if (parts.empty())
    return inner_->remove(name, force);
  caf::error first;
  bool any = false;
  for (const auto& part : parts) {
    auto err = inner_->remove(part, force);
    any = any || !is_not_found(err);
    if (!is_not_found(err))
      keep_first(first, std::move(err));
  }
  if (!first) {
    std::lock_guard<std::mutex> guard{mutex_};
    pods_.erase(name);
  }
  if (!any)
    return protocol::make_error(error_code::not_found, "no container " + name);
  return first;
}

caf::expected<container_info> pod_driver::inspect(const std::string& name) {
  auto parts = parts_of(name);
  if (!parts)
    return inner_->inspect(name);
  std::vector<container_info> infos;
  bool missing = false;
  for (const auto& part : *parts) {
    auto info = inner_->inspect(part);
    if (info)
      infos.push_back(std::move(*info));
    else if (is_not_found(info.error()))
      missing = true;
    else
      return info;
  }
  if (infos.empty())
    return protocol::make_error(error_code::not_found, "no container " + name);
  auto out = combine_parts(name, infos);
  if (missing) { // a part gone: the whole cannot run again as it is
    out.state = container_state::exited;
    out.exit_code = -1;
  }
  return out;
}

caf::expected<std::string> pod_driver::logs(const std::string& name, size_t max_bytes) {
  auto parts = parts_of(name);
  if (!parts)
    return inner_->logs(name, max_bytes);
  // Each container's end, under a line naming it: `--container` shows one whole.
  std::string out;
  auto share = std::max<size_t>(max_bytes / parts->size(), 1);
  for (const auto& part : *parts) {
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
    return inner_->stats(name);
  container_stats sum;
  for (const auto& part : *parts) {
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
  if (auto parts = parts_of(name))
    return inner_->exec(parts->front(), command, timeout); // no container named: the first
  return inner_->exec(name, command, timeout);
}

} // namespace tutti::runtime_drivers
