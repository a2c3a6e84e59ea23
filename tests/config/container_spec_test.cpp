// containers: of a Service (a replica of several containers): what it reads
// into, what it refuses (with the place), and its canonical YAML.

#include "tests/config/spec_test_support.hpp"

namespace tutti::config::spec_testing {
namespace {

using protocol::probe_kind;

const std::string head = "kind: Service\nname: web\n";

const std::string two_processes = head +
                                  "env: {SHARED: s}\n"
                                  "volumes: [{name: work}]\n"
                                  "containers:\n"
                                  "  - name: fetch\n"
                                  "    init: true\n"
                                  "    command: [/bin/sh, -c, 'echo hi > $TUTTI_VOLUME_WORK/x']\n"
                                  "    resources: {cpu: 2, memory: 64Mi}\n"
                                  "    mounts: [{volume: work}]\n"
                                  "  - name: app\n"
                                  "    command: [/bin/app, '${PORT}']\n"
                                  "    env: {SHARED: mine, OWN: o}\n"
                                  "    resources: {cpu: 0.5, memory: 32Mi}\n"
                                  "    health: {readiness: {exec: [/bin/true]}}\n"
                                  "    mounts: [{volume: work}]\n"
                                  "  - name: sidecar\n"
                                  "    command: [/bin/side]\n"
                                  "    resources: {cpu: 0.25, memory: 16Mi}\n"
                                  "    health: {liveness: {exec: [/bin/true]}}\n";

TEST(ContainerSpec, ReadsEachContainerAndSumsWhatTheReplicaNeeds) {
  auto spec = only_spec(two_processes);
  ASSERT_EQ(spec.containers.size(), 3u);
  const auto& fetch = spec.containers[0];
  EXPECT_EQ(fetch.name, "fetch");
  EXPECT_TRUE(fetch.init);
  EXPECT_EQ(fetch.mounts, (std::vector<protocol::mount_spec>{{"work", "", false}}));
  const auto& app = spec.containers[1];
  EXPECT_FALSE(app.init);
  EXPECT_EQ(app.command, (std::vector<std::string>{"/bin/app", "${PORT}"}));
  EXPECT_EQ(app.env, (std::map<std::string, std::string>{{"SHARED", "mine"}, {"OWN", "o"}}));
  EXPECT_EQ(spec.env, (std::map<std::string, std::string>{{"SHARED", "s"}}));
  // Running together: 0.5 + 0.25 cpu, 48Mi; the init container alone needs more cpu.
  EXPECT_DOUBLE_EQ(spec.resources.cpu, 2.0);
  EXPECT_EQ(spec.resources.memory, 64 << 20);
  // Each container's probes name it (an exec probe runs in it).
  EXPECT_EQ(spec.health, protocol::health_spec{});
  EXPECT_EQ(app.health.readiness.kind, probe_kind::exec);
  EXPECT_EQ(app.health.readiness.container, "app");
  EXPECT_EQ(spec.containers[2].health.liveness.container, "sidecar");
  EXPECT_EQ(protocol::probes_of(spec).size(), 2u);
  EXPECT_TRUE(spec.command.empty());
}

TEST(ContainerSpec, TheCanonicalTextReadsBackTheSame) {
  auto spec = only_spec(two_processes);
  auto canonical = config::emit_spec(spec);
  EXPECT_EQ(canonical.find("\nresources:"), std::string::npos) << canonical;
  EXPECT_EQ(canonical.find("\nhealth:"), std::string::npos) << canonical;
  EXPECT_NE(canonical.find("containers:\n  - name: fetch\n    init: true\n"), std::string::npos)
      << canonical;
  EXPECT_EQ(only_spec(canonical), spec);
  auto docker = only_spec(head + "driver: docker\n"
                                 "containers: [{name: app, image: 'local/app:1'},"
                                 " {name: log, image: 'local/log:2'}]\n");
  EXPECT_EQ(docker.containers[1].image, "local/log:2");
  EXPECT_EQ(only_spec(config::emit_spec(docker)), docker);
}

TEST(ContainerSpec, TheOneContainerFieldsHaveNoPlaceBesideContainers) {
  expect_error(only_error(head + "command: [/bin/true]\nresources: {cpu: 1}\n"
                                 "containers: [{name: app, command: [/bin/true]}]\n"),
               5, 1, "containers", "command, resources go on each container");
  expect_error(only_error(head + "health: {exec: [/bin/true]}\n"
                                 "containers: [{name: app, command: [/bin/true]}]\n"),
               4, 1, "containers", "health go on each container");
}

TEST(ContainerSpec, RefusesWhatCannotRunWithThePlace) {
  expect_error(only_error(head + "containers: [{name: app, command: [/bin/a]}, "
                                 "{name: app, command: [/bin/b]}]\n"),
               3, 53, "containers[1].name", "duplicate container name 'app'");
  expect_error(only_error(head + "containers: [{name: App, command: [/bin/a]}]\n"), 3, 21,
               "containers[0].name", "invalid container name 'App'");
  expect_error(only_error(head + "containers: [{name: app}]\n"), 3, 14, "containers[0].command",
               "missing");
  expect_error(only_error(head + "driver: docker\ncontainers: [{name: app, command: [/bin/a]}]\n"),
               4, 14, "containers[0].image", "missing");
  expect_error(only_error(head + "containers: [{name: app, command: [/bin/a], ports: [{name: "
                                 "http}]}]\n"),
               3, 45, "containers[0].ports", "ports go on the service");
  expect_error(only_error(head + "containers: [{name: app, command: [/bin/a], mounts: [{volume: "
                                 "nope}]}]\n"),
               3, 63, "containers[0].mounts[0].volume", "nope");
  expect_error(only_error(head + "containers: []\n"), 3, 13, "containers",
               "expected 1 to 16 containers, got 0");
  expect_error(only_error(head + "containers: [{name: i, init: true, command: [/bin/a]}]\n"), 3,
               13, "containers", "every container is an init container");
  expect_error(only_error(head + "driver: sim\ncontainers: [{name: app}]\n"), 4, 13, "containers",
               "the sim driver runs one container per replica");
}

TEST(ContainerSpec, ProbesGoOnEachContainerButNotOnInitContainers) {
  auto spec = only_spec(head + "containers:\n"
                               "  - {name: a, command: [/bin/a], health: {exec: [/bin/true]}}\n"
                               "  - {name: b, command: [/bin/b], health: {readiness: {exec: "
                               "[/bin/true]}}}\n");
  auto probes = protocol::probes_of(spec);
  ASSERT_EQ(probes.size(), 3u); // a: readiness and liveness; b: readiness
  EXPECT_TRUE(probes[0].readiness);
  EXPECT_EQ(probes[0].spec->container, "a");
  EXPECT_FALSE(probes[1].readiness);
  EXPECT_EQ(probes[2].spec->container, "b");
  EXPECT_EQ(only_spec(config::emit_spec(spec)), spec);
  expect_error(only_error(head + "containers:\n"
                                 "  - {name: i, init: true, command: [/bin/i], health: {exec: "
                                 "[/bin/true]}}\n"
                                 "  - {name: a, command: [/bin/a]}\n"),
               4, 5, "containers[0].health", "an init container runs to completion");
}

} // namespace
} // namespace tutti::config::spec_testing
