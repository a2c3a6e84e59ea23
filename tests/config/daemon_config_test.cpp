#include "config/daemon_config.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <unistd.h>

using namespace std::chrono_literals;
using tutti::config::daemon_config_result;
using tutti::config::endpoint;
using tutti::protocol::spec_error;

namespace config = tutti::config;

namespace {

daemon_config_result parse(const std::string& text) {
  return config::parse_daemon_config(text, "tuttid.yaml");
}

std::string describe(const std::vector<spec_error>& errors) {
  std::string out;
  for (const auto& e : errors)
    out += "\n  " + to_string(e);
  return out;
}

void expect_only_error(const std::string& text, int line, int column, const std::string& field,
                       const std::string& message_part) {
  SCOPED_TRACE(text);
  auto result = parse(text);
  ASSERT_EQ(result.errors.size(), 1u) << describe(result.errors);
  const auto& e = result.errors.front();
  EXPECT_EQ(e.file, "tuttid.yaml");
  EXPECT_EQ(e.line, line) << to_string(e);
  EXPECT_EQ(e.column, column) << to_string(e);
  EXPECT_EQ(e.field, field) << to_string(e);
  EXPECT_NE(e.message.find(message_part), std::string::npos)
      << "message '" << e.message << "' lacks '" << message_part << "'";
}

/// A file in the temp directory, removed when the test ends, passed or not.
class temp_file {
public:
  explicit temp_file(const std::string& text) {
    path_ = std::filesystem::temp_directory_path() /
            ("tutti-daemon-config-test-" + std::to_string(::getpid()) + ".yaml");
    std::ofstream{path_} << text;
  }
  ~temp_file() {
    std::error_code ignored; // best effort: a leftover temp file fails nothing
    std::filesystem::remove(path_, ignored);
  }
  std::string path() const { return path_.string(); }

private:
  std::filesystem::path path_;
};

const std::string example = R"(data_dir: /var/lib/tutti
api: 127.0.0.1:7700
metrics: 0.0.0.0:9771
node: {name: n1, labels: {zone: a, disk: ssd}, cpu: 4, memory: 8Gi, port_range: 21000-21999}
supervision: {max_restarts: 5, window: 30s}
store: {map_size: 2Gi}
docker: {enabled: false, socket: /run/user/1000/docker.sock}
process: {enabled: false}
stop_replicas_on_exit: true
log_level: debug
)";

} // namespace

TEST(DaemonConfig, ParsesEveryField) {
  auto result = parse(example);
  ASSERT_TRUE(result.ok()) << describe(result.errors);
  const auto& c = result.config;
  EXPECT_EQ(c.data_dir, "/var/lib/tutti");
  EXPECT_EQ(c.api.host, "127.0.0.1");
  EXPECT_EQ(c.api.port, 7700);
  EXPECT_EQ(c.metrics.to_string(), "0.0.0.0:9771");
  EXPECT_EQ(c.node.name, "n1");
  EXPECT_EQ(c.node.labels, (std::map<std::string, std::string>{{"disk", "ssd"}, {"zone", "a"}}));
  EXPECT_DOUBLE_EQ(c.node.capacity.cpu, 4);
  EXPECT_EQ(c.node.capacity.memory, int64_t{8} << 30);
  EXPECT_EQ(c.node.port_range_first, 21000);
  EXPECT_EQ(c.node.port_range_last, 21999);
  EXPECT_EQ(c.supervision.max_restarts, 5);
  EXPECT_EQ(c.supervision.window, 30s);
  EXPECT_EQ(c.store.map_size, uint64_t{2} << 30);
  EXPECT_FALSE(c.docker.enabled);
  EXPECT_EQ(c.docker.socket, "/run/user/1000/docker.sock");
  EXPECT_FALSE(c.process.enabled);
  EXPECT_TRUE(c.stop_replicas_on_exit);
  EXPECT_EQ(c.log_level, "debug");
}

TEST(DaemonConfig, EmptyFileKeepsDefaults) {
  for (std::string text : {"", "# nothing\n", "---\n"}) {
    auto result = parse(text);
    ASSERT_TRUE(result.ok()) << describe(result.errors);
    const auto& c = result.config;
    EXPECT_EQ(c.data_dir, ".tutti");
    EXPECT_EQ(c.api.to_string(), "127.0.0.1:7700");
    EXPECT_EQ(c.metrics.to_string(), "127.0.0.1:9770");
    EXPECT_EQ(c.node.name, "");
    EXPECT_EQ(c.node.port_range_first, 20000);
    EXPECT_EQ(c.node.port_range_last, 29999);
    EXPECT_EQ(c.supervision.max_restarts, 10);
    EXPECT_EQ(c.supervision.window, 10s);
    EXPECT_EQ(c.store.map_size, uint64_t{1} << 30);
    EXPECT_TRUE(c.docker.enabled);
    EXPECT_TRUE(c.process.enabled);
    EXPECT_EQ(c.docker.socket, "/var/run/docker.sock");
    EXPECT_FALSE(c.stop_replicas_on_exit);
    EXPECT_EQ(c.log_level, "info");
  }
}

TEST(DaemonConfig, PartialFileOverridesOnlyItsFields) {
  auto result = parse("log_level: warn\nnode: {name: edge-1}\n");
  ASSERT_TRUE(result.ok()) << describe(result.errors);
  EXPECT_EQ(result.config.log_level, "warn");
  EXPECT_EQ(result.config.node.name, "edge-1");
  EXPECT_EQ(result.config.node.port_range_first, 20000);
  EXPECT_EQ(result.config.data_dir, ".tutti");
}

TEST(DaemonConfig, RefusesUnknownFields) {
  expect_only_error("data_dri: /x\n", 1, 1, "data_dri", "unknown field 'data_dri'");
  expect_only_error("node:\n  lables: {zone: a}\n", 2, 3, "node.lables", "unknown field 'lables'");
}

TEST(DaemonConfig, RefusesBadPortRanges) {
  expect_only_error("node: {port_range: 30000-20000}\n", 1, 20, "node.port_range", "first <= last");
  expect_only_error("node: {port_range: 80-1000}\n", 1, 20, "node.port_range",
                    "between 1024 and 65535");
  expect_only_error("node: {port_range: 20000-70000}\n", 1, 20, "node.port_range",
                    "expected first-last");
  expect_only_error("node: {port_range: 20000}\n", 1, 20, "node.port_range",
                    "expected first-last like 20000-29999");
  expect_only_error("node: {port_range: a-b}\n", 1, 20, "node.port_range", "expected");
}

TEST(DaemonConfig, AcceptsSinglePortRange) {
  auto result = parse("node: {port_range: 1024-1024}\n");
  ASSERT_TRUE(result.ok()) << describe(result.errors);
  EXPECT_EQ(result.config.node.port_range_first, 1024);
  EXPECT_EQ(result.config.node.port_range_last, 1024);
}

TEST(DaemonConfig, RefusesBadValues) {
  expect_only_error("log_level: loud\n", 1, 12, "log_level",
                    "expected one of trace, debug, info, warn or error");
  expect_only_error("stop_replicas_on_exit: maybe\n", 1, 24, "stop_replicas_on_exit",
                    "expected true or false");
  expect_only_error("api: localhost\n", 1, 6, "api", "expected host:port");
  expect_only_error("metrics: 127.0.0.1:99999\n", 1, 10, "metrics", "expected host:port");
  expect_only_error("supervision: {max_restarts: -1}\n", 1, 29, "supervision.max_restarts",
                    "must be between 0 and");
  expect_only_error("supervision: {window: 0s}\n", 1, 23, "supervision.window", "greater than 0");
  expect_only_error("store: {map_size: 1k}\n", 1, 19, "store.map_size", "at least 1Mi");
  expect_only_error("node: {memory: lots}\n", 1, 16, "node.memory", "byte quantity");
  expect_only_error("node: {cpu: -2}\n", 1, 13, "node.cpu", "must not be negative");
  expect_only_error("data_dir: ''\n", 1, 11, "data_dir", "must not be empty");
  expect_only_error("node: {name: 'bad name'}\n", 1, 14, "node.name", "invalid node name");
}

TEST(DaemonConfig, RefusesBadDockerSettings) {
  expect_only_error("docker: {socket: ''}\n", 1, 18, "docker.socket", "must not be empty");
  expect_only_error("docker: {socket: /" + std::string(120, 'x') + "}\n", 1, 18, "docker.socket",
                    "at most 107 bytes");
  expect_only_error("process: {enabled: 2}\n", 1, 20, "process.enabled",
                    "expected true or false, got '2'");
  expect_only_error("docker: {enabled: sometimes}\n", 1, 19, "docker.enabled",
                    "expected true or false");
  expect_only_error("docker: {sock: /x}\n", 1, 10, "docker.sock", "unknown field 'sock'");
  expect_only_error("docker: /var/run/docker.sock\n", 1, 9, "docker", "expected a mapping");
}

TEST(DaemonConfig, RefusesBadLabels) {
  expect_only_error("node:\n  labels: {node.name: x}\n", 2, 12, "node.labels.node.name",
                    "reserved");
  expect_only_error("node:\n  labels: {zone: 'a b'}\n", 2, 18, "node.labels.zone", "label values");
  expect_only_error("node:\n  labels: {'a b': x}\n", 2, 12, "node.labels.a b", "invalid name");
  expect_only_error("node:\n  labels: [zone]\n", 2, 11, "node.labels", "expected a mapping");
}

TEST(DaemonConfig, RefusesWrongTypes) {
  expect_only_error("node: n1\n", 1, 7, "node", "expected a mapping");
  expect_only_error("data_dir: [a]\n", 1, 11, "data_dir", "expected a string, got a sequence");
  expect_only_error("- a\n", 1, 1, "", "expected a mapping");
}

TEST(DaemonConfig, CollectsAllErrors) {
  auto result = parse("log_level: loud\nnode: {cpu: x}\nfoo: 1\n");
  ASSERT_EQ(result.errors.size(), 3u) << describe(result.errors);
  EXPECT_EQ(result.errors[0].line, 1);
  EXPECT_EQ(result.errors[1].line, 2);
  EXPECT_EQ(result.errors[2].line, 3);
}

TEST(DaemonConfig, ReportsMalformedYaml) {
  expect_only_error("api: [127.0.0.1:7700\n", 2, 1, "", "invalid YAML");
}

TEST(DaemonConfig, RefusesSeveralDocuments) {
  expect_only_error("log_level: info\n---\nlog_level: warn\n", 3, 1, "", "expected one document");
}

TEST(DaemonConfig, LoadsFiles) {
  temp_file file{"log_level: error\n"};
  auto result = config::load_daemon_config(file.path());
  ASSERT_TRUE(result.ok()) << describe(result.errors);
  EXPECT_EQ(result.config.log_level, "error");
}

TEST(DaemonConfig, MissingFileIsAnErrorNamingIt) {
  auto result = config::load_daemon_config("/nonexistent/tuttid.yaml");
  ASSERT_EQ(result.errors.size(), 1u);
  EXPECT_EQ(result.errors[0].file, "/nonexistent/tuttid.yaml");
  EXPECT_NE(result.errors[0].message.find("/nonexistent/tuttid.yaml"), std::string::npos);
}

TEST(Endpoint, ParsesHostAndPort) {
  auto e = config::parse_endpoint("127.0.0.1:7700");
  ASSERT_TRUE(e);
  EXPECT_EQ(e->host, "127.0.0.1");
  EXPECT_EQ(e->port, 7700);
  EXPECT_EQ(config::parse_endpoint("localhost:0")->port, 0);
  EXPECT_EQ(config::parse_endpoint("0.0.0.0:65535")->port, 65535);
  EXPECT_EQ(config::parse_endpoint("[::1]:80")->host, "[::1]");
  EXPECT_EQ(config::parse_endpoint("[::1]:80")->to_string(), "[::1]:80");
}

TEST(Endpoint, RefusesMalformed) {
  for (std::string bad : {"", "7700", ":7700", "host:", "host:65536", "host:-1", "host:7x",
                          "::1:80", "a b:80", "host:+80"}) {
    SCOPED_TRACE(bad);
    EXPECT_EQ(config::parse_endpoint(bad).has_value(), false);
  }
}

TEST(DaemonConfig, ParsesTheMeshSection) {
  auto defaults = parse("");
  ASSERT_TRUE(defaults.ok()) << describe(defaults.errors);
  EXPECT_EQ(defaults.config.mesh.host, "127.0.0.1");
  EXPECT_EQ(defaults.config.mesh.connect_timeout, 1s);
  EXPECT_EQ(defaults.config.mesh.idle_timeout, 5min);
  auto result = parse("mesh: {host: 127.0.0.2, connect_timeout: 250ms, idle_timeout: 30s}\n");
  ASSERT_TRUE(result.ok()) << describe(result.errors);
  EXPECT_EQ(result.config.mesh.host, "127.0.0.2");
  EXPECT_EQ(result.config.mesh.connect_timeout, 250ms);
  EXPECT_EQ(result.config.mesh.idle_timeout, 30s);
  expect_only_error("mesh: {connect_timeout: 0s}\n", 1, 25, "mesh.connect_timeout", "");
  expect_only_error("mesh: {idle: 1s}\n", 1, 8, "mesh.idle", "unknown field");
}

TEST(DaemonConfig, ClusterTlsIsOffByDefault) {
  auto result = parse("cluster: {join_token: s3cret}\n");
  ASSERT_TRUE(result.ok()) << describe(result.errors);
  EXPECT_FALSE(result.config.cluster.tls.enabled());
  EXPECT_TRUE(config::missing_tls_fields(result.config.cluster.tls).empty());
}

TEST(DaemonConfig, ParsesClusterTls) {
  auto result = parse("cluster:\n"
                      "  join_token: s3cret\n"
                      "  tls: {certificate: /etc/tutti/n1.crt, key: /etc/tutti/n1.key,\n"
                      "        ca: /etc/tutti/ca.crt}\n");
  ASSERT_TRUE(result.ok()) << describe(result.errors);
  const auto& tls = result.config.cluster.tls;
  EXPECT_TRUE(tls.enabled());
  EXPECT_EQ(tls.certificate, "/etc/tutti/n1.crt");
  EXPECT_EQ(tls.key, "/etc/tutti/n1.key");
  EXPECT_EQ(tls.ca, "/etc/tutti/ca.crt");
  EXPECT_EQ(result.config.cluster.join_token, "s3cret");
}

TEST(DaemonConfig, ClusterTlsNeedsAllThreeFiles) {
  expect_only_error("cluster:\n  tls: {certificate: a.crt}\n", 2, 8, "cluster.tls",
                    "missing: key, ca");
  expect_only_error("cluster:\n  tls: {certificate: a.crt, key: a.key}\n", 2, 8, "cluster.tls",
                    "missing: ca");
  // A key or CA alone is a half-made setup too, not "TLS off".
  expect_only_error("cluster:\n  tls: {ca: ca.crt}\n", 2, 8, "cluster.tls",
                    "missing: certificate, key");
}

TEST(DaemonConfig, RefusesBadClusterTls) {
  expect_only_error("cluster: {tls: {certificate: a, key: b, ca: ''}}\n", 1, 45, "cluster.tls.ca",
                    "must not be empty");
  expect_only_error("cluster: {tls: {certificate: a, key: b, ca: c, cafile: d}}\n", 1, 48,
                    "cluster.tls.cafile", "unknown field 'cafile'");
  expect_only_error("cluster: {tls: on}\n", 1, 16, "cluster.tls", "expected a mapping");
}

TEST(DaemonConfig, MissingTlsFieldsNamesWhatIsEmpty) {
  config::tls_config tls;
  EXPECT_TRUE(config::missing_tls_fields(tls).empty());
  tls.key = "k";
  EXPECT_EQ(config::missing_tls_fields(tls), (std::vector<std::string>{"certificate", "ca"}));
  tls.certificate = "c";
  tls.ca = "a";
  EXPECT_TRUE(config::missing_tls_fields(tls).empty());
}

TEST(DaemonConfig, LimitsHaveSafeDefaultsAndCanBeSet) {
  auto defaults = parse("");
  ASSERT_TRUE(defaults.ok()) << describe(defaults.errors);
  EXPECT_EQ(defaults.config.limits.request_bytes, 5u << 20);
  EXPECT_EQ(defaults.config.limits.connections, 1024);
  auto result = parse("limits: {request_bytes: 1Mi, documents_per_apply: 10, services: 50,\n"
                      "         connections: 100, calls_per_connection: 4,\n"
                      "         streams_per_connection: 2, audit_records: 5000}\n");
  ASSERT_TRUE(result.ok()) << describe(result.errors);
  const auto& l = result.config.limits;
  EXPECT_EQ(l.request_bytes, 1u << 20);
  EXPECT_EQ(l.documents_per_apply, 10);
  EXPECT_EQ(l.services, 50);
  EXPECT_EQ(l.connections, 100);
  EXPECT_EQ(l.calls_per_connection, 4);
  EXPECT_EQ(l.streams_per_connection, 2);
  EXPECT_EQ(l.audit_records, 5000);
  EXPECT_EQ(defaults.config.limits.audit_records, 100000);
}

TEST(DaemonConfig, ReadsWhoMayUseTheApi) {
  auto result = parse("access: {admin_token_file: /etc/tutti/admin.token, certificate: api.crt,\n"
                      "         key: api.key, client_ca: users.crt, plaintext: true}\n");
  ASSERT_TRUE(result.ok()) << describe(result.errors);
  const auto& a = result.config.access;
  EXPECT_EQ(a.admin_token_file, "/etc/tutti/admin.token");
  EXPECT_EQ(a.certificate, "api.crt");
  EXPECT_EQ(a.key, "api.key");
  EXPECT_EQ(a.client_ca, "users.crt");
  EXPECT_TRUE(a.plaintext);
  expect_only_error("access: {tokens: x}\n", 1, 10, "access.tokens", "unknown field");
}

TEST(DaemonConfig, RefusesLimitsOutOfRange) {
  expect_only_error("limits: {connections: 0}\n", 1, 23, "limits.connections", "between 1 and");
  expect_only_error("limits: {request_bytes: 1Ki}\n", 1, 25, "limits.request_bytes",
                    "between 64Ki and 512Mi");
  expect_only_error("limits: {calls: 3}\n", 1, 10, "limits.calls", "unknown field");
  expect_only_error("limits: {audit_records: 10}\n", 1, 25, "limits.audit_records",
                    "between 1000 and");
}

TEST(DaemonConfig, TheStoreIsLmdbUnderTheDataDirUnlessAUrlSaysOtherwise) {
  auto result = parse("store: {map_size: 2Gi}\n");
  ASSERT_TRUE(result.ok()) << describe(result.errors);
  EXPECT_EQ(result.config.store.backend, config::store_backend::lmdb);
  EXPECT_TRUE(result.config.store.dir.empty());
  result = parse("store: {url: 'lmdb:/var/lib/tutti/store'}\n");
  ASSERT_TRUE(result.ok()) << describe(result.errors);
  EXPECT_EQ(result.config.store.dir, "/var/lib/tutti/store");
}

TEST(DaemonConfig, ParsesAnEtcdStoreWithItsTlsUserAndLimits) {
  auto result = parse("store:\n"
                      "  url: etcd://10.0.0.1:2379,10.0.0.2:2379\n"
                      "  etcd: {prefix: /prod/, ca: ca.crt, certificate: c.crt, key: c.key,\n"
                      "         user: tutti, password_file: /etc/tutti/etcd.pw,\n"
                      "         max_txn_ops: 512, timeout: 2s, leader_ttl: 3s}\n");
  ASSERT_TRUE(result.ok()) << describe(result.errors);
  const auto& store = result.config.store;
  EXPECT_EQ(store.backend, config::store_backend::etcd);
  ASSERT_EQ(store.etcd.endpoints.size(), 2u);
  EXPECT_EQ(store.etcd.endpoints[1].to_string(), "10.0.0.2:2379");
  EXPECT_EQ(store.etcd.prefix, "/prod/");
  EXPECT_EQ(store.etcd.ca, "ca.crt");
  EXPECT_EQ(store.etcd.user, "tutti");
  EXPECT_EQ(store.etcd.password_file, "/etc/tutti/etcd.pw");
  EXPECT_EQ(store.etcd.max_txn_ops, 512u);
  EXPECT_EQ(store.etcd.timeout, 2s);
  EXPECT_EQ(store.etcd.leader_ttl, 3s);
}

TEST(DaemonConfig, RefusesAStoreItCannotUseNamingWhatIsWrong) {
  expect_only_error("store: {url: 'postgres://x'}\n", 1, 14, "store.url",
                    "expected lmdb:DIR or etcd://HOST:PORT");
  expect_only_error("store: {url: 'etcd://a:1,b'}\n", 1, 14, "store.url", "'a:1,b'");
  expect_only_error("store: {url: 'etcd://a:0'}\n", 1, 14, "store.url", "needs a port");
  expect_only_error("store: {url: 'lmdb:'}\n", 1, 14, "store.url", "needs a directory");
  expect_only_error("store: {etcd: {max_txn_ops: 2}}\n", 1, 29, "store.etcd.max_txn_ops", "8");
  expect_only_error("store: {etcd: {prefix: tutti}}\n", 1, 24, "store.etcd.prefix",
                    "must start with '/'");
  expect_only_error("store: {etcd: {certificate: c.crt}}\n", 1, 15, "store.etcd",
                    "certificate and key go together");
  expect_only_error("store: {etcd: {leader_ttl: 500ms}}\n", 1, 28, "store.etcd.leader_ttl",
                    "at least 1s");
}

TEST(DaemonConfig, ANodeJoinsAnyOfSeveralControlProcesses) {
  auto result = parse("cluster: {join: '127.0.0.1:7701,127.0.0.2:7701'}\n");
  ASSERT_TRUE(result.ok()) << describe(result.errors);
  ASSERT_EQ(result.config.cluster.join.size(), 2u);
  EXPECT_EQ(config::to_string(result.config.cluster.join), "127.0.0.1:7701,127.0.0.2:7701");
  result = parse("cluster: {join: [127.0.0.1:7701, '127.0.0.3:7701']}\n");
  ASSERT_TRUE(result.ok()) << describe(result.errors);
  EXPECT_EQ(result.config.cluster.join.size(), 2u);
  expect_only_error("cluster: {join: 'a:1,:2'}\n", 1, 17, "cluster.join", "got 'a:1,:2'");
  expect_only_error("cluster: {join: []}\n", 1, 17, "cluster.join", "at least one");
}
