#include "runtime-drivers/docker/docker_json.hpp"

#include "protocol/errors.hpp"

#include <nlohmann/json.hpp>

#include <cmath>
#include <cstring>
#include <ctime>
#include <limits>

namespace tutti::runtime_drivers::docker {

namespace {

using nlohmann::json;
using protocol::error_code;
using protocol::make_error;

constexpr const char* name_prefix = "tutti-";

/// A string member of an object, or "" when absent, null or not a string.
std::string text_of(const json& object, const char* key) {
  auto i = object.find(key);
  return i != object.end() && i->is_string() ? i->get<std::string>() : std::string{};
}

/// An integer member, or 0 when absent or not an integer. A float is not taken:
/// converting one beyond int64's range is undefined behaviour.
int64_t int_of(const json& object, const char* key) {
  auto i = object.find(key);
  return i != object.end() && i->is_number_integer() ? i->get<int64_t>() : 0;
}

/// A member that is an object, or nullptr (absent, null, another type).
const json* object_of(const json& object, const char* key) {
  auto i = object.find(key);
  return i != object.end() && i->is_object() ? &*i : nullptr;
}

std::map<std::string, std::string> string_map(const json* object) {
  std::map<std::string, std::string> out;
  if (object == nullptr)
    return out;
  for (auto& [key, value] : object->items())
    if (value.is_string())
      out[key] = value.get<std::string>();
  return out;
}

/// "K=V" entries; an entry without '=' is a variable with an empty value.
std::map<std::string, std::string> env_map(const json& list) {
  std::map<std::string, std::string> out;
  if (!list.is_array())
    return out;
  for (auto& item : list) {
    if (!item.is_string())
      continue;
    auto text = item.get<std::string>();
    auto eq = text.find('=');
    if (eq == std::string::npos)
      out[text] = "";
    else
      out[text.substr(0, eq)] = text.substr(eq + 1);
  }
  return out;
}

container_state state_of(const std::string& status) {
  if (status == "created")
    return container_state::created;
  if (status == "running" || status == "paused" || status == "restarting")
    return container_state::running;
  return container_state::exited; // exited, dead, removing
}

caf::expected<json> parse_object(const std::string& body, const char* what) {
  auto parsed = json::parse(body, nullptr, false);
  if (parsed.is_discarded() || !parsed.is_object())
    return make_error(error_code::driver_failure,
                      std::string{"the Docker engine's answer to "} + what +
                          " is not a JSON object: " + body.substr(0, 200));
  return parsed;
}

std::string trim(const std::string& text) {
  auto begin = text.find_first_not_of(" \t\r\n");
  if (begin == std::string::npos)
    return {};
  auto end = text.find_last_not_of(" \t\r\n");
  return text.substr(begin, end - begin + 1);
}

bool read_digits(const std::string& text, size_t& at, size_t count, int& out) {
  if (at + count > text.size())
    return false;
  out = 0;
  for (size_t i = 0; i < count; ++i) {
    char c = text[at + i];
    if (c < '0' || c > '9')
      return false;
    out = out * 10 + (c - '0');
  }
  at += count;
  return true;
}

bool expect_char(const std::string& text, size_t& at, char c) {
  if (at >= text.size() || text[at] != c)
    return false;
  ++at;
  return true;
}

} // namespace

std::string container_name(const std::string& name, const std::string& node) {
  return std::string{name_prefix} + name + (node.empty() ? std::string{} : "_" + node);
}

std::optional<std::string> replica_name(const std::string& docker_name,
                                        const std::string& node) {
  std::string text = docker_name;
  if (!text.empty() && text.front() == '/')
    text.erase(0, 1);
  std::string prefix = name_prefix;
  if (text.rfind(prefix, 0) != 0)
    return std::nullopt;
  auto rest = text.substr(prefix.size());
  if (!node.empty()) {
    auto tail = "_" + node;
    if (rest.size() <= tail.size() ||
        rest.compare(rest.size() - tail.size(), tail.size(), tail) != 0)
      return std::nullopt;
    return rest.substr(0, rest.size() - tail.size());
  }
  auto name = rest.substr(0, rest.find('_'));
  if (name.empty())
    return std::nullopt;
  return name;
}

std::string create_body(const container_spec& spec, const std::string& network_mode) {
  json body;
  body["Image"] = spec.image;
  if (!spec.command.empty())
    body["Cmd"] = spec.command;
  auto env = json::array();
  for (const auto& [key, value] : spec.env)
    env.push_back(key + "=" + value);
  body["Env"] = std::move(env);
  body["Labels"] = spec.labels;
  json host;
  host["NetworkMode"] = network_mode;
  host["RestartPolicy"] = {{"Name", "no"}};
  if (spec.resources.cpu > 0)
    host["NanoCpus"] = static_cast<int64_t>(std::llround(spec.resources.cpu * 1e9));
  if (spec.resources.memory > 0)
    host["Memory"] = spec.resources.memory;
  if (!spec.mounts.empty()) {
    auto mounts = json::array();
    for (const auto& m : spec.mounts)
      mounts.push_back(
          {{"Type", "bind"}, {"Source", m.source}, {"Target", m.target}, {"ReadOnly", m.read_only}});
    host["Mounts"] = std::move(mounts);
  }
  body["HostConfig"] = std::move(host);
  return body.dump();
}

std::string filters(const std::map<std::string, std::vector<std::string>>& by_key) {
  json out = json::object();
  for (const auto& [key, values] : by_key)
    out[key] = values;
  return out.dump();
}

std::pair<std::string, std::string> pull_reference(const std::string& image) {
  if (image.find('@') != std::string::npos)
    return {image, ""}; // a digest names one image already
  auto slash = image.rfind('/');
  auto colon = image.rfind(':');
  // A colon before the last '/' belongs to a registry's port (host:5000/x).
  if (colon != std::string::npos && (slash == std::string::npos || colon > slash))
    return {image.substr(0, colon), image.substr(colon + 1)};
  return {image, "latest"};
}

caf::expected<inspected> parse_inspect(const std::string& body) {
  auto parsed = parse_object(body, "inspect");
  if (!parsed)
    return std::move(parsed.error());
  const json& x = *parsed;
  inspected out;
  out.info.runtime_id = text_of(x, "Id");
  if (out.info.runtime_id.empty())
    return make_error(error_code::driver_failure,
                      "the Docker engine's inspect answer has no Id: " + body.substr(0, 200));
  out.docker_name = text_of(x, "Name");
  if (!out.docker_name.empty() && out.docker_name.front() == '/')
    out.docker_name.erase(0, 1);
  out.info.name = replica_name(out.docker_name).value_or(out.docker_name);
  if (auto* state = object_of(x, "State")) {
    out.info.state = state_of(text_of(*state, "Status"));
    if (out.info.state == container_state::running)
      out.info.pid = int_of(*state, "Pid");
    out.info.exit_code = static_cast<int32_t>(int_of(*state, "ExitCode"));
    out.info.started_at_ms = parse_time_ms(text_of(*state, "StartedAt"));
  } else {
    out.info.state = container_state::exited;
    out.info.exit_code = -1;
  }
  if (auto* config = object_of(x, "Config")) {
    out.info.labels = string_map(object_of(*config, "Labels"));
    if (auto env = config->find("Env"); env != config->end())
      out.info.env = env_map(*env);
    out.stop_signal = text_of(*config, "StopSignal");
  }
  return out;
}

caf::expected<std::vector<listed>> parse_list(const std::string& body) {
  auto parsed = json::parse(body, nullptr, false);
  if (parsed.is_discarded() || !parsed.is_array())
    return make_error(error_code::driver_failure,
                      "the Docker engine's container list is not a JSON array: " +
                          body.substr(0, 200));
  std::vector<listed> out;
  for (auto& item : parsed) {
    if (!item.is_object())
      continue;
    listed entry;
    entry.id = text_of(item, "Id");
    if (auto names = item.find("Names");
        names != item.end() && names->is_array() && !names->empty() && names->front().is_string())
      entry.docker_name = names->front().get<std::string>();
    if (!entry.docker_name.empty() && entry.docker_name.front() == '/')
      entry.docker_name.erase(0, 1);
    entry.state = text_of(item, "State");
    entry.labels = string_map(object_of(item, "Labels"));
    if (!entry.id.empty())
      out.push_back(std::move(entry));
  }
  return out;
}

std::optional<event> parse_event(const std::string& line) {
  auto parsed = json::parse(line, nullptr, false);
  if (parsed.is_discarded() || !parsed.is_object())
    return std::nullopt;
  event out;
  out.type = text_of(parsed, "Type");
  out.action = text_of(parsed, "Action");
  if (out.action.empty())
    out.action = text_of(parsed, "status"); // the pre-1.22 field, still sent
  out.time_nano = int_of(parsed, "timeNano");
  if (out.time_nano == 0) {
    // Seconds past int64's nanoseconds (the year 2262) are no time: unknown.
    constexpr int64_t ns_per_s = 1000000000;
    constexpr int64_t max_seconds = std::numeric_limits<int64_t>::max() / ns_per_s;
    auto seconds = int_of(parsed, "time");
    if (seconds >= -max_seconds && seconds <= max_seconds)
      out.time_nano = seconds * ns_per_s;
  }
  if (auto* actor = object_of(parsed, "Actor")) {
    out.id = text_of(*actor, "ID");
    out.attributes = string_map(object_of(*actor, "Attributes"));
  }
  if (out.id.empty())
    out.id = text_of(parsed, "id");
  if (out.action.empty() || out.id.empty())
    return std::nullopt;
  if (auto name = out.attributes.find("name"); name != out.attributes.end())
    out.name = name->second;
  if (auto code = out.attributes.find("exitCode"); code != out.attributes.end()) {
    char* end = nullptr;
    auto value = std::strtol(code->second.c_str(), &end, 10);
    if (end != code->second.c_str() && *end == '\0')
      out.exit_code = static_cast<int32_t>(value);
  }
  return out;
}

caf::expected<container_stats> parse_stats(const std::string& body) {
  auto parsed = parse_object(body, "stats");
  if (!parsed)
    return std::move(parsed.error());
  container_stats out;
  if (auto* cpu = object_of(*parsed, "cpu_stats"))
    if (auto* usage = object_of(*cpu, "cpu_usage"))
      out.cpu_seconds = static_cast<double>(int_of(*usage, "total_usage")) / 1e9;
  if (auto* memory = object_of(*parsed, "memory_stats")) {
    auto usage = int_of(*memory, "usage");
    int64_t cache = 0;
    if (auto* stats = object_of(*memory, "stats")) {
      // cgroup v1 reports "total_inactive_file"/"cache", v2 "inactive_file";
      // docker stats subtracts the inactive file pages.
      cache = int_of(*stats, "total_inactive_file");
      if (cache == 0)
        cache = int_of(*stats, "inactive_file");
    }
    // A negative cache (never sent by an engine) would overflow the difference.
    out.memory_bytes = usage > cache && cache >= 0 ? usage - cache : usage;
  }
  return out;
}

/// Calls `on_object` with each line of a JSON-lines answer that is an object,
/// until it returns true.
template <class F> void each_json_line(const std::string& body, F on_object) {
  size_t begin = 0;
  while (begin < body.size()) {
    auto end = body.find('\n', begin);
    if (end == std::string::npos)
      end = body.size();
    auto parsed = json::parse(body.substr(begin, end - begin), nullptr, false);
    begin = end + 1;
    if (!parsed.is_discarded() && parsed.is_object() && on_object(parsed))
      return;
  }
}

std::optional<std::string> pull_error(const std::string& body) {
  std::optional<std::string> out;
  each_json_line(body, [&](const json& line) {
    auto error = text_of(line, "error");
    if (error.empty())
      if (auto* detail = object_of(line, "errorDetail"))
        error = text_of(*detail, "message");
    if (!error.empty())
      out = std::move(error);
    return out.has_value();
  });
  return out;
}

std::vector<std::string> loaded_images(const std::string& body) {
  std::vector<std::string> out;
  each_json_line(body, [&](const json& line) {
    auto text = text_of(line, "stream");
    for (const char* prefix : {"Loaded image: ", "Loaded image ID: "})
      if (text.rfind(prefix, 0) == 0) {
        auto name = text.substr(std::strlen(prefix));
        while (!name.empty() && (name.back() == '\n' || name.back() == ' '))
          name.pop_back();
        if (!name.empty())
          out.push_back(std::move(name));
        break;
      }
    return false;
  });
  return out;
}

std::string error_message(long status, const std::string& body) {
  auto parsed = json::parse(body, nullptr, false);
  if (!parsed.is_discarded() && parsed.is_object()) {
    auto message = text_of(parsed, "message");
    if (!message.empty())
      return message;
  }
  auto text = trim(body);
  if (text.empty())
    return "HTTP " + std::to_string(status);
  return text.size() > 300 ? text.substr(0, 300) + "..." : text;
}

int64_t parse_time_ms(const std::string& text) {
  std::tm tm{};
  size_t at = 0;
  int year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0;
  if (!read_digits(text, at, 4, year) || !expect_char(text, at, '-') ||
      !read_digits(text, at, 2, month) || !expect_char(text, at, '-') ||
      !read_digits(text, at, 2, day) || !expect_char(text, at, 'T') ||
      !read_digits(text, at, 2, hour) || !expect_char(text, at, ':') ||
      !read_digits(text, at, 2, minute) || !expect_char(text, at, ':') ||
      !read_digits(text, at, 2, second))
    return 0;
  if (year <= 1970)
    return 0; // Go's zero time: never started
  int64_t millis = 0;
  if (at < text.size() && text[at] == '.') {
    ++at;
    int64_t scale = 100;
    while (at < text.size() && text[at] >= '0' && text[at] <= '9') {
      millis += (text[at] - '0') * scale;
      scale /= 10;
      ++at;
    }
  }
  int64_t offset_s = 0;
  if (at < text.size() && (text[at] == '+' || text[at] == '-')) {
    int sign = text[at] == '-' ? -1 : 1;
    ++at;
    int oh = 0, om = 0;
    if (!read_digits(text, at, 2, oh) || !expect_char(text, at, ':') ||
        !read_digits(text, at, 2, om))
      return 0;
    offset_s = sign * (oh * 3600 + om * 60);
  } else if (!expect_char(text, at, 'Z')) {
    return 0;
  }
  if (at != text.size())
    return 0;
  tm.tm_year = year - 1900;
  tm.tm_mon = month - 1;
  tm.tm_mday = day;
  tm.tm_hour = hour;
  tm.tm_min = minute;
  tm.tm_sec = second;
  auto seconds = static_cast<int64_t>(::timegm(&tm)) - offset_s;
  return seconds * 1000 + millis;
}

// ----- log_demuxer ---------------------------------------------------------------

log_demuxer::log_demuxer(size_t keep) : keep_(keep) {}

void log_demuxer::append(const char* data, size_t size) {
  if (keep_ == 0)
    return;
  if (size >= keep_) {
    out_.assign(data + size - keep_, keep_);
    return;
  }
  out_.append(data, size);
  // Trims in batches, so a stream of small frames costs linear time.
  if (out_.size() > 2 * keep_)
    out_.erase(0, out_.size() - keep_);
}

void log_demuxer::feed(const char* data, size_t size) {
  constexpr size_t header_size = 8;
  if (!started_ && size > 0) {
    started_ = true;
    auto stream = static_cast<unsigned char>(data[0]);
    raw_ = stream > 2; // 0 stdin, 1 stdout, 2 stderr; anything else is text
  }
  if (raw_) {
    append(data, size);
    return;
  }
  while (size > 0) {
    if (remaining_ > 0) {
      auto n = std::min<size_t>(remaining_, size);
      append(data, n);
      remaining_ -= static_cast<uint32_t>(n);
      data += n;
      size -= n;
      continue;
    }
    auto n = std::min(header_size - header_.size(), size);
    header_.append(data, n);
    data += n;
    size -= n;
    if (header_.size() < header_size)
      return;
    auto byte = [&](size_t i) {
      return static_cast<uint32_t>(static_cast<unsigned char>(header_[i]));
    };
    remaining_ = (byte(4) << 24) | (byte(5) << 16) | (byte(6) << 8) | byte(7);
    header_.clear();
  }
}

std::string log_demuxer::text() const {
  if (out_.size() <= keep_)
    return out_;
  return out_.substr(out_.size() - keep_);
}

std::string exec_create_body(const std::vector<std::string>& command) {
  return nlohmann::json{{"AttachStdout", true}, {"AttachStderr", true}, {"Cmd", command}}.dump();
}

caf::expected<std::string> parse_id(const std::string& body) {
  auto j = nlohmann::json::parse(body, nullptr, false);
  if (j.is_object() && j.contains("Id") && j["Id"].is_string())
    return j["Id"].get<std::string>();
  return protocol::make_error(protocol::error_code::driver_failure,
                              "the Docker engine answered without an Id: " + body.substr(0, 200));
}

caf::expected<std::optional<int32_t>> parse_exec_exit(const std::string& body) {
  auto j = nlohmann::json::parse(body, nullptr, false);
  if (!j.is_object())
    return protocol::make_error(protocol::error_code::driver_failure,
                                "the Docker engine's exec inspect is not JSON: " +
                                    body.substr(0, 200));
  // value("Running", false) would throw on a Running that is not a bool.
  auto running = j.find("Running");
  bool is_running = running != j.end() && running->is_boolean() && running->get<bool>();
  if (is_running || !j.contains("ExitCode") || !j["ExitCode"].is_number_integer())
    return std::optional<int32_t>{};
  return std::optional<int32_t>{j["ExitCode"].get<int32_t>()};
}

} // namespace tutti::runtime_drivers::docker
