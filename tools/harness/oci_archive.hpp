#pragma once

// A runnable image for tests without a registry: an OCI image layout tar (what
// `ctr images export` writes) of a rootfs made from the host's static busybox.

#include <string>
#include <vector>

namespace tutti::harness {

/// Writes an OCI image layout tar at `archive_path` holding one image named
/// `name` (e.g. "docker.io/tutti/busybox:1", as io.containerd.image.name and
/// org.opencontainers.image.ref.name annotations), whose single uncompressed
/// layer is a rootfs with /bin/busybox (copied from `busybox` — Debian's
/// busybox-static at /bin/busybox) and a symlink /bin/APPLET -> busybox for
/// each of `applets`, plus /etc/passwd (root and nobody) and /etc/group, /tmp.
/// The config has Env PATH=..., Cmd ["sh"], and rootfs.diff_ids. Returns
/// an empty string on success, else why it failed.
std::string write_busybox_oci_archive(const std::string& archive_path, const std::string& name,
                                      const std::vector<std::string>& applets,
                                      const std::string& busybox = "/bin/busybox");

} // namespace tutti::harness
