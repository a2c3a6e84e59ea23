#include "runtime-drivers/containerd/image_archive.hpp"

#include "protocol/errors.hpp"
#include "runtime-drivers/containerd/sha256.hpp"
#include "runtime-drivers/containerd/tar_reader.hpp"
#include "runtime-drivers/unique_fd.hpp"

#include <fcntl.h>
#include <sys/stat.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <optional>

namespace tutti::runtime_drivers::containerd {

namespace {

using nlohmann::json;
using protocol::error_code;
using protocol::make_error;

constexpr const char* oci_manifest_type = "application/vnd.oci.image.manifest.v1+json";
constexpr const char* oci_index_type = "application/vnd.oci.image.index.v1+json";
constexpr const char* docker_manifest_type = "application/vnd.docker.distribution.manifest.v2+json";
constexpr const char* docker_list_type =
    "application/vnd.docker.distribution.manifest.list.v2+json";
constexpr const char* docker_config_type = "application/vnd.docker.container.image.v1+json";
constexpr const char* docker_layer_type = "application/vnd.docker.image.rootfs.diff.tar";
constexpr const char* docker_gzip_layer_type = "application/vnd.docker.image.rootfs.diff.tar.gzip";

constexpr size_t chunk_size = 1 << 20;

/// manifest.json, index.json and manifests are a few KiB; a JSON member past
/// this is not one a tool wrote, and reading it would only cost memory.
constexpr int64_t max_json_size = 16 << 20;

/// An index inside an index inside an index: deeper is a loop or an attack.
constexpr int max_index_depth = 4;

/// A digest we will turn into the member name blobs/sha256/<hex>: anything
/// else could point elsewhere in the tar.
bool valid_digest(const std::string& digest) {
  constexpr std::string_view prefix = "sha256:";
  if (digest.size() != prefix.size() + 64 || digest.rfind(prefix, 0) != 0)
    return false;
  return std::all_of(digest.begin() + prefix.size(), digest.end(),
                     [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

bool is_manifest(const std::string& media_type) {
  return media_type == oci_manifest_type || media_type == docker_manifest_type;
}

bool is_index(const std::string& media_type) {
  return media_type == oci_index_type || media_type == docker_list_type;
}

std::string text_of(const json& object, const char* key) {
  auto i = object.find(key);
  return i != object.end() && i->is_string() ? i->get<std::string>() : std::string{};
}

/// A descriptor without a platform is taken: a single-platform index names none.
bool for_linux_amd64(const json& descriptor) {
  auto platform = descriptor.find("platform");
  if (platform == descriptor.end() || !platform->is_object())
    return true;
  return text_of(*platform, "os") == "linux" && text_of(*platform, "architecture") == "amd64";
}

/// A tag ("1", "latest") cannot hold '/', ':' or '@'; a reference with one of
/// them names the image itself.
bool is_reference(const std::string& ref_name) {
  return ref_name.find_first_of("/:@") != std::string::npos;
}

/// The name an OCI index entry gives its image, or "" when it gives none.
std::string oci_name(const json& descriptor) {
  auto annotations = descriptor.find("annotations");
  if (annotations == descriptor.end() || !annotations->is_object())
    return {};
  if (auto name = text_of(*annotations, "io.containerd.image.name"); !name.empty())
    return name;
  auto ref_name = text_of(*annotations, "org.opencontainers.image.ref.name");
  return is_reference(ref_name) ? ref_name : std::string{};
}

struct blob_source {
  tar_entry entry;
  std::optional<std::string> bytes; // a blob made on open
};

} // namespace

struct image_archive::impl {
  std::string path;
  unique_fd fd;
  std::map<std::string, tar_entry> entries;
  std::vector<archived_image> images;
  std::map<std::string, blob_source> blobs; // by digest
  std::map<std::string, descriptor> hashed; // docker save members by name

  caf::error invalid(const std::string& what) const {
    return make_error(error_code::invalid_argument, "the image archive " + path + " " + what);
  }

  caf::error read_failed(const std::string& what) const {
    return make_error(error_code::driver_failure, "cannot read " + what + " of the image archive " +
                                                      path + ": " + std::strerror(errno));
  }

  caf::expected<json> read_json(const std::string& name) const {
    auto i = entries.find(name);
    if (i == entries.end())
      return invalid("has no " + name);
    if (i->second.size > max_json_size)
      return invalid("has " + name + " of " + std::to_string(i->second.size) +
                     " bytes, too big for the JSON that describes images");
    std::string text(static_cast<size_t>(i->second.size), '\0');
    if (!read_exactly(fd.get(), i->second.offset, text.data(), text.size()))
      return read_failed(name);
    auto parsed = json::parse(text, nullptr, false);
    if (parsed.is_discarded())
      return invalid("has " + name + ", which is not JSON");
    return parsed;
  }

  // ----- docker save ---------------------------------------------------------

  /// The size and digest of member `name`, hashed once however many images
  /// share it; a layer starting with gzip's magic is a gzip layer.
  caf::expected<descriptor> hash_member(const std::string& name, bool layer) {
    if (auto known = hashed.find(name); known != hashed.end())
      return known->second;
    auto i = entries.find(name);
    if (i == entries.end())
      return invalid("has no " + name + ", which its manifest.json names");
    sha256 hash;
    std::vector<char> buffer(std::min<int64_t>(chunk_size, std::max<int64_t>(i->second.size, 1)));
    bool gzip = false;
    for (int64_t done = 0; done < i->second.size;) {
      auto n = static_cast<size_t>(std::min<int64_t>(buffer.size(), i->second.size - done));
      if (!read_exactly(fd.get(), i->second.offset + done, buffer.data(), n))
        return read_failed(name);
      if (done == 0 && n >= 2)
        gzip = static_cast<unsigned char>(buffer[0]) == 0x1f &&
               static_cast<unsigned char>(buffer[1]) == 0x8b;
      hash.update(buffer.data(), n);
      done += static_cast<int64_t>(n);
    }
    descriptor out;
    out.media_type = !layer ? docker_config_type
                     : gzip ? docker_gzip_layer_type
                            : docker_layer_type;
    out.digest = hash.digest();
    out.size = i->second.size;
    blobs[out.digest] = blob_source{i->second, std::nullopt};
    hashed[name] = out;
    return out;
  }

  /// The schema 2 manifest `docker pull` would have fetched for the image.
  descriptor make_manifest(const archived_image& image) {
    auto entry = [](const descriptor& d) {
      return json{{"mediaType", d.media_type}, {"size", d.size}, {"digest", d.digest}};
    };
    json manifest{{"schemaVersion", 2},
                  {"mediaType", docker_manifest_type},
                  {"config", entry(image.config)},
                  {"layers", json::array()}};
    for (const auto& layer : image.layers)
      manifest["layers"].push_back(entry(layer));
    auto bytes = manifest.dump();
    sha256 hash;
    hash.update(bytes.data(), bytes.size());
    descriptor out{docker_manifest_type, hash.digest(), static_cast<int64_t>(bytes.size())};
    blobs[out.digest] = blob_source{{}, std::move(bytes)};
    return out;
  }

  caf::error load_docker_entry(const json& entry, const std::string& where) {
    if (!entry.is_object())
      return invalid("has a manifest.json whose " + where + " is not an object");
    auto config = entry.find("Config");
    if (config == entry.end() || !config->is_string())
      return invalid("has a manifest.json whose " + where + " has no Config file name");
    auto layers = entry.find("Layers");
    if (layers == entry.end() || !layers->is_array())
      return invalid("has a manifest.json whose " + where + " has no Layers list");
    archived_image image;
    auto config_descriptor = hash_member(config->get<std::string>(), false);
    if (!config_descriptor)
      return std::move(config_descriptor.error());
    image.config = std::move(*config_descriptor);
    for (const auto& layer : *layers) {
      if (!layer.is_string())
        return invalid("has a manifest.json whose " + where + " has a Layers item not a string");
      auto layer_descriptor = hash_member(layer.get<std::string>(), true);
      if (!layer_descriptor)
        return std::move(layer_descriptor.error());
      image.layers.push_back(std::move(*layer_descriptor));
    }
    auto tags = entry.find("RepoTags");
    if (tags != entry.end() && tags->is_array())
      for (const auto& tag : *tags)
        if (tag.is_string() && !tag.get<std::string>().empty())
          image.names.push_back(full_image_name(tag.get<std::string>()));
    image.manifest = make_manifest(image);
    images.push_back(std::move(image));
    return {};
  }

  caf::error load_docker_save() {
    auto manifest = read_json("manifest.json");
    if (!manifest)
      return std::move(manifest.error());
    if (!manifest->is_array())
      return invalid("has a manifest.json that is not a JSON array");
    for (size_t i = 0; i < manifest->size(); ++i)
      if (auto err = load_docker_entry((*manifest)[i], "entry " + std::to_string(i)))
        return err;
    return {};
  }

  // ----- OCI layout ----------------------------------------------------------

  caf::expected<descriptor> parse_descriptor(const json& x, const std::string& where) const {
    if (!x.is_object())
      return invalid("has a descriptor that is not an object in " + where);
    descriptor out{text_of(x, "mediaType"), text_of(x, "digest"), 0};
    auto size = x.find("size");
    if (size == x.end() || !size->is_number_integer() || size->get<int64_t>() < 0)
      return invalid("has a descriptor without a valid size in " + where);
    out.size = size->get<int64_t>();
    if (out.media_type.empty())
      return invalid("has a descriptor without a mediaType in " + where);
    if (!valid_digest(out.digest))
      return invalid("has a descriptor whose digest '" + out.digest +
                     "' is not sha256:<64 lowercase hex> in " + where);
    return out;
  }

  /// The blob a descriptor names must be in the tar with the size it states.
  caf::error check_blob(const descriptor& d) {
    auto name = "blobs/sha256/" + d.digest.substr(7);
    auto i = entries.find(name);
    if (i == entries.end())
      return invalid("lacks blob " + d.digest + " (" + d.media_type + ")");
    if (i->second.size != d.size)
      return invalid("has blob " + d.digest + " of " + std::to_string(i->second.size) +
                     " bytes where its descriptor says " + std::to_string(d.size));
    blobs[d.digest] = blob_source{i->second, std::nullopt};
    return {};
  }

  caf::expected<json> read_blob_json(const descriptor& d) {
    if (auto err = check_blob(d))
      return err;
    auto parsed = read_json("blobs/sha256/" + d.digest.substr(7));
    if (parsed && !parsed->is_object())
      return invalid("has blob " + d.digest + " that is not a JSON object");
    return parsed;
  }

  /// The linux/amd64 manifest an index entry leads to.
  caf::expected<descriptor> resolve(const descriptor& d, int depth) {
    if (is_manifest(d.media_type))
      return d;
    if (!is_index(d.media_type))
      return invalid("names " + d.digest + " of media type '" + d.media_type +
                     "' where a manifest or an index belongs");
    if (depth >= max_index_depth)
      return invalid("nests indexes more than " + std::to_string(max_index_depth) + " deep");
    auto index = read_blob_json(d);
    if (!index)
      return std::move(index.error());
    auto manifests = index->find("manifests");
    if (manifests == index->end() || !manifests->is_array())
      return invalid("has index " + d.digest + " without a manifests list");
    for (const auto& entry : *manifests)
      if (entry.is_object() && for_linux_amd64(entry)) {
        auto child = parse_descriptor(entry, "index " + d.digest);
        if (!child)
          return child;
        return resolve(*child, depth + 1);
      }
    return invalid("has no linux/amd64 manifest in index " + d.digest);
  }

  caf::expected<archived_image> load_manifest(const descriptor& d) {
    auto manifest = read_blob_json(d);
    if (!manifest)
      return std::move(manifest.error());
    auto where = "manifest " + d.digest;
    archived_image image;
    image.manifest = d;
    auto config = parse_descriptor(manifest->value("config", json{}), where);
    if (!config)
      return std::move(config.error());
    if (auto err = check_blob(*config))
      return err;
    image.config = std::move(*config);
    auto layers = manifest->find("layers");
    if (layers == manifest->end() || !layers->is_array())
      return invalid("has " + where + " without a layers list");
    for (const auto& layer : *layers) {
      auto layer_descriptor = parse_descriptor(layer, where);
      if (!layer_descriptor)
        return std::move(layer_descriptor.error());
      if (auto err = check_blob(*layer_descriptor))
        return err;
      image.layers.push_back(std::move(*layer_descriptor));
    }
    return image;
  }

  /// One image per manifest: `ctr export` lists a manifest once per name.
  caf::error add_oci_image(const json& entry) {
    auto d = parse_descriptor(entry, "index.json");
    if (!d)
      return std::move(d.error());
    auto manifest = resolve(*d, 0);
    if (!manifest)
      return std::move(manifest.error());
    auto name = oci_name(entry);
    auto same = std::find_if(images.begin(), images.end(), [&](const archived_image& image) {
      return image.manifest.digest == manifest->digest;
    });
    if (same == images.end()) {
      auto image = load_manifest(*manifest);
      if (!image)
        return std::move(image.error());
      images.push_back(std::move(*image));
      same = images.end() - 1;
    }
    if (!name.empty()) {
      auto full = full_image_name(name);
      if (std::find(same->names.begin(), same->names.end(), full) == same->names.end())
        same->names.push_back(std::move(full));
    }
    return {};
  }

  caf::error load_oci() {
    auto index = read_json("index.json");
    if (!index)
      return std::move(index.error());
    auto manifests = index->is_object() ? index->find("manifests") : index->end();
    if (!index->is_object() || manifests == index->end() || !manifests->is_array())
      return invalid("has an index.json without a manifests list");
    // An index.json listing each platform's manifest directly: the others are
    // images this node cannot run.
    for (const auto& entry : *manifests)
      if (!entry.is_object() || for_linux_amd64(entry))
        if (auto err = add_oci_image(entry))
          return err;
    if (images.empty())
      return invalid("has no linux/amd64 manifest in its index.json");
    return {};
  }

  caf::error load() {
    // Docker 25 and later write both: the OCI index has the real digests.
    try {
      if (entries.count("index.json") != 0)
        return load_oci();
      if (entries.count("manifest.json") != 0)
        return load_docker_save();
    } catch (const json::exception& e) {
      return invalid(std::string{"has JSON of an unexpected shape: "} + e.what());
    }
    return invalid("has neither a manifest.json (docker save) nor an index.json (OCI layout)");
  }
};

image_archive::image_archive(std::unique_ptr<impl> self) : self_(std::move(self)) {}

image_archive::~image_archive() = default;

caf::expected<std::unique_ptr<image_archive>> image_archive::open(const std::string& path) {
  auto self = std::make_unique<impl>();
  self->path = path;
  self->fd.reset(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!self->fd) {
    if (errno == ENOENT)
      return make_error(error_code::not_found, "the image archive " + path + " does not exist");
    return make_error(error_code::driver_failure,
                      "cannot open the image archive " + path + ": " + std::strerror(errno));
  }
  struct stat st {};
  if (::fstat(self->fd.get(), &st) != 0)
    return self->read_failed("the size");
  if (!S_ISREG(st.st_mode))
    return self->invalid("is not a regular file");
  auto entries = read_tar_index(self->fd.get(), st.st_size, path);
  if (!entries)
    return std::move(entries.error());
  self->entries = std::move(*entries);
  if (auto err = self->load())
    return err;
  return std::unique_ptr<image_archive>{new image_archive{std::move(self)}};
}

const std::vector<archived_image>& image_archive::images() const {
  return self_->images;
}

std::vector<descriptor> image_archive::blobs(const archived_image& image) const {
  std::vector<descriptor> out{image.manifest, image.config};
  for (const auto& layer : image.layers)
    if (std::none_of(out.begin(), out.end(),
                     [&](const descriptor& d) { return d.digest == layer.digest; }))
      out.push_back(layer);
  return out;
}

caf::error
image_archive::read_blob(const std::string& digest,
                         const std::function<bool(const char* data, size_t size)>& sink) const {
  auto i = self_->blobs.find(digest);
  if (i == self_->blobs.end())
    return make_error(error_code::not_found,
                      "the image archive " + self_->path + " has no blob " + digest);
  auto stopped = [&] {
    return make_error(error_code::driver_failure, "streaming blob " + digest + " of " +
                                                      self_->path +
                                                      " stopped: its receiver failed");
  };
  if (const auto& bytes = i->second.bytes) {
    for (size_t done = 0; done < bytes->size(); done += chunk_size)
      if (!sink(bytes->data() + done, std::min(chunk_size, bytes->size() - done)))
        return stopped();
    return {};
  }
  const auto& entry = i->second.entry;
  std::vector<char> buffer(std::min<int64_t>(chunk_size, std::max<int64_t>(entry.size, 1)));
  for (int64_t done = 0; done < entry.size;) {
    auto n = static_cast<size_t>(std::min<int64_t>(buffer.size(), entry.size - done));
    if (!read_exactly(self_->fd.get(), entry.offset + done, buffer.data(), n))
      return self_->read_failed("blob " + digest);
    if (!sink(buffer.data(), n))
      return stopped();
    done += static_cast<int64_t>(n);
  }
  return {};
}

const std::string& image_archive::path() const {
  return self_->path;
}

std::string full_image_name(const std::string& name) {
  if (name.empty())
    return name;
  std::string domain = "docker.io";
  std::string rest = name;
  if (auto slash = name.find('/'); slash != std::string::npos) {
    auto first = name.substr(0, slash);
    if (first.find_first_of(".:") != std::string::npos || first == "localhost") {
      domain = first == "index.docker.io" ? "docker.io" : first;
      rest = name.substr(slash + 1);
    }
  }
  if (domain == "docker.io" && rest.find('/') == std::string::npos)
    rest = "library/" + rest;
  auto last = rest.substr(rest.rfind('/') + 1);
  if (rest.find('@') == std::string::npos && last.find(':') == std::string::npos)
    rest += ":latest";
  return domain + "/" + rest;
}

} // namespace tutti::runtime_drivers::containerd
