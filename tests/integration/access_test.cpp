// Who may use the client API: the gate refuses a client without credentials,
// each role allows what it should and no more, a revoked or expired token
// stops working (on an open connection too), every mutating and refused call
// is in the audit log, and a control plane's API speaks TLS, where client
// certificates of the users' CA name user and role and bad ones are refused
// with a reason the client shows.

#include "tests/integration/fixture.hpp"
#include "tests/integration/raw_client.hpp"
#include "tests/support/test_ca.hpp"

#include <sstream>

namespace tutti::tests::integration {
namespace {

const std::string web = "kind: Service\nname: web\nreplicas: 1\ndriver: sim\ncommand: [/bin/true]\n";

/// `tutti ARGS` as a client holding `token` instead of the admin token.
s::command_result as(s::tuttid_process& d, const std::string& token,
                     std::vector<std::string> args) {
  std::vector<std::string> argv{TUTTI_BIN, "--api", d.api(), "--token", token};
  argv.insert(argv.end(), args.begin(), args.end());
  return s::run_command(argv, {{"TUTTI_API", d.api()}});
}

/// A new token's secret (`tutti token create NAME --role ROLE -o json`).
std::string make_token(s::tuttid_process& d, const std::string& name, const std::string& role,
                       const std::vector<std::string>& more = {}) {
  std::vector<std::string> args{"token", "create", name, "--role", role, "-o", "json"};
  args.insert(args.end(), more.begin(), more.end());
  auto r = d.tutti(args);
  EXPECT_EQ(r.exit_code, 0) << r.describe();
  auto j = json::parse(r.out, nullptr, false);
  return j.is_object() ? j.value("token", "") : "";
}

/// `tutti audit -o json`: one record per line.
std::vector<json> audit_of(s::tuttid_process& d) {
  auto r = d.tutti({"audit", "-o", "json", "-n", "1000"});
  EXPECT_EQ(r.exit_code, 0) << r.describe();
  std::vector<json> out;
  std::istringstream in{r.out};
  for (std::string line; std::getline(in, line);)
    if (auto j = json::parse(line, nullptr, false); j.is_object())
      out.push_back(j);
  return out;
}

bool has_record(const std::vector<json>& records, const std::string& call,
                const std::string& result, const std::string& who_part) {
  for (const auto& x : records)
    if (x.value("call", "") == call && x.value("result", "") == result &&
        x.value("who", "").find(who_part) != std::string::npos)
      return true;
  return false;
}

TEST_F(integration, TheGateRefusesAClientWithoutCredentials) {
  auto& d = start_daemon();
  raw_client anonymous{d, ""};
  try {
    anonymous.api().getServicesRequest().send().wait(anonymous.wait());
    ADD_FAILURE() << "a session without credentials answered";
  } catch (const kj::Exception& e) {
    std::string why = e.getDescription().cStr();
    EXPECT_NE(why.find("unauthenticated: no credential"), std::string::npos) << why;
  }
  auto r = as(d, "tutti_not_a_token", {"get", "services"});
  EXPECT_EQ(r.exit_code, 1) << r.describe();
  EXPECT_NE(r.err.find("not known to this cluster"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("(unauthenticated)"), std::string::npos) << r.err;
}

TEST_F(integration, EachRoleAllowsWhatItShouldAndNoMore) {
  auto& d = start_daemon();
  auto viewer = make_token(d, "looker", "viewer");
  auto deployer = make_token(d, "ci", "deployer");
  auto spec = d.scratch().write("web.yaml", web);

  auto r = as(d, viewer, {"apply", "-f", spec});
  EXPECT_EQ(r.exit_code, 1) << r.describe();
  EXPECT_NE(r.err.find("looker (token, viewer) may not apply services"), std::string::npos)
      << r.err;
  EXPECT_NE(r.err.find("the roles deployer, operator or admin may"), std::string::npos) << r.err;
  EXPECT_EQ(as(d, viewer, {"get", "services"}).exit_code, 0);
  EXPECT_EQ(tutti_json(d, {"get", "services"}), json::array()) << "a refused apply stores nothing";

  r = as(d, deployer, {"apply", "-f", spec});
  EXPECT_EQ(r.exit_code, 0) << r.describe();
  EXPECT_EQ(as(d, deployer, {"scale", "web=2"}).exit_code, 0);
  r = as(d, deployer, {"delete", "web"});
  EXPECT_EQ(r.exit_code, 1) << r.describe();
  EXPECT_NE(r.err.find("may not delete services"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("operator or admin"), std::string::npos) << r.err;
  r = as(d, deployer, {"token", "ls"});
  EXPECT_EQ(r.exit_code, 1) << r.describe();
  EXPECT_NE(r.err.find("only the role admin may"), std::string::npos) << r.err;
  r = as(d, deployer, {"image", "import", spec, "--node", "n1"});
  EXPECT_EQ(r.exit_code, 1) << r.describe();
  EXPECT_NE(r.err.find("ci (token, deployer) may not import images (importImage): the roles "
                       "operator or admin may"),
            std::string::npos)
      << r.err;
  r = as(d, deployer, {"whoami", "-o", "json"});
  ASSERT_EQ(r.exit_code, 0) << r.describe();
  auto who = json::parse(r.out);
  EXPECT_EQ(who["name"], "ci");
  EXPECT_EQ(who["role"], "deployer");
  EXPECT_EQ(who["via"], "token");

  auto services = tutti_json(d, {"get", "services"});
  ASSERT_TRUE(services && services->size() == 1);
  EXPECT_EQ((*services)[0]["desired"], 2);
}

TEST_F(integration, ARevokedTokenStopsWorkingOnAnOpenConnection) {
  auto& d = start_daemon();
  auto token = make_token(d, "short-lived", "deployer");
  raw_client c{d, token};
  EXPECT_FALSE(c.api().getServicesRequest().send().wait(c.wait()).getError().getCode() !=
               protocol::rpc::ErrorCode::NONE);
  auto r = d.tutti({"token", "revoke", "short-lived"});
  ASSERT_EQ(r.exit_code, 0) << r.describe();
  try {
    c.api().getServicesRequest().send().wait(c.wait());
    ADD_FAILURE() << "the session of a revoked token answered";
  } catch (const kj::Exception& e) {
    std::string why = e.getDescription().cStr();
    EXPECT_NE(why.find("the token short-lived was revoked"), std::string::npos) << why;
  }
  r = d.tutti({"token", "ls", "-o", "json"});
  EXPECT_EQ(r.out.find("short-lived"), std::string::npos) << r.out;
  r = d.tutti({"token", "revoke", "short-lived"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("no token named short-lived"), std::string::npos) << r.err;
}

TEST_F(integration, AnExpiredTokenIsRefused) {
  auto& d = start_daemon();
  auto token = make_token(d, "brief", "viewer", {"--ttl", "1s"});
  EXPECT_TRUE(s::wait_until(
      [&] {
        auto r = as(d, token, {"get", "services"});
        return r.exit_code == 1 && r.err.find("the token brief has expired") != std::string::npos;
      },
      10s));
  auto r = d.tutti({"token", "create", "bad", "--ttl", "soon"});
  EXPECT_EQ(r.exit_code, 2) << r.describe();
  EXPECT_NE(r.err.find("--ttl: expected a positive duration"), std::string::npos) << r.err;
}

TEST_F(integration, TheAuditLogHoldsEveryAttempt) {
  auto& d = start_daemon();
  auto viewer = make_token(d, "looker", "viewer");
  auto spec = d.scratch().write("web.yaml", web);
  as(d, viewer, {"apply", "-f", spec});
  as(d, "tutti_not_a_token", {"get", "services"});
  ASSERT_EQ(d.tutti({"apply", "-f", spec}).exit_code, 0);
  ASSERT_EQ(d.tutti({"scale", "web=2"}).exit_code, 0);
  auto records = audit_of(d);
  EXPECT_TRUE(has_record(records, "createToken", "ok", "admin (admin token, admin)"));
  EXPECT_TRUE(has_record(records, "apply", "forbidden", "looker (token, viewer)"));
  EXPECT_TRUE(has_record(records, "session", "unauthenticated", "anonymous"));
  EXPECT_TRUE(has_record(records, "apply", "ok", "admin"));
  EXPECT_TRUE(has_record(records, "scale", "ok", "admin"));
  for (const auto& x : records) {
    EXPECT_NE(x.value("from", ""), "") << x.dump();
    EXPECT_GT(x.value("time_ms", int64_t{0}), 0) << x.dump();
  }
  EXPECT_FALSE(has_record(records, "getServices", "ok", "looker")) << "reads are not audited";
  auto r = as(d, viewer, {"audit"});
  EXPECT_EQ(r.exit_code, 1) << "only admins read the audit log";
}

TEST_F(integration, TheAuditLogKeepsTheNewestRecordsOnly) {
  s::temp_dir config;
  auto opts = daemon_options();
  opts.config_file = config.write("tuttid.yaml", "limits: {audit_records: 1000}\n");
  auto& d = start_daemon(opts);
  // Refused logins, each a record: more than the log keeps.
  raw_client c{d, ""};
  for (int i = 0; i < 1100; ++i) {
    auto req = c.gate().sessionRequest();
    req.setToken("");
    try {
      req.send().wait(c.wait());
    } catch (const kj::Exception&) {
    }
  }
  auto records = audit_of(d);
  EXPECT_GE(records.size(), 1000u);
  EXPECT_LT(records.size(), 1100u) << "the oldest records were not pruned";
}

TEST_F(integration, TheAdminTokenFileIsPrivateAndKept) {
  auto& d = start_daemon();
  struct stat st {};
  ASSERT_EQ(::stat(d.admin_token_file().c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  auto first = raw_client::admin_token(d);
  ASSERT_TRUE(d.restart()) << d.log();
  EXPECT_EQ(raw_client::admin_token(d), first) << "a restart keeps the admin token";
  EXPECT_NE(d.log().find("the admin token is in " + d.admin_token_file()), std::string::npos);
  ASSERT_EQ(d.terminate(), 0);
  ::chmod(d.admin_token_file().c_str(), 0644);
  EXPECT_FALSE(d.start(5s));
  EXPECT_NE(d.log().find("can be read by others than its owner"), std::string::npos) << d.log();
}

/// `tutti ARGS` of the admin, in namespace `ns`.
s::command_result in_ns(s::tuttid_process& d, const std::string& ns, std::vector<std::string> args) {
  args.insert(args.begin(), {"-n", ns});
  return d.tutti(args);
}

std::string in_namespace(const std::string& ns, const std::string& name, int replicas,
                         const std::string& extra = {}) {
  return "kind: Service\nname: " + name + "\nnamespace: " + ns +
         "\nreplicas: " + std::to_string(replicas) + "\ndriver: sim\ncommand: [/bin/true]\n" +
         extra;
}

TEST_F(integration, NamesAreUniquePerNamespaceAndListsShowOneNamespace) {
  auto& d = start_daemon();
  auto spec = d.scratch().write("web.yaml", web);
  ASSERT_EQ(d.tutti({"apply", "-f", spec}).exit_code, 0);
  ASSERT_EQ(in_ns(d, "team-a", {"apply", "-f", spec}).exit_code, 0) << "-n places it";
  auto b = d.scratch().write("b.yaml", in_namespace("team-b", "web", 2));
  ASSERT_EQ(d.tutti({"apply", "-f", b}).exit_code, 0);
  auto r = in_ns(d, "team-a", {"apply", "-f", b});
  EXPECT_EQ(r.exit_code, 1) << r.describe();
  EXPECT_NE(r.err.find("the document is in namespace team-b, the request in team-a"),
            std::string::npos)
      << r.err;

  auto names = [&](std::vector<std::string> args) {
    args.insert(args.end(), {"get", "services", "-o", "json"});
    auto got = d.tutti(args);
    std::vector<std::pair<std::string, int>> out;
    for (const auto& x : json::parse(got.out))
      out.emplace_back(x["name"], x["desired"]);
    return out;
  };
  using list = std::vector<std::pair<std::string, int>>;
  EXPECT_EQ(names({}), (list{{"web", 1}}));
  EXPECT_EQ(names({"-n", "team-b"}), (list{{"web", 2}}));
  EXPECT_EQ(names({"-A"}), (list{{"team-a.web", 1}, {"team-b.web", 2}, {"web", 1}}));

  ASSERT_EQ(in_ns(d, "team-b", {"scale", "web=3"}).exit_code, 0);
  EXPECT_EQ(names({"-A"}), (list{{"team-a.web", 1}, {"team-b.web", 3}, {"web", 1}}));
  json replicas;
  EXPECT_TRUE(s::wait_until(
      [&] {
        replicas = json::parse(in_ns(d, "team-b", {"get", "replicas", "-o", "json"}).out);
        return replicas.size() == 3 && replicas[2].value("state", "") == "running";
      },
      converge_timeout))
      << replicas;
  EXPECT_EQ(replicas[0]["service"], "web");
  ASSERT_EQ(in_ns(d, "team-a", {"delete", "web"}).exit_code, 0);
  EXPECT_EQ(names({"-A"}), (list{{"team-b.web", 3}, {"web", 1}}));
}

TEST_F(integration, APublishedPortIsOneForTheWholeClusterAcrossNamespaces) {
  auto& d = start_daemon();
  auto port = std::to_string(s::free_port());
  auto a = d.scratch().write(
      "a.yaml", in_namespace("team-a", "web", 1, "ports: [{name: http, published: " + port + "}]\n"));
  auto b = d.scratch().write(
      "b.yaml", in_namespace("team-b", "api", 1, "ports: [{name: http, published: " + port + "}]\n"));
  ASSERT_EQ(d.tutti({"apply", "-f", a}).exit_code, 0);
  auto r = d.tutti({"apply", "-f", b});
  EXPECT_EQ(r.exit_code, 1) << r.describe();
  EXPECT_NE(r.err.find("team-a.web"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("team-b.api"), std::string::npos) << r.err;
}

TEST_F(integration, ADeployerInOneNamespaceCannotTouchAnother) {
  auto& d = start_daemon();
  ASSERT_EQ(d.tutti({"apply", "-f", d.scratch().write("b.yaml", in_namespace("team-b", "db", 1))})
                .exit_code,
            0);
  auto token = make_token(d, "team-a-ci", "deployer", {"--namespace", "team-a"});
  auto a = d.scratch().write("a.yaml", in_namespace("team-a", "web", 1));
  auto r = as(d, token, {"apply", "-f", a});
  EXPECT_EQ(r.exit_code, 0) << r.describe();
  r = as(d, token, {"-n", "team-b", "scale", "db=3"});
  EXPECT_EQ(r.exit_code, 1) << r.describe();
  EXPECT_NE(r.err.find("team-a-ci (token, deployer in team-a) may not scale services in team-b"),
            std::string::npos)
      << r.err;
  r = as(d, token, {"apply", "-f", d.scratch().write("b2.yaml", in_namespace("team-b", "x", 1))});
  EXPECT_EQ(r.exit_code, 1) << r.describe();
  EXPECT_NE(r.err.find("may not apply services in team-b"), std::string::npos) << r.err;
  r = as(d, token, {"-A", "get", "services", "-o", "json"});
  ASSERT_EQ(r.exit_code, 0) << r.describe();
  auto seen = json::parse(r.out);
  ASSERT_EQ(seen.size(), 1u) << "team-b's services are not listed: " << r.out;
  EXPECT_EQ(seen[0]["name"], "team-a.web");
  r = as(d, token, {"-n", "team-b", "describe", "service", "db"});
  EXPECT_EQ(r.exit_code, 1) << r.describe();
  r = as(d, token, {"get", "nodes"});
  EXPECT_EQ(r.exit_code, 1) << r.describe();
  EXPECT_NE(r.err.find("they belong to the whole cluster"), std::string::npos) << r.err;
  r = as(d, token, {"-A", "events", "-o", "json"});
  ASSERT_EQ(r.exit_code, 0) << r.describe();
  EXPECT_EQ(r.out.find("db"), std::string::npos) << "team-b's events are not listed: " << r.out;
  auto ls = d.tutti({"token", "ls", "-o", "json"});
  EXPECT_NE(ls.out.find("\"namespace\": \"team-a\""), std::string::npos) << ls.out;
}

TEST_F(integration, AQuotaRefusesAnApplyOrAScaleBeyondItBeforeAnythingIsStored) {
  auto& d = start_daemon();
  auto quota = d.scratch().write("quota.yaml", "kind: Quota\nnamespace: team-a\ncpu: 2\n"
                                               "replicas: 4\nservices: 2\n");
  auto r = d.tutti({"apply", "-f", quota});
  ASSERT_EQ(r.exit_code, 0) << r.describe();
  EXPECT_NE(r.out.find("quota/team-a created"), std::string::npos) << r.out;
  auto web = d.scratch().write("web.yaml", in_namespace("team-a", "web", 3, "resources: {cpu: 0.5}\n"));
  ASSERT_EQ(d.tutti({"apply", "-f", web}).exit_code, 0);

  r = in_ns(d, "team-a", {"scale", "web=5"});
  EXPECT_EQ(r.exit_code, 1) << r.describe();
  EXPECT_NE(r.err.find("namespace team-a: replicas 5 would pass its quota of 4"),
            std::string::npos)
      << r.err;
  auto bigger = d.scratch().write("big.yaml", in_namespace("team-a", "web", 3, "resources: {cpu: 1}\n"));
  r = d.tutti({"apply", "-f", bigger});
  EXPECT_EQ(r.exit_code, 1) << r.describe();
  EXPECT_NE(r.err.find("namespace team-a: cpu 3 would pass its quota of 2"), std::string::npos)
      << r.err;
  auto services = tutti_json(d, {"-n", "team-a", "get", "services"});
  ASSERT_TRUE(services && services->size() == 1);
  EXPECT_EQ((*services)[0]["desired"], 3) << "nothing of a refused change is stored";
  EXPECT_EQ((*services)[0]["revision"], 1);
  // Other namespaces have no quota; and it outlives a restart of tuttid.
  EXPECT_EQ(d.tutti({"apply", "-f", d.scratch().write("b.yaml", in_namespace("team-b", "x", 9))})
                .exit_code,
            0);
  ASSERT_TRUE(d.restart()) << d.log();
  r = in_ns(d, "team-a", {"scale", "web=5"});
  EXPECT_EQ(r.exit_code, 1) << r.describe();

  // Only a cluster-wide admin sets quotas.
  auto deployer = make_token(d, "ci", "deployer", {"--namespace", "team-a"});
  r = as(d, deployer, {"apply", "-f", quota});
  EXPECT_EQ(r.exit_code, 1) << r.describe();
  EXPECT_NE(r.err.find("may not set quotas"), std::string::npos) << r.err;
}

TEST_F(integration, CustomRolesGrantVerbsOnResourcesToTheirSubjects) {
  auto& d = start_daemon();
  auto token = make_token(d, "ci", "deployer", {"--namespace", "team-a"});
  ASSERT_EQ(as(d, token, {"get", "nodes"}).exit_code, 1);
  auto roles = d.scratch().write("roles.yaml",
                                 "kind: Role\nname: node-watcher\n"
                                 "rules: [{verbs: [read], resources: [nodes]}]\n"
                                 "---\nkind: RoleBinding\nname: ci-nodes\nrole: node-watcher\n"
                                 "subjects: [{kind: token, name: ci}]\n"
                                 "---\nkind: Role\nname: remover\n"
                                 "rules: [{verbs: [delete], resources: [services]}]\n"
                                 "---\nkind: RoleBinding\nname: ci-removes\nrole: remover\n"
                                 "namespace: team-a\nsubjects: [{kind: token, name: ci}]\n");
  auto r = as(d, token, {"apply", "-f", roles});
  EXPECT_EQ(r.exit_code, 1) << "only a cluster-wide admin sets roles: " << r.describe();
  r = d.tutti({"apply", "-f", roles});
  ASSERT_EQ(r.exit_code, 0) << r.describe();
  EXPECT_NE(r.out.find("rolebinding/ci-nodes"), std::string::npos) << r.out;

  EXPECT_EQ(as(d, token, {"get", "nodes"}).exit_code, 0) << "granted by ci-nodes";
  ASSERT_EQ(d.tutti({"apply", "-f", d.scratch().write("a.yaml", in_namespace("team-a", "web", 1))})
                .exit_code,
            0);
  ASSERT_EQ(d.tutti({"apply", "-f", d.scratch().write("b.yaml", in_namespace("team-b", "web", 1))})
                .exit_code,
            0);
  r = as(d, token, {"-n", "team-a", "delete", "web"});
  EXPECT_EQ(r.exit_code, 0) << "granted in team-a by ci-removes: " << r.describe();
  r = as(d, token, {"-n", "team-b", "delete", "web"});
  EXPECT_EQ(r.exit_code, 1) << r.describe();
  r = as(d, token, {"tree"});
  EXPECT_EQ(r.exit_code, 1) << r.describe();
  EXPECT_NE(r.err.find("(or a RoleBinding to a kind: Role with verb read on tree)"),
            std::string::npos)
      << r.err;
  ASSERT_TRUE(d.restart()) << d.log();
  EXPECT_EQ(as(d, token, {"get", "nodes"}).exit_code, 0) << "roles outlive a restart";
}

TEST_F(integration, ACustomRoleAppliesConfigsAndSecretsOnlyWhenItSaysSo) {
  auto& d = start_daemon();
  auto token = make_token(d, "writer", "viewer");
  auto roles = [&](const std::string& resources) {
    return d.scratch().write("roles.yaml",
                             "kind: Role\nname: writer\nrules: [{verbs: [apply], resources: [" +
                                 resources +
                                 "]}]\n---\nkind: RoleBinding\nname: writer\nrole: writer\n"
                                 "subjects: [{kind: token, name: writer}]\n");
  };
  ASSERT_EQ(d.tutti({"apply", "-f", roles("services")}).exit_code, 0);
  auto config = d.scratch().write("conf.yaml", "kind: Config\nname: site\ndata: x\n");
  auto secret = d.scratch().write("pw.yaml", "kind: Secret\nname: pw\ndata: s3cret\n");
  auto r = as(d, token, {"apply", "-f", config});
  EXPECT_EQ(r.exit_code, 1) << r.describe();
  EXPECT_NE(r.err.find("may not apply configs (kind: Config or Secret)"), std::string::npos)
      << r.describe();
  EXPECT_EQ(as(d, token, {"apply", "-f", d.scratch().write("s.yaml", sleeper_yaml("s", 0))})
                .exit_code,
            0);
  ASSERT_EQ(d.tutti({"apply", "-f", roles("services, configs")}).exit_code, 0);
  r = as(d, token, {"apply", "-f", config});
  EXPECT_EQ(r.exit_code, 0) << r.describe();
  r = as(d, token, {"apply", "-f", secret});
  EXPECT_EQ(r.exit_code, 1) << r.describe();
  EXPECT_NE(r.err.find("may not apply secrets"), std::string::npos) << r.describe();
  // A built-in role that may apply may apply both.
  EXPECT_EQ(as(d, make_token(d, "dep", "deployer"), {"apply", "-f", secret}).exit_code, 0);
}

TEST_F(integration, TheUnixSocketKnowsItsPeersByUid) {
  auto& d = start_daemon();
  auto socket = d.data_dir() + "/api.sock";
  struct stat st {};
  ASSERT_EQ(::stat(socket.c_str(), &st), 0) << d.log();
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  // No token at all: the kernel says who the peer is.
  auto r = s::run_command({TUTTI_BIN, "--api", "unix:" + socket, "whoami", "-o", "json"},
                          {{"TUTTI_TOKEN_FILE", ""}});
  ASSERT_EQ(r.exit_code, 0) << r.describe();
  auto who = json::parse(r.out);
  EXPECT_EQ(who["name"], "uid " + std::to_string(::getuid()));
  EXPECT_EQ(who["role"], "admin");
  EXPECT_EQ(who["via"], "unix_peer");
  auto spec = d.scratch().write("web.yaml", web);
  r = s::run_command({TUTTI_BIN, "--api", "unix:" + socket, "apply", "-f", spec},
                     {{"TUTTI_TOKEN_FILE", ""}});
  EXPECT_EQ(r.exit_code, 0) << r.describe();
  EXPECT_TRUE(has_record(audit_of(d), "apply", "ok", "uid "));

  // Another uid (the socket opened to it on purpose) is refused, naming it.
  if (::getuid() != 0 || ::access("/usr/bin/setpriv", X_OK) != 0)
    return;
  ::chmod(socket.c_str(), 0666);
  ::chmod(d.scratch().path().c_str(), 0711); // temp dirs are 0700
  ::chmod(d.data_dir().c_str(), 0711);
  r = s::run_command({"/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                      TUTTI_BIN, "--api", "unix:" + socket, "get", "services"},
                     {{"TUTTI_TOKEN_FILE", ""}});
  EXPECT_EQ(r.exit_code, 1) << r.describe();
  EXPECT_NE(r.err.find("uid 65534 is neither root nor the owner of the data directory"),
            std::string::npos)
      << r.err;
}

TEST_F(integration, LoginKeepsAContextThatLaterCommandsUse) {
  auto& d = start_daemon();
  s::temp_dir home;
  auto config = home.file("tutti/config.yaml");
  s::env_map env{{"TUTTI_CONFIG", config}};
  auto tutti = [&](std::vector<std::string> args, s::env_map more = {}) {
    std::vector<std::string> argv{TUTTI_BIN};
    argv.insert(argv.end(), args.begin(), args.end());
    auto e = env;
    for (auto& [k, v] : more)
      e[k] = v;
    return s::run_command(argv, e);
  };
  auto token = make_token(d, "ci-a", "deployer", {"--namespace", "team-a"});
  auto r = tutti({"--api", d.api(), "--token", token, "-n", "team-a", "login", "--name", "ci"});
  ASSERT_EQ(r.exit_code, 0) << r.describe();
  EXPECT_NE(r.out.find("as ci-a (role deployer); context ci is current"), std::string::npos) << r.out;
  struct stat st {};
  ASSERT_EQ(::stat(config.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u) << "it holds a token";

  // No --api, no token, no -n: all from the context.
  auto spec = d.scratch().write("web.yaml", web);
  r = tutti({"apply", "-f", spec});
  EXPECT_EQ(r.exit_code, 0) << r.describe();
  r = tutti({"-A", "get", "services", "-o", "json"});
  ASSERT_EQ(r.exit_code, 0) << r.describe();
  EXPECT_EQ(json::parse(r.out)[0]["name"], "team-a.web");
  // Flags win over the context.
  r = tutti({"--token-file", d.admin_token_file(), "whoami"});
  EXPECT_NE(r.out.find("admin (role admin"), std::string::npos) << r.describe();

  r = tutti({"config", "get-contexts", "-o", "json"});
  ASSERT_EQ(r.exit_code, 0) << r.describe();
  auto contexts = json::parse(r.out);
  ASSERT_EQ(contexts.size(), 1u);
  EXPECT_EQ(contexts[0]["api"], d.api());
  EXPECT_EQ(contexts[0]["namespace"], "team-a");
  EXPECT_TRUE(contexts[0]["current"].get<bool>());
  r = tutti({"config", "view"});
  EXPECT_EQ(r.out.find(token), std::string::npos) << "view hides tokens: " << r.out;
  r = tutti({"config", "use-context", "elsewhere"});
  EXPECT_EQ(r.exit_code, 2) << r.describe();
  EXPECT_NE(r.err.find("no context named elsewhere"), std::string::npos) << r.err;
  r = tutti({"get", "services"}, {{"TUTTI_CONFIG", home.write("bad.yaml", "users: [{name: x, pass: y}]\n")}});
  EXPECT_EQ(r.exit_code, 2) << r.describe();
  EXPECT_NE(r.err.find("bad.yaml:1:19: users[0].pass: unknown field"), std::string::npos) << r.err;
}

/// A control plane whose API speaks TLS: its certificate is the cluster's
/// (cluster CA), users' client certificates come from a CA of their own.
class api_tls : public integration {
protected:
  void SetUp() override {
    if (s::openssl_binary().empty())
      GTEST_SKIP() << "needs the openssl binary (tools/install-deps.sh)";
    cluster_ca_ = std::make_unique<s::test_ca>(certs_, "cluster");
    users_ca_ = std::make_unique<s::test_ca>(certs_, "users");
  }

  s::tuttid_options control_options(const std::string& client_ca) {
    auto opts = daemon_options();
    opts.mode = "control";
    opts.api_plaintext = false;
    auto control = cluster_ca_->issue("control");
    opts.extra_args = {"--listen",      "127.0.0.1:" + std::to_string(s::free_port()),
                       "--join-token",  "s3cret",
                       "--tls-cert",    control.cert,
                       "--tls-key",     control.key,
                       "--tls-ca",      cluster_ca_->cert(),
                       "--api-client-ca", client_ca};
    opts.tutti_env = {{"TUTTI_CA", cluster_ca_->cert()}};
    return opts;
  }

  s::tuttid_process& start_control() { return start_daemon(control_options(users_ca_->cert())); }

  /// `tutti ARGS` with a client certificate and no token.
  s::command_result with_cert(s::tuttid_process& d, const s::issued_cert& cert,
                              std::vector<std::string> args) {
    std::vector<std::string> argv{TUTTI_BIN, "--api",  d.api(),  "--ca", cluster_ca_->cert(),
                                  "--cert",  cert.cert, "--key", cert.key};
    argv.insert(argv.end(), args.begin(), args.end());
    return s::run_command(argv, {{"TUTTI_API", d.api()}, {"TUTTI_TOKEN_FILE", ""}});
  }

  s::temp_dir certs_;
  std::unique_ptr<s::test_ca> cluster_ca_;
  std::unique_ptr<s::test_ca> users_ca_;
};

TEST_F(api_tls, TheAdminTokenWorksOverTlsAndPlainClientsAreRefused) {
  auto& d = start_control();
  auto r = d.tutti({"whoami"});
  EXPECT_EQ(r.exit_code, 0) << r.describe();
  EXPECT_NE(r.out.find("admin (role admin, by admin token)"), std::string::npos) << r.out;
  // Without --ca the client speaks plain TCP to a TLS server: it gets nothing.
  r = s::run_command({TUTTI_BIN, "--api", d.api(), "--token-file", d.admin_token_file(),
                      "--timeout", "3", "get", "services"},
                     {{"TUTTI_API", d.api()}});
  EXPECT_NE(r.exit_code, 0) << r.describe();
  // Trusting another CA than the one of tuttid's certificate.
  r = s::run_command({TUTTI_BIN, "--api", d.api(), "--token-file", d.admin_token_file(), "--ca",
                      users_ca_->cert(), "get", "services"},
                     {{"TUTTI_API", d.api()}});
  EXPECT_EQ(r.exit_code, 3) << r.describe();
  EXPECT_NE(r.err.find("TLS with tuttid at " + d.api() + " failed: unable to get local issuer"),
            std::string::npos)
      << r.err;
}

TEST_F(api_tls, AClientCertificateNamesTheUserAndTheRole) {
  auto& d = start_control();
  auto alice = users_ca_->issue_user("alice", "/CN=alice/O=team-a/O=tutti:deployer");
  auto r = with_cert(d, alice, {"whoami", "-o", "json"});
  ASSERT_EQ(r.exit_code, 0) << r.describe();
  auto who = json::parse(r.out);
  EXPECT_EQ(who["name"], "alice");
  EXPECT_EQ(who["role"], "deployer");
  EXPECT_EQ(who["via"], "client_certificate");
  EXPECT_EQ(who["groups"], json::array({"team-a", "tutti:deployer"}));
  r = with_cert(d, alice, {"delete", "web"});
  EXPECT_EQ(r.exit_code, 1) << r.describe();
  EXPECT_NE(r.err.find("alice (client certificate, deployer) may not delete services"),
            std::string::npos)
      << r.err;
  EXPECT_TRUE(has_record(audit_of(d), "deleteService", "forbidden", "alice"));
}

TEST_F(api_tls, BadClientCertificatesAreRefusedWithAReason) {
  auto& d = start_control();
  auto expired = users_ca_->issue_user("old", "/CN=old/O=tutti:admin", -1);
  auto r = with_cert(d, expired, {"get", "services"});
  EXPECT_EQ(r.exit_code, 1) << r.describe();
  EXPECT_NE(r.err.find("the client certificate is refused: certificate has expired"),
            std::string::npos)
      << r.err;

  // A node's certificate (the cluster CA signed it) is no user's.
  auto node = cluster_ca_->issue("n1");
  r = with_cert(d, node, {"get", "services"});
  EXPECT_EQ(r.exit_code, 1) << r.describe();
  EXPECT_NE(r.err.find("the client certificate is refused: unable to get local issuer"),
            std::string::npos)
      << r.err;

  auto roleless = users_ca_->issue_user("bob", "/CN=bob/O=team-b");
  r = with_cert(d, roleless, {"get", "services"});
  EXPECT_EQ(r.exit_code, 1) << r.describe();
  EXPECT_NE(r.err.find("bob names no role group"), std::string::npos) << r.err;

  // No certificate and no token over TLS.
  r = s::run_command({TUTTI_BIN, "--api", d.api(), "--ca", cluster_ca_->cert(), "get", "services"},
                     {{"TUTTI_API", d.api()}, {"TUTTI_TOKEN_FILE", ""}});
  EXPECT_EQ(r.exit_code, 1) << r.describe();
  EXPECT_NE(r.err.find("no credential"), std::string::npos) << r.err;
  EXPECT_EQ(d.tutti({"get", "services"}).exit_code, 0) << "the control plane serves on";
}

TEST_F(api_tls, TheClusterCaIsRefusedAsTheClientCa) {
  auto opts = control_options(cluster_ca_->cert());
  auto& d = make_daemon(opts);
  EXPECT_FALSE(d.start(5s));
  EXPECT_NE(d.log().find("the client CA is the cluster CA"), std::string::npos) << d.log();
}

TEST_F(api_tls, AControlPlaneWithoutCertificateNeedsPlaintextOnLoopback) {
  auto opts = daemon_options();
  opts.mode = "control";
  opts.api_plaintext = false;
  opts.extra_args = {"--listen", "127.0.0.1:" + std::to_string(s::free_port()), "--join-token",
                     "s3cret"};
  auto& d = make_daemon(opts);
  EXPECT_FALSE(d.start(5s));
  EXPECT_NE(d.log().find("tuttid control serves its API over TLS"), std::string::npos) << d.log();
}

} // namespace
} // namespace tutti::tests::integration
