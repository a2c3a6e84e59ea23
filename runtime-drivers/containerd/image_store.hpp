#pragma once

// The images a containerd driver runs: found in containerd's image store,
// else imported from an archive on the node or pulled from a registry (content
// written under a lease, then the image record), and unpacked into the
// snapshotter (one committed snapshot per layer chain, as containerd's own
// unpacker makes them, so `ctr` and tutti share the work). Internal to
// runtime-drivers.

#include "runtime-drivers/containerd/oci_spec.hpp"
#include "runtime-drivers/containerd/registry_client.hpp"

#include <caf/expected.hpp>

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace tutti::runtime_drivers::containerd {

class containerd_client;
class image_archive;
struct archived_image;

/// An image ready to run: the snapshot its containers start from and its config.
struct unpacked_image {
  std::string name;     // full name, e.g. "docker.io/library/busybox:1"
  std::string snapshot; // chain id of the top layer: the parent of a container's snapshot
  image_config config;
};

/// Thread: every member may be called from several threads at once; work on
/// one image is done once, the others wait for it.
class image_store {
public:
  image_store(const containerd_client& client, std::string snapshotter,
              std::chrono::milliseconds call_timeout);
  ~image_store();

  /// Writes every image of the archive at `path` (on this host) to
  /// containerd's store: blobs, then an image record per name. Returns the
  /// names. invalid_argument / not_found for a bad or missing archive.
  caf::expected<std::vector<std::string>> import_archive(const std::string& path);

  /// Pulls `name` (a full name) from its registry into containerd's store.
  caf::error pull(const std::string& name);

  /// `image` unpacked: looked up by its full name; when containerd lacks it,
  /// imported from `archive` (a path on this host) when one is given, else
  /// pulled from its registry. Unpacks the layers not yet in the snapshotter.
  /// Errors name the image and what to do.
  caf::expected<unpacked_image> prepare(const std::string& image, const std::string& archive);

  /// Forgets what prepare() learnt of `image` (its snapshot was found gone).
  void forget(const std::string& image);

private:
  struct manifest_info;

  caf::error import_image(const image_archive& archive, const archived_image& image,
                          const std::string& lease);
  using blob_sink = std::function<bool(const char* data, size_t size)>;
  using blob_source = std::function<caf::error(const blob_sink&)>;
  caf::error write_blob(const std::string& digest, int64_t size,
                        const std::map<std::string, std::string>& labels, const std::string& lease,
                        const blob_source& source);
  caf::error create_image(const std::string& name, const descriptor& target,
                          const std::string& lease);
  caf::expected<std::string> read_blob(const std::string& digest, size_t max_bytes);
  caf::expected<manifest_info> read_manifest(const std::string& name);
  caf::error import_for(const std::string& name, const std::string& archive);
  caf::error pull_for(const std::string& name);
  caf::expected<unpacked_image> unpack(const std::string& name);
  caf::error apply_layer(const std::string& chain, const std::string& parent,
                         const std::string& media_type, const std::string& digest, int64_t size,
                         const std::string& diff_id, const std::string& lease);
  caf::error lease_snapshot(const std::string& chain, const std::string& lease);
  caf::error label_config(const std::string& config_digest, const std::string& chain);
  std::mutex& lock_of(const std::string& image);

  const containerd_client& client_;
  std::string snapshotter_;
  std::chrono::milliseconds call_timeout_;
  std::mutex mutex_; // guards the members below
  std::map<std::string, std::unique_ptr<std::mutex>> image_locks_;
  std::map<std::string, unpacked_image> unpacked_;
  std::mutex import_mutex_; // one archive import at a time: blobs shared by images
  registry_client registry_;
};

/// The chain id of a layer on top of `parent` (empty for the bottom layer), as
/// the OCI image spec defines it: the parent's chain id and the diff id.
std::string chain_id(const std::string& parent, const std::string& diff_id);

} // namespace tutti::runtime_drivers::containerd
