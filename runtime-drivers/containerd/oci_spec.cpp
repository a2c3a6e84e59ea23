#include "runtime-drivers/containerd/oci_spec.hpp"

#include "protocol/errors.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <limits>
#include <sstream>

namespace tutti::runtime_drivers::containerd {

namespace {

using nlohmann::json;
using protocol::error_code;
using protocol::make_error;

constexpr const char* default_path =
    "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

constexpr int64_t cfs_period_us = 100000;
// The kernel refuses a CFS quota below 1 ms.
constexpr int64_t min_cfs_quota_us = 1000;

// ----- image config --------------------------------------------------------------

caf::error bad_field(const std::string& field, const char* expected) {
  return make_error(error_code::invalid_argument,
                    "the image config's " + field + " is not " + expected);
}

/// Reads a member that must be an array of strings when present; absent and
/// null leave `into` empty, as images that set no Entrypoint or Cmd have it.
caf::error read_strings(const json& object, const std::string& section, const char* key,
                        std::vector<std::string>& into) {
  auto i = object.find(key);
  if (i == object.end() || i->is_null())
    return {};
  if (!i->is_array())
    return bad_field(section + "." + key, "an array of strings");
  for (const auto& item : *i) {
    if (!item.is_string())
      return bad_field(section + "." + key, "an array of strings");
    into.push_back(item.get<std::string>());
  }
  return {};
}

caf::error read_string(const json& object, const std::string& section, const char* key,
                       std::string& into) {
  auto i = object.find(key);
  if (i == object.end() || i->is_null())
    return {};
  if (!i->is_string())
    return bad_field(section + "." + key, "a string");
  into = i->get<std::string>();
  return {};
}

/// The object under `key`, or nullptr when absent or null.
caf::expected<const json*> section_of(const json& object, const char* key) {
  auto i = object.find(key);
  if (i == object.end() || i->is_null())
    return static_cast<const json*>(nullptr);
  if (!i->is_object())
    return bad_field(key, "an object");
  return &*i;
}

caf::error read_config_section(const json& config, image_config& out) {
  if (auto err = read_strings(config, "config", "Env", out.env))
    return err;
  if (auto err = read_strings(config, "config", "Entrypoint", out.entrypoint))
    return err;
  if (auto err = read_strings(config, "config", "Cmd", out.cmd))
    return err;
  if (auto err = read_string(config, "config", "WorkingDir", out.working_dir))
    return err;
  if (auto err = read_string(config, "config", "User", out.user))
    return err;
  return read_string(config, "config", "StopSignal", out.stop_signal);
}

// ----- users ---------------------------------------------------------------------

struct passwd_entry {
  std::string name;
  uint32_t uid = 0;
  uint32_t gid = 0;
};

struct group_entry {
  std::string name;
  uint32_t gid = 0;
  std::vector<std::string> members;
};

std::vector<std::string> split(const std::string& text, char separator) {
  std::vector<std::string> out;
  size_t begin = 0;
  for (;;) {
    auto end = text.find(separator, begin);
    out.push_back(text.substr(begin, end - begin));
    if (end == std::string::npos)
      return out;
    begin = end + 1;
  }
}

/// A uid or gid as runc takes it: digits up to INT32_MAX. Anything else is a
/// name, as containerd reads "User".
std::optional<uint32_t> id_of(const std::string& text) {
  if (text.empty() || text.size() > 10 ||
      !std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; }))
    return std::nullopt;
  auto value = std::stoull(text);
  if (value > static_cast<uint64_t>(std::numeric_limits<int32_t>::max()))
    return std::nullopt;
  return static_cast<uint32_t>(value);
}

/// The lines of a passwd or group file split at ':', without blank lines,
/// comments and lines with fewer than `min_fields` fields.
std::vector<std::vector<std::string>> records(const std::string& text, size_t min_fields) {
  std::vector<std::vector<std::string>> out;
  std::istringstream in{text};
  for (std::string line; std::getline(in, line);) {
    if (!line.empty() && line.back() == '\r')
      line.pop_back();
    if (line.empty() || line.front() == '#')
      continue;
    auto fields = split(line, ':');
    if (fields.size() >= min_fields)
      out.push_back(std::move(fields));
  }
  return out;
}

std::vector<passwd_entry> parse_passwd(const std::string& text) {
  std::vector<passwd_entry> out;
  for (auto& fields : records(text, 4)) { // name:password:uid:gid[:gecos:home:shell]
    auto uid = id_of(fields[2]);
    auto gid = id_of(fields[3]);
    if (uid && gid)
      out.push_back({fields[0], *uid, *gid});
  }
  return out;
}

std::vector<group_entry> parse_group(const std::string& text) {
  std::vector<group_entry> out;
  for (auto& fields : records(text, 3)) { // name:password:gid[:member,member...]
    auto gid = id_of(fields[2]);
    if (!gid)
      continue;
    group_entry entry{fields[0], *gid, {}};
    if (fields.size() > 3 && !fields[3].empty())
      entry.members = split(fields[3], ',');
    out.push_back(std::move(entry));
  }
  return out;
}

template <class Predicate>
const passwd_entry* find_user(const std::vector<passwd_entry>& users, Predicate predicate) {
  auto i = std::find_if(users.begin(), users.end(), predicate);
  return i == users.end() ? nullptr : &*i;
}

/// The groups that list `name` as a member, in the file's order, without the
/// group named like the user (its primary group, as containerd leaves it out).
std::vector<uint32_t> supplementary_gids(const std::vector<group_entry>& groups,
                                         const std::string& name) {
  std::vector<uint32_t> out;
  if (name.empty())
    return out;
  for (const auto& group : groups) {
    if (group.name == name)
      continue;
    bool member =
        std::find(group.members.begin(), group.members.end(), name) != group.members.end();
    if (member && std::find(out.begin(), out.end(), group.gid) == out.end())
      out.push_back(group.gid);
  }
  return out;
}

// ----- the runtime spec ----------------------------------------------------------

json default_capabilities() {
  return {"CAP_CHOWN",   "CAP_DAC_OVERRIDE", "CAP_FSETID",           "CAP_FOWNER",
          "CAP_MKNOD",   "CAP_NET_RAW",      "CAP_SETGID",           "CAP_SETUID",
          "CAP_SETFCAP", "CAP_SETPCAP",      "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT",
          "CAP_KILL",    "CAP_AUDIT_WRITE"};
}

json user_json(const resolved_user& user) {
  // The primary gid leads the supplementary groups, as containerd 1.6.18+ does
  // (GHSA-hmfx-3pcx-653p): without it the process may keep groups it should
  // not, and files denied to its primary group stay readable through them.
  std::vector<uint32_t> gids{user.gid};
  for (auto gid : user.additional_gids)
    if (gid != user.gid)
      gids.push_back(gid);
  return {{"uid", user.uid}, {"gid", user.gid}, {"additionalGids", gids}};
}

json process_json(const std::vector<std::string>& args, const std::vector<std::string>& env,
                  const resolved_user& user, const std::string& cwd) {
  auto capabilities = default_capabilities();
  return {{"terminal", false},
          {"user", user_json(user)},
          {"args", args},
          {"env", env},
          {"cwd", cwd.empty() ? "/" : cwd},
          {"capabilities",
           {{"bounding", capabilities}, {"effective", capabilities}, {"permitted", capabilities}}},
          {"rlimits", json::array({{{"type", "RLIMIT_NOFILE"}, {"hard", 1024}, {"soft", 1024}}})},
          {"noNewPrivileges", true}};
}

json mount(const char* destination, const char* type, const char* source,
           std::vector<std::string> options) {
  return {{"destination", destination},
          {"type", type},
          {"source", source},
          {"options", std::move(options)}};
}

json mounts_json(const std::vector<std::string>& host_files,
                 const std::vector<volume_mount>& volumes) {
  auto out = json::array({
      mount("/proc", "proc", "proc", {"nosuid", "noexec", "nodev"}),
      mount("/dev", "tmpfs", "tmpfs", {"nosuid", "strictatime", "mode=755", "size=65536k"}),
      mount("/dev/pts", "devpts", "devpts",
            {"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"}),
      mount("/dev/shm", "tmpfs", "shm", {"nosuid", "noexec", "nodev", "mode=1777", "size=65536k"}),
      mount("/dev/mqueue", "mqueue", "mqueue", {"nosuid", "noexec", "nodev"}),
      mount("/sys", "sysfs", "sysfs", {"nosuid", "noexec", "nodev", "ro"}),
      mount("/run", "tmpfs", "tmpfs", {"nosuid", "strictatime", "mode=755", "size=65536k"}),
  });
  // runc fails to start a container whose bind source is missing, so a host
  // without one of the files runs its containers without it.
  for (const auto& file : host_files) {
    std::error_code ec;
    if (std::filesystem::exists(file, ec))
      out.push_back(mount(file.c_str(), "bind", file.c_str(), {"rbind", "ro"}));
  }
  for (const auto& v : volumes)
    out.push_back(mount(v.target.c_str(), "bind", v.source.c_str(),
                        {"rbind", v.read_only ? "ro" : "rw"}));
  return out;
}

json resources_json(const protocol::resource_spec& resources) {
  json out{{"devices", json::array({{{"allow", false}, {"access", "rwm"}}})}};
  if (resources.cpu > 0) {
    // Capped far beyond any host so that llround stays within int64.
    double quota = std::min(resources.cpu * cfs_period_us, 1e15);
    out["cpu"] = {{"period", cfs_period_us},
                  {"quota", std::max(static_cast<int64_t>(std::llround(quota)), min_cfs_quota_us)}};
  }
  if (resources.memory > 0)
    out["memory"] = {{"limit", resources.memory}};
  return out;
}

json linux_json(const container_spec& spec, const runtime_spec_options& options) {
  json out{
      // No network namespace: the container shares the host's (host networking).
      {"namespaces",
       json::array({{{"type", "pid"}}, {{"type", "ipc"}}, {{"type", "uts"}}, {{"type", "mount"}}})},
      {"maskedPaths",
       {"/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
        "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/sys/firmware",
        "/proc/scsi"}},
      {"readonlyPaths", {"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"}},
      {"resources", resources_json(spec.resources)},
  };
  if (!options.cgroups_path.empty())
    out["cgroupsPath"] = options.cgroups_path;
  return out;
}

caf::expected<std::vector<std::string>> process_args(const container_spec& spec,
                                                     const image_config& image) {
  // As Docker does: the spec's command takes the place of Cmd, after the
  // image's Entrypoint, so both drivers run the same thing.
  const auto& cmd = spec.command.empty() ? image.cmd : spec.command;
  std::vector<std::string> args = image.entrypoint;
  args.insert(args.end(), cmd.begin(), cmd.end());
  if (args.empty())
    return make_error(error_code::invalid_argument,
                      "container " + spec.name + " has no command: its spec gives none and image " +
                          spec.image + " has no Entrypoint or Cmd");
  return args;
}

std::string key_of(const std::string& entry) {
  return entry.substr(0, entry.find('='));
}

std::vector<std::string> process_env(const image_config& image,
                                     const std::map<std::string, std::string>& overrides) {
  std::vector<std::string> env = image.env;
  auto has_key = [&](const std::string& key) {
    return std::any_of(env.begin(), env.end(), [&](auto& entry) { return key_of(entry) == key; });
  };
  if (!has_key("PATH"))
    env.push_back(default_path);
  // spec.env is a std::map: the keys the image lacks come appended in key order.
  for (const auto& [key, value] : overrides) {
    auto entry = key + "=" + value;
    if (!has_key(key)) {
      env.push_back(std::move(entry));
      continue;
    }
    for (auto& existing : env)
      if (key_of(existing) == key)
        existing = entry;
  }
  return env;
}

} // namespace

caf::expected<image_config> parse_image_config(const std::string& text) {
  auto parsed = json::parse(text, nullptr, false);
  if (parsed.is_discarded() || !parsed.is_object())
    return make_error(error_code::invalid_argument,
                      "the image config is not a JSON object: " + text.substr(0, 200));
  image_config out;
  auto config = section_of(parsed, "config");
  if (!config)
    return std::move(config.error());
  if (*config != nullptr)
    if (auto err = read_config_section(**config, out))
      return err;
  auto rootfs = section_of(parsed, "rootfs");
  if (!rootfs)
    return std::move(rootfs.error());
  if (*rootfs != nullptr)
    if (auto err = read_strings(**rootfs, "rootfs", "diff_ids", out.diff_ids))
      return err;
  return out;
}

caf::expected<resolved_user> resolve_user(const std::string& user, const std::string& passwd,
                                          const std::string& group) {
  auto users = parse_passwd(passwd);
  auto groups = parse_group(group);
  resolved_user out;
  if (user.empty()) { // root, with the groups that list root (as containerd)
    out.additional_gids = supplementary_gids(groups, "root");
    return out;
  }
  auto parts = split(user, ':');
  if (parts.size() > 2)
    return make_error(error_code::invalid_argument,
                      "user '" + user + "' is not a valid User: expected uid, name, uid:gid or " +
                          "name:group");
  const passwd_entry* entry = nullptr;
  if (auto uid = id_of(parts[0])) {
    out.uid = *uid;
    entry = find_user(users, [&](auto& x) { return x.uid == *uid; });
    // A uid the image does not know runs with gid 0, as containerd does.
    out.gid = entry != nullptr ? entry->gid : 0;
  } else {
    entry = find_user(users, [&](auto& x) { return x.name == parts[0]; });
    if (entry == nullptr)
      return make_error(error_code::invalid_argument,
                        "user '" + parts[0] + "' is not in the image's /etc/passwd");
    out.uid = entry->uid;
    out.gid = entry->gid;
  }
  if (parts.size() == 2) {
    if (auto gid = id_of(parts[1])) {
      out.gid = *gid;
    } else {
      auto i =
          std::find_if(groups.begin(), groups.end(), [&](auto& x) { return x.name == parts[1]; });
      if (i == groups.end())
        return make_error(error_code::invalid_argument,
                          "group '" + parts[1] + "' is not in the image's /etc/group");
      out.gid = i->gid;
    }
  }
  if (entry != nullptr)
    out.additional_gids = supplementary_gids(groups, entry->name);
  return out;
}

caf::expected<std::string> runtime_spec(const container_spec& spec, const image_config& image,
                                        const resolved_user& user,
                                        const runtime_spec_options& options) {
  auto args = process_args(spec, image);
  if (!args)
    return std::move(args.error());
  json out{
      {"ociVersion", "1.0.2-dev"},
      {"root", {{"path", "rootfs"}, {"readonly", false}}},
      {"hostname", options.hostname},
      {"process", process_json(*args, process_env(image, spec.env), user, image.working_dir)},
      {"mounts", mounts_json(options.host_files, spec.mounts)},
      {"linux", linux_json(spec, options)},
  };
  try {
    return out.dump();
  } catch (const json::exception&) {
    return make_error(error_code::invalid_argument,
                      "container " + spec.name +
                          ": its command, environment or options are not valid UTF-8");
  }
}

std::string exec_process(const std::vector<std::string>& command,
                         const std::vector<std::string>& env, const resolved_user& user,
                         const std::string& cwd) {
  return process_json(command, env, user, cwd).dump(-1, ' ', false, json::error_handler_t::replace);
}

} // namespace tutti::runtime_drivers::containerd
