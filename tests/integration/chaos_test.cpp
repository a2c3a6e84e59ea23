// The supervision tree, visible (`tutti tree`) and killable (`tutti chaos kill`,
// only with --enable-chaos): whatever actor is killed, its supervisor restarts
// it, it rebuilds its state, and no replica is lost or started twice.

#include "tests/integration/fixture.hpp"

namespace tutti::tests::integration {
namespace {

/// path -> the actor's entry in `tutti tree -o json`.
std::map<std::string, json> tree_of(s::tuttid_process& d) {
  std::map<std::string, json> out;
  if (auto j = tutti_json(d, {"tree"}); j && j->is_array())
    for (auto& x : *j)
      out[x.value("path", "")] = x;
  return out;
}

uint64_t actor_id(s::tuttid_process& d, const std::string& path) {
  auto tree = tree_of(d);
  auto i = tree.find(path);
  return i == tree.end() ? 0 : i->second.value("id", uint64_t{0});
}

class chaos : public integration {
protected:
  static s::tuttid_options chaos_options() {
    auto opts = daemon_options();
    opts.extra_args = {"--enable-chaos"};
    return opts;
  }

  /// Applies "web" with 3 sleeper replicas and waits for them: their pids.
  static std::map<std::string, int> run_web(s::tuttid_process& d) {
    auto file = d.scratch().write("web.yaml", sleeper_yaml("web", 3));
    EXPECT_EQ(d.tutti({"apply", "-f", file}).exit_code, 0);
    EXPECT_TRUE(wait_running(d, "web", 3));
    return running_pids(d, "web");
  }
};

TEST_F(chaos, TreeShowsEveryActorByPath) {
  auto& d = start_daemon();
  auto file = d.scratch().write("web.yaml", sleeper_yaml("web", 2));
  ASSERT_EQ(d.tutti({"apply", "-f", file}).exit_code, 0);
  ASSERT_TRUE(wait_running(d, "web", 2));
  auto tree = tree_of(d);
  for (std::string path : {"/", "/store", "/placement", "/discovery", "/cluster",
                           "/cluster/service/web", "/node", "/node/driver/process",
                           "/node/replica/web-0", "/node/replica/web-1"}) {
    ASSERT_TRUE(tree.count(path)) << path << " missing from " << json(tree);
    EXPECT_EQ(tree[path].value("state", ""), "running") << path;
    EXPECT_EQ(tree[path].value("restarts", -1), 0) << path;
  }
  EXPECT_EQ(tree["/cluster/service/web"].value("kind", ""), "service");
  EXPECT_EQ(tree["/node/replica/web-0"].value("kind", ""), "replica");
  auto table = d.tutti({"tree"});
  EXPECT_EQ(table.exit_code, 0);
  EXPECT_NE(table.out.find("/node/replica/web-1"), std::string::npos) << table.out;
}

TEST_F(chaos, KillIsRefusedWithoutEnableChaos) {
  auto& d = start_daemon();
  auto before = actor_id(d, "/store");
  ASSERT_NE(before, 0u);
  auto r = d.tutti({"chaos", "kill", "/store"});
  EXPECT_EQ(r.exit_code, 1) << r.describe();
  EXPECT_NE(r.err.find("--enable-chaos"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("forbidden"), std::string::npos) << r.err;
  EXPECT_EQ(actor_id(d, "/store"), before) << "nothing may be killed";
}

TEST_F(chaos, BadPathsAreRefusedWithTheReason) {
  auto& d = start_daemon(chaos_options());
  auto unknown = d.tutti({"chaos", "kill", "/cluster/service/nope"});
  EXPECT_EQ(unknown.exit_code, 1);
  EXPECT_NE(unknown.err.find("not_found"), std::string::npos) << unknown.err;
  EXPECT_NE(unknown.err.find("tutti tree"), std::string::npos) << unknown.err;
  auto root = d.tutti({"chaos", "kill", "/"});
  EXPECT_EQ(root.exit_code, 1);
  EXPECT_NE(root.err.find("root supervisor"), std::string::npos) << root.err;
  auto relative = d.tutti({"chaos", "kill", "store"});
  EXPECT_EQ(relative.exit_code, 1);
  EXPECT_NE(relative.err.find("starts with /"), std::string::npos) << relative.err;
}

TEST_F(chaos, KilledActorsOfEveryKindComeBackWithoutLosingOrDoublingReplicas) {
  auto& d = start_daemon(chaos_options());
  auto pids = run_web(d);
  ASSERT_EQ(pids.size(), 3u);

  for (std::string path :
       {"/cluster/service/web", "/node/replica/web-1", "/node/driver/process", "/store",
        "/placement", "/discovery", "/cluster", "/node"}) {
    SCOPED_TRACE(path);
    auto before = actor_id(d, path);
    ASSERT_NE(before, 0u);
    auto r = d.tutti({"chaos", "kill", path, "--reason", "chaos test"});
    ASSERT_EQ(r.exit_code, 0) << r.describe();
    EXPECT_NE(r.out.find("killed " + path), std::string::npos) << r.out;
    EXPECT_TRUE(s::wait_until(
        [&] {
          auto now = actor_id(d, path);
          return now != 0 && now != before;
        },
        converge_timeout))
        << "not restarted: " << json(tree_of(d));
    EXPECT_TRUE(s::wait_until([&] { return running_pids(d, "web") == pids; }, converge_timeout))
        << "replicas changed: " << json(replicas_of(d, "web"));
  }
  auto tree = tree_of(d);
  EXPECT_GE(tree["/store"].value("restarts", 0), 1);
  EXPECT_EQ(tree["/node"].value("last_exit", ""), "chaos test");
  // Nothing started twice, then or a little later.
  EXPECT_EQ(d.replica_records().size(), 3u);
  EXPECT_FALSE(s::wait_until([&] { return running_pids(d, "web") != pids; }, 1s));

  // The rebuilt tree still does its work.
  ASSERT_EQ(d.tutti({"scale", "web=4"}).exit_code, 0);
  EXPECT_TRUE(wait_running(d, "web", 4)) << json(replicas_of(d, "web"));
}

// Replicas report to their service actor directly: after the service actor is
// killed and restarted, its new incarnation must hear them (their node tells them
// the new actor), or its view of them goes stale: a replica restarted by its
// actor would still show its old process.
TEST_F(chaos, ARestartedServiceActorHearsItsReplicas) {
  auto& d = start_daemon(chaos_options());
  auto pids = run_web(d);
  ASSERT_EQ(pids.size(), 3u);

  auto before = actor_id(d, "/cluster/service/web");
  ASSERT_EQ(d.tutti({"chaos", "kill", "/cluster/service/web"}).exit_code, 0);
  ASSERT_TRUE(s::wait_until(
      [&] {
        auto now = actor_id(d, "/cluster/service/web");
        return now != 0 && now != before;
      },
      converge_timeout));
  ASSERT_TRUE(wait_running(d, "web", 3));

  int victim = pids.at("web-2");
  ASSERT_EQ(::kill(victim, SIGKILL), 0);
  EXPECT_TRUE(s::wait_until(
      [&] {
        auto now = running_pids(d, "web");
        auto i = now.find("web-2");
        return now.size() == 3 && i != now.end() && i->second != victim;
      },
      converge_timeout))
      << json(replicas_of(d, "web"));
  // Its events, passed on by the new service actor.
  EXPECT_TRUE(s::wait_until([&] { return has_event(d, "replica_exited", "web-2"); }, 10s));
  EXPECT_EQ(running_pids(d, "web").at("web-0"), pids.at("web-0"));
}

} // namespace
} // namespace tutti::tests::integration
