// The client API end to end through the `tutti` binary: scale and delete, dry
// runs and re-applies, bad specs refused whole, and a daemon that shrugs off
// garbage on its port and clients that vanish mid-call.

#include "tests/integration/fixture.hpp"

#include <signal.h>

#include <random>

namespace tutti::tests::integration {
namespace {

std::string hello_file(s::tuttid_process& d, int replicas = 3, const std::string& doc_root = {}) {
  return d.scratch().write("hello.yaml",
                           hello_yaml(doc_root.empty() ? d.scratch().str() : doc_root, replicas));
}

bool all_gone(const std::vector<int>& pids) {
  for (int pid : pids)
    if (s::process_alive(pid))
      return false;
  return true;
}

TEST_F(integration, ScaleUpDownAndDelete) {
  auto& d = start_daemon();
  auto r = d.tutti({"apply", "-f", hello_file(d)});
  ASSERT_EQ(r.exit_code, 0) << r.describe();
  ASSERT_TRUE(wait_running(d, "hello", 3));
  auto three = running_pids(d, "hello");

  auto scaled_at = std::chrono::steady_clock::now();
  r = d.tutti({"scale", "hello=5"});
  ASSERT_EQ(r.exit_code, 0) << r.describe();
  EXPECT_NE(r.out.find("scaled to 5"), std::string::npos) << r.out;
  EXPECT_TRUE(wait_running(d, "hello", 5)) << json(replicas_of(d, "hello"));
  std::printf("scale_3_to_5_running_ms=%lld\n", s::elapsed_ms(scaled_at));
  auto five = running_pids(d, "hello");
  for (auto id : {"hello-0", "hello-1", "hello-2", "hello-3", "hello-4"})
    EXPECT_EQ(five.count(id), 1u) << id;
  for (auto& [id, pid] : three)
    EXPECT_EQ(five[id], pid) << id << " was restarted by a scale-up";

  scaled_at = std::chrono::steady_clock::now();
  r = d.tutti({"scale", "hello=2"});
  ASSERT_EQ(r.exit_code, 0) << r.describe();
  std::vector<int> dropped{five["hello-2"], five["hello-3"], five["hello-4"]};
  EXPECT_TRUE(wait_running(d, "hello", 2)) << json(replicas_of(d, "hello"));
  EXPECT_TRUE(s::wait_until([&] { return all_gone(dropped); }, converge_timeout))
      << "the processes of the removed replicas must end";
  std::printf("scale_5_to_2_stopped_ms=%lld\n", s::elapsed_ms(scaled_at));
  auto two = running_pids(d, "hello");
  EXPECT_EQ(
      two, (std::map<std::string, int>{{"hello-0", five["hello-0"]}, {"hello-1", five["hello-1"]}}))
      << "the highest slots go, the lowest stay untouched";
  auto status = service_status(d, "hello");
  ASSERT_TRUE(status);
  EXPECT_EQ(status->value("desired", -1), 2);
  EXPECT_EQ(status->value("revision", -1), 3) << "apply, scale, scale: 3 revisions";

  auto deleted_at = std::chrono::steady_clock::now();
  r = d.tutti({"delete", "hello"});
  ASSERT_EQ(r.exit_code, 0) << r.describe();
  EXPECT_NE(r.out.find("deleted"), std::string::npos) << r.out;
  std::vector<int> last{two["hello-0"], two["hello-1"]};
  EXPECT_TRUE(s::wait_until([&] { return all_gone(last); }, converge_timeout));
  std::printf("delete_to_processes_gone_ms=%lld\n", s::elapsed_ms(deleted_at));
  EXPECT_TRUE(s::wait_until([&] { return replicas_of(d, "hello").empty(); }, 5s));
  auto services = tutti_json(d, {"get", "services"});
  ASSERT_TRUE(services);
  EXPECT_EQ(*services, json::array()) << services->dump();
  EXPECT_TRUE(s::wait_until([&] { return d.replica_records().empty(); }, 5s))
      << "the driver's records of deleted replicas must go too";
  EXPECT_TRUE(processes_on_ports(d.port_range()).empty());

  r = d.tutti({"delete", "nosuch"});
  EXPECT_EQ(r.exit_code, 1) << r.describe();
  EXPECT_NE(r.err.find("nosuch"), std::string::npos) << r.err;
}

TEST_F(integration, DryRunReapplyAndUpdate) {
  auto& d = start_daemon();
  auto file = hello_file(d);

  auto r = d.tutti({"apply", "-f", file, "--dry-run"});
  EXPECT_EQ(r.exit_code, 0) << r.describe();
  EXPECT_NE(r.out.find("would be created"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("+name: hello"), std::string::npos) << r.out;
  auto services = tutti_json(d, {"get", "services"});
  ASSERT_TRUE(services);
  EXPECT_EQ(*services, json::array()) << "a dry run stores nothing";
  EXPECT_TRUE(d.replica_records().empty()) << "a dry run starts nothing";

  r = d.tutti({"apply", "-f", file});
  ASSERT_EQ(r.exit_code, 0) << r.describe();
  ASSERT_TRUE(wait_running(d, "hello", 3));
  auto first = running_pids(d, "hello");

  r = d.tutti({"apply", "-f", file});
  EXPECT_EQ(r.exit_code, 0) << r.describe();
  EXPECT_NE(r.out.find("unchanged"), std::string::npos) << r.out;
  EXPECT_EQ(service_status(d, "hello").value_or(json{}).value("revision", -1), 1);
  EXPECT_FALSE(s::wait_until([&] { return running_pids(d, "hello") != first; }, 500ms))
      << "an unchanged re-apply must not touch the replicas";

  // Another document root: a new command line.
  d.scratch().write("www2/index.html", "v2\n");
  auto changed = hello_file(d, 3, d.scratch().file("www2"));
  r = d.tutti({"apply", "-f", changed, "--dry-run"});
  EXPECT_EQ(r.exit_code, 0) << r.describe();
  EXPECT_NE(r.out.find("would be updated"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("-command:"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("+command:"), std::string::npos) << r.out;
  EXPECT_EQ(service_status(d, "hello").value_or(json{}).value("revision", -1), 1);

  auto updated_at = std::chrono::steady_clock::now();
  r = d.tutti({"apply", "-f", changed});
  ASSERT_EQ(r.exit_code, 0) << r.describe();
  EXPECT_NE(r.out.find("revision 2"), std::string::npos) << r.out;
  std::map<std::string, int> now;
  EXPECT_TRUE(s::wait_until(
      [&] {
        now = running_pids(d, "hello");
        if (now.size() != 3)
          return false;
        for (auto& [id, pid] : now)
          if (first[id] == pid)
            return false;
        for (auto& x : replicas_of(d, "hello"))
          if (x.value("revision", 0) != 2)
            return false;
        return true;
      },
      converge_timeout))
      << json(replicas_of(d, "hello"));
  std::printf("update_to_3_replaced_ms=%lld\n", s::elapsed_ms(updated_at));
  for (auto& [id, pid] : first)
    EXPECT_FALSE(s::process_alive(pid)) << id << " of revision 1 still runs";
  EXPECT_EQ(service_status(d, "hello").value_or(json{}).value("revision", -1), 2);
  auto port = replicas_of(d, "hello").at(0)["ports"][0].value("host_port", 0);
  EXPECT_TRUE(s::wait_until(
      [&] {
        auto a = s::http_get("127.0.0.1", static_cast<uint16_t>(port), "/index.html");
        return a && a->body == "v2\n";
      },
      5s));
}

TEST_F(integration, ExitCodesTellWhatFailed) {
  auto& d = start_daemon();
  auto r = d.tutti({"apply", "-f", d.scratch().write("keep.yaml", sleeper_yaml("keep", 1))});
  ASSERT_EQ(r.exit_code, 0) << r.describe();

  r = d.tutti({"scale", "nosuch=2"});
  EXPECT_EQ(r.exit_code, 1) << "tuttid refused: " << r.describe();
  EXPECT_NE(r.err.find("nosuch"), std::string::npos) << r.err;

  r = d.tutti({"scale", "keep"});
  EXPECT_EQ(r.exit_code, 2) << "usage error: " << r.describe();
  r = d.tutti({"apply", "-f", d.scratch().file("missing.yaml")});
  EXPECT_EQ(r.exit_code, 2) << "usage error: " << r.describe();
  EXPECT_NE(r.err.find("missing.yaml"), std::string::npos) << r.err;

  auto nobody = s::free_port();
  auto unreachable = s::run_command(
      {TUTTI_BIN, "--api", "127.0.0.1:" + std::to_string(nobody), "get", "services"}, {}, 20s);
  EXPECT_EQ(unreachable.exit_code, 3) << unreachable.describe();
  EXPECT_NE(unreachable.err.find(std::to_string(nobody)), std::string::npos) << unreachable.err;

  // TUTTI_API works as --api does.
  auto by_env = s::run_command({TUTTI_BIN, "get", "services"},
                               {{"TUTTI_API", d.api()}, {"TUTTI_TOKEN_FILE", d.admin_token_file()}},
                               20s);
  EXPECT_EQ(by_env.exit_code, 0) << by_env.describe();
  EXPECT_NE(by_env.out.find("keep"), std::string::npos) << by_env.out;

  d.kill9();
  r = d.tutti({"get", "services"});
  EXPECT_EQ(r.exit_code, 3) << "tuttid is gone: " << r.describe();
}

TEST_F(integration, ServiceStatusCarriesUpdateTime) {
  auto& d = start_daemon();
  auto wall_ms = [] {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  };
  auto before = wall_ms();
  auto r = d.tutti({"apply", "-f", d.scratch().write("keep.yaml", sleeper_yaml("keep", 1))});
  ASSERT_EQ(r.exit_code, 0) << r.describe();
  auto after = wall_ms();
  auto status = service_status(d, "keep");
  ASSERT_TRUE(status);
  auto updated = status->value("updated_ms", int64_t{0});
  EXPECT_GE(updated, before - 1000) << "updated_ms of a service just applied: " << status->dump();
  EXPECT_LE(updated, after + 1000) << status->dump();
  auto table = d.tutti({"get", "services"});
  EXPECT_EQ(table.out.find(" -\n"), std::string::npos) << "AGE is unknown:\n" << table.out;
}

// ----- bad specs --------------------------------------------------------------

struct bad_spec {
  const char* label; // test name suffix and file name
  std::string yaml;
  const char* position; // "LINE:COL" the error must name
  const char* field;    // the field the error must name
  const char* words;    // more text the message must hold
};

void PrintTo(const bad_spec& x, std::ostream* os) {
  *os << x.label;
}

const std::string cmd = "command: [\"/bin/true\"]\n";

std::vector<bad_spec> bad_specs() {
  return {
      {"malformed_yaml", "kind: Service\nname: x\nreplicas: [1, 2\ndriver: process\n", "4:7", "",
       "invalid YAML"},
      {"unknown_field",
       "kind: Service\nname: x\nreplicas: 1\ndriver: process\n" + cmd + "bogus: 1\n", "6:1",
       "bogus", "unknown field"},
      {"wrong_type", "kind: Service\nname: x\nreplicas: three\ndriver: process\n" + cmd, "3:11",
       "replicas", "integer"},
      {"slash_in_name", "kind: Service\nname: a/b\nreplicas: 1\ndriver: process\n" + cmd, "2:7",
       "name", "'/'"},
      {"negative_replicas", "kind: Service\nname: x\nreplicas: -1\ndriver: process\n" + cmd, "3:11",
       "replicas", "-1"},
      {"huge_replicas", "kind: Service\nname: x\nreplicas: 1000000000\ndriver: process\n" + cmd,
       "3:11", "replicas", "1000000000"},
      {"bad_memory",
       "kind: Service\nname: x\nreplicas: 1\ndriver: process\n" + cmd +
           "resources: {cpu: 0.1, memory: 64Mx}\n",
       "6:31", "resources.memory", "64Mx"},
      // The good document between the two duplicates must not be stored either.
      {"duplicate_names",
       service_yaml("dup", 1, {"/bin/true"}) + "---\n" + service_yaml("good2", 1, {"/bin/true"}) +
           "---\n" + service_yaml("dup", 1, {"/bin/true"}),
       "14:7", "name", "duplicate"},
  };
}

class bad_input : public integration, public ::testing::WithParamInterface<bad_spec> {};

TEST_P(bad_input, IsRefusedWholeWithPosition) {
  const auto& bad = GetParam();
  auto& d = start_daemon();
  auto good = d.scratch().write("keep.yaml", sleeper_yaml("keep", 1));
  auto r = d.tutti({"apply", "-f", good});
  ASSERT_EQ(r.exit_code, 0) << r.describe();
  ASSERT_TRUE(wait_running(d, "keep", 1));
  auto keep_pid = running_pids(d, "keep");
  auto before = service_revisions(d);
  ASSERT_EQ(before, (std::map<std::string, int64_t>{{"keep", 1}}));

  auto name = std::string{"bad-"} + bad.label + ".yaml";
  auto path = d.scratch().write(name, bad.yaml);
  r = d.tutti({"apply", "-f", path});
  EXPECT_NE(r.exit_code, 0) << r.describe();
  EXPECT_EQ(r.exit_code, 1) << "a refused spec is tuttid refusing: exit 1; " << r.describe();
  EXPECT_NE(r.err.find(name + ":" + bad.position + ":"), std::string::npos)
      << "expected " << name << ":" << bad.position << " in: " << r.err;
  if (*bad.field != '\0') {
    EXPECT_NE(r.err.find(std::string{bad.field} + ":"), std::string::npos)
        << "expected the field " << bad.field << " in: " << r.err;
  }
  EXPECT_NE(r.err.find(bad.words), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("nothing was applied"), std::string::npos) << r.err;

  EXPECT_EQ(service_revisions(d), before) << "a refused spec must leave the services as they were";
  EXPECT_EQ(running_pids(d, "keep"), keep_pid);
  EXPECT_TRUE(replicas_of(d, "x").empty());
  EXPECT_TRUE(replicas_of(d, "good2").empty());
  for (auto& e : events_of(d))
    EXPECT_FALSE(e.value("kind", "") == "service_applied" && e.value("service", "") != "keep")
        << "an event of a refused spec: " << e.dump();
}

INSTANTIATE_TEST_SUITE_P(integration, bad_input, ::testing::ValuesIn(bad_specs()),
                         [](const ::testing::TestParamInfo<bad_spec>& info) {
                           return std::string{info.param.label};
                         });

// ----- robustness of the API port --------------------------------------------

TEST_F(integration, SurvivesGarbageAndVanishingClients) {
  auto& d = start_daemon();
  auto r = d.tutti({"apply", "-f", d.scratch().write("keep.yaml", sleeper_yaml("keep", 1))});
  ASSERT_EQ(r.exit_code, 0) << r.describe();

  auto seed = std::random_device{}();
  std::printf("garbage_seed=%u\n", seed);
  std::mt19937 gen{seed};
  std::uniform_int_distribution<int> byte{0, 255};
  for (int i = 0; i < 8; ++i) {
    std::string junk(static_cast<size_t>(64 << i), '\0');
    for (auto& c : junk)
      c = static_cast<char>(byte(gen));
    EXPECT_TRUE(s::send_raw("127.0.0.1", d.api_port(), junk)) << "connection " << i;
  }
  // A Cap'n Proto frame header announcing a huge segment, then nothing.
  EXPECT_TRUE(s::send_raw("127.0.0.1", d.api_port(), std::string{"\0\0\0\0\xff\xff\xff\x0f", 8}));
  // HTTP where RPC is expected.
  EXPECT_TRUE(s::send_raw("127.0.0.1", d.api_port(), "GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
  // A stalled client: half a frame, then silence, held open until the end.
  auto stalled =
      s::hold_connection("127.0.0.1", d.api_port(), std::string{"\0\0\0\0\x10\0\0\0\0\0", 10});
  EXPECT_TRUE(stalled.connected());

  // A client that follows events and is killed in the middle of the stream.
  s::child_process::options copts;
  copts.pipe_stdout = true;
  auto follower = s::child_process::start(
      {TUTTI_BIN, "--api", d.api(), "--token-file", d.admin_token_file(), "events", "--follow", "-o", "json"}, copts);
  auto line = follower.read_line(10s);
  EXPECT_TRUE(line) << "events --follow printed nothing";
  follower.kill_group();

  // And one killed at an arbitrary point of an apply of many documents (before,
  // during or after its call: the apply is all or nothing either way).
  std::string many;
  for (int i = 0; i < 50; ++i)
    many += (i ? "---\n" : "") + service_yaml("many-" + std::to_string(i), 0, {"/bin/true"});
  auto mid = s::child_process::start(
      {TUTTI_BIN, "--api", d.api(), "--token-file", d.admin_token_file(), "apply", "-f", d.scratch().write("many.yaml", many)}, {});
  mid.kill_group();
  auto revisions = service_revisions(d);
  ASSERT_TRUE(revisions);
  size_t many_stored = 0;
  for (auto& [name, revision] : *revisions)
    many_stored += name.rfind("many-", 0) == 0 ? 1 : 0;
  EXPECT_TRUE(many_stored == 0 || many_stored == 50) << many_stored << " of 50 stored";

  EXPECT_TRUE(d.running());
  auto answer_start = std::chrono::steady_clock::now();
  auto services = d.tutti({"get", "services"}, 10s);
  std::printf("answer_after_garbage_ms=%lld\n", s::elapsed_ms(answer_start));
  EXPECT_EQ(services.exit_code, 0) << services.describe();
  EXPECT_NE(services.out.find("keep"), std::string::npos) << services.out;
  EXPECT_EQ(d.tutti({"version"}).exit_code, 0);
  r = d.tutti({"scale", "keep=2"});
  EXPECT_EQ(r.exit_code, 0) << r.describe();
  EXPECT_TRUE(wait_running(d, "keep", 2));
}

} // namespace
} // namespace tutti::tests::integration
