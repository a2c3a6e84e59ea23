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
#include <memory>
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

/// Thread: one object may be used from several threads at once. Copies share
/// their idle connections and cached tokens.
class registry_client {
public:
  explicit registry_client(registry_options options = {});

  /// Resolves a full name ("docker.io/library/busybox:1.36",
  /// "127.0.0.1:5000/tutti/busybox:1", or NAME@sha256:...) to its manifest.
  /// Errors name the registry and what failed: driver_failure when the
  /// registry cannot be reached, does not answer within resolve_timeout, or
  /// refuses (with its message; also a 401/403 after the anonymous token, and
  /// a registry that asks for Basic credentials, which are not supported yet),
  /// not_found when it has no such repository or tag, invalid_argument for a
  /// name that is not a reference, a manifest that is not JSON of the expected
  /// shape (at most 4 MiB) or has no linux/amd64 entry, or a digest that does
  /// not match the bytes served (the digests in the result are always the
  /// SHA-256 of the bytes).
  caf::expected<resolved_image> resolve(const std::string& full_name);

  /// Streams blob `blob` of the repository of `full_name` to `sink` in chunks;
  /// checks its size and SHA-256 against the descriptor as it goes (an error
  /// naming the blob on a mismatch: invalid_argument). A false from `sink`
  /// stops with an error. Follows redirects (to a CDN: the token is not sent
  /// to another host); no total timeout, only stall_timeout. not_found when
  /// the registry has no such blob, driver_failure as for resolve().
  caf::error fetch_blob(const std::string& full_name, const descriptor& blob,
                        const std::function<bool(const char* data, size_t size)>& sink);

private:
  struct shared;

  registry_options options_;
  std::shared_ptr<shared> shared_; // idle curl handles, tokens per (host, repository)
};

} // namespace tutti::runtime_drivers::containerd
