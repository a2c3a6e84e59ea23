// The image archive reader against archives as `ctr export` / the OCI layout
// and `docker save` (20.10) write them, and against broken and hostile ones:
// every digest it states is checked against the bytes it streams.

#include "runtime-drivers/containerd/image_archive.hpp"

#include "protocol/errors.hpp"
#include "tools/harness/oci_archive.hpp"
#include "tools/harness/tar_writer.hpp"
#include "tests/support/temp_dir.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <filesystem>

namespace tutti::runtime_drivers::containerd {
namespace {

using harness::sha256_digest;
using harness::tar_writer;
using nlohmann::json;
using protocol::code_of;
using protocol::error_code;
using protocol::message_of;
using tests::support::temp_dir;

constexpr const char* oci_manifest = "application/vnd.oci.image.manifest.v1+json";
constexpr const char* oci_index = "application/vnd.oci.image.index.v1+json";

/// Every byte of a blob, checking the chunks are no bigger than promised.
std::string read_all(const image_archive& archive, const std::string& digest) {
  std::string out;
  auto err = archive.read_blob(digest, [&](const char* data, size_t size) {
    EXPECT_LE(size, size_t{1} << 20);
    out.append(data, size);
    return true;
  });
  EXPECT_FALSE(err) << message_of(err);
  return out;
}

/// The blob's bytes after checking they are what its descriptor says.
std::string checked_blob(const image_archive& archive, const descriptor& d) {
  auto bytes = read_all(archive, d.digest);
  EXPECT_EQ(sha256_digest(bytes), d.digest) << d.media_type;
  EXPECT_EQ(static_cast<int64_t>(bytes.size()), d.size) << d.media_type;
  return bytes;
}

json descriptor_json(const char* media_type, const std::string& bytes) {
  return {{"mediaType", media_type},
          {"digest", sha256_digest(bytes)},
          {"size", static_cast<int64_t>(bytes.size())}};
}

/// An OCI layout being written: blobs first, index.json at the end.
struct oci_layout {
  tar_writer tar;

  json add_blob(const char* media_type, const std::string& bytes) {
    tar.add_file("blobs/sha256/" + sha256_digest(bytes).substr(7), bytes);
    return descriptor_json(media_type, bytes);
  }

  /// A manifest of a config and one layer, its blobs added.
  json add_image(const std::string& tag) {
    auto config = add_blob("application/vnd.oci.image.config.v1+json", R"({"tag":")" + tag + "\"}");
    auto layer = add_blob("application/vnd.oci.image.layer.v1.tar", "layer of " + tag);
    json manifest{{"schemaVersion", 2}, {"config", config}, {"layers", json::array({layer})}};
    return add_blob(oci_manifest, manifest.dump());
  }

  std::string finish(const std::vector<json>& manifests) {
    tar.add_file("oci-layout", R"({"imageLayoutVersion":"1.0.0"})");
    json index{{"schemaVersion", 2}, {"manifests", json(manifests)}};
    tar.add_file("index.json", index.dump());
    return tar.finish();
  }
};

json platform(const char* architecture) {
  return {{"os", "linux"}, {"architecture", architecture}};
}

json named(json d, const std::string& name) {
  d["annotations"] = {{"io.containerd.image.name", name}};
  return d;
}

class image_archive_test : public ::testing::Test {
protected:
  caf::expected<std::unique_ptr<image_archive>> open(const std::string& bytes) {
    return image_archive::open(dir_.write("image.tar", bytes));
  }

  /// The error opening `bytes` gives; fails the test when it opens.
  caf::error open_error(const std::string& bytes) {
    auto archive = open(bytes);
    EXPECT_FALSE(archive) << "opened";
    return archive ? caf::error{} : archive.error();
  }

  std::string path() const { return dir_.file("image.tar"); }

  temp_dir dir_{"tutti-archive-"};
};

// ----- OCI layout --------------------------------------------------------------

TEST_F(image_archive_test, reads_the_busybox_oci_archive_of_the_test_support) {
  if (!std::filesystem::exists("/bin/busybox"))
    GTEST_SKIP() << "no /bin/busybox (Debian's busybox-static)";
  auto err =
      harness::write_busybox_oci_archive(path(), "docker.io/tutti/busybox:1", {"sh", "echo"});
  ASSERT_EQ(err, "");
  auto archive = image_archive::open(path());
  ASSERT_TRUE(archive) << message_of(archive.error());
  ASSERT_EQ((*archive)->images().size(), 1u);
  const auto& image = (*archive)->images()[0];
  EXPECT_EQ(image.names, std::vector<std::string>{"docker.io/tutti/busybox:1"});
  EXPECT_EQ(image.manifest.media_type, oci_manifest);
  EXPECT_EQ(image.config.media_type, "application/vnd.oci.image.config.v1+json");
  ASSERT_EQ(image.layers.size(), 1u);
  EXPECT_EQ(image.layers[0].media_type, "application/vnd.oci.image.layer.v1.tar");
  EXPECT_GT(image.layers[0].size, 1 << 20) << "busybox is in it, read in several chunks";
  auto blobs = (*archive)->blobs(image);
  ASSERT_EQ(blobs.size(), 3u);
  EXPECT_EQ(blobs[0].digest, image.manifest.digest);
  EXPECT_EQ(blobs[1].digest, image.config.digest);
  EXPECT_EQ(blobs[2].digest, image.layers[0].digest);
  for (const auto& blob : blobs)
    checked_blob(**archive, blob);
  auto config = json::parse(checked_blob(**archive, image.config));
  EXPECT_EQ(config["rootfs"]["diff_ids"][0], image.layers[0].digest) << "uncompressed layer";
  EXPECT_EQ(config["config"]["Cmd"], json({"sh"}));
  EXPECT_EQ((*archive)->path(), path());
}

TEST_F(image_archive_test, merges_the_names_of_one_manifest_as_ctr_export_lists_them) {
  oci_layout oci;
  auto manifest = oci.add_image("1");
  auto second = named(manifest, "localhost:5000/x/bb:2");
  second["annotations"]["org.opencontainers.image.ref.name"] = "2";
  auto third = manifest;
  third["annotations"] = {{"org.opencontainers.image.ref.name", "quay.io/y/z:3"}};
  auto tag_only = manifest;
  tag_only["annotations"] = {{"org.opencontainers.image.ref.name", "4"}};
  auto archive =
      open(oci.finish({named(manifest, "docker.io/tutti/busybox:1"), second, third, tag_only}));
  ASSERT_TRUE(archive) << message_of(archive.error());
  ASSERT_EQ((*archive)->images().size(), 1u);
  EXPECT_EQ((*archive)->images()[0].names,
            (std::vector<std::string>{"docker.io/tutti/busybox:1", "localhost:5000/x/bb:2",
                                      "quay.io/y/z:3"}))
      << "a ref.name that is only a tag names nothing";
}

TEST_F(image_archive_test, picks_linux_amd64_from_a_nested_index) {
  oci_layout oci;
  auto arm = oci.add_image("arm64");
  arm["platform"] = platform("arm64");
  auto amd = oci.add_image("amd64");
  amd["platform"] = platform("amd64");
  auto index =
      oci.add_blob(oci_index, json{{"schemaVersion", 2}, {"manifests", {arm, amd}}}.dump());
  auto archive = open(oci.finish({named(index, "busybox:1")}));
  ASSERT_TRUE(archive) << message_of(archive.error());
  ASSERT_EQ((*archive)->images().size(), 1u);
  const auto& image = (*archive)->images()[0];
  EXPECT_EQ(image.names, std::vector<std::string>{"docker.io/library/busybox:1"});
  EXPECT_EQ(image.manifest.digest, amd["digest"]);
  EXPECT_EQ(checked_blob(**archive, image.config), R"({"tag":"amd64"})");
  EXPECT_EQ(checked_blob(**archive, image.layers[0]), "layer of amd64");
}

TEST_F(image_archive_test, takes_a_descriptor_without_platform_as_linux_amd64) {
  oci_layout oci;
  auto plain = oci.add_image("plain");
  auto index = oci.add_blob("application/vnd.docker.distribution.manifest.list.v2+json",
                            json{{"schemaVersion", 2}, {"manifests", json::array({plain})}}.dump());
  auto archive = open(oci.finish({index}));
  ASSERT_TRUE(archive) << message_of(archive.error());
  ASSERT_EQ((*archive)->images().size(), 1u);
  EXPECT_TRUE((*archive)->images()[0].names.empty());
  EXPECT_EQ((*archive)->images()[0].manifest.digest, plain["digest"]);
}

TEST_F(image_archive_test, refuses_an_index_without_linux_amd64) {
  oci_layout oci;
  auto arm = oci.add_image("arm64");
  arm["platform"] = platform("arm64");
  auto index =
      oci.add_blob(oci_index, json{{"schemaVersion", 2}, {"manifests", json::array({arm})}}.dump());
  auto err = open_error(oci.finish({index}));
  EXPECT_EQ(code_of(err), error_code::invalid_argument);
  EXPECT_NE(message_of(err).find("no linux/amd64 manifest"), std::string::npos) << message_of(err);
  EXPECT_NE(message_of(err).find(path()), std::string::npos) << message_of(err);
}

TEST_F(image_archive_test, refuses_a_missing_manifest_blob) {
  oci_layout oci;
  auto manifest = descriptor_json(oci_manifest, "a manifest not in the tar");
  auto err = open_error(oci.finish({manifest}));
  EXPECT_EQ(code_of(err), error_code::invalid_argument);
  EXPECT_NE(message_of(err).find("lacks blob " + manifest["digest"].get<std::string>()),
            std::string::npos)
      << message_of(err);
}

TEST_F(image_archive_test, refuses_a_blob_of_another_size_than_stated) {
  oci_layout oci;
  auto manifest = oci.add_image("1");
  manifest["size"] = manifest["size"].get<int64_t>() + 1;
  auto err = open_error(oci.finish({manifest}));
  EXPECT_NE(message_of(err).find("where its descriptor says"), std::string::npos)
      << message_of(err);
}

TEST_F(image_archive_test, refuses_a_digest_that_is_not_sha256_hex) {
  oci_layout oci;
  oci.tar.add_file("etc/passwd", "root");
  json manifest{{"mediaType", oci_manifest}, {"digest", "sha256:../../etc/passwd"}, {"size", 4}};
  auto err = open_error(oci.finish({manifest}));
  EXPECT_EQ(code_of(err), error_code::invalid_argument);
  EXPECT_NE(message_of(err).find("is not sha256:<64 lowercase hex>"), std::string::npos)
      << message_of(err);
}

TEST_F(image_archive_test, refuses_json_of_the_wrong_shape_naming_what_is_wrong) {
  oci_layout oci;
  auto config = oci.add_blob("application/vnd.oci.image.config.v1+json", "{}");
  auto bad_layers = oci.add_blob(oci_manifest, json{{"config", config}, {"layers", "none"}}.dump());
  auto err = open_error(oci.finish({bad_layers}));
  EXPECT_NE(message_of(err).find("without a layers list"), std::string::npos) << message_of(err);

  tar_writer tar;
  tar.add_file("index.json", R"({"manifests": {"not": "a list"}})");
  err = open_error(tar.finish());
  EXPECT_NE(message_of(err).find("index.json without a manifests list"), std::string::npos)
      << message_of(err);

  tar_writer broken;
  broken.add_file("index.json", "{not json");
  err = open_error(broken.finish());
  EXPECT_NE(message_of(err).find("has index.json, which is not JSON"), std::string::npos)
      << message_of(err);
}

// ----- docker save -------------------------------------------------------------

TEST_F(image_archive_test, converts_docker_save_to_a_schema_2_manifest) {
  tar_writer layer_tar;
  layer_tar.add_file("hello", "hello\n");
  auto layer = layer_tar.finish();
  auto gzip_layer = std::string{"\x1f\x8b\x08\x00", 4} + "not really deflate";
  auto config = R"({"architecture":"amd64","os":"linux","config":{"Cmd":["sh"]}})";
  json manifest =
      json::array({{{"Config", "abc.json"},
                    {"RepoTags", {"busybox:1", "reg.example:5000/x/y:2"}},
                    {"Layers", {"l1/layer.tar", "l2/layer.tar"}}},
                   {{"Config", "abc.json"}, {"RepoTags", nullptr}, {"Layers", {"l3/layer.tar"}}}});
  tar_writer tar;
  tar.add_file("abc.json", config);
  tar.add_directory("l1");
  tar.add_file("l1/layer.tar", layer);
  tar.add_file("l2/layer.tar", gzip_layer);
  tar.add_symlink("l3/layer.tar", "../l1/layer.tar"); // how docker save shares a layer
  tar.add_file("manifest.json", manifest.dump());
  tar.add_file("repositories", "{}");
  auto archive = open(tar.finish());
  ASSERT_TRUE(archive) << message_of(archive.error());
  ASSERT_EQ((*archive)->images().size(), 2u);

  const auto& image = (*archive)->images()[0];
  EXPECT_EQ(image.names,
            (std::vector<std::string>{"docker.io/library/busybox:1", "reg.example:5000/x/y:2"}));
  EXPECT_EQ(image.config.media_type, "application/vnd.docker.container.image.v1+json");
  EXPECT_EQ(image.config.digest, sha256_digest(config));
  ASSERT_EQ(image.layers.size(), 2u);
  EXPECT_EQ(image.layers[0].media_type, "application/vnd.docker.image.rootfs.diff.tar");
  EXPECT_EQ(image.layers[0].digest, sha256_digest(layer));
  EXPECT_EQ(image.layers[1].media_type, "application/vnd.docker.image.rootfs.diff.tar.gzip");
  EXPECT_EQ(image.layers[1].digest, sha256_digest(gzip_layer));
  for (const auto& blob : (*archive)->blobs(image))
    checked_blob(**archive, blob);

  EXPECT_EQ(image.manifest.media_type, "application/vnd.docker.distribution.manifest.v2+json");
  auto m = json::parse(checked_blob(**archive, image.manifest));
  EXPECT_EQ(m["schemaVersion"], 2);
  EXPECT_EQ(m["mediaType"], image.manifest.media_type);
  EXPECT_EQ(m["config"]["mediaType"], image.config.media_type);
  EXPECT_EQ(m["config"]["digest"], image.config.digest);
  EXPECT_EQ(m["config"]["size"], image.config.size);
  ASSERT_EQ(m["layers"].size(), 2u);
  EXPECT_EQ(m["layers"][1]["digest"], image.layers[1].digest);
  EXPECT_EQ(m["layers"][1]["mediaType"], image.layers[1].media_type);

  const auto& untagged = (*archive)->images()[1];
  EXPECT_TRUE(untagged.names.empty());
  ASSERT_EQ(untagged.layers.size(), 1u);
  EXPECT_EQ(untagged.layers[0].digest, sha256_digest(layer)) << "the link's target's bytes";
  EXPECT_NE(untagged.manifest.digest, image.manifest.digest);
  checked_blob(**archive, untagged.manifest);
}

TEST_F(image_archive_test, refuses_a_docker_save_naming_a_missing_layer) {
  tar_writer tar;
  tar.add_file("abc.json", "{}");
  tar.add_file("manifest.json", R"([{"Config":"abc.json","Layers":["gone/layer.tar"]}])");
  auto err = open_error(tar.finish());
  EXPECT_EQ(code_of(err), error_code::invalid_argument);
  EXPECT_NE(message_of(err).find("has no gone/layer.tar"), std::string::npos) << message_of(err);

  tar_writer no_config;
  no_config.add_file("manifest.json", R"([{"Layers":[]}])");
  err = open_error(no_config.finish());
  EXPECT_NE(message_of(err).find("entry 0 has no Config"), std::string::npos) << message_of(err);
}

// ----- files that are not image archives ------------------------------------

TEST_F(image_archive_test, says_a_missing_file_is_not_found) {
  auto archive = image_archive::open(dir_.file("nothing.tar"));
  ASSERT_FALSE(archive);
  EXPECT_EQ(code_of(archive.error()), error_code::not_found);
  EXPECT_NE(message_of(archive.error()).find("nothing.tar does not exist"), std::string::npos);
}

TEST_F(image_archive_test, refuses_what_is_not_a_tar) {
  std::string text;
  for (int i = 0; i < 100; ++i)
    text += "this is a text file, not a tar\n";
  auto err = open_error(text);
  EXPECT_EQ(code_of(err), error_code::invalid_argument);
  EXPECT_NE(message_of(err).find(path() + " is not a tar file"), std::string::npos)
      << message_of(err);
  EXPECT_NE(message_of(open_error("")).find("shorter than one 512-byte header"), std::string::npos);
  EXPECT_EQ(code_of(image_archive::open(dir_.str()).error()), error_code::invalid_argument)
      << "a directory";
}

TEST_F(image_archive_test, refuses_a_truncated_header) {
  tar_writer tar;
  tar.add_file("index.json", "{}");
  tar.add_file("oci-layout", "{}");
  auto err = open_error(tar.bytes().substr(0, 1024 + 100));
  EXPECT_NE(message_of(err).find("ends inside the tar header at offset 1024"), std::string::npos)
      << message_of(err);
}

TEST_F(image_archive_test, refuses_a_size_beyond_the_end_of_the_file) {
  tar_writer tar;
  tar.add_file("index.json", std::string(1 << 20, ' '));
  auto err = open_error(tar.bytes().substr(0, 4096));
  EXPECT_NE(message_of(err).find("1048576 bytes go past the end of the file"), std::string::npos)
      << message_of(err);
}

TEST_F(image_archive_test, refuses_an_archive_without_an_index) {
  tar_writer tar;
  tar.add_file("hello", "world");
  auto err = open_error(tar.finish());
  EXPECT_NE(message_of(err).find("neither a manifest.json"), std::string::npos) << message_of(err);
}

// ----- read_blob -----------------------------------------------------------------

TEST_F(image_archive_test, says_an_unknown_digest_is_not_found_and_stops_when_told) {
  oci_layout oci;
  auto manifest = oci.add_image("1");
  auto archive = open(oci.finish({manifest}));
  ASSERT_TRUE(archive) << message_of(archive.error());
  auto unknown = sha256_digest("unknown");
  auto err = (*archive)->read_blob(unknown, [](const char*, size_t) { return true; });
  EXPECT_EQ(code_of(err), error_code::not_found);
  EXPECT_NE(message_of(err).find(unknown), std::string::npos);
  err = (*archive)->read_blob(manifest["digest"], [](const char*, size_t) { return false; });
  EXPECT_TRUE(err);
  EXPECT_NE(message_of(err).find(manifest["digest"].get<std::string>()), std::string::npos);
}

// ----- names -------------------------------------------------------------------

TEST(image_archive_full_image_name, normalises_as_docker_does) {
  EXPECT_EQ(full_image_name("busybox"), "docker.io/library/busybox:latest");
  EXPECT_EQ(full_image_name("busybox:1"), "docker.io/library/busybox:1");
  EXPECT_EQ(full_image_name("x/y:1"), "docker.io/x/y:1");
  EXPECT_EQ(full_image_name("x/y/z"), "docker.io/x/y/z:latest");
  EXPECT_EQ(full_image_name("docker.io/busybox"), "docker.io/library/busybox:latest");
  EXPECT_EQ(full_image_name("index.docker.io/x/y:2"), "docker.io/x/y:2");
  EXPECT_EQ(full_image_name("reg.example:5000/x:1"), "reg.example:5000/x:1");
  EXPECT_EQ(full_image_name("reg.example:5000/x"), "reg.example:5000/x:latest");
  EXPECT_EQ(full_image_name("localhost/x"), "localhost/x:latest");
  EXPECT_EQ(full_image_name("quay.io/a/b:c"), "quay.io/a/b:c");
  auto digest = "sha256:" + std::string(64, 'a');
  EXPECT_EQ(full_image_name("busybox@" + digest), "docker.io/library/busybox@" + digest);
  EXPECT_EQ(full_image_name("busybox:1@" + digest), "docker.io/library/busybox:1@" + digest);
  EXPECT_EQ(full_image_name(""), "");
}

} // namespace
} // namespace tutti::runtime_drivers::containerd
