#pragma once

// The OCI runtime spec (config.json) of a replica's container, built by tutti:
// the defaults `ctr run` uses (mounts, namespaces, capabilities, masked and
// read-only paths, devices), the image config's Env, Entrypoint/Cmd,
// WorkingDir and User, the replica's env on top, host networking and cgroup
// limits. Pure functions over JSON text, so every rule is tested without a
// containerd. Internal to runtime-drivers.

#include "runtime-drivers/driver.hpp"

#include <caf/expected.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace tutti::runtime_drivers::containerd {

/// What a container takes from its image's config blob (the "config" object of
/// an OCI or Docker image config).
struct image_config {
  std::vector<std::string> env; // "KEY=VALUE", in the image's order
  std::vector<std::string> entrypoint;
  std::vector<std::string> cmd;
  std::string working_dir;
  std::string user;                  // "", "uid", "uid:gid", "name", "name:group"
  std::string stop_signal;           // "" when the image names none
  std::vector<std::string> diff_ids; // rootfs.diff_ids, "sha256:..." (for unpacking)
};

/// Parses an image config blob; invalid_argument naming what is wrong.
caf::expected<image_config> parse_image_config(const std::string& json);

/// A user and group as numbers, as the runtime spec needs them.
struct resolved_user {
  uint32_t uid = 0;
  uint32_t gid = 0;
  /// The groups of /etc/group that list the user as a member. The specs below
  /// put `gid` first in additionalGids, as containerd 1.6.18+ does.
  std::vector<uint32_t> additional_gids;
};

/// Resolves an image's User ("" = root; "uid[:gid]"; "name[:group]") against the
/// rootfs's /etc/passwd and /etc/group texts (empty when the files are absent).
/// A name gives the passwd entry's uid and gid, a bare uid its entry's gid (0
/// when it has none), an explicit group wins; "" is 0:0 with root's groups.
/// invalid_argument naming the user (or group) when a name is not found.
caf::expected<resolved_user> resolve_user(const std::string& user, const std::string& passwd,
                                          const std::string& group);

struct runtime_spec_options {
  std::string hostname;     // the host's: host networking shares its UTS identity
  std::string cgroups_path; // e.g. "/tutti/tutti-web-0_n1"
  /// Bind-mounted read-only from the host so that names resolve as on the host
  /// (host networking): /etc/resolv.conf and /etc/hosts, when they exist.
  std::vector<std::string> host_files{"/etc/resolv.conf", "/etc/hosts"};
};

/// The runtime spec JSON of `spec`'s container. The process: args = the image's
/// Entrypoint + spec.command, or + the image's Cmd when the command is empty
/// (Docker's rule; invalid_argument when that leaves nothing); env = the image's, then PATH when
/// the image has none, then spec.env (which wins per key); cwd = the image's WorkingDir or "/";
/// user as resolved. No network namespace (host networking). resources.cpu (cores) becomes a CFS
/// quota over a 100 ms period (at least 1 ms), resources.memory (bytes) a memory limit, 0 meaning
/// none. The host files that exist when it is called are bind-mounted read-only. invalid_argument
/// too when a text is not UTF-8.
caf::expected<std::string> runtime_spec(const container_spec& spec, const image_config& image,
                                        const resolved_user& user,
                                        const runtime_spec_options& options);

/// The OCI process JSON of a command run in a running container (containerd's
/// Exec): the container's env, user and cwd, `command` as args; capabilities,
/// rlimits and noNewPrivileges as in runtime_spec. Bytes that are not UTF-8 are
/// replaced (U+FFFD).
std::string exec_process(const std::vector<std::string>& command,
                         const std::vector<std::string>& env, const resolved_user& user,
                         const std::string& cwd);

} // namespace tutti::runtime_drivers::containerd
