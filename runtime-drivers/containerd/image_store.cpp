#include "runtime-drivers/containerd/image_store.hpp"

#include "protocol/errors.hpp"
#include "runtime-drivers/containerd/containerd_client.hpp"
#include "runtime-drivers/containerd/image_archive.hpp"
#include "runtime-drivers/containerd/sha256.hpp"

#include <nlohmann/json.hpp>

#include <openssl/rand.h>

namespace tutti::runtime_drivers::containerd {

namespace {

using nlohmann::json;
using protocol::error_code;
using protocol::make_error;

/// The largest manifest or config tutti reads: they are a few KiB.
constexpr size_t max_json_blob = size_t{4} << 20;
/// One Write message: gRPC's default message limit is 4 MiB.
constexpr size_t write_chunk = size_t{1} << 20;
/// Unpacking a layer takes as long as the layer is large.
constexpr auto apply_timeout = std::chrono::minutes{10};

bool is_index(const std::string& media_type) {
  return media_type == "application/vnd.oci.image.index.v1+json" ||
         media_type == "application/vnd.docker.distribution.manifest.list.v2+json";
}

std::string unique_part() {
  unsigned char raw[6];
  RAND_bytes(raw, sizeof raw);
  static const char* hex = "0123456789abcdef";
  std::string out;
  for (unsigned char c : raw) {
    out += hex[c >> 4];
    out += hex[c & 15];
  }
  return out;
}

const json* member(const json& x, const char* key) {
  if (!x.is_object())
    return nullptr;
  auto i = x.find(key);
  return i == x.end() ? nullptr : &*i;
}

std::string text(const json& x, const char* key) {
  auto* m = member(x, key);
  return m && m->is_string() ? m->get<std::string>() : std::string{};
}

/// The linux/amd64 entry of an index (one without a platform matches too).
std::optional<json> pick_platform(const json& index) {
  auto* manifests = member(index, "manifests");
  if (!manifests || !manifests->is_array())
    return std::nullopt;
  for (const auto& m : *manifests) {
    auto* platform = member(m, "platform");
    if (!platform ||
        (text(*platform, "os") == "linux" && text(*platform, "architecture") == "amd64"))
      return m;
  }
  return std::nullopt;
}

} // namespace

struct image_store::manifest_info {
  std::string config_digest;
  struct layer {
    std::string media_type;
    std::string digest;
    int64_t size = 0;
  };
  std::vector<layer> layers;
};

std::string chain_id(const std::string& parent, const std::string& diff_id) {
  if (parent.empty())
    return diff_id;
  sha256 hash;
  auto text = parent + " " + diff_id;
  hash.update(text.data(), text.size());
  return hash.digest();
}

image_store::image_store(const containerd_client& client, std::string snapshotter,
                         std::chrono::milliseconds call_timeout)
  : client_(client), snapshotter_(std::move(snapshotter)), call_timeout_(call_timeout) {}

image_store::~image_store() = default;

std::mutex& image_store::lock_of(const std::string& image) {
  std::lock_guard<std::mutex> guard{mutex_};
  auto& slot = image_locks_[image];
  if (!slot)
    slot = std::make_unique<std::mutex>();
  return *slot;
}

void image_store::forget(const std::string& image) {
  std::lock_guard<std::mutex> guard{mutex_};
  unpacked_.erase(full_image_name(image));
}

// ----- import ---------------------------------------------------------------------

caf::expected<std::vector<std::string>> image_store::import_archive(const std::string& path) {
  auto archive = image_archive::open(path);
  if (!archive)
    return std::move(archive.error());
  std::lock_guard<std::mutex> guard{import_mutex_};
  caf::error err;
  scoped_lease lease{client_, err};
  if (err)
    return err;
  std::vector<std::string> names;
  for (const auto& image : (*archive)->images()) {
    if (auto failed = import_image(**archive, image, lease.id()))
      return make_error(protocol::code_of(failed),
                        "cannot import " + path + ": " + protocol::message_of(failed));
    names.insert(names.end(), image.names.begin(), image.names.end());
  }
  for (const auto& name : names)
    forget(name);
  return names;
}

caf::error image_store::import_image(const image_archive& archive, const archived_image& image,
                                     const std::string& lease) {
  for (const auto& blob : archive.blobs(image)) {
    std::map<std::string, std::string> labels;
    if (blob.digest == image.manifest.digest) {
      // The garbage collector keeps what a kept manifest names.
      labels["containerd.io/gc.ref.content.config"] = image.config.digest;
      for (size_t i = 0; i < image.layers.size(); ++i)
        labels["containerd.io/gc.ref.content.l." + std::to_string(i)] = image.layers[i].digest;
    }
    auto source = [&](const blob_sink& sink) { return archive.read_blob(blob.digest, sink); };
    if (auto err = write_blob(blob.digest, blob.size, labels, lease, source))
      return err;
  }
  for (const auto& name : image.names)
    if (auto err = create_image(name, image.manifest, lease))
      return err;
  return {};
}

caf::error image_store::create_image(const std::string& name, const descriptor& target,
                                     const std::string& lease) {
  api::images::CreateImageRequest req;
  auto* record = req.mutable_image();
  record->set_name(name);
  record->mutable_target()->set_media_type(target.media_type);
  record->mutable_target()->set_digest(target.digest);
  record->mutable_target()->set_size(target.size);
  api::images::CreateImageResponse resp;
  auto ctx = client_.context(call_timeout_, lease);
  auto status = client_.images().Create(ctx.get(), req, &resp);
  if (status.error_code() == grpc::StatusCode::ALREADY_EXISTS) {
    // A name imported or pulled again points at what it names now.
    api::images::UpdateImageRequest update;
    *update.mutable_image() = *record;
    update.mutable_update_mask()->add_paths("target");
    api::images::UpdateImageResponse updated;
    auto uctx = client_.context(call_timeout_, lease);
    status = client_.images().Update(uctx.get(), update, &updated);
  }
  return client_.check(status, "cannot create image " + name);
}

caf::error image_store::pull(const std::string& name) {
  auto resolved = registry_.resolve(name);
  if (!resolved)
    return std::move(resolved.error());
  caf::error err;
  scoped_lease lease{client_, err};
  if (err)
    return err;
  auto from_registry = [&](const descriptor& blob) {
    return [&, blob](const blob_sink& sink) { return registry_.fetch_blob(name, blob, sink); };
  };
  auto from_memory = [](const std::string& bytes) {
    return [&bytes](const blob_sink& sink) {
      return sink(bytes.data(), bytes.size())
                 ? caf::error{}
                 : protocol::make_error(error_code::driver_failure, "cannot store a manifest");
    };
  };
  for (const auto& layer : resolved->layers)
    if (auto failed = write_blob(layer.digest, layer.size, {}, lease.id(), from_registry(layer)))
      return failed;
  if (auto failed = write_blob(resolved->config.digest, resolved->config.size, {}, lease.id(),
                               from_registry(resolved->config)))
    return failed;
  std::map<std::string, std::string> labels{
      {"containerd.io/gc.ref.content.config", resolved->config.digest}};
  for (size_t i = 0; i < resolved->layers.size(); ++i)
    labels["containerd.io/gc.ref.content.l." + std::to_string(i)] = resolved->layers[i].digest;
  if (auto failed = write_blob(resolved->manifest.digest, resolved->manifest.size, labels,
                               lease.id(), from_memory(resolved->manifest_json)))
    return failed;
  if (resolved->target.digest != resolved->manifest.digest) {
    // Only this platform's manifest is kept: the index names it for the collector.
    std::map<std::string, std::string> index_labels{
        {"containerd.io/gc.ref.content.m.0", resolved->manifest.digest}};
    if (auto failed = write_blob(resolved->target.digest, resolved->target.size, index_labels,
                                 lease.id(), from_memory(resolved->target_json)))
      return failed;
  }
  return create_image(name, resolved->target, lease.id());
}

caf::error image_store::write_blob(const std::string& digest, int64_t size,
                                   const std::map<std::string, std::string>& labels,
                                   const std::string& lease, const blob_source& source) {
  auto ctx = client_.context(apply_timeout, lease);
  auto stream = client_.content().Write(ctx.get());
  api::content::WriteContentRequest req;
  // First a status request naming the digest: containerd then answers
  // AlreadyExists for a blob it holds, and adds that blob to the lease, so the
  // garbage collector cannot take it before the image names it.
  req.set_action(::containerd::services::content::v1::STAT);
  // A ref of its own: containerd locks a ref, and two images sharing a blob
  // may be written at once (the second to commit finds it there).
  req.set_ref("tutti-import-" + digest + "-" + unique_part());
  req.set_total(size);
  req.set_expected(digest);
  api::content::WriteContentResponse stat;
  if (!stream->Write(req) || !stream->Read(&stat)) {
    auto status = stream->Finish();
    if (status.error_code() == grpc::StatusCode::ALREADY_EXISTS)
      return {};
    return client_.check(status, "cannot write blob " + digest);
  }
  req.set_action(::containerd::services::content::v1::WRITE);
  int64_t offset = 0;
  std::string buffer;
  bool refused = false; // containerd ended the stream: its status says why
  auto flush = [&](bool commit) {
    req.set_offset(offset);
    req.set_data(buffer);
    if (commit) {
      req.set_action(::containerd::services::content::v1::COMMIT);
      for (const auto& [k, v] : labels)
        (*req.mutable_labels())[k] = v;
    }
    api::content::WriteContentResponse resp;
    if (!stream->Write(req) || !stream->Read(&resp)) {
      refused = true;
      return false;
    }
    offset += static_cast<int64_t>(buffer.size());
    buffer.clear();
    return true;
  };
  auto read = source([&](const char* data, size_t n) {
    buffer.append(data, n);
    return buffer.size() < write_chunk || flush(false);
  });
  bool committed = !read && flush(true);
  stream->WritesDone();
  // Finish waits for every message to be read, and containerd sends its last
  // status once more as it ends the call.
  api::content::WriteContentResponse rest;
  while (stream->Read(&rest)) {
  }
  auto status = stream->Finish();
  if (status.error_code() == grpc::StatusCode::ALREADY_EXISTS)
    return {};
  if (read && !refused)
    return read; // the source's own failure
  if (auto err = client_.check(status, "cannot write blob " + digest))
    return err;
  if (read)
    return read;
  if (!committed)
    return make_error(error_code::driver_failure,
                      "cannot write blob " + digest + ": containerd closed the stream");
  return {};
}

// ----- unpack ----------------------------------------------------------------------

caf::expected<std::string> image_store::read_blob(const std::string& digest, size_t max_bytes) {
  api::content::ReadContentRequest req;
  req.set_digest(digest);
  auto ctx = client_.context(call_timeout_);
  auto reader = client_.content().Read(ctx.get(), req);
  std::string out;
  api::content::ReadContentResponse chunk;
  while (reader->Read(&chunk)) {
    if (out.size() + chunk.data().size() > max_bytes) {
      ctx->TryCancel();
      (void)reader->Finish();
      return make_error(error_code::invalid_argument, "blob " + digest + " is larger than " +
                                                          std::to_string(max_bytes) +
                                                          " bytes: not a manifest or config");
    }
    out += chunk.data();
  }
  if (auto err = client_.check(reader->Finish(), "cannot read blob " + digest))
    return err;
  return out;
}

caf::expected<image_store::manifest_info> image_store::read_manifest(const std::string& name) {
  api::images::GetImageRequest req;
  req.set_name(name);
  api::images::GetImageResponse resp;
  auto ctx = client_.context(call_timeout_);
  if (auto err = client_.check(client_.images().Get(ctx.get(), req, &resp), "image " + name))
    return err;
  auto media_type = resp.image().target().media_type();
  auto digest = resp.image().target().digest();
  for (int depth = 0; depth < 2; ++depth) {
    auto blob = read_blob(digest, max_json_blob);
    if (!blob)
      return std::move(blob.error());
    auto doc = json::parse(*blob, nullptr, false);
    if (doc.is_discarded() || !doc.is_object())
      return make_error(error_code::invalid_argument,
                        "image " + name + ": manifest " + digest + " is not a JSON object");
    if (is_index(media_type) || member(doc, "manifests")) {
      auto picked = pick_platform(doc);
      if (!picked)
        return make_error(error_code::invalid_argument,
                          "image " + name + " has no manifest for linux/amd64");
      media_type = text(*picked, "mediaType");
      digest = text(*picked, "digest");
      continue;
    }
    manifest_info out;
    if (auto* config = member(doc, "config"))
      out.config_digest = text(*config, "digest");
    if (auto* layers = member(doc, "layers"); layers && layers->is_array())
      for (const auto& l : *layers) {
        auto* size = member(l, "size");
        out.layers.push_back({text(l, "mediaType"), text(l, "digest"),
                              size && size->is_number_integer() ? size->get<int64_t>() : 0});
      }
    if (out.config_digest.empty())
      return make_error(error_code::invalid_argument,
                        "image " + name + ": manifest " + digest + " names no config");
    return out;
  }
  return make_error(error_code::invalid_argument,
                    "image " + name + ": an index nested in an index is not supported yet");
}

caf::expected<unpacked_image> image_store::prepare(const std::string& image,
                                                   const std::string& archive) {
  auto name = full_image_name(image);
  std::lock_guard<std::mutex> one_at_a_time{lock_of(name)};
  {
    std::lock_guard<std::mutex> guard{mutex_};
    if (auto i = unpacked_.find(name); i != unpacked_.end())
      return i->second;
  }
  auto result = unpack(name);
  if (!result && protocol::code_of(result.error()) == error_code::not_found) {
    if (auto failed = archive.empty() ? pull_for(name) : import_for(name, archive))
      return failed;
    result = unpack(name);
  }
  if (!result)
    return result;
  std::lock_guard<std::mutex> guard{mutex_};
  unpacked_[name] = *result;
  return result;
}

caf::error image_store::import_for(const std::string& name, const std::string& archive) {
  auto imported = import_archive(archive);
  if (!imported)
    return std::move(imported.error());
  if (std::find(imported->begin(), imported->end(), name) == imported->end())
    return make_error(error_code::invalid_argument,
                      "image archive " + archive + " does not hold image " + name);
  return {};
}

caf::error image_store::pull_for(const std::string& name) {
  auto failed = pull(name);
  if (!failed)
    return {};
  return make_error(error_code::driver_failure,
                    "image " + name + " is not in containerd (namespace " + client_.name_space() +
                        ") and pulling it failed: " + protocol::message_of(failed));
}

caf::expected<unpacked_image> image_store::unpack(const std::string& name) {
  auto manifest = read_manifest(name);
  if (!manifest)
    return std::move(manifest.error());
  auto config_blob = read_blob(manifest->config_digest, max_json_blob);
  if (!config_blob)
    return std::move(config_blob.error());
  auto config = parse_image_config(*config_blob);
  if (!config)
    return make_error(error_code::invalid_argument,
                      "image " + name + ": " + protocol::message_of(config.error()));
  if (config->diff_ids.size() != manifest->layers.size())
    return make_error(error_code::invalid_argument, "image " + name + ": its config lists " +
                                                        std::to_string(config->diff_ids.size()) +
                                                        " layers, its manifest " +
                                                        std::to_string(manifest->layers.size()));
  caf::error err;
  scoped_lease lease{client_, err};
  if (err)
    return err;
  std::string parent;
  for (size_t i = 0; i < manifest->layers.size(); ++i) {
    const auto& layer = manifest->layers[i];
    auto chain = chain_id(parent, config->diff_ids[i]);
    if (auto failed = apply_layer(chain, parent, layer.media_type, layer.digest, layer.size,
                                  config->diff_ids[i], lease.id()))
      return make_error(protocol::code_of(failed) == error_code::not_found
                            ? error_code::driver_failure
                            : protocol::code_of(failed),
                        "cannot unpack image " + name + ": " + protocol::message_of(failed));
    parent = chain;
  }
  if (auto failed = label_config(manifest->config_digest, parent))
    return failed;
  return unpacked_image{name, parent, std::move(*config)};
}

caf::error image_store::apply_layer(const std::string& chain, const std::string& parent,
                                    const std::string& media_type, const std::string& digest,
                                    int64_t size, const std::string& diff_id,
                                    const std::string& lease) {
  {
    api::snapshots::StatSnapshotRequest req;
    req.set_snapshotter(snapshotter_);
    req.set_key(chain);
    api::snapshots::StatSnapshotResponse resp;
    auto ctx = client_.context(call_timeout_, lease);
    if (client_.snapshots().Stat(ctx.get(), req, &resp).ok())
      return lease_snapshot(chain, lease); // unpacked before: kept until the image names it
  }
  auto key = "extract-" + unique_part() + " " + chain;
  api::snapshots::PrepareSnapshotRequest prepare;
  prepare.set_snapshotter(snapshotter_);
  prepare.set_key(key);
  prepare.set_parent(parent);
  (*prepare.mutable_labels())["containerd.io/snapshot.ref"] = chain;
  api::snapshots::PrepareSnapshotResponse prepared;
  auto pctx = client_.context(call_timeout_, lease);
  if (auto err = client_.check(client_.snapshots().Prepare(pctx.get(), prepare, &prepared),
                               "cannot prepare a snapshot for layer " + digest))
    return err;
  auto remove_key = [&] {
    api::snapshots::RemoveSnapshotRequest req;
    req.set_snapshotter(snapshotter_);
    req.set_key(key);
    google::protobuf::Empty resp;
    auto ctx = client_.context(call_timeout_, lease);
    (void)client_.snapshots().Remove(ctx.get(), req, &resp);
  };
  api::diff::ApplyRequest apply;
  apply.mutable_diff()->set_media_type(media_type);
  apply.mutable_diff()->set_digest(digest);
  apply.mutable_diff()->set_size(size);
  *apply.mutable_mounts() = prepared.mounts();
  api::diff::ApplyResponse applied;
  auto actx = client_.context(apply_timeout, lease);
  if (auto err = client_.check(client_.diff().Apply(actx.get(), apply, &applied),
                               "cannot apply layer " + digest)) {
    remove_key();
    return err;
  }
  if (applied.applied().digest() != diff_id) {
    remove_key();
    return make_error(error_code::invalid_argument,
                      "layer " + digest + " unpacks to " + applied.applied().digest() +
                          ", not to the diff id its config names (" + diff_id + ")");
  }
  api::snapshots::CommitSnapshotRequest commit;
  commit.set_snapshotter(snapshotter_);
  commit.set_name(chain);
  commit.set_key(key);
  (*commit.mutable_labels())["containerd.io/snapshot.ref"] = chain;
  google::protobuf::Empty done;
  auto cctx = client_.context(call_timeout_, lease);
  auto status = client_.snapshots().Commit(cctx.get(), commit, &done);
  if (status.error_code() == grpc::StatusCode::ALREADY_EXISTS) {
    remove_key(); // unpacked meanwhile by someone else
    return {};
  }
  if (auto err = client_.check(status, "cannot commit the snapshot of layer " + digest)) {
    remove_key();
    return err;
  }
  return {};
}

caf::error image_store::lease_snapshot(const std::string& chain, const std::string& lease) {
  api::leases::AddResourceRequest req;
  req.set_id(lease);
  req.mutable_resource()->set_id(chain);
  req.mutable_resource()->set_type("snapshots/" + snapshotter_);
  google::protobuf::Empty resp;
  auto ctx = client_.context(call_timeout_);
  return client_.check(client_.leases().AddResource(ctx.get(), req, &resp),
                       "cannot lease snapshot " + chain);
}

caf::error image_store::label_config(const std::string& config_digest, const std::string& chain) {
  // The image keeps its snapshots from the garbage collector through its config.
  auto label = "containerd.io/gc.ref.snapshot." + snapshotter_;
  api::content::UpdateRequest req;
  req.mutable_info()->set_digest(config_digest);
  (*req.mutable_info()->mutable_labels())[label] = chain;
  req.mutable_update_mask()->add_paths("labels." + label);
  api::content::UpdateResponse resp;
  auto ctx = client_.context(call_timeout_);
  return client_.check(client_.content().Update(ctx.get(), req, &resp),
                       "cannot label the config of the image with its snapshot");
}

} // namespace tutti::runtime_drivers::containerd
