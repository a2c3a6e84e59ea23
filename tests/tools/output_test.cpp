#include "tools/tutti/args.hpp"
#include "tools/tutti/output.hpp"
#include "tools/tutti/views.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cstdlib>
#include <ctime>
#include <set>
#include <sstream>

namespace {

using namespace tutti::cli;
using namespace tutti::protocol;
using json = json_value; // keeps key order, as the output does

std::set<std::string> keys_of(const json& object) {
  std::set<std::string> out;
  for (const auto& [key, value] : object.items())
    out.insert(key);
  return out;
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in{text};
  for (std::string line; std::getline(in, line);)
    out.push_back(line);
  return out;
}

replica_status sample_replica() {
  replica_status r;
  r.id = "web-0";
  r.service = "web";
  r.slot = 0;
  r.node = "local";
  r.state = replica_state::running;
  r.pid = 4242;
  r.runtime_id = "4242";
  r.restarts = 1;
  r.revision = 3;
  r.since_ms = 1'000'000;
  r.ports = {{"http", 31000}, {"admin", 31001}};
  return r;
}

// Local time must be fixed for the clock tests; each test runs in its own process
// under ctest, and the setting is harmless for the other tests.
void use_utc() {
  ::setenv("TZ", "UTC", 1);
  ::tzset();
}

TEST(Table, AlignsColumnsToTheWidestCell) {
  text_table t{{"NAME", "REVISION", "DRIVER"}};
  t.add_row({"web", "3", "process"});
  t.add_row({"database-primary", "12", "docker"});
  EXPECT_EQ(t.render(), "NAME               REVISION   DRIVER\n"
                        "web                3          process\n"
                        "database-primary   12         docker\n");
}

TEST(Table, LeavesNoTrailingBlanksAndKeepsRowsOnOneLine) {
  text_table t{{"ID", "MESSAGE", "NOTE"}};
  t.add_row({"web-0", "line one\nline two", ""});
  t.add_row({"web-1"}); // missing cells are blank
  auto out = t.render("  ");
  EXPECT_EQ(out, "  ID      MESSAGE             NOTE\n"
                 "  web-0   line one line two\n"
                 "  web-1\n");
}

TEST(Table, MeasuresUtf8ByCodePoint) {
  EXPECT_EQ(display_width("zone=süd"), 8u);
  text_table t{{"A", "B"}};
  t.add_row({"süd", "x"});
  EXPECT_EQ(t.render(), "A     B\nsüd   x\n");
  EXPECT_EQ(truncate_text("süd-east", 3), "süd");
}

TEST(Table, RenderRowGrowsWidthsForLaterRows) {
  std::vector<size_t> widths;
  EXPECT_EQ(render_row({"AB", "C"}, widths), "AB   C\n");
  EXPECT_EQ(render_row({"A", "C"}, widths), "A    C\n");
  EXPECT_EQ(render_row({"ABCD", "C"}, widths), "ABCD   C\n");
}

TEST(Views, ServicesTable) {
  service_status s{"web", 3, 2, 1, driver_kind::process, 4, 1'000'000};
  auto out = services_table({s}, 1'000'000 + 192'000);
  EXPECT_EQ(out, "NAME   REVISION   DESIRED   RUNNING   RESTARTS   DRIVER    AUTOSCALE   AGE\n"
                 "web    3          2         1         4          process   -           3m12s\n");
  s.autoscale = "1-4, rps 412.0/50";
  out = services_table({s}, 1'000'000 + 192'000);
  EXPECT_NE(out.find("process   1-4, rps 412.0/50   3m12s\n"), std::string::npos) << out;
}

TEST(Views, ReplicasTableShowsPidPortsAndAge) {
  auto lines = lines_of(replicas_table({sample_replica()}, 1'000'000 + 45'000));
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[0], "ID      SERVICE   NODE    STATE     PID/CONTAINER   RESTARTS   REVISION   "
                      "AGE   PORTS");
  EXPECT_EQ(lines[1], "web-0   web       local   running   4242            1          3          "
                      "45s   http:31000,admin:31001");
}

TEST(Views, NodesTable) {
  node_status n;
  n.name = "local";
  n.capacity = {4, 8ll << 30};
  n.allocated = {0.5, 128ll << 20};
  n.replicas = 2;
  n.ports_capacity = 100;
  n.ports_allocated = 3;
  n.labels = {{"zone", "a"}, {"disk", "ssd"}};
  n.drivers = {driver_kind::process, driver_kind::docker};
  n.driver_errors = {{driver_kind::docker, "cannot reach the Docker engine"}};
  auto lines = lines_of(nodes_table({n}));
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_EQ(lines[0].find("DRIVERS"), lines[1].find("process,docker(unhealthy)"));
  EXPECT_EQ(lines[2], "local: docker driver unhealthy: cannot reach the Docker engine");
  EXPECT_EQ(lines[1].rfind("local   ready   0.5/4            128Mi/8Gi           3/100              2   ",
                           0),
            0u)
      << lines[1];
  EXPECT_EQ(lines[1].substr(lines[1].size() - 15), "disk=ssd,zone=a");
}

TEST(Views, NodeDriverErrorsAreListedByDriverName) {
  node_status n;
  n.name = "n1";
  n.drivers = {driver_kind::process, driver_kind::docker, driver_kind::containerd};
  n.driver_errors = {{driver_kind::docker, "no engine"}, {driver_kind::containerd, "no socket"}};
  auto lines = lines_of(nodes_table({n}));
  ASSERT_EQ(lines.size(), 4u);
  EXPECT_NE(lines[1].find("process,docker(unhealthy),containerd(unhealthy)"), std::string::npos);
  EXPECT_EQ(lines[2], "n1: containerd driver unhealthy: no socket");
  EXPECT_EQ(lines[3], "n1: docker driver unhealthy: no engine");
  EXPECT_EQ(to_json_text(json_of(n)["drivers"], -1), R"(["process","docker","containerd"])");
  EXPECT_EQ(to_json_text(json_of(n)["driver_errors"], -1),
            R"({"containerd":"no socket","docker":"no engine"})");
}

TEST(Views, RolloutLineAndJsonNameTheState) {
  rollout_status r{"web", 4, rollout_state::rolling_back, 3, 1, 1, 2, 2, "web-1 exited"};
  EXPECT_EQ(rollout_line(r),
            "revision 4 rolling_back: 1/3 updated, 1 ready, 2 available, 2 old; web-1 exited");
  EXPECT_EQ(json_of(r)["state"], "rolling_back");
  r.state = rollout_state::complete;
  EXPECT_EQ(json_of(r)["state"], "complete");
  r.state = rollout_state::paused;
  EXPECT_EQ(rollout_line(r).rfind("revision 4 paused: ", 0), 0u);
  r.state = rollout_state::progressing;
  EXPECT_NE(to_yaml(json_of(r)).find("state: progressing\n"), std::string::npos);
}

TEST(Views, TreeTableAndJsonNameTheState) {
  std::vector<actor_info> xs{{"/", "supervisor", actor_state::running, 1, 0, ""},
                             {"/cluster", "cluster", actor_state::restarting, 0, 2, "kill"},
                             {"/nodes/n1", "node", actor_state::draining, 9, 0, ""},
                             {"/nodes/n2", "node", actor_state::unreachable, 0, 0, ""}};
  auto lines = lines_of(tree_table(xs));
  ASSERT_EQ(lines.size(), 5u);
  EXPECT_EQ(lines[1], "/           supervisor   running       1    0          -");
  EXPECT_NE(lines[2].find(" restarting "), std::string::npos) << lines[2];
  EXPECT_NE(lines[3].find(" draining "), std::string::npos) << lines[3];
  EXPECT_NE(lines[4].find(" unreachable "), std::string::npos) << lines[4];
  EXPECT_EQ(json_of(xs[2])["state"], "draining");
  EXPECT_EQ(json_of(xs[1])["state"], "restarting");
}

TEST(Views, PidOrContainer) {
  auto r = sample_replica();
  EXPECT_EQ(pid_or_container(r, driver_kind::process), "4242");
  EXPECT_EQ(pid_or_container(r, std::nullopt), "4242");
  r.pid = 0;
  EXPECT_EQ(pid_or_container(r, driver_kind::process), "-");
  EXPECT_EQ(pid_or_container(r, std::nullopt), "-"); // stale pid text, not running
  r.runtime_id = "3f4e5d6c7b8a99887766554433221100";
  r.pid = 777; // docker reports the container's host pid too
  EXPECT_EQ(pid_or_container(r, driver_kind::docker), "3f4e5d6c7b8a");
  EXPECT_EQ(pid_or_container(r, std::nullopt), "3f4e5d6c7b8a");
  r.runtime_id.clear();
  EXPECT_EQ(pid_or_container(r, driver_kind::docker), "-");
}

TEST(Json, ReplicaKeysAreSnakeCase) {
  auto parsed = json::parse(to_json_text(json_of(sample_replica())));
  EXPECT_EQ(keys_of(parsed),
            (std::set<std::string>{"id", "service", "slot", "node", "state", "pid", "runtime_id",
                                   "restarts", "revision", "exit_code", "message", "since_ms",
                                   "ports", "ready", "unhealthy", "health", "log_tail"}));
  EXPECT_EQ(parsed["state"], "running");
  EXPECT_EQ(parsed["pid"], 4242);
  EXPECT_EQ(parsed["ports"][1]["name"], "admin");
  EXPECT_EQ(parsed["ports"][1]["host_port"], 31001);
}

TEST(Json, ServiceNodeAndEventKeys) {
  service_status s{"web", 3, 2, 1, driver_kind::docker, 0, 5};
  EXPECT_EQ(keys_of(json_of(s)), (std::set<std::string>{"name", "revision", "desired", "running",
                                                        "restarts", "driver", "updated_ms",
                                                        "autoscale", "autoscaled"}));
  EXPECT_EQ(json_of(s)["driver"], "docker");
  EXPECT_EQ(json_of(s).begin().key(), "name"); // keys keep the table's order
  node_status n;
  n.labels = {{"zone", "a"}};
  auto node = json::parse(to_json_text(json_of(n)));
  EXPECT_EQ(keys_of(node),
            (std::set<std::string>{"name", "address", "state", "capacity", "allocated", "replicas",
                                   "ports_capacity", "ports_allocated", "labels", "drivers",
                                   "driver_errors"}));
  EXPECT_EQ(node["labels"]["zone"], "a");
  EXPECT_EQ(keys_of(json_of(event{})),
            (std::set<std::string>{"seq", "time_ms", "kind", "service", "replica", "message"}));
}

TEST(Json, ListsAreArraysAndEmptyListIsEmptyArray) {
  EXPECT_EQ(render_as(output_format::json, json_of(std::vector<service_status>{}), "x"), "[]\n");
  auto parsed =
      json::parse(render_as(output_format::json, json_of(std::vector{sample_replica()}), ""));
  ASSERT_TRUE(parsed.is_array());
  EXPECT_EQ(parsed[0]["id"], "web-0");
}

TEST(Yaml, PlainStringsStayPlain) {
  for (std::string s :
       {"web", "web-0", "hello world", "say \"hi\"", "a:b", "http://x/y", "café", "it's"})
    EXPECT_EQ(yaml_scalar(s), s) << s;
}

TEST(Yaml, TrickyStringsAreQuoted) {
  EXPECT_EQ(yaml_scalar(""), R"("")");
  EXPECT_EQ(yaml_scalar("a: b"), R"("a: b")");
  EXPECT_EQ(yaml_scalar("key:"), R"("key:")");
  EXPECT_EQ(yaml_scalar(" leading"), R"(" leading")");
  EXPECT_EQ(yaml_scalar("trailing "), R"("trailing ")");
  EXPECT_EQ(yaml_scalar("\"quoted\""), R"("\"quoted\"")");
  EXPECT_EQ(yaml_scalar("'single'"), R"("'single'")");
  EXPECT_EQ(yaml_scalar("line\nbreak"), R"("line\nbreak")");
  EXPECT_EQ(yaml_scalar("tab\there"), R"("tab\there")");
  EXPECT_EQ(yaml_scalar("# not a comment"), R"("# not a comment")");
  EXPECT_EQ(yaml_scalar("a #b"), R"("a #b")");
  EXPECT_EQ(yaml_scalar("- item"), R"("- item")");
  EXPECT_EQ(yaml_scalar("*alias"), R"("*alias")");
  EXPECT_EQ(yaml_scalar("{x}"), R"("{x}")");
  EXPECT_EQ(yaml_scalar("back\\slash\x01"), R"("back\\slash\u0001")");
}

TEST(Yaml, StringsThatWouldReadAsOtherTypesAreQuoted) {
  for (std::string s : {"yes", "No", "true", "FALSE", "on", "off", "null", "~", "y", "123", "1.5",
                        "0x1F", "1e3", ".inf", "-1", "+1", "0.1.0", "<<"})
    EXPECT_EQ(yaml_scalar(s), "\"" + s + "\"") << s;
}

TEST(Yaml, ListOfMaps) {
  json value = json::array({{{"name", "web"}, {"revision", 3}, {"ports", json::array()}},
                            {{"name", "a: b"}, {"ok", true}, {"x", nullptr}}});
  EXPECT_EQ(to_yaml(value), "- name: web\n"
                            "  revision: 3\n"
                            "  ports: []\n"
                            "- name: \"a: b\"\n"
                            "  ok: true\n"
                            "  x: null\n");
}

TEST(Yaml, NestedCollections) {
  json value = {{"labels", {{"zone", "a"}}},
                {"drivers", {"process", "docker"}},
                {"matrix", json::array({json::array({1, 2}), json::array({3})})},
                {"empty", json::object()}};
  EXPECT_EQ(to_yaml(value), "labels:\n"
                            "  zone: a\n"
                            "drivers:\n"
                            "  - process\n"
                            "  - docker\n"
                            "matrix:\n"
                            "  - - 1\n"
                            "    - 2\n"
                            "  - - 3\n"
                            "empty: {}\n");
}

TEST(Yaml, MultiLineStringsBecomeLiteralBlocks) {
  EXPECT_EQ(to_yaml(json{{"spec", "kind: Service\nname: web\n"}}),
            "spec: |\n  kind: Service\n  name: web\n");
  EXPECT_EQ(to_yaml(json{{"s", "a\n\nb"}}), "s: |-\n  a\n\n  b\n");
  EXPECT_EQ(to_yaml(json{{"s", "a\n\n"}}), "s: |+\n  a\n\n");
  EXPECT_EQ(to_yaml(json::array({"x\ny\n"})), "- |\n  x\n  y\n");
  // A first line starting with a blank cannot be a plain literal block.
  EXPECT_EQ(to_yaml(json{{"s", " a\nb"}}), "s: \" a\\nb\"\n");
  EXPECT_EQ(to_yaml(json{{"s", "a\r\nb"}}), "s: \"a\\r\\nb\"\n");
}

TEST(Yaml, ScalarsAndEmptyTopLevel) {
  EXPECT_EQ(to_yaml(json::array()), "[]\n");
  EXPECT_EQ(to_yaml(json("web")), "web\n");
  EXPECT_EQ(to_yaml(json(0.25)), "0.25\n");
  EXPECT_EQ(to_yaml(json{{"key: x", 1}}), "\"key: x\": 1\n");
}

TEST(ScaleArgs, ParsesNameEqualsCount) {
  auto t = parse_scale_target("web=3");
  ASSERT_TRUE(t);
  EXPECT_EQ(*t, (scale_target{"web", 3}));
  EXPECT_EQ(*parse_scale_target("db=0"), (scale_target{"db", 0}));
  EXPECT_EQ(*parse_scale_target("a=10000"), (scale_target{"a", 10000}));
}

TEST(ScaleArgs, RejectsBadSyntaxWithAClearMessage) {
  auto t = parse_scale_target("web");
  ASSERT_FALSE(t);
  EXPECT_EQ(t.error().message, "expected NAME=REPLICAS, got 'web'");
  EXPECT_EQ(parse_scale_target("=3").error().message, "expected NAME=REPLICAS, got '=3'");
  for (const char* bad : {"web=", "web=abc", "web=-1", "web=10001", "web=3x", "web= 3"}) {
    auto r = parse_scale_target(bad);
    ASSERT_FALSE(r) << bad;
    EXPECT_NE(r.error().message.find(std::string{"got '"} + bad + "'"), std::string::npos);
  }
}

TEST(ScaleArgs, StopsAtTheFirstBadArgument) {
  auto all = parse_scale_targets({"web=3", "oops", "db=1"});
  ASSERT_FALSE(all);
  EXPECT_EQ(all.error().message, "expected NAME=REPLICAS, got 'oops'");
  auto good = parse_scale_targets({"web=3", "db=1"});
  ASSERT_TRUE(good);
  EXPECT_EQ(good->size(), 2u);
}

TEST(Args, ApiAddress) {
  EXPECT_EQ(check_api_address("127.0.0.1:7700"), "");
  EXPECT_EQ(check_api_address("localhost:1"), "");
  EXPECT_EQ(check_api_address("[::1]:7700"), "");
  for (const char* bad :
       {"127.0.0.1", ":7700", "host:", "host:0", "host:65536", "::1:7700", "host:77a"})
    EXPECT_NE(check_api_address(bad), "") << bad;
}

TEST(Args, DeleteAcceptsKindWordAndPrefix) {
  using v = std::vector<std::string>;
  EXPECT_EQ(service_names(v{"service", "web"}), (v{"web"}));
  EXPECT_EQ(service_names(v{"svc", "web", "db"}), (v{"web", "db"}));
  EXPECT_EQ(service_names(v{"service"}), (v{"service"})); // a service named "service"
  EXPECT_EQ(service_names(v{"service/web", "db"}), (v{"web", "db"}));
}

TEST(Time, ClockIsLocalWithMilliseconds) {
  use_utc();
  EXPECT_EQ(format_clock(0), "00:00:00.000");
  EXPECT_EQ(format_clock(1'700'000'000'123), "22:13:20.123");
  EXPECT_EQ(format_datetime(1'700'000'000'123), "2023-11-14 22:13:20");
}

TEST(Time, AgeLikeKubectl) {
  EXPECT_EQ(format_age(-5000), "0s");
  EXPECT_EQ(format_age(0), "0s");
  EXPECT_EQ(format_age(45'999), "45s");
  EXPECT_EQ(format_age(119'000), "119s");
  EXPECT_EQ(format_age(120'000), "2m");
  EXPECT_EQ(format_age(192'000), "3m12s");
  EXPECT_EQ(format_age(42 * 60'000), "42m");
  EXPECT_EQ(format_age(3 * 3'600'000), "3h");
  EXPECT_EQ(format_age(5 * 3'600'000 + 3 * 60'000), "5h3m");
  EXPECT_EQ(format_age(30 * 3'600'000), "30h");
  EXPECT_EQ(format_age(76 * 3'600'000), "3d4h");
  EXPECT_EQ(format_age(12ll * 86'400'000), "12d");
  EXPECT_EQ(format_since(0, 5000), "-");
}

TEST(Units, BytesAndCpu) {
  EXPECT_EQ(format_bytes(0), "0");
  EXPECT_EQ(format_bytes(512), "512");
  EXPECT_EQ(format_bytes(1024), "1Ki");
  EXPECT_EQ(format_bytes(64ll << 20), "64Mi");
  EXPECT_EQ(format_bytes(3ll << 29), "1.5Gi");
  EXPECT_EQ(format_cpu(0.25), "0.25");
  EXPECT_EQ(format_cpu(4), "4");
  EXPECT_EQ(format_cpu(0.5), "0.5");
}

TEST(Views, ChangeLines) {
  service_change created{"web", change_kind::created, 3, "+name: web\n"};
  EXPECT_EQ(change_text(created, false), "service/web created (revision 3)\n");
  EXPECT_EQ(change_text({"web", change_kind::updated, 4, ""}, false),
            "service/web configured (revision 4)\n");
  EXPECT_EQ(change_text({"web", change_kind::unchanged, 4, ""}, false), "service/web unchanged\n");
  EXPECT_EQ(change_text(created, true), "service/web would be created\n    +name: web\n");
  EXPECT_EQ(change_text({"web", change_kind::updated, 0, "-replicas: 1\n+replicas: 3"}, true),
            "service/web would be updated\n    -replicas: 1\n    +replicas: 3\n");
}

TEST(Views, EventPrinterTableKeepsWidthsAcrossBatches) {
  use_utc();
  event_printer printer{output_format::table};
  std::vector<event> first = {{7, 1'700'000'000'123, "replica_started", "web", "web-0", "pid 42"}};
  EXPECT_EQ(printer.print(first),
            "TIME           SEQ   KIND              SERVICE   REPLICA   MESSAGE\n"
            "22:13:20.123   7     replica_started   web       web-0     pid 42\n");
  EXPECT_EQ(printer.print({{8, 1'700'000'000'200, "service_applied", "web", "", "rev 4"}}),
            "22:13:20.200   8     service_applied   web       -         rev 4\n");
}

TEST(Views, EventPrinterJsonLinesAndYamlItems) {
  std::vector<event> batch = {{1, 10, "a", "web", "web-0", "x"}, {2, 20, "b", "", "", "y: z"}};
  event_printer as_json{output_format::json};
  auto lines = lines_of(as_json.print(batch));
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(json::parse(lines[0])["seq"], 1);
  EXPECT_EQ(json::parse(lines[1])["message"], "y: z");
  event_printer as_yaml{output_format::yaml};
  EXPECT_EQ(as_yaml.print({batch[1]}), "- seq: 2\n"
                                       "  time_ms: 20\n"
                                       "  kind: b\n"
                                       "  service: \"\"\n"
                                       "  replica: \"\"\n"
                                       "  message: \"y: z\"\n");
}

TEST(Views, DescribeTextHasEverySection) {
  use_utc();
  service_detail d;
  d.status = {"web", 3, 2, 1, driver_kind::process, 4, 1'700'000'000'000};
  d.spec_yaml = "kind: Service\nname: web\n";
  auto r = sample_replica();
  r.state = replica_state::backoff;
  r.exit_code = 137;
  r.message = "killed";
  r.since_ms = 1'700'000'000'000;
  d.replicas = {r};
  d.events = {{9, 1'700'000'000'500, "replica_exited", "web", "web-0", "exit 137"}};
  auto text = describe_text(d, 1'700'000'060'000);
  EXPECT_EQ(text,
            "Name:             web\n"
            "Driver:           process\n"
            "Revision:         3\n"
            "Desired/Running:  2/1\n"
            "Restarts:         4\n"
            "Updated:          2023-11-14 22:13:20 (60s ago)\n"
            "Spec:\n"
            "  kind: Service\n"
            "  name: web\n"
            "Replicas:\n"
            "  ID      NODE    STATE     READY   PID/CONTAINER   RESTARTS   EXIT   MESSAGE   AGE\n"
            "  web-0   local   backoff   no      4242            1          137    killed    60s\n"
            "Events:\n"
            "  TIME           KIND             REPLICA   MESSAGE\n"
            "  22:13:20.500   replica_exited   web-0     exit 137\n");
}

} // namespace
