// Volumes with the process driver: a persistent volume keeps what a replica
// wrote across a kill -9, an update to a new revision, a kill -9 of tuttid
// and the service's deletion; a scratch volume is shared by the restarts of
// one replica and goes with it; a host volume is lent only where the node
// says so, and a refused one says why.

#include "tests/integration/fixture.hpp"

#include <csignal>
#include <filesystem>
#include <fstream>
#include <set>

namespace tutti::tests::integration {
namespace {

/// Appends a line to the persistent volume and counts the lines into the
/// scratch one at each start.
std::string keeper_yaml(const std::string& revision_marker) {
  return "kind: Service\nname: keeper\ncommand: [/bin/sh, -c, \"echo run >> "
         "$TUTTI_VOLUME_DATA/runs; wc -l < $TUTTI_VOLUME_DATA/runs > $TUTTI_VOLUME_TMP/count; "
         "exec sleep 300\"]\nenv: {MARK: \"" +
         revision_marker +
         "\"}\nrestart: {policy: always, backoff: {initial: 50ms, max: 200ms}}\n"
         "volumes:\n  - {name: data, type: persistent}\n  - {name: tmp}\n"
         "mounts:\n  - {volume: data}\n  - {volume: tmp}\n";
}

std::string read_file(const std::string& path) {
  std::ifstream in{path};
  return {std::istreambuf_iterator<char>{in}, {}};
}

int lines_of(const std::string& path) {
  auto text = read_file(path);
  return static_cast<int>(std::count(text.begin(), text.end(), '\n'));
}

int pid_of(s::tuttid_process& d, const std::string& service) {
  for (auto& r : replicas_of(d, service))
    if (r.value("state", "") == "running")
      return r.value("pid", 0);
  return 0;
}

class volumes : public integration {
protected:
  void apply(s::tuttid_process& d, const std::string& yaml) {
    auto r = d.tutti({"apply", "-f", d.scratch().write("keeper.yaml", yaml)});
    ASSERT_EQ(r.exit_code, 0) << r.describe();
  }

  /// Waits for the replica's `n`th start to have written its line.
  bool runs_reach(s::tuttid_process& d, int n) {
    return s::wait_until([&] { return lines_of(runs(d)) == n && pid_of(d, "keeper") != 0; },
                         converge_timeout);
  }

  static std::string runs(s::tuttid_process& d) {
    return d.data_dir() + "/volumes/persistent/keeper-0/data/runs";
  }
};

TEST_F(volumes, APersistentVolumeOutlivesKillsUpdatesRestartsAndTheService) {
  auto& d = start_daemon();
  apply(d, keeper_yaml("1"));
  ASSERT_TRUE(runs_reach(d, 1)) << json(replicas_of(d, "keeper")) << d.log();
  auto scratch_count = d.data_dir() + "/volumes/scratch/keeper-0/tmp/count";

  // kill -9 of the replica: restarted in place, the scratch volume kept too.
  ASSERT_EQ(::kill(pid_of(d, "keeper"), SIGKILL), 0);
  ASSERT_TRUE(runs_reach(d, 2)) << json(replicas_of(d, "keeper"));
  EXPECT_TRUE(s::wait_until([&] { return read_file(scratch_count).find('2') == 0; }, 5s))
      << read_file(scratch_count);

  // A new revision: a new process, the same persistent volume, a new scratch one.
  apply(d, keeper_yaml("2"));
  ASSERT_TRUE(runs_reach(d, 3)) << json(replicas_of(d, "keeper"));
  EXPECT_TRUE(s::wait_until([&] { return read_file(scratch_count).find('3') == 0; }, 5s));

  // tuttid killed and started again: the process is adopted, the data stays.
  auto before = pid_of(d, "keeper");
  d.kill9();
  ASSERT_TRUE(d.start()) << d.log();
  EXPECT_TRUE(s::wait_until([&] { return pid_of(d, "keeper") == before; }, converge_timeout));
  EXPECT_EQ(lines_of(runs(d)), 3);

  // tutti volume ls shows it in use; rm refuses it while it is.
  auto listed = tutti_json(d, {"volume", "ls"});
  ASSERT_TRUE(listed && listed->is_array() && listed->size() == 1) << (listed ? listed->dump() : "");
  EXPECT_EQ((*listed)[0]["replica"], "keeper-0");
  EXPECT_EQ((*listed)[0]["volume"], "data");
  EXPECT_EQ((*listed)[0]["in_use"], true);
  auto refused = d.tutti({"volume", "rm", "keeper-0/data"});
  EXPECT_EQ(refused.exit_code, 1);
  EXPECT_NE(refused.err.find("is in use by replica keeper-0"), std::string::npos)
      << refused.describe();

  // Deleting the service removes its scratch volume, never its persistent one.
  ASSERT_EQ(d.tutti({"delete", "keeper"}).exit_code, 0);
  EXPECT_TRUE(s::wait_until(
      [&] { return !std::filesystem::exists(d.data_dir() + "/volumes/scratch/keeper-0"); },
      converge_timeout));
  EXPECT_EQ(lines_of(runs(d)), 3);

  // The same service again finds its slot's data.
  apply(d, keeper_yaml("3"));
  EXPECT_TRUE(runs_reach(d, 4)) << json(replicas_of(d, "keeper"));

  // Removed only when asked, once nothing runs with it.
  ASSERT_EQ(d.tutti({"delete", "keeper"}).exit_code, 0);
  EXPECT_TRUE(s::wait_until([&] { return replicas_of(d, "keeper").empty(); }, converge_timeout));
  auto removed = d.tutti({"volume", "rm", "keeper-0/data"});
  EXPECT_EQ(removed.exit_code, 0) << removed.describe();
  EXPECT_FALSE(std::filesystem::exists(runs(d)));
  EXPECT_EQ(tutti_json(d, {"volume", "ls"}), json::array());
  auto again = d.tutti({"volume", "rm", "keeper-0/data"});
  EXPECT_EQ(again.exit_code, 1);
  EXPECT_NE(again.err.find("no connected node keeps volume keeper-0/data"), std::string::npos)
      << again.describe();
}

TEST_F(volumes, AnUpdateReplacesInPlaceAndAFailedOneRollsBackInPlace) {
  auto& d = start_daemon();
  auto yaml = [](const std::string& command) {
    return "kind: Service\nname: db\nreplicas: 3\ncommand: [/bin/sh, -c, \"" + command +
           "\"]\nrestart: {policy: always, backoff: {initial: 50ms, max: 200ms}}\n"
           "update: {monitor: 1s}\n"
           "volumes: [{name: data, type: persistent}]\nmounts: [{volume: data}]\n";
  };
  auto good = [](const std::string& mark) {
    return "echo " + mark + " >> $TUTTI_VOLUME_DATA/runs; exec sleep 300";
  };
  auto slots = [&] {
    std::set<std::string> ids;
    for (auto& r : replicas_of(d, "db"))
      ids.insert(r.value("id", ""));
    return ids;
  };
  auto all_on = [&](int64_t revision) {
    auto rs = replicas_of(d, "db");
    return rs.size() == 3 && std::all_of(rs.begin(), rs.end(), [&](const json& r) {
             return r.value("state", "") == "running" && r.value("revision", 0) == revision &&
                    r.value("ready", false);
           });
  };
  auto runs_of = [&](int slot) {
    return read_file(d.data_dir() + "/volumes/persistent/db-" + std::to_string(slot) +
                     "/data/runs");
  };
  apply(d, yaml(good("v1")));
  ASSERT_TRUE(s::wait_until([&] { return all_on(1); }, converge_timeout))
      << json(replicas_of(d, "db"));
  const std::set<std::string> three{"db-0", "db-1", "db-2"};

  // An update: each slot replaced where it is, one at a time, keeping its data.
  apply(d, yaml(good("v2")));
  ASSERT_TRUE(s::wait_until([&] { return all_on(2); }, converge_timeout))
      << json(replicas_of(d, "db"));
  EXPECT_EQ(slots(), three);
  for (int slot = 0; slot < 3; ++slot)
    EXPECT_EQ(runs_of(slot), "v1\nv2\n") << slot;

  // An update whose replicas crash: rolled back, in place, slots kept.
  apply(d, yaml("exit 3"));
  EXPECT_TRUE(s::wait_until([&] { return all_on(4); }, 3 * converge_timeout))
      << json(replicas_of(d, "db")) << d.log();
  EXPECT_EQ(slots(), three);
  // Replaced slots crashed and run v2 again (a replica without a readiness
  // probe is ready once it runs, so more than one may have been replaced
  // before the first crash); none lost its data.
  int again = 0;
  for (int slot = 0; slot < 3; ++slot) {
    auto runs = runs_of(slot);
    EXPECT_TRUE(runs == "v1\nv2\n" || runs == "v1\nv2\nv2\n") << slot << ": " << runs;
    again += runs == "v1\nv2\nv2\n" ? 1 : 0;
  }
  EXPECT_GE(again, 1);
  EXPECT_TRUE(has_event(d, "rollout_failed"));
}

TEST_F(volumes, AHostVolumeIsLentOnlyWhereTheNodeSays) {
  auto opts = daemon_options();
  auto& d = make_daemon(opts);
  auto lent = d.scratch().file("lent");
  std::filesystem::create_directories(lent + "/inside");
  auto config = d.scratch().write("tuttid.yaml", "node: {host_volume_paths: [" + lent + "]}\n");
  auto& lender = make_daemon([&] {
    auto o = daemon_options();
    o.config_file = config;
    return o;
  }());
  ASSERT_TRUE(lender.start()) << lender.log();
  auto yaml = [](const std::string& path) {
    return "kind: Service\nname: host\ncommand: [/bin/sh, -c, \"echo hi > "
           "$TUTTI_VOLUME_SHARED/hello; exec sleep 300\"]\nvolumes: [{name: shared, type: host, "
           "path: " +
           path + "}]\nmounts: [{volume: shared}]\n";
  };
  auto file = lender.scratch().write("host.yaml", yaml(lent + "/inside"));
  ASSERT_EQ(lender.tutti({"apply", "-f", file}).exit_code, 0);
  EXPECT_TRUE(
      s::wait_until([&] { return read_file(lent + "/inside/hello") == "hi\n"; }, converge_timeout))
      << json(replicas_of(lender, "host"));

  // A folder beside the lent one: the replica waits, saying why.
  ASSERT_TRUE(d.start()) << d.log();
  file = d.scratch().write("other.yaml", yaml("/etc"));
  ASSERT_EQ(d.tutti({"apply", "-f", file}).exit_code, 0);
  std::string message;
  EXPECT_TRUE(s::wait_until(
      [&] {
        auto rs = replicas_of(d, "host");
        message = rs.empty() ? "" : rs[0].value("message", "");
        return message.find("volume shared: this node does not lend /etc (its "
                            "node.host_volume_paths: none)") != std::string::npos;
      },
      converge_timeout))
      << message;
  EXPECT_FALSE(std::filesystem::exists("/etc/hello"));
}

TEST_F(volumes, AVolumeLargerThanTheNodesDiskFitsNowhereAndSaysWhy) {
  auto& d = start_daemon();
  auto yaml = [](const std::string& size) {
    return "kind: Service\nname: big\ncommand: [/bin/busybox, sleep, \"300\"]\n"
           "volumes: [{name: data, type: persistent, size: " +
           size + "}]\nmounts: [{volume: data}]\n";
  };
  ASSERT_EQ(d.tutti({"apply", "-f", d.scratch().write("big.yaml", yaml("1000Ti"))}).exit_code, 0);
  std::string message;
  EXPECT_TRUE(s::wait_until(
      [&] {
        auto rs = replicas_of(d, "big");
        message = rs.empty() ? "" : rs[0].value("message", "");
        return message.find("insufficient disk for volumes") != std::string::npos;
      },
      converge_timeout))
      << message;
  // The node says how large its disk is; what fits runs.
  auto nodes = tutti_json(d, {"get", "nodes"});
  ASSERT_TRUE(nodes && nodes->size() == 1);
  EXPECT_GT((*nodes)[0]["capacity"].value("disk", int64_t{0}), 0) << nodes->dump();
  ASSERT_EQ(d.tutti({"apply", "-f", d.scratch().write("big.yaml", yaml("1Mi"))}).exit_code, 0);
  EXPECT_TRUE(wait_running(d, "big", 1)) << json(replicas_of(d, "big"));
  nodes = tutti_json(d, {"get", "nodes"});
  ASSERT_TRUE(nodes);
  EXPECT_EQ((*nodes)[0]["allocated"].value("disk", int64_t{0}), 1 << 20) << nodes->dump();
}

} // namespace
} // namespace tutti::tests::integration
