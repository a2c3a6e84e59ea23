#include "actors/node/replica_objects.hpp"

#include "protocol/errors.hpp"

#include <fcntl.h>
#include <linux/magic.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>

namespace tutti::actors {

namespace {

namespace fs = std::filesystem;
namespace p = tutti::protocol;

/// A replica id as a folder name: no '/', no "..", nothing outside the root.
bool plain_name(const std::string& x) {
  if (x.empty() || x.size() > 127 || x.front() == '.' || x.find("..") != std::string::npos)
    return false;
  return std::all_of(x.begin(), x.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.';
  });
}

bool in_memory(const std::string& path) {
  struct statfs st {};
  if (::statfs(path.c_str(), &st) != 0)
    return false;
  return st.f_type == TMPFS_MAGIC || st.f_type == RAMFS_MAGIC;
}

caf::error refuse(p::object_kind kind, const std::string& name, const std::string& why) {
  return p::make_error(p::error_code::driver_failure,
                       p::to_string(kind) + " " + name + ": " + why);
}

/// Makes the root folder (its parents as needed) and checks that it is a
/// folder of tuttid's user, no link, that only it enters: under /dev/shm
/// another user may have made one of that name first.
caf::error own_root(const std::string& root) {
  std::error_code ec;
  fs::create_directories(fs::path{root}.parent_path(), ec);
  if (::mkdir(root.c_str(), 0700) != 0 && errno != EEXIST)
    return p::make_error(p::error_code::driver_failure,
                         "cannot make the folder " + root + " for configs and secrets: " +
                             std::strerror(errno));
  struct stat st {};
  if (::lstat(root.c_str(), &st) != 0 || !S_ISDIR(st.st_mode) || st.st_uid != ::geteuid())
    return p::make_error(p::error_code::driver_failure,
                         "the folder " + root +
                             " for configs and secrets is a link, no folder, or another user's; "
                             "remove it, or set node.secrets_dir (--secrets-dir)");
  if ((st.st_mode & 077) != 0 && ::chmod(root.c_str(), 0700) != 0)
    return p::make_error(p::error_code::driver_failure,
                         "cannot make " + root + " private: " + std::strerror(errno));
  return {};
}

/// Makes `path` a folder only its owner enters.
caf::error private_folder(const std::string& path) {
  std::error_code ec;
  fs::create_directories(path, ec);
  if (ec || ::chmod(path.c_str(), 0700) != 0)
    return p::make_error(p::error_code::driver_failure,
                         "cannot make the folder " + path + " for configs and secrets: " +
                             (ec ? ec.message() : std::string{std::strerror(errno)}));
  return {};
}

/// Writes `data` to `path` (replacing it in one step), readable by every user
/// of the container (its program may not run as root), by nobody else on the
/// node: the folders above it are its owner's only.
caf::error write_file(const std::string& path, const std::string& data) {
  auto tmp = path + ".new";
  ::unlink(tmp.c_str());
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0444);
  if (fd < 0)
    return p::make_error(p::error_code::driver_failure, std::strerror(errno));
  size_t done = 0;
  while (done < data.size()) {
    auto n = ::write(fd, data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0) {
      auto why = std::string{std::strerror(errno)};
      ::close(fd);
      ::unlink(tmp.c_str());
      return p::make_error(p::error_code::driver_failure, why);
    }
    done += static_cast<size_t>(n);
  }
  ::fchmod(fd, 0444);
  ::close(fd);
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    auto why = std::string{std::strerror(errno)};
    ::unlink(tmp.c_str());
    return p::make_error(p::error_code::driver_failure, why);
  }
  return {};
}

const p::object_payload* payload_of(const p::shared_payloads& payloads, p::object_kind kind,
                                    const p::object_ref& ref) {
  for (const auto& x : *payloads)
    if (x.kind == kind && x.name == ref.name && x.version == ref.version)
      return &x;
  return nullptr;
}

caf::error deliver(const object_places& places, const p::service_spec& spec,
                   const p::shared_payloads& payloads, const std::string& replica,
                   p::object_kind kind, const std::vector<p::object_ref>& refs,
                   replica_objects& out) {
  auto folder = places.root + "/" + replica + "/" + p::to_string(kind) + "s";
  for (const auto& ref : refs) {
    const auto* x = payload_of(payloads, kind, ref);
    if (x == nullptr)
      return refuse(kind, ref.name, "version " + std::to_string(ref.version) +
                                        " was not sent with the replica's request");
    if (!ref.env.empty())
      out.values[ref.env] = x->data;
    if (!p::as_file(ref))
      continue;
    if (places.root.empty())
      return refuse(kind, ref.name, "this node agent keeps no files of configs and secrets");
    for (const auto& f : {places.root + "/" + replica, folder})
      if (auto err = private_folder(f))
        return err;
    if (kind == p::object_kind::secret && !in_memory(folder))
      return refuse(kind, ref.name,
                    "the node's folder " + places.root +
                        " is not on a tmpfs, and a secret is kept in memory only; set "
                        "node.secrets_dir to a folder on a tmpfs (/dev/shm, /run)");
    auto file = folder + "/" + ref.name;
    if (auto err = write_file(file, x->data))
      return refuse(kind, ref.name, "cannot write " + file + ": " + p::message_of(err));
    if (p::runs_processes(spec.driver))
      out.files[p::object_env_name(kind, ref.name)] = file;
    else
      out.mounts.push_back(
          {file, ref.path.empty() ? p::default_object_path(kind, ref.name) : ref.path, true});
  }
  return {};
}

} // namespace

caf::expected<replica_objects> prepare_objects(const object_places& places,
                                               const p::service_spec& spec,
                                               const p::shared_payloads& payloads,
                                               const std::string& replica) {
  replica_objects out;
  if (spec.configs.empty() && spec.secrets.empty())
    return out;
  if (!plain_name(replica))
    return p::make_error(p::error_code::invalid_argument, "bad replica id " + replica);
  if (!places.root.empty()) {
    // Files of an earlier revision (a replica updated in place) go first.
    if (auto err = own_root(places.root))
      return err;
    std::error_code ec;
    fs::remove_all(places.root + "/" + replica, ec);
  }
  if (auto err =
          deliver(places, spec, payloads, replica, p::object_kind::config, spec.configs, out))
    return err;
  if (auto err =
          deliver(places, spec, payloads, replica, p::object_kind::secret, spec.secrets, out))
    return err;
  return out;
}

void remove_objects(const object_places& places, const std::string& replica) {
  if (places.root.empty() || !plain_name(replica))
    return;
  std::error_code ec;
  fs::remove_all(places.root + "/" + replica, ec);
  ::rmdir(places.root.c_str()); // once the last replica's files are gone
}

} // namespace tutti::actors
