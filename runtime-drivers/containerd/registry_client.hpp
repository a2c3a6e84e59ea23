#pragma once

// Pulls images from an OCI distribution registry (Docker Hub, a private
// registry) over HTTPS with libcurl, or plain HTTP for a registry on
// loopback/localhost (as containerd's and Docker's defaults allow): resolves a
// reference to its linux/amd64 manifest and streams blobs, with the anonymous
// bearer-token flow registries ask for (WWW-Authenticate). Internal to
// runtime-drivers.

#include "runtime-drivers/containerd/image_archive.hpp"

#include <caf/expected.hpp>

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace tutti::runtime_drivers::containerd {

struct registry_options {
  /// Bound of resolving a reference (manifest requests and token fetches).
  std::chrono::milliseconds resolve_timeout{std::chrono::seconds{30}};
  /// A blob download may take this long without a byte arriving.
  std::chrono::milliseconds stall_timeout{std::chrono::seconds{30}};
};

/// What resolve() found for a reference.
struct resolved_image {
  /// The reference's target as the registry names it: an index (manifest
  /// list) when the registry serves one, else the manifest itself.
  descriptor target;
  std::string target_json; // its bytes (exactly as served: their digest is target.digest)
  /// The linux/amd64 manifest (== target when the target is a manifest).
  descriptor manifest;
  std::string manifest_json;
  descriptor config;
  std::vector<descriptor> layers; // bottom first
};

/// Thread: one object may be used from several threads at once.
class registry_client {
public:
  explicit registry_client(registry_options options = {});

  /// Resolves a full name ("docker.io/library/busybox:1.36",
  /// "127.0.0.1:5000/tutti/busybox:1", or NAME@sha256:...) to its manifest.
  /// Errors name the registry and what failed: driver_failure when the
  /// registry cannot be reached or refuses (with its message), not_found when
  /// it has no such repository or tag, invalid_argument for a manifest that is
  /// not JSON of the expected shape or has no linux/amd64 entry, or a digest
  /// that does not match the bytes served.
  caf::expected<resolved_image> resolve(const std::string& full_name);

  /// Streams blob `blob` of the repository of `full_name` to `sink` in chunks;
  /// checks its size and SHA-256 against the descriptor as it goes (an error
  /// naming the blob on a mismatch). A false from `sink` stops with an error.
  caf::error fetch_blob(const std::string& full_name, const descriptor& blob,
                        const std::function<bool(const char* data, size_t size)>& sink);

private:
  registry_options options_;
};

} // namespace tutti::runtime_drivers::containerd
