#include "tools/harness/oci_archive.hpp"

#include "tools/harness/tar_writer.hpp"

#include <nlohmann/json.hpp>

#include <fstream>
#include <sstream>

namespace tutti::harness {

namespace {

using nlohmann::json;

constexpr const char* path_env =
    "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// The rootfs as one uncompressed layer; "" with `error` set when it fails.
std::string make_layer(const std::vector<std::string>& applets, const std::string& busybox,
                       std::string& error) {
  std::ifstream in{busybox, std::ios::binary};
  std::ostringstream binary;
  binary << in.rdbuf();
  if (!in || binary.str().empty()) {
    error = "cannot read " + busybox + " (Debian's busybox-static installs it)";
    return {};
  }
  tar_writer layer;
  bool ok = layer.add_directory("bin") && layer.add_file("bin/busybox", binary.str(), 0755);
  for (const auto& applet : applets)
    ok = ok && (applet == "busybox" || layer.add_symlink("bin/" + applet, "busybox"));
  ok = ok && layer.add_directory("etc") &&
       layer.add_file("etc/passwd", "root:x:0:0:root:/root:/bin/sh\n"
                                    "nobody:x:65534:65534:nobody:/nonexistent:/bin/false\n") &&
       layer.add_file("etc/group", "root:x:0:\nnogroup:x:65534:\n") &&
       layer.add_directory("root", 0700) && layer.add_directory("tmp", 01777);
  if (!ok) {
    error = "an applet name is too long for a tar header";
    return {};
  }
  return layer.finish();
}

json descriptor_of(const char* media_type, const std::string& bytes) {
  return {{"mediaType", media_type},
          {"digest", sha256_digest(bytes)},
          {"size", static_cast<int64_t>(bytes.size())}};
}

/// blobs/sha256/<hex> of a "sha256:<hex>" digest.
std::string blob_path(const std::string& bytes) {
  return "blobs/sha256/" + sha256_digest(bytes).substr(7);
}

} // namespace

std::string write_busybox_oci_archive(const std::string& archive_path, const std::string& name,
                                      const std::vector<std::string>& applets,
                                      const std::string& busybox) {
  std::string error;
  auto layer = make_layer(applets, busybox, error);
  if (layer.empty())
    return error;
  json config{{"architecture", "amd64"},
              {"os", "linux"},
              {"config", {{"Env", json::array({path_env})}, {"Cmd", json::array({"sh"})}}},
              {"rootfs", {{"type", "layers"}, {"diff_ids", json::array({sha256_digest(layer)})}}}};
  auto config_bytes = config.dump();
  json manifest{
      {"schemaVersion", 2},
      {"mediaType", "application/vnd.oci.image.manifest.v1+json"},
      {"config", descriptor_of("application/vnd.oci.image.config.v1+json", config_bytes)},
      {"layers", json::array({descriptor_of("application/vnd.oci.image.layer.v1.tar", layer)})}};
  auto manifest_bytes = manifest.dump();
  auto entry = descriptor_of("application/vnd.oci.image.manifest.v1+json", manifest_bytes);
  entry["annotations"] = {{"io.containerd.image.name", name},
                          {"org.opencontainers.image.ref.name", name}};
  entry["platform"] = {{"architecture", "amd64"}, {"os", "linux"}};
  json index{{"schemaVersion", 2},
             {"mediaType", "application/vnd.oci.image.index.v1+json"},
             {"manifests", json::array({entry})}};

  tar_writer archive;
  bool ok = archive.add_file("oci-layout", R"({"imageLayoutVersion":"1.0.0"})") &&
            archive.add_file("index.json", index.dump()) && archive.add_directory("blobs") &&
            archive.add_directory("blobs/sha256") &&
            archive.add_file(blob_path(manifest_bytes), manifest_bytes) &&
            archive.add_file(blob_path(config_bytes), config_bytes) &&
            archive.add_file(blob_path(layer), layer);
  if (!ok)
    return "a blob path does not fit a tar header";
  std::ofstream out{archive_path, std::ios::binary | std::ios::trunc};
  out << archive.finish();
  out.close();
  if (!out)
    return "cannot write " + archive_path;
  return {};
}

} // namespace tutti::harness
