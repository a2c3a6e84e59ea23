// kind: Config and kind: Secret documents, and a Service's configs: and
// secrets: references: what they read into, what they refuse (with the
// place, and never with a secret's data), and their canonical YAML.

#include "tests/config/spec_test_support.hpp"

namespace tutti::config::spec_testing {
namespace {

using protocol::object_kind;
using protocol::object_ref;

const std::string docker_head = "kind: Service\nname: web\ndriver: docker\nimage: local/web:1\n";

TEST(ObjectSpec, ReadsConfigAndSecretDocuments) {
  auto result = parse("kind: Config\nname: app\ndata: |\n  a=1\n---\n"
                      "kind: Secret\nname: pw\nnamespace: team-a\ndata_base64: AAH/\n");
  ASSERT_TRUE(result.ok()) << describe(result.errors);
  ASSERT_EQ(result.objects.size(), 2u);
  EXPECT_EQ(result.objects[0], (protocol::object_spec{object_kind::config, "app", "a=1\n"}));
  EXPECT_EQ(result.objects[1],
            (protocol::object_spec{object_kind::secret, "team-a.pw", std::string{"\0\1\xff", 3}}));
  EXPECT_TRUE(result.specs.empty());
}

TEST(ObjectSpec, Base64MayBeWrappedOverLines) {
  auto result = parse("kind: Secret\nname: pw\ndata_base64: |\n  aGVs\n  bG8=\n---\n"
                      "kind: Secret\nname: key\ndata_base64: max/\n");
  ASSERT_TRUE(result.ok()) << describe(result.errors);
  EXPECT_EQ(result.objects[0].data, "hello");
  EXPECT_EQ(result.objects[1].data, std::string("\x99\xac\x7f", 3));
}

TEST(ObjectSpec, ObjectsGoWithServicesButNotWithPolicies) {
  auto result = parse("kind: Config\nname: app\ndata: x\n---\n" + minimal);
  ASSERT_TRUE(result.ok()) << describe(result.errors);
  EXPECT_EQ(result.objects.size(), 1u);
  EXPECT_EQ(result.specs.size(), 1u);
  auto e = only_error("kind: Config\nname: app\ndata: x\n---\nkind: Quota\nreplicas: 3\n");
  EXPECT_NE(e.message.find("in files of their own"), std::string::npos) << e.message;
}

TEST(ObjectSpec, RefusesBadDocumentsWithoutQuotingTheData) {
  auto e = only_error("kind: Secret\nname: pw\ndata: {nested: s3cret}\n");
  EXPECT_EQ(e.line, 3);
  EXPECT_EQ(e.message, "expected a string, got a mapping");
  e = only_error("kind: Secret\nname: pw\ndata_base64: 's3cret!!'\n");
  EXPECT_EQ(e.message, "is not valid base64 (padded, of A-Z a-z 0-9 + /)");
  e = only_error("kind: Secret\nname: pw\ndata_base64: 'YQ'\n");
  EXPECT_EQ(e.message, "is not valid base64 (padded, of A-Z a-z 0-9 + /)");
  e = only_error("kind: Secret\nname: pw\ndata: a\ndata_base64: YQ==\n");
  EXPECT_EQ(e.message, "give data or data_base64, not both");
  e = only_error("kind: Config\nname: pw\n");
  EXPECT_NE(e.message.find("required field is missing"), std::string::npos);
  e = only_error("kind: Config\nname: Bad_Name\ndata: x\n");
  EXPECT_NE(e.message.find("invalid config name 'Bad_Name'"), std::string::npos);
  e = only_error("kind: Config\nname: big\ndata: " +
                 std::string(protocol::max_object_bytes + 1, 'x') + "\n");
  EXPECT_NE(e.message.find("holds at most 524288 bytes"), std::string::npos) << e.message;
  e = only_error("kind: Secret\nname: pw\ndata: a\n---\nkind: Secret\nname: pw\ndata: b\n");
  EXPECT_NE(e.message.find("a second Secret 'pw' in namespace default (first at line 2)"),
            std::string::npos)
      << e.message;
  for (const auto& x : {e})
    EXPECT_EQ(x.message.find("s3cret"), std::string::npos);
}

TEST(ObjectSpec, ReadsReferencesOfEveryForm) {
  auto spec = only_spec(docker_head +
                        "configs: [app, {name: nginx, path: /etc/nginx/nginx.conf}]\n"
                        "secrets:\n"
                        "  - {name: pw, env: DB_PASSWORD}\n"
                        "  - {name: tls, version: 3}\n"
                        "  - {name: key, version: 2, pinned: false, path: /k, env: KEY}\n");
  ASSERT_EQ(spec.configs.size(), 2u);
  EXPECT_EQ(spec.configs[0], (object_ref{"app", 0, false, "", ""}));
  EXPECT_EQ(spec.configs[1], (object_ref{"nginx", 0, false, "/etc/nginx/nginx.conf", ""}));
  ASSERT_EQ(spec.secrets.size(), 3u);
  EXPECT_EQ(spec.secrets[0], (object_ref{"pw", 0, false, "", "DB_PASSWORD"}));
  EXPECT_FALSE(protocol::as_file(spec.secrets[0]));
  EXPECT_EQ(spec.secrets[1], (object_ref{"tls", 3, true, "", ""}));
  EXPECT_EQ(spec.secrets[2], (object_ref{"key", 2, false, "/k", "KEY"}));
  EXPECT_TRUE(protocol::as_file(spec.secrets[2]));
}

TEST(ObjectSpec, RefusesBadReferencesWithTheirPlace) {
  auto e = only_error(minimal + "configs: [{name: app, path: /etc/app}]\n");
  EXPECT_EQ(e.line, 4);
  EXPECT_EQ(e.field, "configs[0].path");
  EXPECT_NE(e.message.find("a process finds the file in TUTTI_CONFIG_APP"), std::string::npos)
      << e.message;
  e = only_error(docker_head + "secrets: [pw, pw]\n");
  EXPECT_NE(e.message.find("a second reference to secret 'pw'"), std::string::npos);
  e = only_error(docker_head + "env: {PW: x}\nsecrets: [{name: pw, env: PW}]\n");
  EXPECT_NE(e.message.find("env already sets PW"), std::string::npos);
  e = only_error(docker_head + "secrets: [{name: pw, env: TUTTI_ADDRESS}]\n");
  EXPECT_NE(e.message.find("tutti sets TUTTI_ADDRESS itself"), std::string::npos) << e.message;
  e = only_error(docker_head + "configs: [{name: a, path: /x}]\nsecrets: [{name: b, path: /x}]\n");
  EXPECT_NE(e.message.find("two files or mounts at /x"), std::string::npos) << e.message;
  e = only_error(docker_head + "volumes: [{name: v}]\nmounts: [{volume: v, path: /run/secrets/pw}]\n"
                               "secrets: [pw]\n");
  EXPECT_NE(e.message.find("two files or mounts at /run/secrets/pw"), std::string::npos)
      << e.message;
  e = only_error(docker_head + "secrets: [{name: pw, pinned: true}]\n");
  EXPECT_NE(e.message.find("pinned: true needs a version"), std::string::npos);
  e = only_error(docker_head + "configs: [{name: a, version: 0}]\n");
  EXPECT_EQ(e.field, "configs[0].version");
  e = only_error(docker_head + "configs: [{name: a, path: relative}]\n");
  EXPECT_NE(e.message.find("expected an absolute path in the container"), std::string::npos);
}

TEST(ObjectSpec, CanonicalYamlReadsBackTheSameAndIsAbsentWithoutReferences) {
  auto spec = only_spec(docker_head + "configs: [app]\nsecrets: [{name: pw, version: 2, env: PW}]\n");
  spec.configs[0].version = 4; // resolved by the control plane
  auto canonical = config::emit_spec(spec);
  EXPECT_NE(canonical.find("configs:\n  - {name: app, version: 4, pinned: false}\nsecrets:\n"
                           "  - {name: pw, version: 2, pinned: true, env: PW}\n"),
            std::string::npos)
      << canonical;
  EXPECT_EQ(only_spec(canonical), spec);
  auto plain = config::emit_spec(only_spec(docker_head));
  EXPECT_EQ(plain.find("configs"), std::string::npos);
  EXPECT_EQ(plain.find("secrets"), std::string::npos);
}

} // namespace
} // namespace tutti::config::spec_testing
