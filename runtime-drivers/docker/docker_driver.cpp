#include "runtime-drivers/docker/docker_driver.hpp"

#include "protocol/errors.hpp"
#include "runtime-drivers/container_name.hpp"
#include "runtime-drivers/docker/docker_events.hpp"
#include "runtime-drivers/docker/docker_http.hpp"
#include "runtime-drivers/docker/docker_json.hpp"

#include <algorithm>
#include <cstdio>

namespace tutti::runtime_drivers {

namespace {

using protocol::error_code;
using protocol::make_error;
using steady = std::chrono::steady_clock;

/// How long a die event is remembered for a watch() that races with it.
constexpr int64_t recent_exit_ms = 60'000;

/// The largest log tail kept in memory, whatever the caller asks.
constexpr size_t max_log_bytes = size_t{64} << 20;

int64_t now_ms() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

caf::error not_found(const std::string& name) {
  return make_error(error_code::not_found, "no container named " + name);
}

caf::error refused(const std::string& what, const docker::http_reply& reply) {
  return make_error(error_code::driver_failure,
                    what + ": " + docker::error_message(reply.status, reply.body));
}

bool is_missing_image(const docker::http_reply& reply) {
  return reply.status == 404 &&
         docker::error_message(reply.status, reply.body).rfind("No such image", 0) == 0;
}

} // namespace

caf::expected<std::unique_ptr<docker_driver>> docker_driver::make(docker_options options) {
  if (options.socket.empty())
    return make_error(error_code::invalid_argument,
                      "the docker driver needs the path of the engine's socket");
  std::unique_ptr<docker_driver> self{new docker_driver(std::move(options))};
  std::vector<std::string> label{label::node};
  if (!self->options_.node.empty())
    label.front() += "=" + self->options_.node;
  auto target =
      "/events?filters=" + docker::url_escape(docker::filters(
                               {{"type", {"container"}}, {"event", {"die"}}, {"label", label}}));
  auto* raw = self.get();
  docker::event_stream::handlers h;
  h.on_line = [raw](const std::string& line) { return raw->on_line(line); };
  h.on_connected = [raw] { raw->on_connected(); };
  h.on_lost = [raw](const std::string& why, bool was) { raw->on_lost(why, was); };
  self->events_ =
      std::make_unique<docker::event_stream>(self->options_.socket, target, std::move(h));
  self->events_->start();
  return self;
}

docker_driver::docker_driver(docker_options options)
  : options_(std::move(options)),
    client_(std::make_unique<docker::docker_client>(options_.socket)) {}

docker_driver::~docker_driver() {
  // First: the events thread calls the other members.
  events_.reset();
}

protocol::driver_kind docker_driver::kind() const {
  return protocol::driver_kind::docker;
}

bool docker_driver::blocking() const {
  return true;
}

size_t docker_driver::concurrency() const {
  return std::max<size_t>(options_.concurrency, 1);
}

caf::error docker_driver::health() {
  auto reply = client_->call("GET", "/_ping", {}, std::chrono::seconds{1});
  if (!reply)
    return std::move(reply.error());
  if (reply->status != 200)
    return refused("the Docker engine at " + options_.socket + " is not ready", *reply);
  return caf::none;
}

bool docker_driver::engine_connected() const {
  return events_->connected();
}

std::string docker_driver::docker_name(const std::string& name) const {
  return docker::container_name(name, options_.node);
}

void docker_driver::report(const std::string& what) {
  std::fprintf(stderr, "tutti docker driver: %s\n", what.c_str());
}

caf::expected<docker::inspected> docker_driver::inspect_ref(const std::string& ref,
                                                            const std::string& name) {
  auto reply = client_->call("GET", "/containers/" + docker::url_escape(ref) + "/json", {},
                             options_.call_timeout);
  if (!reply)
    return std::move(reply.error());
  if (reply->status == 404)
    return not_found(name);
  if (reply->status != 200)
    return refused("cannot inspect " + name, *reply);
  auto parsed = docker::parse_inspect(reply->body);
  if (parsed)
    parsed->info.name = name;
  return parsed;
}

// ----- create, start ------------------------------------------------------------

caf::error docker_driver::pull(const std::string& image) {
  auto fail = [&](const std::string& why) {
    std::lock_guard<std::mutex> guard{mutex_};
    failed_pulls_[image] = {steady::now(), why};
    return make_error(error_code::driver_failure,
                      "image " + image + " is not present locally and pulling it failed: " + why);
  };
  {
    std::lock_guard<std::mutex> guard{mutex_};
    auto i = failed_pulls_.find(image);
    if (i != failed_pulls_.end() && steady::now() - i->second.first < options_.pull_retry_after)
      return make_error(error_code::driver_failure,
                        "image " + image +
                            " is not present locally and pulling it failed: " + i->second.second);
  }
  auto [from, tag] = docker::pull_reference(image);
  auto target = "/images/create?fromImage=" + docker::url_escape(from) +
                (tag.empty() ? std::string{} : "&tag=" + docker::url_escape(tag));
  auto reply = client_->call("POST", target, {}, options_.pull_timeout);
  if (!reply)
    return std::move(reply.error()); // the engine, not the image: not remembered
  if (reply->status != 200)
    return fail(docker::error_message(reply->status, reply->body));
  if (auto error = docker::pull_error(reply->body))
    return fail(*error);
  std::lock_guard<std::mutex> guard{mutex_};
  failed_pulls_.erase(image);
  return {};
}

caf::expected<std::vector<std::string>>
docker_driver::import_images(const std::string& archive_path) {
  auto reply = client_->post_file("/images/load?quiet=1", archive_path, options_.pull_timeout);
  if (!reply)
    return std::move(reply.error());
  if (reply->status != 200)
    return make_error(error_code::invalid_argument,
                      "the Docker engine refused the archive: " +
                          docker::error_message(reply->status, reply->body));
  if (auto error = docker::pull_error(reply->body))
    return make_error(error_code::invalid_argument, "the Docker engine refused the archive: " + *error);
  auto images = docker::loaded_images(reply->body);
  std::lock_guard<std::mutex> guard{mutex_};
  for (const auto& image : images)
    failed_pulls_.erase(image);
  return images;
}

caf::expected<container_info> docker_driver::create(const container_spec& spec) {
  if (auto err = check_container_name(spec.name))
    return err;
  if (spec.image.empty())
    return make_error(error_code::invalid_argument,
                      "container " + spec.name + " has no image (the docker driver needs one)");
  auto dn = docker_name(spec.name);
  auto body = docker::create_body(spec, options_.network_mode);
  auto target = "/containers/create?name=" + docker::url_escape(dn);
  auto reply = client_->call("POST", target, body, options_.call_timeout);
  if (reply && is_missing_image(*reply)) {
    if (auto err = pull(spec.image))
      return make_error(error_code::driver_failure,
                        "cannot create " + spec.name + ": " + protocol::message_of(err));
    reply = client_->call("POST", target, body, options_.call_timeout);
  }
  if (!reply)
    return std::move(reply.error());
  switch (reply->status) {
    case 201:
      break;
    case 409:
      return make_error(error_code::already_exists, "a container named " + spec.name +
                                                        " already exists (Docker name " + dn + ")");
    case 400:
      return make_error(error_code::invalid_argument,
                        "cannot create " + spec.name + ": " +
                            docker::error_message(reply->status, reply->body));
    default:
      return refused("cannot create " + spec.name, *reply);
  }
  auto created = docker::parse_inspect(reply->body); // {"Id": ..., "Warnings": [...]}
  container_info info;
  info.name = spec.name;
  info.runtime_id = created ? created->info.runtime_id : std::string{};
  info.state = container_state::created;
  info.labels = spec.labels;
  info.env = spec.env;
  return info;
}

caf::expected<container_info> docker_driver::start(const std::string& name) {
  if (auto err = check_container_name(name))
    return err;
  auto dn = docker_name(name);
  auto reply = client_->call("POST", "/containers/" + docker::url_escape(dn) + "/start", {},
                             options_.call_timeout);
  if (!reply)
    return std::move(reply.error());
  if (reply->status == 404)
    return not_found(name);
  if (reply->status != 204 && reply->status != 304) // 304: runs already
    return refused("cannot start " + name, *reply);
  auto x = inspect_ref(dn, name);
  if (!x)
    return std::move(x.error());
  return x->info;
}

// ----- stop, remove -------------------------------------------------------------

caf::error docker_driver::send_kill(const std::string& ref, const std::string& name,
                                    const std::string& signal) {
  auto reply = client_->call("POST",
                             "/containers/" + docker::url_escape(ref) +
                                 "/kill?signal=" + docker::url_escape(signal),
                             {}, options_.call_timeout);
  if (!reply)
    return std::move(reply.error());
  if (reply->status == 204 || reply->status == 409) // 409: not running (any more)
    return {};
  if (reply->status == 404)
    return not_found(name);
  return refused("cannot signal " + name, *reply);
}

void docker_driver::kill_if_same_run(const std::string& id, const std::string& name,
                                     int64_t started_at_ms) {
  auto x = inspect_ref(id, name);
  if (!x || x->info.state != container_state::running || x->info.started_at_ms != started_at_ms)
    return; // gone, ended, or a later run
  if (auto err = send_kill(id, name, "SIGKILL"))
    report("cannot kill " + name + " after its stop grace: " + protocol::message_of(err));
}

caf::error docker_driver::stop(const std::string& name, caf::timespan grace) {
  if (auto err = check_container_name(name))
    return err;
  auto x = inspect_ref(docker_name(name), name);
  if (!x)
    return std::move(x.error());
  if (x->info.state != container_state::running)
    return {};
  const auto& id = x->info.runtime_id;
  if (grace.count() <= 0)
    return send_kill(id, name, "SIGKILL");
  auto signal = x->stop_signal.empty() ? std::string{"SIGTERM"} : x->stop_signal;
  if (auto err = send_kill(id, name, signal))
    return err;
  auto started = x->info.started_at_ms;
  events_->post_at(steady::now() + std::chrono::duration_cast<steady::duration>(grace),
                   [this, id, name, started] { kill_if_same_run(id, name, started); });
  return {};
}

caf::error docker_driver::remove(const std::string& name, bool force) {
  if (auto err = check_container_name(name))
    return err;
  if (force) {
    // Before the engine kills it: its die event must find no watch.
    std::lock_guard<std::mutex> guard{mutex_};
    watches_.erase(name);
  }
  auto reply = client_->call("DELETE",
                             "/containers/" + docker::url_escape(docker_name(name)) +
                                 "?v=1&force=" + (force ? "1" : "0"),
                             {}, options_.call_timeout);
  if (!reply)
    return std::move(reply.error());
  if (reply->status == 404)
    return not_found(name);
  if (reply->status == 409 && !force)
    return make_error(error_code::invalid_argument,
                      "container " + name + " is running; stop it first or remove it with force");
  if (reply->status != 204)
    return refused("cannot remove " + name, *reply);
  std::lock_guard<std::mutex> guard{mutex_};
  watches_.erase(name);
  return {};
}

// ----- inspect, watch -----------------------------------------------------------

caf::expected<container_info> docker_driver::inspect(const std::string& name) {
  if (auto err = check_container_name(name))
    return err;
  auto x = inspect_ref(docker_name(name), name);
  if (!x)
    return std::move(x.error());
  return x->info;
}

caf::error docker_driver::watch(const std::string& name, exit_callback on_exit) {
  if (auto err = check_container_name(name))
    return err;
  auto x = inspect_ref(docker_name(name), name);
  if (!x)
    return std::move(x.error());
  const auto& info = x->info;
  if (info.state == container_state::created)
    return make_error(error_code::invalid_argument,
                      "cannot watch " + name + ": it has not been started");
  int32_t code = info.exit_code;
  if (info.state == container_state::running) {
    std::lock_guard<std::mutex> guard{mutex_};
    // A die event handled between the inspect and now found no watch: it is
    // remembered, and taken here instead.
    auto died = recent_exits_.find(info.runtime_id);
    if (died == recent_exits_.end() || died->second.time_ms < info.started_at_ms) {
      watches_[name] = watch_entry{info.runtime_id, info.started_at_ms, std::move(on_exit)};
      return {};
    }
    code = died->second.exit_code;
  }
  events_->post([on_exit = std::move(on_exit), name, code] { on_exit(name, code); });
  return {};
}

// ----- logs, stats, list ----------------------------------------------------------

caf::expected<std::string> docker_driver::logs(const std::string& name, size_t max_bytes) {
  if (auto err = check_container_name(name))
    return err;
  docker::log_demuxer demux{std::min(max_bytes, max_log_bytes)};
  auto reply = client_->call_streaming(
      "GET", "/containers/" + docker::url_escape(docker_name(name)) + "/logs?stdout=1&stderr=1",
      [&demux](const char* data, size_t size) { demux.feed(data, size); }, options_.call_timeout);
  if (!reply)
    return std::move(reply.error());
  if (reply->status == 404)
    return not_found(name);
  if (reply->status != 200)
    return refused("cannot read the logs of " + name, *reply);
  return demux.text();
}

caf::expected<exec_result> docker_driver::exec(const std::string& name,
                                               const std::vector<std::string>& command,
                                               caf::timespan timeout) {
  if (auto err = check_container_name(name))
    return err;
  auto limit = std::max(std::chrono::duration_cast<std::chrono::milliseconds>(timeout),
                        std::chrono::milliseconds{1});
  auto created =
      client_->call("POST", "/containers/" + docker::url_escape(docker_name(name)) + "/exec",
                    docker::exec_create_body(command), limit);
  if (!created)
    return std::move(created.error());
  if (created->status == 404)
    return not_found(name);
  if (created->status != 201)
    return refused("cannot run a command in " + name, *created);
  auto id = docker::parse_id(created->body);
  if (!id)
    return std::move(id.error());
  // Attached start: the answer ends when the command does.
  docker::log_demuxer demux{4096};
  auto started = client_->call_streaming(
      "POST", "/exec/" + *id + "/start",
      [&demux](const char* data, size_t size) { demux.feed(data, size); }, limit,
      R"({"Detach":false,"Tty":false})");
  if (!started) {
    if (protocol::message_of(started.error()).find("did not answer") != std::string::npos)
      return make_error(error_code::timeout,
                        "command did not finish within " + std::to_string(limit.count()) + "ms");
    return std::move(started.error());
  }
  if (started->status != 200)
    return refused("cannot run a command in " + name, *started);
  auto inspected = client_->call("GET", "/exec/" + *id + "/json", {}, options_.call_timeout);
  if (!inspected)
    return std::move(inspected.error());
  auto code = docker::parse_exec_exit(inspected->body);
  if (!code)
    return std::move(code.error());
  if (!*code)
    return make_error(error_code::timeout,
                      "command did not finish within " + std::to_string(limit.count()) + "ms");
  return exec_result{**code, demux.text()};
}

caf::expected<container_stats> docker_driver::stats(const std::string& name) {
  if (auto err = check_container_name(name))
    return err;
  // one-shot: without it the engine waits a second for a second sample.
  auto reply = client_->call("GET",
                             "/containers/" + docker::url_escape(docker_name(name)) +
                                 "/stats?stream=false&one-shot=true",
                             {}, options_.call_timeout);
  if (!reply)
    return std::move(reply.error());
  if (reply->status == 404)
    return not_found(name);
  if (reply->status != 200)
    return refused("cannot read the stats of " + name, *reply);
  return docker::parse_stats(reply->body);
}

caf::expected<std::vector<container_info>> docker_driver::list_owned(const std::string& node) {
  auto filter = docker::filters({{"label", {std::string{label::node} + "=" + node}}});
  auto reply = client_->call("GET", "/containers/json?all=1&filters=" + docker::url_escape(filter),
                             {}, options_.call_timeout);
  if (!reply)
    return std::move(reply.error());
  if (reply->status != 200)
    return refused("cannot list the containers of node " + node, *reply);
  auto listed = docker::parse_list(reply->body);
  if (!listed)
    return std::move(listed.error());
  std::vector<container_info> out;
  for (const auto& entry : *listed) {
    auto name = docker::replica_name(entry.docker_name, options_.node);
    // Only names this driver would use, so that remove(name) reaches them.
    if (!name || docker_name(*name) != entry.docker_name)
      continue;
    auto x = inspect_ref(entry.id, *name);
    if (!x && protocol::code_of(x.error()) == error_code::not_found)
      continue; // removed meanwhile
    if (!x)
      return std::move(x.error());
    out.push_back(std::move(x->info));
  }
  std::sort(out.begin(), out.end(),
            [](const container_info& a, const container_info& b) { return a.name < b.name; });
  return out;
}

// ----- the events thread ------------------------------------------------------------

int64_t docker_driver::on_line(const std::string& line) {
  auto e = docker::parse_event(line);
  if (!e)
    return 0;
  if (e->type == "container" && e->action == "die")
    on_die(*e);
  return e->time_nano;
}

void docker_driver::on_die(const docker::event& e) {
  int32_t code = e.exit_code.value_or(-1);
  if (!e.exit_code) {
    auto x = inspect_ref(e.id, e.name);
    if (x && x->info.state == container_state::exited)
      code = x->info.exit_code;
  }
  auto time_ms = e.time_nano / 1'000'000;
  std::string name;
  exit_callback callback;
  {
    std::lock_guard<std::mutex> guard{mutex_};
    auto& recent = recent_exits_[e.id];
    if (time_ms >= recent.time_ms)
      recent = recent_exit{time_ms, code};
    for (auto i = recent_exits_.begin(); i != recent_exits_.end();) {
      if (i->second.time_ms < now_ms() - recent_exit_ms)
        i = recent_exits_.erase(i);
      else
        ++i;
    }
    for (auto i = watches_.begin(); i != watches_.end(); ++i) {
      // An event older than the watched run is a replay of an earlier run's end.
      if (i->second.id == e.id && time_ms >= i->second.started_at_ms) {
        name = i->first;
        callback = std::move(i->second.on_exit);
        watches_.erase(i);
        break;
      }
    }
  }
  if (callback)
    callback(name, code);
}

void docker_driver::on_connected() {
  {
    std::lock_guard<std::mutex> guard{mutex_};
    if (reported_down_)
      report("the events stream of the Docker engine at " + options_.socket + " is back");
    reported_down_ = false;
  }
  resync();
}

void docker_driver::on_lost(const std::string& why, bool was_connected) {
  std::lock_guard<std::mutex> guard{mutex_};
  // Once per outage, not once per attempt.
  if (was_connected || !reported_down_)
    report(why + "; retrying");
  reported_down_ = true;
}

void docker_driver::resync() {
  std::map<std::string, watch_entry> watched;
  {
    std::lock_guard<std::mutex> guard{mutex_};
    for (const auto& [name, entry] : watches_)
      watched.emplace(name, watch_entry{entry.id, entry.started_at_ms, {}});
  }
  for (const auto& [name, entry] : watched) {
    auto x = inspect_ref(entry.id, name);
    int32_t code = -1;
    if (x) {
      bool same_run = x->info.started_at_ms == entry.started_at_ms;
      if (x->info.state == container_state::running && same_run)
        continue;
      if (x->info.state == container_state::exited && same_run)
        code = x->info.exit_code;
    } else if (protocol::code_of(x.error()) != error_code::not_found) {
      continue; // the engine went away again: the next connect looks again
    }
    exit_callback callback;
    {
      std::lock_guard<std::mutex> guard{mutex_};
      auto i = watches_.find(name);
      if (i == watches_.end() || i->second.id != entry.id ||
          i->second.started_at_ms != entry.started_at_ms)
        continue; // fired, cancelled or replaced meanwhile
      callback = std::move(i->second.on_exit);
      watches_.erase(i);
    }
    callback(name, code);
  }
}

} // namespace tutti::runtime_drivers
