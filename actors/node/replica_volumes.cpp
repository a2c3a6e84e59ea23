#include "actors/node/replica_volumes.hpp"

#include "protocol/errors.hpp"

#include <sys/statvfs.h>

#include <algorithm>
#include <filesystem>
#include <optional>
#include <set>

namespace tutti::actors {

namespace {

namespace fs = std::filesystem;
namespace p = tutti::protocol;

std::string scratch_folder(const volume_places& places, const std::string& replica) {
  return places.root + "/scratch/" + replica;
}

/// A name the node accepts from a request: a replica id or a volume name
/// ([a-z0-9], '-' and '.' for a namespace, at most 127), so that no request
/// reaches outside its folder (no '/', no "..", no NUL).
bool plain_name(const std::string& x) {
  if (x.empty() || x.size() > 127 || x.front() == '.' || x.find("..") != std::string::npos)
    return false;
  return std::all_of(x.begin(), x.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.';
  });
}

bool under(const fs::path& path, const fs::path& root) {
  auto p = path.begin();
  for (auto r = root.begin(); r != root.end(); ++r, ++p)
    if (p == path.end() || *p != *r)
      return false;
  return true;
}

/// `path` with every symbolic link resolved when it is a lent folder (one of
/// the host_paths or below one, themselves resolved): what is mounted, so
/// that a link inside a lent folder cannot reach outside it.
std::optional<std::string> lent(const volume_places& places, const std::string& path) {
  std::error_code ec;
  auto real = fs::canonical(path, ec);
  if (ec)
    return std::nullopt;
  for (const auto& root : places.host_paths) {
    auto real_root = fs::canonical(root, ec);
    if (!ec && under(real, real_root))
      return real.string();
  }
  return std::nullopt;
}

std::string lent_list(const volume_places& places) {
  std::string out;
  for (const auto& x : places.host_paths)
    out += (out.empty() ? "" : ", ") + x;
  return out.empty() ? "none" : out;
}

/// The folder of volume `v` for the replica, or why there is none.
caf::expected<std::string> folder_of(const volume_places& places, const p::volume_spec& v,
                                     const std::string& replica) {
  auto refuse = [&](const std::string& why) {
    return p::make_error(p::error_code::invalid_argument, "volume " + v.name + ": " + why);
  };
  switch (v.type) {
    case p::volume_type::host:
      if (auto real = lent(places, v.host_path))
        return *real;
      return refuse("this node does not lend " + v.host_path +
                    " (its node.host_volume_paths: " + lent_list(places) +
                    "), or it is no folder there; ask its admin, or use a node that lends it");
    case p::volume_type::scratch:
      return scratch_folder(places, replica) + "/" + v.name;
    case p::volume_type::persistent:
      return persistent_folder(places, replica, v.name);
  }
  return refuse("unknown type");
}

/// Whether the disk of `folder` (or of the folder above it) has `size` bytes
/// free for a new volume of that size.
caf::error room_for(const p::volume_spec& v, const std::string& folder) {
  std::error_code ec;
  if (v.size <= 0 || fs::exists(folder, ec))
    return {};
  fs::path at = folder;
  while (!fs::exists(at, ec) && at.has_parent_path() && at != at.parent_path())
    at = at.parent_path();
  struct statvfs st {};
  if (::statvfs(at.c_str(), &st) != 0)
    return {};
  auto free = static_cast<int64_t>(st.f_bavail) * static_cast<int64_t>(st.f_frsize);
  if (free >= v.size)
    return {};
  return p::make_error(p::error_code::driver_failure,
                       "volume " + v.name + ": needs " + std::to_string(v.size) +
                           " bytes, the node's disk has " + std::to_string(free) + " free");
}

caf::error make_folder(const std::string& path, bool empty, const std::string& volume) {
  std::error_code ec;
  if (empty)
    fs::remove_all(path, ec);
  fs::create_directories(path, ec);
  if (ec || !fs::is_directory(path, ec))
    return p::make_error(p::error_code::driver_failure,
                         "volume " + volume + ": cannot make " + path + ": " +
                             (ec ? ec.message() : std::string{"not a folder"}));
  return {};
}

} // namespace

std::string persistent_folder(const volume_places& places, const std::string& replica,
                              const std::string& volume) {
  return places.root + "/persistent/" + replica + "/" + volume;
}

namespace {

/// The folders of `mounts`, made; a scratch one emptied unless in `emptied`.
caf::expected<replica_volumes> prepare_mounts(const volume_places& places,
                                              const p::service_spec& spec,
                                              const std::vector<p::mount_spec>& mounts,
                                              const std::string& replica,
                                              std::set<std::string>& emptied) {
  replica_volumes out;
  for (const auto& m : mounts) {
    auto v = std::find_if(spec.volumes.begin(), spec.volumes.end(),
                          [&](const auto& x) { return x.name == m.volume; });
    if (v == spec.volumes.end())
      return p::make_error(p::error_code::invalid_argument,
                           "mount of unknown volume " + m.volume);
    if (places.root.empty() && v->type != p::volume_type::host)
      return p::make_error(p::error_code::invalid_argument,
                           "volume " + v->name + ": this node agent keeps no volumes");
    auto folder = folder_of(places, *v, replica);
    if (!folder)
      return std::move(folder.error());
    if (auto err = room_for(*v, *folder))
      return err;
    bool empty = v->type == p::volume_type::scratch && emptied.insert(v->name).second;
    if (v->type != p::volume_type::host)
      if (auto err = make_folder(*folder, empty, v->name))
        return err;
    std::error_code ec;
    if (v->type == p::volume_type::host && !fs::is_directory(*folder, ec))
      return p::make_error(p::error_code::invalid_argument,
                           "volume " + v->name + ": " + v->host_path +
                               " is not a folder on this node");
    out.env[p::volume_env_name(v->name)] = *folder;
    out.mounts.push_back({*folder, m.path, m.read_only});
  }
  return out;
}

} // namespace

caf::expected<replica_folders> prepare_volumes(const volume_places& places,
                                               const p::service_spec& spec,
                                               const std::string& replica) {
  replica_folders out;
  std::set<std::string> emptied; // a scratch volume its containers share is emptied once
  auto single = prepare_mounts(places, spec, spec.mounts, replica, emptied);
  if (!single)
    return std::move(single.error());
  out.single = std::move(*single);
  for (const auto& part : spec.containers) {
    auto folders = prepare_mounts(places, spec, part.mounts, replica, emptied);
    if (!folders)
      return std::move(folders.error());
    out.parts.push_back(std::move(*folders));
  }
  return out;
}

void remove_scratch(const volume_places& places, const std::string& replica) {
  if (places.root.empty())
    return;
  std::error_code ec;
  fs::remove_all(scratch_folder(places, replica), ec);
}

std::vector<std::pair<std::string, std::string>> persistent_volumes(const volume_places& places) {
  std::vector<std::pair<std::string, std::string>> out;
  if (places.root.empty())
    return out;
  std::error_code ec;
  for (const auto& replica : fs::directory_iterator{places.root + "/persistent", ec})
    if (replica.is_directory(ec))
      for (const auto& volume : fs::directory_iterator{replica.path(), ec})
        if (volume.is_directory(ec) && plain_name(replica.path().filename().string()) &&
            plain_name(volume.path().filename().string()))
          out.emplace_back(replica.path().filename().string(), volume.path().filename().string());
  std::sort(out.begin(), out.end());
  return out;
}

caf::error remove_persistent(const volume_places& places, const std::string& replica,
                             const std::string& volume) {
  // Names only: no path of the request may reach outside the volumes' folder.
  auto folder = persistent_folder(places, replica, volume);
  std::error_code ec;
  if (places.root.empty() || !plain_name(replica) || !plain_name(volume) ||
      !fs::is_directory(folder, ec))
    return p::make_error(p::error_code::not_found,
                         "no persistent volume " + volume + " of " + replica + " here");
  fs::remove_all(folder, ec);
  if (ec)
    return p::make_error(p::error_code::driver_failure,
                         "cannot remove " + folder + ": " + ec.message());
  fs::remove(fs::path{folder}.parent_path(), ec); // the replica's folder, once empty
  return {};
}

} // namespace tutti::actors
