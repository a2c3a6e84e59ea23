// Configs and secrets with the process driver: replicas get them as files and
// variables; a changed config rolls out with no failed request through the
// mesh; a missing secret makes replicas wait until it exists; a pinned
// version does not follow; a secret's value appears nowhere but in the
// replica: not in the store's file, tuttid's log, any CLI output or event.

#include "tests/integration/fixture.hpp"

#include <sys/stat.h>
#include <sys/vfs.h>
#include <linux/magic.h>

#include <filesystem>
#include <fstream>

namespace tutti::tests::integration {
namespace {

const std::string secret_value = "pw-7f3a9c1e-SECRET-VALUE";

std::string read_file(const std::string& path) {
  std::ifstream in{path, std::ios::binary};
  return {std::istreambuf_iterator<char>{in}, {}};
}

/// `web`: httpd replicas serving the config `page` as index.html, ready when it
/// answers; each writes the secret it got (variable and file) beside it.
std::string web_yaml(uint16_t published, const std::string& page_ref = "page") {
  auto script =
      "d=$TUTTI_VOLUME_WWW; cp $TUTTI_CONFIG_PAGE $d/index.html && "
      "echo \"$DB_PASSWORD\" > $d/pw-env && cp $TUTTI_SECRET_TOKEN $d/token && "
      "exec /bin/busybox httpd -f -p 127.0.0.1:${PORT} -h $d";
  return service_yaml("web", 3, {"/bin/busybox", "sh", "-c", script},
                      "ports: [{name: http, published: " + std::to_string(published) +
                          "}]\n"
                          "restart: {policy: always, backoff: {initial: 100ms, max: 1s}}\n"
                          "stop_grace: 5s\n"
                          "volumes: [{name: www}]\nmounts: [{volume: www}]\n"
                          "configs: [" +
                          page_ref +
                          "]\n"
                          "secrets: [{name: db-password, env: DB_PASSWORD}, token]\n"
                          "health:\n"
                          "  readiness: {http: {port: http, path: /index.html}, interval: 100ms, "
                          "timeout: 500ms}\n"
                          "update: {parallelism: 1, max_surge: 1, max_unavailable: 0, "
                          "monitor: 1s}\n");
}

std::string config_doc(const std::string& kind, const std::string& name, const std::string& data) {
  return "kind: " + kind + "\nname: " + name + "\ndata: \"" + data + "\"\n";
}

class objects : public integration {
protected:
  void apply(s::tuttid_process& d, const std::string& name, const std::string& yaml) {
    auto r = d.tutti({"apply", "-f", d.scratch().write(name, yaml)});
    ASSERT_EQ(r.exit_code, 0) << r.describe();
    outputs_ += r.out + r.err;
  }

  bool wait_ready(s::tuttid_process& d, int n) {
    return ::tutti::tests::integration::wait_ready(d, "web", n);
  }

  /// The scratch folders of the running replicas of `web`.
  std::vector<std::string> www_folders(s::tuttid_process& d) {
    std::vector<std::string> out;
    for (auto& [id, pid] : running_pids(d, "web"))
      out.push_back(d.data_dir() + "/volumes/scratch/" + id + "/www");
    return out;
  }

  /// Runs `tutti ARGS` and keeps what it printed, to search for the secret.
  s::command_result run(s::tuttid_process& d, const std::vector<std::string>& args) {
    auto r = d.tutti(args);
    outputs_ += r.out + r.err;
    return r;
  }

  std::string outputs_;
};

TEST_F(objects, ReplicasGetConfigsAndSecretsAndAConfigChangeRollsOutWithoutAFailedRequest) {
  auto& d = start_daemon();
  auto published = s::free_port();
  apply(d, "objects.yaml",
        config_doc("Config", "page", "v1") + "---\n" +
            config_doc("Secret", "db-password", secret_value) + "---\n" +
            config_doc("Secret", "token", "token-1") + "---\n" + web_yaml(published));
  ASSERT_TRUE(wait_ready(d, 3)) << json(replicas_of(d, "web"));
  ASSERT_TRUE(s::wait_until([&] { return request(published) == "v1"; }, 5s));
  for (const auto& dir : www_folders(d)) {
    EXPECT_EQ(read_file(dir + "/pw-env"), secret_value + "\n") << dir;
    EXPECT_EQ(read_file(dir + "/token"), "token-1") << dir;
  }

  // The files sit on a tmpfs, in folders only tuttid's user enters.
  auto token_file = d.secrets_dir() + "/web-0/secrets/token";
  struct stat st {};
  ASSERT_EQ(::stat(token_file.c_str(), &st), 0) << token_file;
  EXPECT_EQ(st.st_mode & 0777, 0444u);
  ASSERT_EQ(::stat((d.secrets_dir() + "/web-0").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
  struct statfs fs {};
  ASSERT_EQ(::statfs(token_file.c_str(), &fs), 0);
  EXPECT_EQ(fs.f_type, static_cast<decltype(fs.f_type)>(TMPFS_MAGIC));
  EXPECT_FALSE(std::filesystem::exists(d.secrets_dir() + "/web-0/secrets/db-password"))
      << "a reference with env only gets no file";

  // A new version of the config rolls the service out; the mesh answers throughout.
  traffic load{published};
  ASSERT_TRUE(load.wait_more(20));
  auto page = d.scratch().write("page-v2.html", "v2");
  auto created = run(d, {"config", "create", "page", "--from-file", page});
  ASSERT_EQ(created.exit_code, 0) << created.describe();
  EXPECT_NE(created.out.find("config/page configured (version 2)"), std::string::npos)
      << created.out;
  auto status = run(d, {"rollout", "status", "web", "--wait", "30"});
  EXPECT_EQ(status.exit_code, 0) << status.describe();
  ASSERT_TRUE(s::wait_until([&] { return request(published) == "v2"; }, converge_timeout));
  ASSERT_TRUE(load.wait_more(20));
  load.stop();
  EXPECT_EQ(load.failed(), 0) << load.first_failure() << " (" << load.answered() << " answered)";
  std::printf("config rollout: %d requests answered through the mesh, %d failed\n",
              load.answered(), load.failed());
  EXPECT_TRUE(has_event(d, "objects_changed"));
  auto versions = tutti_json(d, {"config", "inspect", "page"});
  ASSERT_TRUE(versions && versions->size() == 2) << (versions ? versions->dump() : "");
  EXPECT_EQ((*versions)[1]["used_by"], json::array({"web"}));
  EXPECT_EQ(run(d, {"config", "inspect", "page", "--data", "--version", "1"}).out, "v1");

  // The same data again is no new version, and changes nothing.
  auto again = run(d, {"config", "create", "page", "--from-file", page});
  EXPECT_NE(again.out.find("config/page unchanged"), std::string::npos) << again.describe();

  // tuttid killed and started again: the replicas are adopted, and a new one
  // still gets the secret (the key stayed in the data directory).
  d.kill9();
  ASSERT_TRUE(d.start()) << d.log();
  ASSERT_TRUE(wait_ready(d, 3));
  ASSERT_EQ(run(d, {"scale", "web=4"}).exit_code, 0);
  ASSERT_TRUE(wait_ready(d, 4));
  for (const auto& dir : www_folders(d))
    EXPECT_EQ(read_file(dir + "/pw-env"), secret_value + "\n") << dir;

  // The secret's value is nowhere but in the replicas.
  for (const auto& args : std::vector<std::vector<std::string>>{
           {"describe", "service", "web"},
           {"describe", "service", "web", "-o", "yaml"},
           {"get", "services", "-o", "json"},
           {"secret", "ls", "-o", "json"},
           {"secret", "inspect", "db-password", "-o", "yaml"},
           {"events", "-n", "1000"},
           {"audit"},
           {"rollout", "history", "web"},
           {"apply", "--dry-run", "-f", d.scratch().file("objects.yaml")}})
    run(d, args);
  EXPECT_EQ(outputs_.find(secret_value), std::string::npos) << outputs_;
  EXPECT_EQ(d.log().find(secret_value), std::string::npos);
  auto store = read_file(d.data_dir() + "/store/data.mdb");
  ASSERT_GT(store.size(), 0u);
  EXPECT_EQ(store.find(secret_value), std::string::npos) << "the store holds the secret in clear";
  EXPECT_EQ(store.find(base64_of(secret_value)), std::string::npos) << "the store holds it as base64";
  EXPECT_EQ(store.find("token-1"), std::string::npos);
  EXPECT_EQ(store.find(base64_of("token-1")), std::string::npos);
  EXPECT_NE(store.find(base64_of("v1")), std::string::npos) << "a config is kept as base64";
  auto refused = run(d, {"secret", "inspect", "db-password", "--data"});
  EXPECT_NE(refused.exit_code, 0);

  // Removing an object a service uses is refused; once the service is gone it goes.
  auto in_use = run(d, {"secret", "rm", "token"});
  EXPECT_EQ(in_use.exit_code, 1);
  EXPECT_NE(in_use.err.find("secret token is used by web"), std::string::npos) << in_use.describe();
  ASSERT_EQ(run(d, {"delete", "web"}).exit_code, 0);
  ASSERT_TRUE(s::wait_until([&] { return replicas_of(d, "web").empty(); }, converge_timeout));
  EXPECT_EQ(run(d, {"secret", "rm", "token"}).exit_code, 0);
  EXPECT_FALSE(std::filesystem::exists(d.secrets_dir())) << "files of removed replicas remain";
  // A new secret of the name goes on from the removed one's numbers.
  auto token = d.scratch().write("token.txt", "token-2");
  auto again_created = run(d, {"secret", "create", "token", "--from-file", token});
  EXPECT_NE(again_created.out.find("secret/token created (version 2)"), std::string::npos)
      << again_created.describe();
}

TEST_F(objects, AMissingSecretMakesReplicasWaitUntilItExists) {
  auto& d = start_daemon();
  apply(d, "page.yaml", config_doc("Config", "page", "v1") + "---\n" +
                            config_doc("Secret", "db-password", secret_value));
  apply(d, "web.yaml", web_yaml(s::free_port()));
  ASSERT_TRUE(s::wait_until(
      [&] {
        auto rs = replicas_of(d, "web");
        return rs.size() == 3 && rs[0].value("message", "").find(
                                     "secret token does not exist in namespace default") !=
                                     std::string::npos;
      },
      converge_timeout))
      << json(replicas_of(d, "web"));
  EXPECT_TRUE(running_pids(d, "web").empty());
  auto token = d.scratch().write("token.txt", "token-1");
  ASSERT_EQ(run(d, {"secret", "create", "token", "--from-file", token}).exit_code, 0);
  EXPECT_TRUE(wait_ready(d, 3)) << json(replicas_of(d, "web"));
}

TEST_F(objects, APinnedVersionDoesNotFollowChanges) {
  auto& d = start_daemon();
  auto published = s::free_port();
  apply(d, "objects.yaml",
        config_doc("Config", "page", "v1") + "---\n" +
            config_doc("Secret", "db-password", secret_value) + "---\n" +
            config_doc("Secret", "token", "token-1") + "---\n" +
            web_yaml(published, "{name: page, version: 1}"));
  ASSERT_TRUE(wait_ready(d, 3));
  auto revisions = service_revisions(d);
  ASSERT_TRUE(revisions);
  apply(d, "page2.yaml", config_doc("Config", "page", "v2"));
  // Followers are given their revisions as the version is stored, and the
  // cluster answers nothing else until those are committed: once the event is
  // there, the revisions read next include any roll.
  ASSERT_TRUE(s::wait_until([&] { return has_event(d, "config_stored"); }, converge_timeout));
  EXPECT_EQ(service_revisions(d), revisions) << "a pinned reference rolled out";
  EXPECT_EQ(request(published), "v1");
  // Unpinned and applied again, it takes the newest.
  apply(d, "web.yaml", web_yaml(published));
  EXPECT_TRUE(s::wait_until([&] { return request(published) == "v2"; }, converge_timeout));
}

} // namespace
} // namespace tutti::tests::integration
