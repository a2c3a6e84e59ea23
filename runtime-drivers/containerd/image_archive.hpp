#pragma once

// Reads an image archive from disk: `docker save` output (manifest.json,
// <config>.json, <layer>/layer.tar) or an OCI image layout in a tar
// (oci-layout, index.json, blobs/sha256/...). It lists the archive's images as
// OCI/Docker manifests with their blobs, converting a `docker save` archive to
// a Docker schema 2 manifest, and streams any blob's bytes. Only the tar's
// headers and JSON are read on open (and, for `docker save`, every file hashed
// once); blobs are read when asked. Uncompressed tar only (what both tools
// write). An archive with both index.json and manifest.json (`ctr export`,
// Docker 25+) is read as the OCI layout. Internal to runtime-drivers.

#include <caf/expected.hpp>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace tutti::runtime_drivers::containerd {

/// An OCI content descriptor.
struct descriptor {
  std::string media_type;
  std::string digest; // "sha256:<64 hex>"
  int64_t size = 0;
};

/// One image of an archive, ready to be written to a content store.
struct archived_image {
  /// The names it carries: RepoTags of a `docker save` manifest, or the
  /// org.opencontainers.image.ref.name / io.containerd.image.name annotations
  /// of an OCI index, made full ("busybox:1" -> "docker.io/library/busybox:1").
  /// Per index entry io.containerd.image.name wins; a ref.name that is only a
  /// tag ("1") names nothing. Entries naming one manifest make one image with
  /// all their names. May be empty.
  std::vector<std::string> names;
  /// The image's target: the manifest for linux/amd64 (an index or manifest
  /// list in the archive is resolved to that platform's manifest).
  descriptor manifest;
  descriptor config;
  std::vector<descriptor> layers; // bottom first
};

class image_archive {
public:
  /// Opens `path` and reads its tar headers and JSON index; invalid_argument
  /// naming the file and what is wrong (not a tar, no manifest.json or
  /// index.json, a blob the manifest names that is missing, no linux/amd64
  /// manifest), not_found when the file does not exist.
  static caf::expected<std::unique_ptr<image_archive>> open(const std::string& path);

  ~image_archive();

  const std::vector<archived_image>& images() const;

  /// Every blob an image needs, manifest first, then config, then layers: what
  /// a content store must hold. A layer listed twice is listed once here.
  std::vector<descriptor> blobs(const archived_image& image) const;

  /// Streams the bytes of blob `digest` to `sink` in chunks (at most 1 MiB
  /// each). A blob made by the conversion (a `docker save` archive's manifest)
  /// comes from memory. Digests of blobs read from a `docker save` archive are
  /// computed on open (SHA-256 of each file), so every digest is checked by
  /// the content store on commit. not_found for an unknown digest; driver_failure
  /// when reading the file fails; a `false` from `sink` stops with an error
  /// naming the blob.
  caf::error read_blob(const std::string& digest,
                       const std::function<bool(const char* data, size_t size)>& sink) const;

  const std::string& path() const;

private:
  struct impl;
  explicit image_archive(std::unique_ptr<impl> self);
  std::unique_ptr<impl> self_;
};

/// "busybox" -> "docker.io/library/busybox:latest", "x/y:1" ->
/// "docker.io/x/y:1", "reg.example:5000/x:1" unchanged; what containerd and
/// Docker name an image by.
std::string full_image_name(const std::string& name);

} // namespace tutti::runtime_drivers::containerd
