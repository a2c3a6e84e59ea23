// The spec parser: every field, its defaults and its errors with their place.

#include "tests/config/spec_test_support.hpp"

using namespace tutti::config::spec_testing;

// -- a good spec ----------------------------------------------------------------

TEST(SpecParser, ParsesEveryField) {
  auto spec = only_spec(full_spec);
  EXPECT_EQ(spec.name, "web");
  EXPECT_EQ(spec.replicas, 3);
  EXPECT_EQ(spec.driver, driver_kind::process);
  EXPECT_EQ(spec.image, "");
  EXPECT_EQ(spec.command,
            (std::vector<std::string>{"/bin/busybox", "httpd", "-f", "-p", "${PORT}"}));
  EXPECT_EQ(spec.env, (std::map<std::string, std::string>{
                          {"COUNT", "3"}, {"DEBUG", "true"}, {"GREETING", "hello"}}));
  EXPECT_DOUBLE_EQ(spec.resources.cpu, 0.25);
  EXPECT_EQ(spec.resources.memory, 64 * 1024 * 1024);
  EXPECT_EQ(spec.ports, (std::vector<port_spec>{{"http", 0}, {"admin", 0}}));
  EXPECT_EQ(spec.restart.policy, restart_policy::on_failure);
  EXPECT_EQ(spec.restart.backoff.initial, 200ms);
  EXPECT_EQ(spec.restart.backoff.max, 30s);
  EXPECT_EQ(spec.placement.strategy, placement_strategy::binpack);
  EXPECT_EQ(spec.placement.constraints,
            (std::vector<constraint>{{"zone", constraint_op::equals, {"a"}},
                                     {"node.name", constraint_op::not_equals, {"n2"}},
                                     {"disk", constraint_op::in, {"ssd", "nvme"}},
                                     {"gpu", constraint_op::exists, {}}}));
  EXPECT_EQ(spec.placement.max_per_node, 2);
  EXPECT_EQ(spec.placement.anti_affinity, std::vector<std::string>{"db"});
  EXPECT_EQ(spec.stop_grace, 90s);
}

TEST(SpecParser, MinimalSpecGetsDefaults) {
  auto spec = only_spec(minimal);
  service_spec expected;
  expected.name = "web";
  expected.command = {"/bin/true"};
  EXPECT_EQ(spec, expected);
  EXPECT_EQ(spec.replicas, 1);
  EXPECT_EQ(spec.driver, driver_kind::process);
  EXPECT_EQ(spec.restart.policy, restart_policy::always);
  EXPECT_EQ(spec.restart.backoff.initial, 100ms);
  EXPECT_EQ(spec.restart.backoff.max, 10s);
  EXPECT_EQ(spec.stop_grace, 10s);
}

TEST(SpecParser, BlockStyleParsesLikeFlowStyle) {
  auto spec = only_spec(R"(kind: Service
name: web
command:
  - /bin/sleep
  - 10
env:
  A: x
restart:
  policy: never
  backoff:
    initial: 1s
)");
  EXPECT_EQ(spec.command, (std::vector<std::string>{"/bin/sleep", "10"}));
  EXPECT_EQ(spec.env.at("A"), "x");
  EXPECT_EQ(spec.restart.policy, restart_policy::never);
  EXPECT_EQ(spec.restart.backoff.initial, 1s);
  EXPECT_EQ(spec.restart.backoff.max, 10s);
}

// -- kind and name ----------------------------------------------------------------

TEST(SpecParser, RequiresKind) {
  expect_error(only_error("name: web\ncommand: [x]\n"), 1, 1, "kind", "required");
}

TEST(SpecParser, RefusesOtherKinds) {
  expect_error(only_error("kind: Deployment\nname: web\ncommand: [x]\n"), 1, 7, "kind",
               "expected one of 'Service', 'Config', 'Secret', 'Quota', 'Role', 'RoleBinding', "
               "got 'Deployment'");
}

TEST(SpecParser, RequiresName) {
  expect_error(only_error("kind: Service\ncommand: [x]\n"), 1, 1, "name", "required");
}

TEST(SpecParser, RefusesInvalidNames) {
  std::vector<std::string> names{"Web", "1web", "web-", "we_b", "\"\"", std::string(64, 'a')};
  for (const auto& name : names) {
    SCOPED_TRACE(name);
    expect_error(only_error("kind: Service\nname: " + name + "\ncommand: [x]\n"), 2, 7, "name",
                 "invalid service name");
  }
}

TEST(SpecParser, RefusesSlashInNameSayingSo) {
  expect_error(only_error("kind: Service\nname: team/web\ncommand: [x]\n"), 2, 7, "name",
               "'/' is not allowed");
}

TEST(SpecParser, AcceptsLongestValidName) {
  auto name = "a" + std::string(61, '0') + "z";
  EXPECT_EQ(only_spec("kind: Service\nname: " + name + "\ncommand: [x]\n").name, name);
}

// -- replicas ---------------------------------------------------------------------

TEST(SpecParser, RefusesNegativeReplicas) {
  expect_error(only_error(minimal + "replicas: -1\n"), 4, 11, "replicas",
               "must be between 0 and 10000, got -1");
}

TEST(SpecParser, RefusesHugeReplicas) {
  expect_error(only_error(minimal + "replicas: 1000000000\n"), 4, 11, "replicas",
               "between 0 and 10000");
  expect_error(only_error(minimal + "replicas: 99999999999999999999999\n"), 4, 11, "replicas",
               "between 0 and 10000");
}

TEST(SpecParser, AcceptsReplicaBounds) {
  EXPECT_EQ(only_spec(minimal + "replicas: 0\n").replicas, 0);
  EXPECT_EQ(only_spec(minimal + "replicas: 10000\n").replicas, 10000);
}

TEST(SpecParser, RefusesNonIntegerReplicas) {
  expect_error(only_error(minimal + "replicas: three\n"), 4, 11, "replicas",
               "expected an integer, got 'three'");
  expect_error(only_error(minimal + "replicas: 1.5\n"), 4, 11, "replicas", "expected an integer");
  expect_error(only_error(minimal + "replicas: [1]\n"), 4, 11, "replicas",
               "expected an integer, got a sequence");
  expect_error(only_error(minimal + "replicas:\n"), 4, 1, "replicas",
               "expected an integer, got nothing");
}

// -- driver, image, command -------------------------------------------------------

TEST(SpecParser, AcceptsSimDriverWithoutCommand) {
  auto spec = only_spec("kind: Service\nname: web\ndriver: sim\n");
  EXPECT_EQ(spec.driver, driver_kind::sim);
  EXPECT_TRUE(spec.command.empty());
}

TEST(SpecParser, AcceptsDockerWithImage) {
  auto spec = only_spec("kind: Service\nname: web\ndriver: docker\nimage: local/busybox:1\n"
                        "command: [/bin/sleep, '300']\nresources: {cpu: 0.25, memory: 32Mi}\n");
  EXPECT_EQ(spec.driver, driver_kind::docker);
  EXPECT_EQ(spec.image, "local/busybox:1");
  EXPECT_EQ(spec.command, (std::vector<std::string>{"/bin/sleep", "300"}));
  EXPECT_EQ(spec.resources.memory, int64_t{32} << 20);
}

TEST(SpecParser, DockerCommandDefaultsToTheImages) {
  auto spec = only_spec("kind: Service\nname: web\ndriver: docker\nimage: nginx\n");
  EXPECT_TRUE(spec.command.empty());
}

TEST(SpecParser, DockerNeedsAnImage) {
  expect_error(only_error("kind: Service\nname: web\ndriver: docker\n"), 1, 1, "image",
               "required field is missing (the docker driver runs an image)");
  expect_error(only_error("kind: Service\nname: web\ndriver: docker\nimage: 'a b'\n"), 4, 8,
               "image", "expected an image reference like local/busybox:1, got 'a b'");
  expect_error(only_error("kind: Service\nname: web\ndriver: docker\nimage: ''\n"), 4, 8, "image",
               "expected an image reference");
}

TEST(SpecParser, ContainerdNeedsAnImageAndMayNameAnArchive) {
  expect_error(only_error("kind: Service\nname: web\ndriver: containerd\n"), 1, 1, "image",
               "required field is missing (the containerd driver runs an image)");
  auto spec = only_spec("kind: Service\nname: web\ndriver: containerd\nimage: tutti/busybox:1\n"
                        "image_archive: /srv/images/busybox.tar\ncommand: [sleep, '60']\n");
  EXPECT_EQ(spec.driver, driver_kind::containerd);
  EXPECT_EQ(spec.image, "tutti/busybox:1");
  EXPECT_EQ(spec.image_archive, "/srv/images/busybox.tar");
  expect_error(only_error("kind: Service\nname: web\ndriver: containerd\nimage: x\n"
                          "image_archive: busybox.tar\n"),
               5, 16, "image_archive",
               "expected the absolute path of an image archive on the node, got 'busybox.tar'");
  expect_error(only_error("kind: Service\nname: web\ndriver: docker\nimage: x\n"
                          "image_archive: /b.tar\n"),
               5, 16, "image_archive", "image_archive is only used by the containerd driver");
}

TEST(SpecParser, RefusesUnknownDriver) {
  expect_error(only_error(minimal + "driver: podman\n"), 4, 9, "driver",
               "expected one of process, sim, docker or containerd, got 'podman'");
}

TEST(SpecParser, RefusesImageForProcessAndSimDrivers) {
  expect_error(only_error(minimal + "image: local/busybox:1\n"), 4, 8, "image",
               "image is only used by the docker and containerd drivers");
  expect_error(only_error("kind: Service\nname: web\ndriver: sim\nimage: x\n"), 4, 8, "image",
               "only used by the docker and containerd drivers");
}

TEST(SpecParser, RequiresCommandForProcessDriver) {
  expect_error(only_error("kind: Service\nname: web\n"), 1, 1, "command", "required");
  expect_error(only_error("kind: Service\nname: web\ncommand: []\n"), 3, 10, "command",
               "non-empty");
}

TEST(SpecParser, RefusesScalarCommand) {
  expect_error(only_error("kind: Service\nname: web\ncommand: /bin/true\n"), 3, 10, "command",
               "expected a sequence of strings, got '/bin/true'");
}

TEST(SpecParser, RefusesNonStringCommandElements) {
  expect_error(only_error("kind: Service\nname: web\ncommand: [a, {b: c}]\n"), 3, 14, "command[1]",
               "expected a string, got a mapping");
}

TEST(SpecParser, RefusesEmptyProgram) {
  expect_error(only_error("kind: Service\nname: web\ncommand: ['', x]\n"), 3, 11, "command[0]",
               "must not be empty");
}

// -- env ----------------------------------------------------------------------------

TEST(SpecParser, EnvAcceptsScalarsAsText) {
  auto spec = only_spec(minimal + "env: {A: 1, B_2: false, _c: '', D: 1.50}\n");
  EXPECT_EQ(spec.env, (std::map<std::string, std::string>{
                          {"A", "1"}, {"B_2", "false"}, {"D", "1.50"}, {"_c", ""}}));
}

TEST(SpecParser, RefusesBadEnvNames) {
  expect_error(only_error(minimal + "env: {OK: 1, 2BAD: x}\n"), 4, 14, "env.2BAD",
               "invalid name '2BAD'");
  expect_error(only_error(minimal + "env:\n  A-B: x\n"), 5, 3, "env.A-B", "[A-Za-z_]");
}

TEST(SpecParser, RefusesNonScalarEnvValues) {
  expect_error(only_error(minimal + "env: {A: [1]}\n"), 4, 10, "env.A",
               "expected a string, got a sequence");
  expect_error(only_error(minimal + "env:\n  A:\n"), 5, 3, "env.A",
               "expected a string, got nothing");
}

TEST(SpecParser, RefusesEnvThatIsNotAMapping) {
  expect_error(only_error(minimal + "env: [A=1]\n"), 4, 6, "env",
               "expected a mapping of strings to strings, got a sequence");
}

// -- resources ------------------------------------------------------------------------

TEST(SpecParser, ParsesResourceQuantities) {
  auto spec = only_spec(minimal + "resources: {cpu: 250m, memory: 1G}\n");
  EXPECT_DOUBLE_EQ(spec.resources.cpu, 0.25);
  EXPECT_EQ(spec.resources.memory, 1000000000);
  spec = only_spec(minimal + "resources: {cpu: 2, memory: 1048576}\n");
  EXPECT_DOUBLE_EQ(spec.resources.cpu, 2);
  EXPECT_EQ(spec.resources.memory, 1048576);
}

TEST(SpecParser, RefusesMalformedMemory) {
  expect_error(only_error(minimal + "resources: {memory: 64Mx}\n"), 4, 21, "resources.memory",
               "expected a byte quantity");
}

TEST(SpecParser, RefusesNegativeResources) {
  expect_error(only_error(minimal + "resources: {memory: -1}\n"), 4, 21, "resources.memory",
               "must not be negative");
  expect_error(only_error(minimal + "resources: {cpu: -0.5}\n"), 4, 18, "resources.cpu",
               "must not be negative");
}

TEST(SpecParser, RefusesMalformedCpu) {
  expect_error(only_error(minimal + "resources:\n  cpu: lots\n"), 5, 8, "resources.cpu",
               "expected a cpu quantity");
}

// -- ports ----------------------------------------------------------------------------

TEST(SpecParser, ReadsPublishedPortsAndBalancing) {
  auto spec = only_spec(minimal + "ports: [{name: http, published: 8080}, {name: admin}]\n"
                                  "load_balancing: least_connections\n");
  ASSERT_EQ(spec.ports.size(), 2u);
  EXPECT_EQ(spec.ports[0].published, 8080);
  EXPECT_EQ(spec.ports[1].published, 0);
  EXPECT_EQ(spec.balancing, protocol::load_balancing::least_connections);
  EXPECT_EQ(only_spec(minimal).balancing, protocol::load_balancing::round_robin);
  auto text = config::emit_spec(spec);
  EXPECT_EQ(only_spec(text), spec) << text;
}

TEST(SpecParser, RefusesUnknownBalancing) {
  expect_error(only_error(minimal + "load_balancing: random\n"), 4, 17, "load_balancing",
               "round_robin");
}

TEST(SpecParser, RefusesAPortPublishedTwiceInOneInput) {
  auto e = only_error(minimal + "ports: [{name: http, published: 8080}]\n---\n"
                                "kind: Service\nname: api\ncommand: [/bin/true]\n"
                                "ports: [{name: http, published: 8080}]\n");
  expect_error(e, 9, 33, "ports[0].published", "already published by service 'web'");
}

TEST(SpecParser, RefusesPublishedPortOutOfRange) {
  expect_error(only_error(minimal + "ports: [{name: http, published: 70000}]\n"), 4, 33,
               "ports[0].published", "between 0 and 65535");
}

TEST(SpecParser, RefusesBadPortNames) {
  expect_error(only_error(minimal + "ports: [{name: http}, {name: Admin}]\n"), 4, 30,
               "ports[1].name", "invalid port name 'Admin'");
  expect_error(only_error(minimal + "ports: [{name: 9p}]\n"), 4, 16, "ports[0].name",
               "invalid port name");
}

TEST(SpecParser, RefusesDuplicatePortNames) {
  expect_error(only_error(minimal + "ports:\n  - name: http\n  - name: http\n"), 6, 11,
               "ports[1].name", "duplicate port name 'http'");
}

TEST(SpecParser, RequiresPortName) {
  expect_error(only_error(minimal + "ports:\n  - published: 0\n"), 5, 5, "ports[0].name",
               "required");
}

TEST(SpecParser, RefusesMoreThanSixteenPorts) {
  std::string ports = "ports:\n";
  for (int i = 0; i < 17; ++i)
    ports += "  - name: p" + std::to_string(i) + "\n";
  expect_error(only_error(minimal + ports), 5, 3, "ports", "at most 16 ports, got 17");
}

TEST(SpecParser, RefusesUnknownPortField) {
  expect_error(only_error(minimal + "ports: [{name: http, target: 80}]\n"), 4, 22,
               "ports[0].target", "unknown field 'target'");
}

// -- restart --------------------------------------------------------------------------

TEST(SpecParser, RefusesUnknownRestartPolicy) {
  expect_error(only_error(minimal + "restart: {policy: sometimes}\n"), 4, 19, "restart.policy",
               "expected one of always, on-failure or never");
}

TEST(SpecParser, RefusesZeroOrNegativeInitialBackoff) {
  expect_error(only_error(minimal + "restart: {backoff: {initial: 0s}}\n"), 4, 30,
               "restart.backoff.initial", "must be greater than 0");
  expect_error(only_error(minimal + "restart: {backoff: {initial: -1s}}\n"), 4, 30,
               "restart.backoff.initial", "must be greater than 0");
}

TEST(SpecParser, RefusesInitialBackoffAboveMax) {
  expect_error(only_error(minimal + "restart:\n  backoff: {initial: 20s}\n"), 5, 22,
               "restart.backoff.initial", "must not exceed restart.backoff.max (10s)");
  expect_error(only_error(minimal + "restart:\n  backoff: {max: 50ms}\n"), 5, 18,
               "restart.backoff.max", "must not be less than restart.backoff.initial (100ms)");
}

TEST(SpecParser, RefusesBackoffMaxAboveAnHour) {
  expect_error(only_error(minimal + "restart: {backoff: {max: 2h}}\n"), 4, 26,
               "restart.backoff.max", "must be at most 1h");
}

TEST(SpecParser, RefusesDurationWithoutUnit) {
  expect_error(only_error(minimal + "restart: {backoff: {max: 10}}\n"), 4, 26,
               "restart.backoff.max", "expected a duration like 100ms");
}

// -- unsupported features ---------------------------------------------------------------

TEST(SpecParser, ShortHealthFormProbesBothReadinessAndLiveness) {
  auto spec = only_spec(minimal + "ports: [{name: http}]\n"
                                  "health: {http: {port: http, path: /ok}, interval: 2s, "
                                  "timeout: 500ms, failure_threshold: 2, start_period: 0s}\n");
  EXPECT_EQ(spec.health.readiness, spec.health.liveness);
  const auto& probe = spec.health.readiness;
  EXPECT_EQ(probe.kind, protocol::probe_kind::http);
  EXPECT_EQ(probe.port, "http");
  EXPECT_EQ(probe.path, "/ok");
  EXPECT_EQ(probe.interval, std::chrono::seconds{2});
  EXPECT_EQ(probe.timeout, std::chrono::milliseconds{500});
  EXPECT_EQ(probe.failure_threshold, 2);
  EXPECT_EQ(probe.success_threshold, 1);
  EXPECT_EQ(probe.start_period.count(), 0);
}

TEST(SpecParser, ReadinessAndLivenessMayDiffer) {
  auto spec = only_spec(minimal + "ports: [{name: http}]\n"
                                  "health:\n"
                                  "  readiness: {tcp: {port: http}, success_threshold: 2}\n"
                                  "  liveness: {exec: [/bin/true], start_period: 3s}\n");
  EXPECT_EQ(spec.health.readiness.kind, protocol::probe_kind::tcp);
  EXPECT_EQ(spec.health.readiness.success_threshold, 2);
  EXPECT_EQ(spec.health.liveness.kind, protocol::probe_kind::exec);
  EXPECT_EQ(spec.health.liveness.command, std::vector<std::string>{"/bin/true"});
  EXPECT_EQ(spec.health.liveness.start_period, std::chrono::seconds{3});
}

TEST(SpecParser, ProbeNeedsExactlyOneKind) {
  expect_error(only_error(minimal + "health: {interval: 1s}\n"), 4, 9, "health",
               "a probe needs one of exec, http or tcp");
  expect_error(only_error(minimal + "ports: [{name: http}]\n"
                                    "health: {exec: [/bin/true], tcp: {port: http}}\n"),
               5, 9, "health", "exactly one of exec, http or tcp");
}

TEST(SpecParser, ProbePortMustBeASpecPort) {
  expect_error(only_error(minimal + "ports: [{name: http}]\nhealth: {tcp: {port: admin}}\n"), 5, 22,
               "health.tcp.port", "port 'admin' is not one of the spec's ports (http)");
  expect_error(only_error(minimal + "health: {http: {path: /}}\n"), 4, 16, "health.http.port",
               "required field is missing");
}

TEST(SpecParser, RefusesBadProbeValues) {
  const auto with_port = minimal + "ports: [{name: http}]\n";
  expect_error(only_error(with_port + "health: {http: {port: http, path: ok}}\n"), 5, 35,
               "health.http.path", "expected an absolute path");
  expect_error(only_error(with_port + "health: {tcp: {port: http}, failure_threshold: 0}\n"), 5, 48,
               "health.failure_threshold", "");
  expect_error(only_error(with_port + "health: {tcp: {port: http}, interval: 0s}\n"), 5, 39,
               "health.interval", "must be greater than 0");
  expect_error(only_error(with_port + "health: {readiness: {tcp: {port: http}}, speed: 1}\n"), 5,
               42, "health.speed", "");
  expect_error(only_error(minimal + "health: {exec: []}\n"), 4, 16, "health.exec",
               "non-empty sequence");
}

TEST(SpecParser, ParsesUpdate) {
  auto spec = only_spec(minimal + "update: {parallelism: 2, max_surge: 0, max_unavailable: 1, "
                                  "monitor: 10s, failure_action: pause}\n");
  EXPECT_EQ(spec.update.parallelism, 2);
  EXPECT_EQ(spec.update.max_surge, 0);
  EXPECT_EQ(spec.update.max_unavailable, 1);
  EXPECT_EQ(spec.update.monitor, std::chrono::seconds{10});
  EXPECT_EQ(spec.update.on_failure, protocol::failure_action::pause);
  EXPECT_EQ(only_spec(minimal).update, protocol::update_spec{});
}

TEST(SpecParser, RefusesUpdatesThatCouldNeverReplaceAReplica) {
  expect_error(only_error(minimal + "update: {max_surge: 0}\n"), 4, 21, "update.max_surge",
               "max_surge and max_unavailable cannot both be 0");
  expect_error(only_error(minimal + "update: {failure_action: panic}\n"), 4, 26,
               "update.failure_action", "expected one of rollback, pause or continue");
  expect_error(only_error(minimal + "update: {parallelism: 0}\n"), 4, 23, "update.parallelism", "");
}

TEST(SpecParser, NamespacesQualifyTheNameAndRoundTrip) {
  auto spec = only_spec(minimal + "namespace: team-a\nplacement: {anti_affinity: [db]}\n");
  EXPECT_EQ(spec.name, "team-a.web");
  EXPECT_EQ(spec.placement.anti_affinity, std::vector<std::string>{"team-a.db"});
  auto text = config::emit_spec(spec);
  EXPECT_NE(text.find("name: web\nnamespace: team-a\n"), std::string::npos) << text;
  EXPECT_NE(text.find("- db"), std::string::npos) << text;
  auto again = config::parse_specs(text, "canonical");
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again.specs[0], spec);
  EXPECT_EQ(only_spec(minimal + "namespace: default\n").name, "web");
  EXPECT_EQ(config::emit_spec(only_spec(minimal)).find("namespace"), std::string::npos)
      << "specs of the default namespace read as before namespaces";
  auto requested = config::parse_specs(minimal, "f.yaml", "team-b");
  ASSERT_TRUE(requested.ok());
  EXPECT_EQ(requested.specs[0].name, "team-b.web");
  auto other = config::parse_specs(minimal + "namespace: team-a\n", "f.yaml", "team-b");
  ASSERT_EQ(other.errors.size(), 1u);
  EXPECT_EQ(other.errors[0].message,
            "the document is in namespace team-a, the request in team-b (tutti -n); make them "
            "agree");
  expect_error(only_error(minimal + "namespace: Team.A\n"), 4, 12, "namespace",
               "invalid namespace 'Team.A': use 1-63 of a-z, 0-9 and '-', starting with a "
               "letter and not ending with '-'");
  auto twice = config::parse_specs(minimal + "---\n" + minimal + "namespace: team-a\n", "f");
  EXPECT_TRUE(twice.ok()) << "one name in two namespaces";
}

TEST(SpecParser, QuotasParseRoundTripAndStandAlone) {
  auto parsed = config::parse_specs("kind: Quota\nnamespace: team-a\ncpu: 2.5\nmemory: 1Gi\n"
                                    "replicas: 10\nservices: 3\n",
                                    "q.yaml");
  ASSERT_TRUE(parsed.ok()) << parsed.errors.front().message;
  ASSERT_EQ(parsed.quotas.size(), 1u);
  const auto& q = parsed.quotas[0];
  EXPECT_EQ(q, (protocol::quota_spec{"team-a", 2.5, int64_t{1} << 30, 10, 3}));
  auto again = config::parse_specs(config::emit_quota(q), "canonical");
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again.quotas[0], q);
  auto open_ended = config::parse_specs("kind: Quota\nreplicas: 2\n", "q.yaml", "team-b");
  ASSERT_TRUE(open_ended.ok());
  EXPECT_EQ(open_ended.quotas[0], (protocol::quota_spec{"team-b", -1, -1, 2, -1}));
  auto mixed = config::parse_specs("kind: Quota\nreplicas: 2\n---\n" + minimal, "m.yaml");
  ASSERT_EQ(mixed.errors.size(), 1u);
  EXPECT_NE(mixed.errors[0].message.find("in files of their own"), std::string::npos);
  auto twice =
      config::parse_specs("kind: Quota\nreplicas: 2\n---\nkind: Quota\nreplicas: 3\n", "t");
  ASSERT_EQ(twice.errors.size(), 1u);
  EXPECT_NE(twice.errors[0].message.find("a second quota for namespace default"),
            std::string::npos);
  auto bad = config::parse_specs("kind: Quota\nreplicas: -1\nlimit: 3\n", "b.yaml");
  EXPECT_EQ(bad.errors.size(), 2u);
}

TEST(SpecParser, RolesAndBindingsParseAndRoundTrip) {
  auto parsed =
      config::parse_specs("kind: Role\nname: watcher\nrules:\n"
                          "  - {verbs: [read], resources: [nodes, tree]}\n"
                          "  - {verbs: ['*'], resources: [events]}\n"
                          "---\nkind: RoleBinding\nname: b\nrole: watcher\n"
                          "namespace: team-a\n"
                          "subjects: [{kind: token, name: ci}, {kind: group, name: ops}]\n",
                          "r.yaml");
  ASSERT_TRUE(parsed.ok()) << parsed.errors.front().message;
  ASSERT_EQ(parsed.roles.size(), 1u);
  ASSERT_EQ(parsed.bindings.size(), 1u);
  EXPECT_EQ(parsed.roles[0].rules[1].verbs, std::vector<std::string>{"*"});
  EXPECT_EQ(parsed.bindings[0].name_space, "team-a");
  EXPECT_EQ(parsed.bindings[0].subjects[1].kind, protocol::subject_kind::group);
  auto again = config::parse_specs(config::emit_role(parsed.roles[0]) + "---\n" +
                                       config::emit_binding(parsed.bindings[0]),
                                   "canonical");
  ASSERT_TRUE(again.ok()) << again.errors.front().message;
  EXPECT_EQ(again.roles[0], parsed.roles[0]);
  EXPECT_EQ(again.bindings[0], parsed.bindings[0]);
  auto cluster_wide = config::parse_specs(
      "kind: RoleBinding\nname: b\nrole: r\nsubjects: [{kind: user, name: alice}]\n", "b",
      "team-x");
  ASSERT_TRUE(cluster_wide.ok());
  EXPECT_EQ(cluster_wide.bindings[0].name_space, "") << "absent: the whole cluster, not -n";
  auto bad = config::parse_specs("kind: Role\nname: x\nrules: [{verbs: [fly], resources: [moon]}]\n"
                                 "---\nkind: RoleBinding\nname: y\nrole: x\n"
                                 "subjects: [{kind: robot, name: r}]\n",
                                 "bad.yaml");
  ASSERT_EQ(bad.errors.size(), 3u);
  EXPECT_NE(bad.errors[0].message.find("unknown verb 'fly'"), std::string::npos);
  EXPECT_NE(bad.errors[2].message.find("unknown subject kind 'robot'"), std::string::npos);
  auto mixed = config::parse_specs("kind: Role\nname: x\nrules: []\n---\n" + minimal, "m");
  ASSERT_EQ(mixed.errors.size(), 1u);
  EXPECT_NE(mixed.errors[0].message.find("in files of their own"), std::string::npos);
}

TEST(SpecEmitter, HealthAndUpdateRoundTripAndAreAbsentWhenDefault) {
  EXPECT_EQ(config::emit_spec(only_spec(minimal)).find("health"), std::string::npos);
  EXPECT_EQ(config::emit_spec(only_spec(minimal)).find("update"), std::string::npos);
  auto spec = only_spec(minimal + "ports: [{name: http}]\n"
                                  "health:\n"
                                  "  readiness: {http: {port: http, path: /ready}}\n"
                                  "  liveness: {exec: [/bin/sh, -c, 'test -e /tmp/ok']}\n"
                                  "update: {max_surge: 2, failure_action: continue}\n");
  auto text = config::emit_spec(spec);
  EXPECT_EQ(only_spec(text), spec) << text;
  EXPECT_EQ(config::emit_spec(only_spec(text)), text);
}

// -- placement ----------------------------------------------------------------------------

TEST(SpecParser, RefusesMalformedConstraint) {
  expect_error(only_error(minimal + "placement:\n  constraints: [\"zone == a\", \"zone = b\"]\n"),
               5, 30, "placement.constraints[1]", "expected 'key == value', 'key != value'");
  expect_error(only_error(minimal + "placement:\n  constraints:\n    - zone ==\n"), 6, 7,
               "placement.constraints[0]", "got 'zone =='");
}

TEST(SpecParser, ReadsSpreadOverALabelAndRefusesItForBinpack) {
  auto spec = only_spec(minimal + "placement: {strategy: spread, spread_over: zone}\n");
  EXPECT_EQ(spec.placement.spread_over, "zone");
  expect_error(only_error(minimal + "placement: {strategy: binpack, spread_over: zone}\n"), 4, 45,
               "placement.spread_over", "only the spread strategy spreads over a label");
  expect_error(only_error(minimal + "placement: {spread_over: \"a b\"}\n"), 4, 26,
               "placement.spread_over", "expected a node label key");
}

TEST(SpecParser, RefusesBadAntiAffinity) {
  expect_error(only_error(minimal + "placement: {anti_affinity: [db, Web_1]}\n"), 4, 33,
               "placement.anti_affinity[1]", "expected the name of a service, got 'Web_1'");
  expect_error(only_error(minimal + "placement: {anti_affinity: [web]}\n"), 4, 29,
               "placement.anti_affinity[0]", "a service cannot avoid itself");
}

TEST(SpecParser, RefusesUnknownStrategy) {
  expect_error(only_error(minimal + "placement: {strategy: random}\n"), 4, 23, "placement.strategy",
               "expected one of spread or binpack");
}

TEST(SpecParser, RefusesNegativeMaxPerNode) {
  expect_error(only_error(minimal + "placement: {max_per_node: -1}\n"), 4, 27,
               "placement.max_per_node", "must be between 0 and 10000");
}

// -- stop_grace ----------------------------------------------------------------------------

TEST(SpecParser, ParsesStopGrace) {
  EXPECT_EQ(only_spec(minimal + "stop_grace: 1.5s\n").stop_grace, 1500ms);
  EXPECT_EQ(only_spec(minimal + "stop_grace: 10m\n").stop_grace, 10min);
}

TEST(SpecParser, RefusesStopGraceOutOfRange) {
  expect_error(only_error(minimal + "stop_grace: 0s\n"), 4, 13, "stop_grace",
               "must be greater than 0");
  expect_error(only_error(minimal + "stop_grace: 11m\n"), 4, 13, "stop_grace",
               "must be at most 10m");
}

// -- structure -------------------------------------------------------------------------------

TEST(SpecParser, RefusesUnknownTopLevelField) {
  expect_error(only_error(minimal + "replica: 3\n"), 4, 1, "replica", "unknown field 'replica'");
}

TEST(SpecParser, RefusesUnknownNestedField) {
  expect_error(only_error(minimal + "restart:\n  backof: {initial: 1s}\n"), 5, 3, "restart.backof",
               "unknown field 'backof'");
  expect_error(only_error(minimal + "resources: {cpu: 1, mem: 1Gi}\n"), 4, 21, "resources.mem",
               "unknown field 'mem'");
}

TEST(SpecParser, RefusesRepeatedField) {
  expect_error(only_error(minimal + "replicas: 2\nreplicas: 3\n"), 5, 1, "replicas",
               "duplicate field 'replicas'");
}

TEST(SpecParser, RefusesWrongContainerTypes) {
  expect_error(only_error(minimal + "resources: 2\n"), 4, 12, "resources",
               "expected a mapping with cpu and memory, got '2'");
  expect_error(only_error("kind: Service\nname: {first: web}\ncommand: [x]\n"), 2, 7, "name",
               "expected a string, got a mapping");
  expect_error(only_error(minimal + "ports: {name: http}\n"), 4, 8, "ports",
               "expected a sequence of ports, got a mapping");
}

TEST(SpecParser, RefusesDocumentThatIsNotAMapping) {
  expect_error(only_error("- kind: Service\n"), 1, 1, "", "expected a mapping");
  expect_error(only_error("just text\n"), 1, 1, "", "expected a mapping");
}

TEST(SpecParser, ReportsMalformedYamlWithPosition) {
  expect_error(only_error("kind: Service\nname: web\ncommand: [a, b\n"), 4, 1, "", "invalid YAML");
  expect_error(only_error("kind: Service\nname: web\n  bad: indent\n"), 3, 6, "",
               "invalid YAML: illegal map value");
}
