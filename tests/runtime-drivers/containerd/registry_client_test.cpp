// The registry client against a private docker-registry (distribution 2.8)
// that the binary starts once (a gtest Environment): an image pushed from the
// busybox OCI archive is resolved by tag and by digest, its blobs fetched and
// compared with the archive's; an index with linux/amd64 and arm64 entries;
// missing tags, repositories and blobs; a registry that is not there.

#include "runtime-drivers/containerd/registry_client.hpp"

#include "protocol/errors.hpp"
#include "tests/support/net.hpp"
#include "tools/harness/oci_archive.hpp"
#include "tests/support/registry_environment.hpp"
#include "tools/harness/tar_writer.hpp"
#include "tests/support/temp_dir.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <thread>

namespace tutti::runtime_drivers::containerd {
namespace {

using nlohmann::json;
using protocol::code_of;
using protocol::error_code;
using protocol::message_of;
namespace s = tutti::tests::support;

[[maybe_unused]] auto* const registry_env =
    ::testing::AddGlobalTestEnvironment(new s::registry_environment);

constexpr const char* repository = "tutti/busybox";
constexpr const char* oci_manifest = "application/vnd.oci.image.manifest.v1+json";
constexpr const char* oci_index = "application/vnd.oci.image.index.v1+json";

/// The archive pushed once for the binary, and what it holds.
struct pushed_image {
  std::unique_ptr<s::temp_dir> dir;
  std::unique_ptr<image_archive> archive;
  archived_image image;
  std::string manifest_json;
  std::string why; // set when pushing failed
};

std::string archive_bytes(const image_archive& archive, const std::string& digest) {
  std::string out;
  auto err = archive.read_blob(digest, [&](const char* data, size_t size) {
    out.append(data, size);
    return true;
  });
  EXPECT_FALSE(err) << message_of(err);
  return out;
}

pushed_image& pushed(s::private_registry& registry) {
  static pushed_image p = [&] {
    pushed_image out;
    out.dir = std::make_unique<s::temp_dir>("tutti-registry-test-");
    auto path = out.dir->file("busybox.tar");
    out.why = harness::write_busybox_oci_archive(path, "docker.io/tutti/busybox:1", {"sh", "echo"});
    if (out.why.empty())
      out.why = registry.push_archive(path, repository, "1");
    if (!out.why.empty())
      return out;
    auto archive = image_archive::open(path);
    if (!archive) {
      out.why = message_of(archive.error());
      return out;
    }
    out.archive = std::move(*archive);
    out.image = out.archive->images().front();
    out.manifest_json = archive_bytes(*out.archive, out.image.manifest.digest);
    return out;
  }();
  return p;
}

class registry_client_test : public ::testing::Test {
protected:
  void SetUp() override {
    TUTTI_REQUIRE_REGISTRY(registry_);
    image_ = &pushed(*registry_);
    ASSERT_TRUE(image_->why.empty()) << image_->why << "\nregistry log:\n" << registry_->log();
  }

  std::string name(const std::string& rest) const { return registry_->host() + "/" + rest; }

  void expect_busybox(const resolved_image& r) const {
    EXPECT_EQ(r.manifest.digest, image_->image.manifest.digest);
    EXPECT_EQ(r.manifest.size, image_->image.manifest.size);
    EXPECT_EQ(r.manifest.media_type, oci_manifest);
    EXPECT_EQ(r.manifest_json, image_->manifest_json);
    EXPECT_EQ(harness::sha256_digest(r.manifest_json), r.manifest.digest);
    EXPECT_EQ(r.config.digest, image_->image.config.digest);
    EXPECT_EQ(r.config.size, image_->image.config.size);
    EXPECT_EQ(r.config.media_type, image_->image.config.media_type);
    ASSERT_EQ(r.layers.size(), image_->image.layers.size());
    for (size_t i = 0; i < r.layers.size(); ++i) {
      EXPECT_EQ(r.layers[i].digest, image_->image.layers[i].digest);
      EXPECT_EQ(r.layers[i].size, image_->image.layers[i].size);
      EXPECT_EQ(r.layers[i].media_type, image_->image.layers[i].media_type);
    }
  }

  /// Pushes the busybox manifest with an annotation (another digest: the
  /// "arm64" image) and an index listing `entries`; returns the index bytes.
  std::string push_index(const std::string& tag, const json& entries) {
    auto index =
        json{{"schemaVersion", 2}, {"mediaType", oci_index}, {"manifests", entries}}.dump();
    auto why = registry_->push_manifest(repository, tag, oci_index, index);
    EXPECT_TRUE(why.empty()) << why;
    return index;
  }

  /// A manifest like busybox's but with another digest, pushed by digest.
  json arm64_entry() {
    auto manifest = json::parse(image_->manifest_json);
    manifest["annotations"] = {{"org.example.platform", "pretend arm64"}};
    auto bytes = manifest.dump();
    auto digest = harness::sha256_digest(bytes);
    auto why = registry_->push_manifest(repository, digest, oci_manifest, bytes);
    EXPECT_TRUE(why.empty()) << why;
    return {{"mediaType", oci_manifest},
            {"digest", digest},
            {"size", bytes.size()},
            {"platform", {{"os", "linux"}, {"architecture", "arm64"}, {"variant", "v8"}}}};
  }

  json amd64_entry() const {
    return {{"mediaType", oci_manifest},
            {"digest", image_->image.manifest.digest},
            {"size", image_->image.manifest.size},
            {"platform", {{"os", "linux"}, {"architecture", "amd64"}}}};
  }

  s::private_registry* registry_ = nullptr;
  pushed_image* image_ = nullptr;
  registry_client client_;
};

TEST_F(registry_client_test, resolves_a_pushed_tag_to_its_manifest) {
  auto r = client_.resolve(name("tutti/busybox:1"));
  ASSERT_TRUE(r) << message_of(r.error());
  expect_busybox(*r);
  // A manifest is its own target.
  EXPECT_EQ(r->target.digest, r->manifest.digest);
  EXPECT_EQ(r->target.media_type, oci_manifest);
  EXPECT_EQ(r->target_json, r->manifest_json);
}

TEST_F(registry_client_test, resolves_by_digest) {
  auto r = client_.resolve(name("tutti/busybox@" + image_->image.manifest.digest));
  ASSERT_TRUE(r) << message_of(r.error());
  expect_busybox(*r);
  r = client_.resolve(name("tutti/busybox:1@" + image_->image.manifest.digest));
  ASSERT_TRUE(r) << message_of(r.error());
  expect_busybox(*r);
}

TEST_F(registry_client_test, fetches_every_blob_as_the_archive_has_it) {
  auto r = client_.resolve(name("tutti/busybox:1"));
  ASSERT_TRUE(r) << message_of(r.error());
  std::vector<descriptor> blobs{r->config};
  blobs.insert(blobs.end(), r->layers.begin(), r->layers.end());
  for (const auto& blob : blobs) {
    std::string bytes;
    size_t chunks = 0;
    auto err = client_.fetch_blob(name("tutti/busybox:1"), blob, [&](const char* data, size_t n) {
      bytes.append(data, n);
      ++chunks;
      return true;
    });
    ASSERT_FALSE(err) << message_of(err);
    EXPECT_EQ(bytes, archive_bytes(*image_->archive, blob.digest)) << blob.digest;
    EXPECT_GE(chunks, 1u);
  }
}

TEST_F(registry_client_test, a_sink_that_refuses_stops_the_download) {
  auto layer = image_->image.layers.front();
  auto err =
      client_.fetch_blob(name("tutti/busybox:1"), layer, [](const char*, size_t) { return false; });
  ASSERT_TRUE(err);
  EXPECT_EQ(code_of(err), error_code::driver_failure);
  EXPECT_NE(message_of(err).find(layer.digest), std::string::npos) << message_of(err);
}

TEST_F(registry_client_test, a_blob_of_another_size_than_its_descriptor_is_refused) {
  auto layer = image_->image.layers.front();
  layer.size -= 1;
  auto err =
      client_.fetch_blob(name("tutti/busybox:1"), layer, [](const char*, size_t) { return true; });
  ASSERT_TRUE(err);
  EXPECT_EQ(code_of(err), error_code::invalid_argument);
  EXPECT_NE(message_of(err).find(layer.digest), std::string::npos) << message_of(err);
}

TEST_F(registry_client_test, an_unknown_tag_is_not_found_naming_it) {
  auto r = client_.resolve(name("tutti/busybox:no-such-tag"));
  ASSERT_FALSE(r);
  EXPECT_EQ(code_of(r.error()), error_code::not_found) << message_of(r.error());
  EXPECT_NE(message_of(r.error()).find("no-such-tag"), std::string::npos) << message_of(r.error());
  EXPECT_NE(message_of(r.error()).find(registry_->host()), std::string::npos);
}

TEST_F(registry_client_test, an_unknown_repository_is_not_found_naming_it) {
  auto r = client_.resolve(name("tutti/no-such-repository:1"));
  ASSERT_FALSE(r);
  EXPECT_EQ(code_of(r.error()), error_code::not_found) << message_of(r.error());
  EXPECT_NE(message_of(r.error()).find("tutti/no-such-repository"), std::string::npos)
      << message_of(r.error());
}

TEST_F(registry_client_test, an_unknown_blob_is_not_found) {
  descriptor missing{"application/octet-stream", harness::sha256_digest("nothing like it"), 15};
  auto err = client_.fetch_blob(name("tutti/busybox:1"), missing,
                                [](const char*, size_t) { return true; });
  ASSERT_TRUE(err);
  EXPECT_EQ(code_of(err), error_code::not_found) << message_of(err);
  EXPECT_NE(message_of(err).find(missing.digest), std::string::npos) << message_of(err);
}

TEST_F(registry_client_test, a_registry_that_is_not_there_is_a_driver_failure_naming_it) {
  auto host = "127.0.0.1:" + std::to_string(s::free_port());
  auto r = client_.resolve(host + "/tutti/busybox:1");
  ASSERT_FALSE(r);
  EXPECT_EQ(code_of(r.error()), error_code::driver_failure);
  EXPECT_NE(message_of(r.error()).find("cannot reach registry " + host), std::string::npos)
      << message_of(r.error());
  auto err = client_.fetch_blob(host + "/tutti/busybox:1", image_->image.layers.front(),
                                [](const char*, size_t) { return true; });
  ASSERT_TRUE(err);
  EXPECT_EQ(code_of(err), error_code::driver_failure);
  EXPECT_NE(message_of(err).find(host), std::string::npos) << message_of(err);
}

TEST_F(registry_client_test, an_index_resolves_to_its_linux_amd64_manifest) {
  auto index = push_index("multi", json::array({arm64_entry(), amd64_entry()}));
  auto r = client_.resolve(name("tutti/busybox:multi"));
  ASSERT_TRUE(r) << message_of(r.error()) << "\n" << registry_->log();
  EXPECT_EQ(r->target.media_type, oci_index);
  EXPECT_EQ(r->target.digest, harness::sha256_digest(index));
  EXPECT_EQ(r->target.size, static_cast<int64_t>(index.size()));
  EXPECT_EQ(r->target_json, index);
  expect_busybox(*r);
  // And by the index's digest.
  r = client_.resolve(name("tutti/busybox@" + harness::sha256_digest(index)));
  ASSERT_TRUE(r) << message_of(r.error());
  expect_busybox(*r);
}

TEST_F(registry_client_test, an_index_without_linux_amd64_is_invalid) {
  push_index("arm-only", json::array({arm64_entry()}));
  auto r = client_.resolve(name("tutti/busybox:arm-only"));
  ASSERT_FALSE(r);
  EXPECT_EQ(code_of(r.error()), error_code::invalid_argument);
  EXPECT_NE(message_of(r.error()).find("linux/arm64/v8"), std::string::npos)
      << message_of(r.error());
}

TEST_F(registry_client_test, threads_share_one_client) {
  std::vector<std::thread> threads;
  std::vector<std::string> failures(4);
  for (size_t i = 0; i < failures.size(); ++i)
    threads.emplace_back([&, i] {
      auto r = client_.resolve(name("tutti/busybox:1"));
      if (!r) {
        failures[i] = message_of(r.error());
        return;
      }
      size_t bytes = 0;
      auto err = client_.fetch_blob(name("tutti/busybox:1"), r->layers.front(),
                                    [&](const char*, size_t n) {
                                      bytes += n;
                                      return true;
                                    });
      if (err)
        failures[i] = message_of(err);
    });
  for (auto& t : threads)
    t.join();
  for (const auto& f : failures)
    EXPECT_EQ(f, "");
}

} // namespace
} // namespace tutti::runtime_drivers::containerd
