// The pure parts of the registry client: references, which host and scheme a
// registry is reached at, WWW-Authenticate challenges as Docker Hub and
// distribution send them, token answers, and manifest/index JSON.

#include "runtime-drivers/containerd/registry_parse.hpp"

#include "protocol/errors.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace tutti::runtime_drivers::containerd {
namespace {

using nlohmann::json;
using protocol::code_of;
using protocol::error_code;
using protocol::message_of;

const std::string some_digest = "sha256:" + std::string(64, 'a');
const std::string other_digest = "sha256:" + std::string(64, 'b');

TEST(registry_parse, references_are_made_full_and_split) {
  auto r = parse_reference("busybox");
  ASSERT_TRUE(r) << message_of(r.error());
  EXPECT_EQ(r->name, "docker.io/library/busybox:latest");
  EXPECT_EQ(r->domain, "docker.io");
  EXPECT_EQ(r->repository, "library/busybox");
  EXPECT_EQ(r->tag, "latest");
  EXPECT_EQ(r->manifest_reference(), "latest");

  r = parse_reference("127.0.0.1:5000/tutti/busybox:1.36");
  ASSERT_TRUE(r) << message_of(r.error());
  EXPECT_EQ(r->domain, "127.0.0.1:5000");
  EXPECT_EQ(r->repository, "tutti/busybox");
  EXPECT_EQ(r->tag, "1.36");
  EXPECT_TRUE(r->digest.empty());

  r = parse_reference("localhost:5000/a/b@" + some_digest);
  ASSERT_TRUE(r) << message_of(r.error());
  EXPECT_EQ(r->domain, "localhost:5000");
  EXPECT_EQ(r->repository, "a/b");
  EXPECT_TRUE(r->tag.empty());
  EXPECT_EQ(r->manifest_reference(), some_digest);

  // A tag and a digest: the digest is what is fetched.
  r = parse_reference("ghcr.io/x/y:1@" + some_digest);
  ASSERT_TRUE(r) << message_of(r.error());
  EXPECT_EQ(r->tag, "1");
  EXPECT_EQ(r->manifest_reference(), some_digest);

  r = parse_reference("[::1]:5000/x:2");
  ASSERT_TRUE(r) << message_of(r.error());
  EXPECT_EQ(r->domain, "[::1]:5000");
  EXPECT_EQ(r->repository, "x");
}

TEST(registry_parse, bad_references_are_invalid_arguments_naming_them) {
  for (std::string bad :
       {"Upper/Case:1", "a/b:bad tag", "a/b@md5:abc", "a/b@sha256:abc", "reg.example/a//b:1",
        "reg.example/-a:1", "a/b:1?x=y", "reg.example/../x:1"}) {
    auto r = parse_reference(bad);
    ASSERT_FALSE(r) << bad;
    EXPECT_EQ(code_of(r.error()), error_code::invalid_argument) << bad;
    EXPECT_NE(message_of(r.error()).find(bad), std::string::npos) << message_of(r.error());
  }
}

TEST(registry_parse, docker_io_is_served_by_registry_1) {
  EXPECT_EQ(registry_host("docker.io"), "registry-1.docker.io");
  EXPECT_EQ(registry_host("index.docker.io"), "registry-1.docker.io");
  EXPECT_EQ(registry_host("ghcr.io"), "ghcr.io");
  EXPECT_EQ(registry_host("127.0.0.1:5000"), "127.0.0.1:5000");
}

TEST(registry_parse, plain_http_only_for_loopback) {
  for (auto host : {"localhost", "localhost:5000", "LOCALHOST:80", "127.0.0.1", "127.0.0.1:5000",
                    "127.1.2.3:443", "[::1]", "[::1]:5000"})
    EXPECT_TRUE(is_plain_http_host(host)) << host;
  for (auto host : {"registry-1.docker.io", "127.0.0.1.nip.io", "127.0.0.1.nip.io:80", "1127.0.0.1",
                    "127.0.0.256", "127.0.0", "10.0.0.1:5000", "[::2]:5000",
                    "localhost.example:5000", "[::1]x"})
    EXPECT_FALSE(is_plain_http_host(host)) << host;
  EXPECT_EQ(registry_base_url("127.0.0.1:5000"), "http://127.0.0.1:5000");
  EXPECT_EQ(registry_base_url("registry-1.docker.io"), "https://registry-1.docker.io");
}

TEST(registry_parse, url_origins) {
  EXPECT_EQ(url_origin("https://Registry-1.Docker.io/v2/x"), "https://registry-1.docker.io:443");
  EXPECT_EQ(url_origin("https://registry-1.docker.io:443"), "https://registry-1.docker.io:443");
  EXPECT_EQ(url_origin("http://127.0.0.1:5000/v2/?q"), "http://127.0.0.1:5000");
  EXPECT_EQ(url_origin("http://127.0.0.1/x"), "http://127.0.0.1:80");
  EXPECT_EQ(url_origin("https://user:pw@cdn.example/blob?sig=1"), "https://cdn.example:443");
  EXPECT_EQ(url_origin("http://[::1]:5000/x"), "http://[::1]:5000");
  EXPECT_NE(url_origin("http://127.0.0.1:5000/x"), url_origin("http://localhost:5000/x"));
  EXPECT_NE(url_origin("http://host:5000/x"), url_origin("https://host:5000/x"));
  EXPECT_EQ(url_origin("no scheme"), "");
}

TEST(registry_parse, docker_hub_challenge) {
  auto c = parse_www_authenticate(
      R"(Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/busybox:pull")");
  ASSERT_EQ(c.size(), 1u);
  EXPECT_EQ(c[0].scheme, "bearer");
  EXPECT_EQ(c[0].params["realm"], "https://auth.docker.io/token");
  EXPECT_EQ(c[0].params["service"], "registry.docker.io");
  EXPECT_EQ(c[0].params["scope"], "repository:library/busybox:pull");
}

TEST(registry_parse, several_challenges_spaces_escapes_and_bare_values) {
  auto c = parse_www_authenticate(
      R"(Bearer Realm = "https://a.example/t?x=1" , service=reg,  error="insufficient_scope", Basic realm="say \"hi\"")");
  ASSERT_EQ(c.size(), 2u);
  EXPECT_EQ(c[0].scheme, "bearer");
  EXPECT_EQ(c[0].params["realm"], "https://a.example/t?x=1");
  EXPECT_EQ(c[0].params["service"], "reg");
  EXPECT_EQ(c[0].params["error"], "insufficient_scope");
  EXPECT_EQ(c[1].scheme, "basic");
  EXPECT_EQ(c[1].params["realm"], R"(say "hi")");

  c = parse_www_authenticate(R"(Basic realm="Registry Realm")");
  ASSERT_EQ(c.size(), 1u);
  EXPECT_EQ(c[0].scheme, "basic");

  EXPECT_TRUE(parse_www_authenticate("").empty());
  EXPECT_TRUE(parse_www_authenticate(" , ").empty());
  c = parse_www_authenticate(R"(Bearer realm="unterminated)");
  ASSERT_EQ(c.size(), 1u);
  EXPECT_EQ(c[0].params["realm"], "unterminated");
}

TEST(registry_parse, token_urls) {
  auth_challenge c{"bearer",
                   {{"realm", "https://auth.docker.io/token"},
                    {"service", "registry.docker.io"},
                    {"scope", "repository:library/busybox:pull"}}};
  EXPECT_EQ(token_url(c, "library/busybox"),
            "https://auth.docker.io/token?service=registry.docker.io&scope=repository%3Alibrary%"
            "2Fbusybox%3Apull");
  // No scope: pull of the repository. A realm with a query keeps it.
  c = {"bearer", {{"realm", "http://127.0.0.1:1/t?a=b"}}};
  EXPECT_EQ(token_url(c, "x/y"), "http://127.0.0.1:1/t?a=b&scope=repository%3Ax%2Fy%3Apull");
  EXPECT_EQ(token_url({"bearer", {}}, "x"), "");
  EXPECT_EQ(token_url({"bearer", {{"realm", "ftp://x/t"}}}, "x"), "");
  EXPECT_EQ(token_url({"bearer", {{"realm", "/relative"}}}, "x"), "");
}

TEST(registry_parse, token_answers) {
  auto t = parse_token_response(R"({"token":"abc","expires_in":300})", "here");
  ASSERT_TRUE(t) << message_of(t.error());
  EXPECT_EQ(t->token, "abc");
  EXPECT_EQ(t->expires_in, 300);
  t = parse_token_response(R"({"access_token":"xyz"})", "here");
  ASSERT_TRUE(t) << message_of(t.error());
  EXPECT_EQ(t->token, "xyz");
  EXPECT_EQ(t->expires_in, 60);
  t = parse_token_response(R"({"token":"abc","expires_in":"soon"})", "here");
  ASSERT_TRUE(t);
  EXPECT_EQ(t->expires_in, 60);
  for (auto bad : {"{}", "not json", R"({"token":""})", "[1]", R"({"token":5})"}) {
    auto e = parse_token_response(bad, "the answer of T");
    ASSERT_FALSE(e) << bad;
    EXPECT_NE(message_of(e.error()).find("the answer of T"), std::string::npos);
  }
}

TEST(registry_parse, media_types_of_manifests) {
  EXPECT_EQ(manifest_media_type("application/vnd.oci.image.index.v1+json; charset=utf-8", "{}"),
            oci_index_media_type);
  EXPECT_EQ(manifest_media_type(docker_manifest_media_type, ""), docker_manifest_media_type);
  auto with_type = json{{"schemaVersion", 2}, {"mediaType", docker_list_media_type}}.dump();
  EXPECT_EQ(manifest_media_type("application/json", with_type), docker_list_media_type);
  auto index = json{{"schemaVersion", 2}, {"manifests", json::array()}}.dump();
  EXPECT_EQ(manifest_media_type("", index), oci_index_media_type);
  auto manifest = json{{"schemaVersion", 2}, {"config", json::object()}}.dump();
  EXPECT_EQ(manifest_media_type("text/plain", manifest), oci_manifest_media_type);
  auto schema1 = json{{"schemaVersion", 1}, {"fsLayers", json::array()}}.dump();
  EXPECT_EQ(
      manifest_media_type("application/vnd.docker.distribution.manifest.v1+prettyjws", schema1),
      "");
  EXPECT_EQ(manifest_media_type("application/json", R"({"schemaVersion":"2"})"), "");
  EXPECT_EQ(manifest_media_type("", "not json"), "");
}

json entry(const std::string& digest, const std::string& os, const std::string& arch) {
  json e{{"mediaType", oci_manifest_media_type}, {"digest", digest}, {"size", 7}};
  if (!os.empty())
    e["platform"] = {{"os", os}, {"architecture", arch}};
  return e;
}

TEST(registry_parse, index_entries_for_linux_amd64) {
  json index{
      {"schemaVersion", 2},
      {"manifests", {entry(other_digest, "linux", "arm64"), entry(some_digest, "linux", "amd64")}}};
  auto d = pick_linux_amd64(index.dump(), "the index");
  ASSERT_TRUE(d) << message_of(d.error());
  EXPECT_EQ(d->digest, some_digest);
  EXPECT_EQ(d->size, 7);
  EXPECT_EQ(d->media_type, oci_manifest_media_type);

  // An entry without a platform is taken (a single-platform index names none).
  index["manifests"] = {entry(some_digest, "", "")};
  d = pick_linux_amd64(index.dump(), "the index");
  ASSERT_TRUE(d) << message_of(d.error());
  EXPECT_EQ(d->digest, some_digest);

  index["manifests"] = {entry(some_digest, "linux", "arm64"),
                        entry(other_digest, "windows", "amd64")};
  d = pick_linux_amd64(index.dump(), "the index X");
  ASSERT_FALSE(d);
  EXPECT_EQ(code_of(d.error()), error_code::invalid_argument);
  EXPECT_NE(message_of(d.error()).find("the index X"), std::string::npos);
  EXPECT_NE(message_of(d.error()).find("linux/arm64, windows/amd64"), std::string::npos)
      << message_of(d.error());

  index["manifests"] = {entry("sha256:../../etc", "linux", "amd64")};
  EXPECT_FALSE(pick_linux_amd64(index.dump(), "i"));
  EXPECT_FALSE(pick_linux_amd64("[]", "i"));
  EXPECT_FALSE(pick_linux_amd64(R"({"manifests": 3})", "i"));
}

TEST(registry_parse, manifests_give_config_and_layers_bottom_first) {
  json manifest{{"schemaVersion", 2},
                {"mediaType", oci_manifest_media_type},
                {"config", entry(some_digest, "", "")},
                {"layers", {entry(other_digest, "", ""), entry(some_digest, "", "")}}};
  auto parts = parse_manifest(manifest.dump(), "m");
  ASSERT_TRUE(parts) << message_of(parts.error());
  EXPECT_EQ(parts->config.digest, some_digest);
  ASSERT_EQ(parts->layers.size(), 2u);
  EXPECT_EQ(parts->layers[0].digest, other_digest);

  auto broken = manifest;
  broken.erase("layers");
  EXPECT_FALSE(parse_manifest(broken.dump(), "m"));
  broken = manifest;
  broken["layers"][0]["size"] = -1;
  EXPECT_FALSE(parse_manifest(broken.dump(), "m"));
  broken = manifest;
  broken["schemaVersion"] = 1;
  EXPECT_FALSE(parse_manifest(broken.dump(), "m"));
  broken = manifest;
  broken["config"]["digest"] = "sha256:ABC";
  auto e = parse_manifest(broken.dump(), "the manifest M");
  ASSERT_FALSE(e);
  EXPECT_NE(message_of(e.error()).find("the manifest M"), std::string::npos);
}

TEST(registry_parse, registry_error_bodies) {
  auto body =
      R"({"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown","detail":{"Tag":"x"}}]})";
  EXPECT_EQ(registry_error_text(body), "MANIFEST_UNKNOWN: manifest unknown");
  EXPECT_EQ(registry_error_code(body), "MANIFEST_UNKNOWN");
  EXPECT_EQ(registry_error_text("<html>\nbad gateway\n</html>"), "<html> bad gateway </html>");
  EXPECT_EQ(registry_error_text(""), "");
  EXPECT_EQ(registry_error_code("nope"), "");
  EXPECT_EQ(registry_error_text(std::string(1000, 'x')).size(), 200u);
}

} // namespace
} // namespace tutti::runtime_drivers::containerd
