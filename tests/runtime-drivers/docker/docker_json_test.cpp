// The Docker driver's JSON and stream parsing against answers as the engine
// (20.10, API 1.41) writes them, including the odd ones: null members, missing
// fields, zero times, frames split across chunks.

#include "runtime-drivers/docker/docker_json.hpp"

#include "protocol/errors.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace tutti::runtime_drivers::docker {
namespace {

using nlohmann::json;

// ----- names -------------------------------------------------------------------

TEST(docker_names, carry_the_replica_and_the_node) {
  EXPECT_EQ(container_name("web-0", "n1"), "tutti-web-0_n1");
  EXPECT_EQ(container_name("web-0", ""), "tutti-web-0");
  EXPECT_EQ(replica_name("/tutti-web-0_n1"), "web-0");
  EXPECT_EQ(replica_name("tutti-web-0_node_with_underscores"), "web-0");
  EXPECT_EQ(replica_name("tutti-web-0"), "web-0");
  EXPECT_EQ(replica_name("/nginx"), std::nullopt);
  EXPECT_EQ(replica_name("tutti-_n1"), std::nullopt);
  // Given the node: one container of a replica's several.
  EXPECT_EQ(replica_name("/tutti-web-0_app_n1", "n1"), "web-0_app");
  EXPECT_EQ(replica_name("tutti-web-0_node_with_underscores", "node_with_underscores"), "web-0");
  EXPECT_EQ(replica_name("tutti-web-0_app_n2", "n1"), std::nullopt);
}

// ----- create ------------------------------------------------------------------

TEST(docker_create_body, maps_every_field) {
  container_spec spec;
  spec.name = "web-0";
  spec.image = "local/busybox:1";
  spec.command = {"/bin/httpd", "-f", "-p", "20001"};
  spec.env = {{"PORT", "20001"}, {"GREETING", "a=b c"}};
  spec.resources.cpu = 0.25;
  spec.resources.memory = 64 << 20;
  spec.labels = {{"tutti.node", "n1"}, {"tutti.service", "web"}};
  auto body = json::parse(create_body(spec, "host"));
  EXPECT_EQ(body["Image"], "local/busybox:1");
  EXPECT_EQ(body["Cmd"], json({"/bin/httpd", "-f", "-p", "20001"}));
  EXPECT_EQ(body["Env"], json({"GREETING=a=b c", "PORT=20001"}));
  EXPECT_EQ(body["Labels"]["tutti.service"], "web");
  EXPECT_EQ(body["HostConfig"]["NetworkMode"], "host");
  EXPECT_EQ(body["HostConfig"]["RestartPolicy"]["Name"], "no");
  EXPECT_EQ(body["HostConfig"]["NanoCpus"], 250000000);
  EXPECT_EQ(body["HostConfig"]["Memory"], 64 << 20);
}

TEST(docker_create_body, leaves_out_what_is_not_set) {
  container_spec spec;
  spec.name = "web-0";
  spec.image = "nginx";
  auto body = json::parse(create_body(spec, "none"));
  EXPECT_FALSE(body.contains("Cmd")) << "the image's own command runs";
  EXPECT_EQ(body["Env"], json::array());
  EXPECT_FALSE(body["HostConfig"].contains("NanoCpus"));
  EXPECT_FALSE(body["HostConfig"].contains("Memory"));
  EXPECT_EQ(body["HostConfig"]["NetworkMode"], "none");
}

TEST(docker_pull_reference, defaults_the_tag_to_latest) {
  using ref = std::pair<std::string, std::string>;
  EXPECT_EQ(pull_reference("nginx"), (ref{"nginx", "latest"}));
  EXPECT_EQ(pull_reference("local/busybox:1"), (ref{"local/busybox", "1"}));
  EXPECT_EQ(pull_reference("registry:5000/team/app"), (ref{"registry:5000/team/app", "latest"}));
  EXPECT_EQ(pull_reference("registry:5000/team/app:v2"), (ref{"registry:5000/team/app", "v2"}));
  EXPECT_EQ(pull_reference("app@sha256:abcd"), (ref{"app@sha256:abcd", ""}));
}

TEST(docker_filters, are_a_json_map_of_lists) {
  EXPECT_EQ(json::parse(filters({{"label", {"tutti.node=n1"}}, {"event", {"die"}}})),
            json({{"event", {"die"}}, {"label", {"tutti.node=n1"}}}));
}

// ----- inspect -----------------------------------------------------------------

const std::string running_inspect = R"({
  "Id": "df45193bc177f50308d16fad9df17b0d29309cc37333c34f97c4fc72aeefc2ef",
  "Created": "2026-11-22T00:51:08.498958916Z",
  "Path": "/bin/sh",
  "State": {"Status": "running", "Running": true, "Paused": false, "Restarting": false,
            "OOMKilled": false, "Dead": false, "Pid": 23771, "ExitCode": 0, "Error": "",
            "StartedAt": "2026-11-22T00:51:08.709943763Z",
            "FinishedAt": "0001-01-01T00:00:00Z"},
  "Name": "/tutti-web-0_n1",
  "Config": {"Hostname": "x", "Env": ["PORT=20001", "PATH=/usr/bin", "EMPTY", "EQ=a=b"],
             "Cmd": ["/bin/sleep", "300"], "Image": "local/busybox:1",
             "Labels": {"tutti.node": "n1", "tutti.replica": "web-0"}},
  "HostConfig": {"NetworkMode": "host", "NanoCpus": 250000000, "Memory": 67108864}
})";

TEST(docker_parse_inspect, reads_a_running_container) {
  auto x = parse_inspect(running_inspect);
  ASSERT_TRUE(x) << protocol::message_of(x.error());
  EXPECT_EQ(x->docker_name, "tutti-web-0_n1");
  EXPECT_EQ(x->info.name, "web-0");
  EXPECT_EQ(x->info.runtime_id.size(), 64u);
  EXPECT_EQ(x->info.state, container_state::running);
  EXPECT_EQ(x->info.pid, 23771);
  EXPECT_EQ(x->info.started_at_ms, 1795308668709);
  EXPECT_EQ(x->info.labels.at("tutti.replica"), "web-0");
  EXPECT_EQ(x->info.env.at("PORT"), "20001");
  EXPECT_EQ(x->info.env.at("EMPTY"), "");
  EXPECT_EQ(x->info.env.at("EQ"), "a=b");
  EXPECT_EQ(x->stop_signal, "");
}

TEST(docker_parse_inspect, reads_exited_and_created_containers) {
  auto exited = parse_inspect(R"({"Id": "abc", "Name": "/tutti-a-1",
    "State": {"Status": "exited", "Pid": 0, "ExitCode": 137,
              "StartedAt": "2024-01-02T03:04:05Z", "FinishedAt": "2024-01-02T03:04:06Z"},
    "Config": {"Labels": null, "Env": null, "StopSignal": "SIGQUIT"}})");
  ASSERT_TRUE(exited);
  EXPECT_EQ(exited->info.state, container_state::exited);
  EXPECT_EQ(exited->info.exit_code, 137);
  EXPECT_EQ(exited->info.pid, 0);
  EXPECT_TRUE(exited->info.labels.empty());
  EXPECT_EQ(exited->stop_signal, "SIGQUIT");

  auto created = parse_inspect(R"({"Id": "abc", "Name": "/x",
    "State": {"Status": "created", "Pid": 0, "ExitCode": 0,
              "StartedAt": "0001-01-01T00:00:00Z"}})");
  ASSERT_TRUE(created);
  EXPECT_EQ(created->info.state, container_state::created);
  EXPECT_EQ(created->info.started_at_ms, 0);
  EXPECT_EQ(created->info.name, "x") << "a foreign name stays as it is";
}

TEST(docker_parse_inspect, maps_every_engine_status) {
  for (auto [status, state] : std::vector<std::pair<std::string, container_state>>{
           {"running", container_state::running},
           {"paused", container_state::running},
           {"restarting", container_state::running},
           {"removing", container_state::exited},
           {"dead", container_state::exited},
           {"exited", container_state::exited}}) {
    auto x = parse_inspect(R"({"Id": "a", "State": {"Status": ")" + status + R"(", "Pid": 5}})");
    ASSERT_TRUE(x);
    EXPECT_EQ(x->info.state, state) << status;
  }
}

TEST(docker_parse_inspect, refuses_what_is_no_container) {
  for (std::string body : {"", "[]", "not json", "{\"message\": \"x\"}", "{\"Id\": 5}"}) {
    auto x = parse_inspect(body);
    ASSERT_FALSE(x) << body;
    EXPECT_EQ(protocol::code_of(x.error()), protocol::error_code::driver_failure);
  }
}

TEST(docker_parse_time, reads_rfc3339) {
  EXPECT_EQ(parse_time_ms("1970-01-01T00:00:01Z"), 0) << "1970 and before count as unset";
  EXPECT_EQ(parse_time_ms("2024-01-02T03:04:05Z"), 1704164645000);
  EXPECT_EQ(parse_time_ms("2024-01-02T03:04:05.5Z"), 1704164645500);
  EXPECT_EQ(parse_time_ms("2024-01-02T03:04:05.123456789Z"), 1704164645123);
  EXPECT_EQ(parse_time_ms("2024-01-02T05:04:05.1+02:00"), 1704164645100);
  EXPECT_EQ(parse_time_ms("2024-01-02T01:04:05-02:00"), 1704164645000);
  EXPECT_EQ(parse_time_ms("0001-01-01T00:00:00Z"), 0);
  EXPECT_EQ(parse_time_ms(""), 0);
  EXPECT_EQ(parse_time_ms("2024-01-02 03:04:05"), 0);
  EXPECT_EQ(parse_time_ms("2024-01-02T03:04:05Zjunk"), 0);
}

// ----- list, stats, errors -------------------------------------------------------

TEST(docker_parse_list, reads_names_states_and_labels) {
  auto x = parse_list(R"([
    {"Id": "a1", "Names": ["/tutti-web-0_n1"], "State": "running",
     "Labels": {"tutti.node": "n1"}, "Status": "Up 2 seconds"},
    {"Id": "b2", "Names": [], "State": "exited", "Labels": null},
    {"Names": ["/no-id"]},
    5
  ])");
  ASSERT_TRUE(x);
  ASSERT_EQ(x->size(), 2u);
  EXPECT_EQ((*x)[0].docker_name, "tutti-web-0_n1");
  EXPECT_EQ((*x)[0].labels.at("tutti.node"), "n1");
  EXPECT_EQ((*x)[1].docker_name, "");
  EXPECT_EQ((*x)[1].state, "exited");
  EXPECT_FALSE(parse_list("{}"));
}

TEST(docker_parse_stats, reads_cpu_and_memory) {
  auto x = parse_stats(R"({"cpu_stats": {"cpu_usage": {"total_usage": 1500000000}},
    "memory_stats": {"usage": 10000000, "stats": {"total_inactive_file": 2000000}}})");
  ASSERT_TRUE(x);
  EXPECT_DOUBLE_EQ(x->cpu_seconds, 1.5);
  EXPECT_EQ(x->memory_bytes, 8000000);
  auto v2 = parse_stats(R"({"memory_stats": {"usage": 100, "stats": {"inactive_file": 40}}})");
  ASSERT_TRUE(v2);
  EXPECT_EQ(v2->memory_bytes, 60);
  // What the engine answers for a stopped container.
  auto stopped = parse_stats(R"({"read": "0001-01-01T00:00:00Z", "pids_stats": {},
    "cpu_stats": {"cpu_usage": {"total_usage": 0}, "throttling_data": {}},
    "memory_stats": {}})");
  ASSERT_TRUE(stopped);
  EXPECT_EQ(stopped->cpu_seconds, 0);
  EXPECT_EQ(stopped->memory_bytes, 0);
}

TEST(docker_error_message, prefers_the_engines_message) {
  EXPECT_EQ(error_message(404, R"({"message":"No such container: x"})"), "No such container: x");
  EXPECT_EQ(error_message(500, "  plain text\n"), "plain text");
  EXPECT_EQ(error_message(502, ""), "HTTP 502");
  EXPECT_EQ(error_message(500, R"({"message": ""})"), R"({"message": ""})");
}

TEST(docker_loaded_images, names_each_image_a_load_answer_reports) {
  EXPECT_EQ(loaded_images("{\"stream\":\"Loaded image: local/a:1\\n\"}\n"
                          "{\"stream\":\"Loaded image ID: sha256:abc\\n\"}\n"
                          "{\"stream\":\"unrelated\"}\nnot json\n"),
            (std::vector<std::string>{"local/a:1", "sha256:abc"}));
  EXPECT_TRUE(loaded_images("").empty());
  EXPECT_TRUE(loaded_images("{\"stream\":\"Loaded image: \"}").empty());
}

TEST(docker_pull_error, finds_errors_in_a_progress_stream) {
  EXPECT_EQ(pull_error("{\"status\":\"Pulling from local/x\"}\n"
                       "{\"errorDetail\":{\"message\":\"manifest unknown\"},"
                       "\"error\":\"manifest unknown\"}\n"),
            "manifest unknown");
  EXPECT_EQ(pull_error("{\"errorDetail\":{\"message\":\"only detail\"}}"), "only detail");
  EXPECT_EQ(pull_error("{\"status\":\"Downloaded newer image\"}\n"), std::nullopt);
  EXPECT_EQ(pull_error("garbage\n\n"), std::nullopt);
}

// ----- events ------------------------------------------------------------------

TEST(docker_parse_event, reads_a_die_event) {
  auto e = parse_event(
      R"({"status":"die","id":"d366f4","from":"local/busybox:1","Type":"container","Action":"die",)"
      R"("Actor":{"ID":"d366f4","Attributes":{"exitCode":"137","image":"local/busybox:1",)"
      R"("name":"tutti-x-0","tutti.node":"n1"}},"scope":"local","time":1795308678,)"
      R"("timeNano":1795308678058771954})");
  ASSERT_TRUE(e);
  EXPECT_EQ(e->type, "container");
  EXPECT_EQ(e->action, "die");
  EXPECT_EQ(e->id, "d366f4");
  EXPECT_EQ(e->name, "tutti-x-0");
  EXPECT_EQ(e->exit_code, 137);
  EXPECT_EQ(e->time_nano, 1795308678058771954);
  EXPECT_EQ(e->attributes.at("tutti.node"), "n1");
}

TEST(docker_parse_event, tolerates_old_and_partial_shapes) {
  // Only the pre-1.22 fields, seconds only, no exit code.
  auto old = parse_event(R"({"status":"die","id":"abc","time":100})");
  ASSERT_TRUE(old);
  EXPECT_EQ(old->action, "die");
  EXPECT_EQ(old->id, "abc");
  EXPECT_EQ(old->time_nano, 100'000'000'000);
  EXPECT_EQ(old->exit_code, std::nullopt);
  auto odd = parse_event(R"({"Action":"die","Actor":{"ID":"x","Attributes":{"exitCode":"oops"}}})");
  ASSERT_TRUE(odd);
  EXPECT_EQ(odd->exit_code, std::nullopt);
  for (std::string line : {"", "   ", "{", "[1,2]", "{\"Action\":\"die\"}", "{\"id\":\"x\"}"})
    EXPECT_FALSE(parse_event(line)) << line;
}

// ----- logs --------------------------------------------------------------------

std::string frame(uint8_t stream, const std::string& payload) {
  std::string out(8, '\0');
  out[0] = static_cast<char>(stream);
  auto n = static_cast<uint32_t>(payload.size());
  out[4] = static_cast<char>(n >> 24);
  out[5] = static_cast<char>(n >> 16);
  out[6] = static_cast<char>(n >> 8);
  out[7] = static_cast<char>(n);
  return out + payload;
}

std::string demux(const std::string& stream, size_t keep, size_t chunk) {
  log_demuxer d{keep};
  for (size_t i = 0; i < stream.size(); i += chunk)
    d.feed(stream.data() + i, std::min(chunk, stream.size() - i));
  return d.text();
}

TEST(docker_log_demuxer, strips_headers_in_any_chunking) {
  auto stream = frame(1, "hi\n") + frame(2, "err\n") + frame(1, "") + frame(1, "bye\n");
  for (size_t chunk : {1, 2, 3, 7, 8, 9, 100})
    EXPECT_EQ(demux(stream, 1000, chunk), "hi\nerr\nbye\n") << "chunk " << chunk;
}

TEST(docker_log_demuxer, keeps_the_tail) {
  std::string stream;
  for (int i = 0; i < 100; ++i)
    stream += frame(i % 2 + 1, std::to_string(i) + "\n");
  EXPECT_EQ(demux(stream, 6, 5), "98\n99\n");
  EXPECT_EQ(demux(frame(1, std::string(50, 'x') + "end"), 4, 1000), "xend");
  EXPECT_EQ(demux(stream, 0, 10), "");
}

TEST(docker_log_demuxer, handles_large_frames_and_cut_streams) {
  std::string big(70000, 'a'); // a length over 16 bits
  EXPECT_EQ(demux(frame(1, big), 100000, 4096).size(), 70000u);
  auto cut = frame(1, "complete\n") + frame(2, "partial line").substr(0, 8 + 7);
  EXPECT_EQ(demux(cut, 1000, 3), "complete\npartial");
  EXPECT_EQ(demux(frame(1, "x").substr(0, 5), 1000, 1), "") << "a header cut short";
}

TEST(docker_log_demuxer, passes_tty_streams_through) {
  EXPECT_EQ(demux("plain text from a tty\n", 1000, 4), "plain text from a tty\n");
}

} // namespace
} // namespace tutti::runtime_drivers::docker
