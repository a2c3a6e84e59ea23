// A multi-host cluster on loopback with TLS between the node agents and the
// control plane (caf::openssl, mutual TLS with a cluster CA). The CA and the
// certificates are made with the openssl binary in a temporary directory when
// the test runs. A node without TLS, a node whose certificate another CA
// signed, a node that does not trust the control plane's CA and a TLS node at a
// plain control plane are each refused with a message that says which; the
// control plane lives on and takes a good node afterwards.

#include "tests/integration/fixture.hpp"
#include "tests/support/test_ca.hpp"

namespace tutti::tests::integration {
namespace {

constexpr const char* token = "s3cret-token";

const std::string fast_detection = "cluster: {heartbeat_interval: 100ms, node_loss_timeout: 1s}\n";

class tls_cluster : public integration {
protected:
  void SetUp() override {
    if (s::openssl_binary().empty())
      GTEST_SKIP() << "needs the openssl binary (tools/install-deps.sh)";
    ca_ = std::make_unique<s::test_ca>(certs_, "cluster");
    ca_pem_ = s::read_file(ca_->cert());
    config_ = certs_.write("cluster.yaml", fast_detection);
  }

  static std::vector<std::string> tls_args(const s::issued_cert& cert, const std::string& ca) {
    return {"--tls-cert", cert.cert, "--tls-key", cert.key, "--tls-ca", ca};
  }

  s::tuttid_options control_options(bool tls) {
    auto opts = daemon_options();
    opts.mode = "control";
    opts.config_file = config_;
    opts.pick_listen_port = true;
    opts.extra_args = {"--join-token", token};
    if (tls) {
      auto args = tls_args(ca_->issue("control"), ca_->cert());
      opts.extra_args.insert(opts.extra_args.end(), args.begin(), args.end());
    }
    return opts;
  }

  s::tuttid_process& start_control(bool tls = true) {
    auto& control = start_daemon(control_options(tls));
    listen_ = control.listen_port();
    return control;
  }

  /// A node's options; `tls` are its --tls-* flags (empty: no TLS).
  s::tuttid_options node_options(const std::string& name, const std::string& address,
                                 const std::vector<std::string>& tls) {
    auto opts = daemon_options();
    opts.mode = "node";
    opts.config_file = config_;
    opts.extra_args = {"--join",       "127.0.0.1:" + std::to_string(listen_),
                       "--join-token", token,
                       "--node-name",  name,
                       "--address",    address,
                       "--no-docker"};
    opts.extra_args.insert(opts.extra_args.end(), tls.begin(), tls.end());
    return opts;
  }

  s::tuttid_process& start_tls_node(const std::string& name, const std::string& address) {
    return start_daemon(node_options(name, address, tls_args(ca_->issue(name), ca_->cert())));
  }

  /// Starts a node that must be refused: it ends with exit code 1 within the
  /// deadline and its log holds `reason`. Its log, for more checks.
  std::string expect_refused(const s::tuttid_options& opts, const std::string& reason) {
    auto& node = make_daemon(opts);
    EXPECT_FALSE(node.start(15s)) << node.log();
    EXPECT_EQ(node.wait_for_exit(10s), 1) << node.log();
    EXPECT_NE(node.log().find(reason), std::string::npos) << node.log();
    return node.log();
  }

  /// The control plane still answers and has no node but those named.
  void expect_control_lives_with(s::tuttid_process& control, std::set<std::string> names) {
    ASSERT_TRUE(control.running()) << control.log();
    auto nodes = tutti_json(control, {"get", "nodes"});
    ASSERT_TRUE(nodes) << control.log();
    std::set<std::string> seen;
    for (auto& n : *nodes)
      seen.insert(n.value("name", ""));
    EXPECT_EQ(seen, names) << *nodes;
  }

  bool wait_nodes_ready(s::tuttid_process& control, size_t n) {
    return s::wait_until(
        [&] {
          auto nodes = tutti_json(control, {"get", "nodes"});
          if (!nodes || nodes->size() != n)
            return false;
          return std::all_of(nodes->begin(), nodes->end(),
                             [](auto& x) { return x.value("state", "") == "ready"; });
        },
        converge_timeout);
  }

  s::temp_dir certs_{"tutti-tls-certs-"};
  std::unique_ptr<s::test_ca> ca_;
  std::string ca_pem_;
  std::string config_;
  uint16_t listen_ = 0;
};

TEST_F(tls_cluster, NodesJoinOverTlsAndRunReplicas) {
  auto& control = start_control();
  auto& n1 = start_tls_node("n1", "127.0.0.2");
  // n2 takes its files from the config file (cluster.tls) instead of flags.
  auto n2_cert = ca_->issue("n2");
  auto opts = node_options("n2", "127.0.0.3", {});
  opts.config_file = certs_.write("n2.yaml", "cluster: {heartbeat_interval: 100ms, "
                                             "node_loss_timeout: 1s,\n"
                                             "  tls: {certificate: " +
                                                 n2_cert.cert + ", key: " + n2_cert.key +
                                                 ", ca: " + ca_->cert() + "}}\n");
  auto& n2 = start_daemon(opts);
  ASSERT_TRUE(wait_nodes_ready(control, 2)) << control.tutti({"get", "nodes"}).out;
  auto file = certs_.write("sleepy.yaml", sleeper_yaml("sleepy", 4));
  auto applied = control.tutti({"apply", "-f", file});
  ASSERT_EQ(applied.exit_code, 0) << applied.describe();
  std::map<std::string, int> per_node;
  ASSERT_TRUE(s::wait_until(
      [&] {
        per_node.clear();
        for (auto& r : replicas_of(control, "sleepy"))
          if (r.value("state", "") == "running")
            ++per_node[r.value("node", "")];
        return per_node["n1"] + per_node["n2"] == 4;
      },
      converge_timeout))
      << json(replicas_of(control, "sleepy"));
  EXPECT_EQ(per_node["n1"], 2) << "spread over both nodes";
  EXPECT_EQ(per_node["n2"], 2);
  // The replicas really run where the nodes' process drivers put them.
  for (auto& [id, pid] : running_pids(control, "sleepy"))
    EXPECT_TRUE(s::process_alive(pid)) << id;
  EXPECT_NE(control.log().find("joined"), std::string::npos) << control.log();
  (void)n1;
  (void)n2;
}

TEST_F(tls_cluster, NodeWithoutTlsIsRefusedAndTheControlPlaneLivesOn) {
  auto& control = start_control();
  expect_refused(node_options("plain", "127.0.0.2", {}), "requires TLS");
  expect_control_lives_with(control, {});
  start_tls_node("n1", "127.0.0.3");
  ASSERT_TRUE(wait_nodes_ready(control, 1));
  expect_control_lives_with(control, {"n1"});
}

TEST_F(tls_cluster, NodeWithACertificateOfAnotherCaIsRefused) {
  auto& control = start_control();
  s::test_ca rogue{certs_, "rogue"};
  // A whole other CA: its files fit together, but the control plane's
  // certificate fails the node's check (and the node's would fail the control
  // plane's).
  auto stranger = rogue.issue("stranger");
  expect_refused(node_options("stranger", "127.0.0.2", tls_args(stranger, rogue.cert())),
                 "presented a certificate that does not verify against this node's CA");
  expect_control_lives_with(control, {});
  start_tls_node("n1", "127.0.0.3");
  ASSERT_TRUE(wait_nodes_ready(control, 1));
}

TEST_F(tls_cluster, ControlPlaneRefusesANodeCertificateOfAnotherCa) {
  auto& control = start_control();
  s::test_ca rogue{certs_, "rogue"};
  // A node that trusts the cluster CA but shows a certificate the rogue CA
  // signed: its startup check already refuses that (its own certificate must
  // chain to its CA), so put the rogue CA next to the cluster CA in its CA file:
  // the node trusts the control plane, the control plane does not trust it.
  auto stranger = rogue.issue("stranger");
  auto both = certs_.write("both-cas.crt", s::read_file(ca_->cert()) + s::read_file(rogue.cert()));
  expect_refused(node_options("stranger", "127.0.0.2", tls_args(stranger, both)),
                 "refused this node's certificate");
  expect_control_lives_with(control, {});
  start_tls_node("n1", "127.0.0.3");
  ASSERT_TRUE(wait_nodes_ready(control, 1));
}

TEST_F(tls_cluster, TlsNodeAtAPlainControlPlaneIsRefused) {
  auto& control = start_control(false);
  expect_refused(node_options("n1", "127.0.0.2", tls_args(ca_->issue("n1"), ca_->cert())),
                 "does not speak TLS");
  expect_control_lives_with(control, {});
}

TEST_F(tls_cluster, FilesRemovedAfterStartupChangeNothing) {
  // CAF reads its TLS files for every connection, and a file it cannot read
  // would end the process: tuttid gives it the copies it checked at startup.
  auto& control = start_control();
  auto n1 = ca_->issue("n1");
  auto ca_copy = certs_.write("ca-again.crt", ca_pem_); // the node's own copy of the CA
  for (auto path : {certs_.file("control.crt"), certs_.file("control.key"), ca_->cert()})
    ASSERT_TRUE(std::filesystem::remove(path)) << path;
  start_daemon(node_options("n1", "127.0.0.2", tls_args(n1, ca_copy)));
  ASSERT_TRUE(wait_nodes_ready(control, 1)) << control.log();
  expect_control_lives_with(control, {"n1"});
}

TEST_F(tls_cluster, HelpDocumentsTheTlsFlags) {
  for (const char* mode : {"control", "node"}) {
    auto r = s::run_command({TUTTID_BIN, mode, "--help"});
    EXPECT_EQ(r.exit_code, 0) << r.describe();
    for (const char* flag : {"--tls-cert", "--tls-key", "--tls-ca"})
      EXPECT_NE(r.out.find(flag), std::string::npos) << mode << " --help lacks " << flag;
  }
}

TEST_F(tls_cluster, BadTlsFilesAreStartupErrorsNamingTheFile) {
  auto missing = certs_.file("nowhere.key");
  auto cert = ca_->issue("control");
  auto r = s::run_command({TUTTID_BIN, "control", "--join-token", token, "--data-dir",
                           certs_.file("data"), "--api", "127.0.0.1:0", "--metrics", "127.0.0.1:0",
                           "--listen", "127.0.0.1:0", "--tls-cert", cert.cert, "--tls-key", missing,
                           "--tls-ca", ca_->cert()});
  EXPECT_EQ(r.exit_code, 1) << r.describe();
  EXPECT_NE(r.err.find("TLS key '" + missing + "' (--tls-key / cluster.tls.key): no such file"),
            std::string::npos)
      << r.describe();
  r = s::run_command({TUTTID_BIN, "node", "--join", "127.0.0.1:1", "--join-token", token,
                      "--data-dir", certs_.file("data2"), "--metrics", "127.0.0.1:0", "--no-docker",
                      "--tls-cert", cert.cert});
  EXPECT_EQ(r.exit_code, 1) << r.describe();
  EXPECT_NE(r.err.find("missing: --tls-key, --tls-ca"), std::string::npos) << r.describe();
}

} // namespace
} // namespace tutti::tests::integration
