// volumes: and mounts: of a Service: what they read into, what they refuse
// (with the place), and their canonical YAML.

#include "tests/config/spec_test_support.hpp"

namespace tutti::config::spec_testing {
namespace {

using protocol::volume_type;

const std::string docker_head = "kind: Service\nname: db\ndriver: docker\nimage: local/db:1\n";

TEST(VolumeSpec, ReadsVolumesAndMounts) {
  auto spec = only_spec(docker_head +
                        "volumes:\n"
                        "  - {name: data, type: persistent}\n"
                        "  - {name: tmp}\n"
                        "  - {name: logs, type: host, path: /srv/logs}\n"
                        "mounts:\n"
                        "  - {volume: data, path: /var/lib/db}\n"
                        "  - {volume: logs, path: /logs, read_only: true}\n");
  ASSERT_EQ(spec.volumes.size(), 3u);
  EXPECT_EQ(spec.volumes[0], (protocol::volume_spec{"data", volume_type::persistent, ""}));
  EXPECT_EQ(spec.volumes[1], (protocol::volume_spec{"tmp", volume_type::scratch, ""}));
  EXPECT_EQ(spec.volumes[2], (protocol::volume_spec{"logs", volume_type::host, "/srv/logs"}));
  ASSERT_EQ(spec.mounts.size(), 2u);
  EXPECT_EQ(spec.mounts[0], (protocol::mount_spec{"data", "/var/lib/db", false}));
  EXPECT_EQ(spec.mounts[1], (protocol::mount_spec{"logs", "/logs", true}));
}

TEST(VolumeSpec, ASizeIsReadInBytesAndWrittenBack) {
  auto spec = only_spec(docker_head + "volumes: [{name: data, type: persistent, size: 1Gi}]\n");
  ASSERT_EQ(spec.volumes.size(), 1u);
  EXPECT_EQ(spec.volumes[0].size, int64_t{1} << 30);
  EXPECT_EQ(protocol::volume_bytes(spec), int64_t{1} << 30);
  auto canonical = config::emit_spec(spec);
  EXPECT_NE(canonical.find("{name: data, type: persistent, size: 1073741824}"), std::string::npos)
      << canonical;
  EXPECT_EQ(only_spec(canonical), spec);
}

TEST(VolumeSpec, CanonicalYamlReadsBackTheSame) {
  auto text = docker_head +
              "volumes: [{name: data, type: persistent}, {name: h, type: host, path: /srv}]\n"
              "mounts: [{volume: data, path: /data}, {volume: h, path: /h, read_only: true}]\n";
  auto spec = only_spec(text);
  auto canonical = config::emit_spec(spec);
  EXPECT_NE(canonical.find("volumes:\n  - {name: data, type: persistent}\n  - {name: h, type: "
                           "host, path: /srv}\nmounts:\n  - {volume: data, path: /data}\n  - "
                           "{volume: h, path: /h, read_only: true}\n"),
            std::string::npos)
      << canonical;
  EXPECT_EQ(only_spec(canonical), spec);
  // Without volumes nothing is written: older specs keep their text.
  EXPECT_EQ(config::emit_spec(only_spec(minimal)).find("volumes"), std::string::npos);
}

TEST(VolumeSpec, AProcessGetsTheFolderInItsEnvironmentNotAPath) {
  auto spec = only_spec(minimal + "volumes: [{name: my-data}]\nmounts: [{volume: my-data}]\n");
  ASSERT_EQ(spec.mounts.size(), 1u);
  EXPECT_EQ(protocol::volume_env_name("my-data"), "TUTTI_VOLUME_MY_DATA");
  auto e = only_error(minimal + "volumes: [{name: d}]\nmounts: [{volume: d, path: /d}]\n");
  EXPECT_EQ(e.field, "mounts[0].path");
  EXPECT_NE(e.message.find("finds the volume's folder in TUTTI_VOLUME_D"), std::string::npos)
      << e.message;
}

TEST(VolumeSpec, RefusesWhatCannotBeMountedWithThePlace) {
  struct refusal {
    std::string yaml;
    std::string field;
    std::string message;
  };
  const refusal cases[] = {
      {"volumes: [{name: d}]\nmounts: [{volume: nope, path: /x}]\n", "mounts[0].volume",
       "mount of unknown volume 'nope' (volumes: d)"},
      {"mounts: [{volume: nope, path: /x}]\n", "mounts[0].volume",
       "mount of unknown volume 'nope' (the service has no volumes:)"},
      {"volumes: [{name: d}, {name: d}]\n", "volumes[1].name", "duplicate volume name 'd'"},
      {"volumes: [{name: D}]\n", "volumes[0].name", "invalid volume name 'D'"},
      {"volumes: [{name: d, type: nfs}]\n", "volumes[0].type", "nfs"},
      {"volumes: [{name: d, type: host}]\n", "volumes[0].path", "required field is missing"},
      {"volumes: [{name: d, type: host, path: srv}]\n", "volumes[0].path",
       "expected an absolute path on the node"},
      {"volumes: [{name: d, path: /srv}]\n", "volumes[0].path",
       "path is for volumes of type host only"},
      {"volumes: [{name: d, type: host, path: /srv, size: 1Gi}]\n", "volumes[0].size",
       "size is for scratch and persistent volumes"},
      {"volumes: [{name: d, size: lots}]\n", "volumes[0].size", "lots"},
      {"volumes: [{name: d}]\nmounts: [{volume: d}]\n", "mounts[0].path",
       "required field is missing"},
      {"volumes: [{name: d}]\nmounts: [{volume: d, path: /a/../b}]\n", "mounts[0].path",
       "expected an absolute path in the container"},
      {"volumes: [{name: d}]\nmounts: [{volume: d, path: /}]\n", "mounts[0].path",
       "expected an absolute path in the container"},
      {"volumes: [{name: d}, {name: e}]\nmounts: [{volume: d, path: /x}, {volume: e, path: "
       "/x}]\n",
       "mounts[1].path", "two mounts at /x"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.yaml);
    auto e = only_error(docker_head + c.yaml);
    EXPECT_EQ(e.field, c.field);
    EXPECT_NE(e.message.find(c.message), std::string::npos) << e.message;
  }
}

} // namespace
} // namespace tutti::config::spec_testing
