#include "config/volume_reader.hpp"

#include <algorithm>
#include <set>

namespace tutti::config::detail {

namespace {

using protocol::volume_type;

const std::vector<std::pair<std::string_view, volume_type>> volume_type_names{
    {"scratch", volume_type::scratch},
    {"persistent", volume_type::persistent},
    {"host", volume_type::host}};

/// At most this many volumes, and mounts, per service.
constexpr size_t max_volumes = 16;

bool valid_volume_name(const std::string& name) {
  if (name.empty() || name.size() > 63 || name.front() < 'a' || name.front() > 'z' ||
      name.back() == '-')
    return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
  });
}

bool too_many(const field& f, size_t n, const char* what, error_sink& errors) {
  if (n <= max_volumes)
    return false;
  errors.add(f.mark, f.path,
             "at most " + std::to_string(max_volumes) + " " + what + ", got " + std::to_string(n));
  return true;
}

std::optional<protocol::volume_spec> read_volume(const field& item, std::set<std::string>& names,
                                                 error_sink& errors) {
  if (!expect_map(item, "a mapping with name and type", errors))
    return std::nullopt;
  map_reader fields{item, errors};
  protocol::volume_spec v;
  if (auto f = fields.take("name")) {
    if (auto name = read_string(*f, errors)) {
      if (!valid_volume_name(*name))
        errors.add(f->mark, f->path,
                   "invalid volume name '" + *name +
                       "': use 1-63 of a-z, 0-9 and '-', starting with a letter");
      else if (!names.insert(*name).second)
        errors.add(f->mark, f->path, "duplicate volume name '" + *name + "'");
      v.name = std::move(*name);
    }
  } else {
    errors.add(item.mark, item.path + ".name", "required field is missing");
  }
  if (auto f = fields.take("type"))
    if (auto type = read_choice(*f, volume_type_names, errors))
      v.type = *type;
  auto path = fields.take("path");
  if (path && v.type != volume_type::host)
    errors.add(path->key_mark, path->path,
               "path is for volumes of type host only (a " + protocol::to_string(v.type) +
                   " volume lives in the node's data directory)");
  else if (path) {
    if (auto text = read_string(*path, errors)) {
      if (!valid_absolute_path(*text))
        errors.add(path->mark, path->path,
                   "expected an absolute path on the node (no '.' or '..' parts), got '" + *text +
                       "'");
      v.host_path = std::move(*text);
    }
  } else if (v.type == volume_type::host) {
    errors.add(item.mark, item.path + ".path", "required field is missing (a host volume names its folder on the node)");
  }
  if (auto size = fields.take("size")) {
    if (v.type == volume_type::host)
      errors.add(size->key_mark, size->path,
                 "size is for scratch and persistent volumes (a host volume is the node's "
                 "folder as it is)");
    else if (auto bytes = read_bytes(*size, errors))
      v.size = *bytes;
  }
  fields.finish();
  return v;
}

std::string known_volumes(const protocol::service_spec& spec) {
  if (spec.volumes.empty())
    return "the service has no volumes:";
  std::string out;
  for (const auto& v : spec.volumes)
    out += (out.empty() ? "volumes: " : ", ") + v.name;
  return out;
}

std::optional<protocol::mount_spec> read_mount(const field& item,
                                               const protocol::service_spec& spec,
                                               std::set<std::string>& paths, error_sink& errors) {
  if (!expect_map(item, "a mapping with volume and path", errors))
    return std::nullopt;
  map_reader fields{item, errors};
  protocol::mount_spec m;
  if (auto f = fields.take("volume")) {
    if (auto name = read_string(*f, errors)) {
      auto known = std::any_of(spec.volumes.begin(), spec.volumes.end(),
                               [&](const auto& v) { return v.name == *name; });
      if (!known)
        errors.add(f->mark, f->path,
                   "mount of unknown volume '" + *name + "' (" + known_volumes(spec) + ")");
      m.volume = std::move(*name);
    }
  } else {
    errors.add(item.mark, item.path + ".volume", "required field is missing");
  }
  bool process = protocol::runs_processes(spec.driver);
  if (auto f = fields.take("path")) {
    if (process) {
      errors.add(f->key_mark, f->path,
                 "the " + protocol::to_string(spec.driver) +
                     " driver mounts nothing: a process finds the volume's folder in " +
                     protocol::volume_env_name(m.volume) + "; remove path");
    } else if (auto text = read_string(*f, errors)) {
      if (!valid_absolute_path(*text))
        errors.add(f->mark, f->path,
                   "expected an absolute path in the container (not '/', no '.' or '..' "
                   "parts), got '" + *text + "'");
      else if (!paths.insert(*text).second)
        errors.add(f->mark, f->path, "two mounts at " + *text);
      m.path = std::move(*text);
    }
  } else if (!process) {
    errors.add(item.mark, item.path + ".path", "required field is missing (where the container sees the volume)");
  }
  if (auto f = fields.take("read_only"))
    if (auto ro = read_bool(*f, errors))
      m.read_only = *ro;
  fields.finish();
  return m;
}

} // namespace

bool valid_absolute_path(const std::string& path) {
  if (path.size() < 2 || path.size() > 1024 || path.front() != '/' || path.back() == '/' ||
      path.find('\0') != std::string::npos)
    return false;
  size_t at = 1;
  while (at <= path.size()) {
    auto end = path.find('/', at);
    if (end == std::string::npos)
      end = path.size();
    auto part = path.substr(at, end - at);
    if (part.empty() || part == "." || part == "..")
      return false;
    at = end + 1;
  }
  return true;
}

void read_volumes(map_reader& fields, protocol::service_spec& spec, error_sink& errors) {
  auto f = fields.take("volumes");
  if (!f || !expect_seq(*f, "a sequence of volumes", errors))
    return;
  auto items = elements(*f);
  if (too_many(*f, items.size(), "volumes", errors))
    return;
  std::set<std::string> names;
  for (const auto& item : items)
    if (auto v = read_volume(item, names, errors))
      spec.volumes.push_back(std::move(*v));
}

void read_mounts(map_reader& fields, protocol::service_spec& spec, error_sink& errors) {
  auto f = fields.take("mounts");
  if (!f || !expect_seq(*f, "a sequence of mounts", errors))
    return;
  auto items = elements(*f);
  if (too_many(*f, items.size(), "mounts", errors))
    return;
  std::set<std::string> paths;
  for (const auto& item : items)
    if (auto m = read_mount(item, spec, paths, errors))
      spec.mounts.push_back(std::move(*m));
}

} // namespace tutti::config::detail
