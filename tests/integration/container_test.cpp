// Replicas of several containers with the process driver: an init container
// runs first, two containers share a scratch volume and the replica's fate
// (one killed restarts both), a probe runs in the container that declares
// it, each container's output is read on its own, and a failing init
// container holds the replica with the reason.

#include "tests/integration/fixture.hpp"

#include <csignal>
#include <filesystem>
#include <fstream>

namespace tutti::tests::integration {
namespace {

/// `prepare` (init) seeds the shared folder and counts its runs in a
/// persistent one; `writer` appends ticks after the seed; `reader` copies
/// what it sees, and is ready once it has seen a tick.
std::string pair_yaml(const std::string& init_exit = "0") {
  return "kind: Service\nname: pair\n"
         "restart: {policy: always, backoff: {initial: 50ms, max: 200ms}}\n"
         "volumes: [{name: shared}, {name: log, type: persistent}]\n"
         "containers:\n"
         "  - name: prepare\n"
         "    init: true\n"
         "    command: [/bin/sh, -c, \"echo prepared; echo seed > $TUTTI_VOLUME_SHARED/seed; "
         "echo run >> $TUTTI_VOLUME_LOG/inits; exit " +
         init_exit +
         "\"]\n"
         "    mounts: [{volume: shared}, {volume: log}]\n"
         "  - name: writer\n"
         "    command: [/bin/sh, -c, \"echo writer up; while true; do cat $TUTTI_VOLUME_SHARED/seed "
         ">> $TUTTI_VOLUME_SHARED/ticks; sleep 0.1; done\"]\n"
         "    mounts: [{volume: shared}]\n"
         "  - name: reader\n"
         "    command: [/bin/sh, -c, \"echo reader up; while true; do cp $TUTTI_VOLUME_SHARED/ticks "
         "$TUTTI_VOLUME_SHARED/seen 2>/dev/null; sleep 0.1; done\"]\n"
         "    mounts: [{volume: shared}]\n"
         "    health: {readiness: {exec: [/bin/sh, -c, \"grep -q seed $TUTTI_VOLUME_SHARED/seen\"], "
         "interval: 100ms}}\n";
}

std::string read_file(const std::string& path) {
  std::ifstream in{path};
  return {std::istreambuf_iterator<char>{in}, {}};
}

/// The pid the process driver recorded for container `name`; 0 when none.
int recorded_pid(s::tuttid_process& d, const std::string& name) {
  auto text = read_file(d.data_dir() + "/process/" + name + ".json");
  auto j = json::parse(text, nullptr, false);
  int pid = j.is_object() ? j.value("pid", 0) : 0;
  if (pid > 0)
    d.track(pid);
  return pid;
}

class containers : public integration {
protected:
  void apply(s::tuttid_process& d, const std::string& yaml) {
    auto r = d.tutti({"apply", "-f", d.scratch().write("pair.yaml", yaml)});
    ASSERT_EQ(r.exit_code, 0) << r.describe();
  }
};

TEST_F(containers, ContainersShareAVolumeAfterTheirInitContainerAndLiveAsOne) {
  auto& d = start_daemon();
  apply(d, pair_yaml());
  ASSERT_TRUE(wait_ready(d, "pair", 1)) << json(replicas_of(d, "pair")) << d.log();
  auto shared = d.data_dir() + "/volumes/scratch/pair-0/shared";
  auto inits = d.data_dir() + "/volumes/persistent/pair-0/log/inits";
  // The init container ran first (the writer found its seed), once.
  EXPECT_EQ(read_file(inits), "run\n");
  EXPECT_EQ(read_file(shared + "/seen").rfind("seed\n", 0), 0u) << read_file(shared + "/seen");
  auto writer = recorded_pid(d, "pair-0_writer");
  auto reader = recorded_pid(d, "pair-0_reader");
  ASSERT_GT(writer, 0);
  ASSERT_GT(reader, 0);
  EXPECT_TRUE(s::process_alive(writer));
  EXPECT_TRUE(s::process_alive(reader));
  EXPECT_EQ(replicas_of(d, "pair").at(0).value("pid", 0), writer); // the first one's

  // Each container's output on its own, all of them under their names.
  auto r = d.tutti({"logs", "pair", "--container", "prepare"});
  EXPECT_EQ(r.exit_code, 0) << r.describe();
  EXPECT_EQ(r.out, "prepared\n");
  r = d.tutti({"logs", "pair", "-c", "reader"});
  EXPECT_EQ(r.out, "reader up\n") << r.describe();
  r = d.tutti({"logs", "pair"});
  EXPECT_NE(r.out.find("==> container writer <==\nwriter up\n"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("==> container reader <==\nreader up\n"), std::string::npos) << r.out;
  r = d.tutti({"logs", "pair", "--container", "nope"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("service pair has no container 'nope' (its containers: prepare, writer, "
                       "reader)"),
            std::string::npos)
      << r.describe();

  // One container killed: the replica restarts as one, its init container not again.
  ASSERT_EQ(::kill(reader, SIGKILL), 0);
  ASSERT_TRUE(s::wait_until(
      [&] {
        auto rs = replicas_of(d, "pair");
        return rs.size() == 1 && rs[0].value("restarts", 0) == 1 &&
               rs[0].value("state", "") == "running" && rs[0].value("pid", 0) != writer &&
               rs[0].value("ready", false);
      },
      converge_timeout))
      << json(replicas_of(d, "pair"));
  EXPECT_TRUE(s::wait_until([&] { return !s::process_alive(writer); }, 5s)); // stopped with it
  auto writer2 = recorded_pid(d, "pair-0_writer");
  EXPECT_NE(writer2, writer);
  EXPECT_TRUE(s::process_alive(writer2));
  EXPECT_EQ(read_file(inits), "run\n");

  // tuttid killed and started again: both containers adopted as they run.
  d.kill9();
  ASSERT_TRUE(d.start()) << d.log();
  ASSERT_TRUE(wait_ready(d, "pair", 1)) << json(replicas_of(d, "pair"));
  EXPECT_EQ(recorded_pid(d, "pair-0_writer"), writer2);
  EXPECT_EQ(read_file(inits), "run\n");

  // Deleted: every container goes, the init container's too.
  auto reader2 = recorded_pid(d, "pair-0_reader");
  ASSERT_EQ(d.tutti({"delete", "pair"}).exit_code, 0);
  EXPECT_TRUE(s::wait_until([&] { return replicas_of(d, "pair").empty(); }, converge_timeout));
  EXPECT_TRUE(s::wait_until(
      [&] { return !s::process_alive(writer2) && !s::process_alive(reader2); }, 5s));
  for (const auto* name : {"pair-0_prepare", "pair-0_writer", "pair-0_reader"})
    EXPECT_FALSE(std::filesystem::exists(d.data_dir() + "/process/" + name + ".json")) << name;
}

TEST_F(containers, AFailingInitContainerHoldsTheReplicaWithTheReason) {
  auto& d = start_daemon();
  apply(d, pair_yaml("3"));
  ASSERT_TRUE(s::wait_until(
      [&] {
        auto rs = replicas_of(d, "pair");
        return rs.size() == 1 && rs[0].value("message", "").find(
                                     "init container prepare exited with code 3") !=
                                     std::string::npos;
      },
      converge_timeout))
      << json(replicas_of(d, "pair"));
  // Its containers never started.
  EXPECT_FALSE(std::filesystem::exists(d.data_dir() + "/process/pair-0_writer.json"));
  bool told = false;
  for (auto& e : events_of(d))
    told = told || (e.value("kind", "") == "replica_failed" &&
                    e.value("message", "") == "init container prepare exited with code 3");
  EXPECT_TRUE(told);
  // Fixed: the new revision runs.
  apply(d, pair_yaml("0"));
  EXPECT_TRUE(wait_ready(d, "pair", 1)) << json(replicas_of(d, "pair"));
}

TEST_F(containers, AReplicaIsReadyWhenEveryContainersReadinessProbePasses) {
  auto& d = start_daemon();
  apply(d, "kind: Service\nname: gate\nvolumes: [{name: flags}]\ncontainers:\n"
           "  - name: front\n"
           "    command: [/bin/sh, -c, \"exec sleep 300\"]\n"
           "    mounts: [{volume: flags}]\n"
           "    health: {readiness: {exec: [/bin/sh, -c, \"test -f $TUTTI_VOLUME_FLAGS/front\"], "
           "interval: 100ms}}\n"
           "  - name: back\n"
           "    command: [/bin/sh, -c, \"exec sleep 300\"]\n"
           "    mounts: [{volume: flags}]\n"
           "    health: {readiness: {exec: [/bin/sh, -c, \"test -f $TUTTI_VOLUME_FLAGS/back\"], "
           "interval: 100ms}}\n");
  ASSERT_TRUE(wait_running(d, "gate", 1)) << json(replicas_of(d, "gate"));
  auto flags = d.data_dir() + "/volumes/scratch/gate-0/flags/";
  auto ready = [&] {
    auto rs = replicas_of(d, "gate");
    return rs.size() == 1 && rs[0].value("ready", false);
  };
  // One container ready of two: the replica is not.
  std::ofstream{flags + "front"} << "ok\n";
  ASSERT_TRUE(s::wait_until(
      [&] {
        auto rs = replicas_of(d, "gate");
        return rs.size() == 1 &&
               rs[0].value("health", "").find("readiness of front: ok") != std::string::npos;
      },
      converge_timeout))
      << json(replicas_of(d, "gate"));
  EXPECT_FALSE(ready());
  EXPECT_NE(replicas_of(d, "gate")[0].value("health", "").find("readiness of back: failed"),
            std::string::npos)
      << json(replicas_of(d, "gate"));
  // Both: it is.
  std::ofstream{flags + "back"} << "ok\n";
  EXPECT_TRUE(s::wait_until(ready, converge_timeout)) << json(replicas_of(d, "gate"));
  // One fails again: it is not.
  std::filesystem::remove(flags + "front");
  EXPECT_TRUE(s::wait_until([&] { return !ready(); }, converge_timeout))
      << json(replicas_of(d, "gate"));
}

TEST_F(containers, AReplicaDeletedOrUpdatedWhileItsInitContainerRunsStopsIt) {
  auto& d = start_daemon();
  auto yaml = [](const std::string& mark) {
    // A persistent volume: an update replaces the replica in place, in its slot.
    return "kind: Service\nname: slow\nenv: {MARK: \"" + mark +
           "\"}\nvolumes: [{name: keep, type: persistent}]\ncontainers:\n"
           "  - {name: wait, init: true, command: [/bin/sh, -c, \"exec sleep 300\"]}\n"
           "  - {name: app, command: [/bin/sh, -c, \"exec sleep 300\"]}\n";
  };
  apply(d, yaml("1"));
  int init = 0;
  ASSERT_TRUE(s::wait_until([&] { return (init = recorded_pid(d, "slow-0_wait")) > 0; },
                            converge_timeout))
      << json(replicas_of(d, "slow"));
  ASSERT_TRUE(s::wait_until(
      [&] {
        auto rs = replicas_of(d, "slow");
        return rs.size() == 1 && rs[0].value("message", "").find(
                                     "init container wait running (1 of 1)") != std::string::npos;
      },
      converge_timeout))
      << json(replicas_of(d, "slow"));
  // A new revision: the running init container is stopped, the new one's starts.
  apply(d, yaml("2"));
  EXPECT_TRUE(s::wait_until([&] { return !s::process_alive(init); }, converge_timeout));
  int second = 0;
  ASSERT_TRUE(s::wait_until(
      [&] {
        second = recorded_pid(d, "slow-0_wait");
        return second > 0 && second != init && s::process_alive(second);
      },
      converge_timeout))
      << json(replicas_of(d, "slow"));
  // Deleted: the init container goes with the replica; its app never ran.
  ASSERT_EQ(d.tutti({"delete", "slow"}).exit_code, 0);
  EXPECT_TRUE(s::wait_until([&] { return replicas_of(d, "slow").empty(); }, converge_timeout))
      << json(replicas_of(d, "slow"));
  EXPECT_TRUE(s::wait_until([&] { return !s::process_alive(second); }, 5s));
  EXPECT_FALSE(std::filesystem::exists(d.data_dir() + "/process/slow-0_wait.json"));
  EXPECT_FALSE(std::filesystem::exists(d.data_dir() + "/process/slow-0_app.json"));
}

} // namespace
} // namespace tutti::tests::integration
