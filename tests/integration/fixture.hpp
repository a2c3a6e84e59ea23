#pragma once

// Shared pieces of the integration tests: a fixture that starts real tuttid
// processes (and prints their logs when a test fails), spec writers, and readers
// of the `tutti ... -o json` output, the event log and the metrics endpoint.

#include "tests/support/child_process.hpp"
#include "tests/support/net.hpp"
#include "tests/support/temp_dir.hpp"
#include "tests/support/tuttid_process.hpp"
#include "tests/support/wait.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <atomic>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

namespace tutti::tests::integration {

using namespace std::chrono_literals;
using nlohmann::json;
namespace s = tutti::tests::support;

/// Replicas of a spec are "running" within this after an apply on a loaded CI box.
inline constexpr auto converge_timeout = 10s;

class integration : public ::testing::Test {
protected:
  /// Options with the binaries this build made.
  static s::tuttid_options daemon_options() {
    s::tuttid_options opts;
    opts.tuttid_binary = TUTTID_BIN;
    opts.tutti_binary = TUTTI_BIN;
    return opts;
  }

  /// Creates a daemon the fixture cleans up (not started).
  s::tuttid_process& make_daemon(s::tuttid_options opts = daemon_options()) {
    daemons_.push_back(std::make_unique<s::tuttid_process>(std::move(opts)));
    return *daemons_.back();
  }

  /// Creates and starts a daemon; fails the test when it does not answer.
  s::tuttid_process& start_daemon(s::tuttid_options opts = daemon_options()) {
    auto& d = make_daemon(std::move(opts));
    EXPECT_TRUE(d.start()) << "tuttid did not start; its log:\n" << d.log();
    return d;
  }

  void TearDown() override {
    if (HasFailure())
      for (auto& d : daemons_) {
        auto log = d->log();
        if (log.size() > 6000)
          log = "...\n" + log.substr(log.size() - 6000);
        std::printf("----- tuttid log (data %s) -----\n%s\n", d->data_dir().c_str(), log.c_str());
      }
    while (!daemons_.empty())
      daemons_.pop_back(); // newest first; each kills its daemon and replicas
  }

  std::vector<std::unique_ptr<s::tuttid_process>> daemons_;
};

// ----- specs -----------------------------------------------------------------

/// A YAML flow sequence of double-quoted strings.
inline std::string yaml_list(const std::vector<std::string>& items) {
  std::string out = "[";
  for (size_t i = 0; i < items.size(); ++i) {
    if (i > 0)
      out += ", ";
    out += '"';
    for (char c : items[i]) {
      if (c == '"' || c == '\\')
        out += '\\';
      out += c;
    }
    out += '"';
  }
  return out + "]";
}

/// One `kind: Service` document of the process driver; `extra` is appended
/// verbatim (more top-level fields, each line ending in '\n').
inline std::string service_yaml(const std::string& name, int replicas,
                                const std::vector<std::string>& command,
                                const std::string& extra = {}) {
  return "kind: Service\nname: " + name + "\nreplicas: " + std::to_string(replicas) +
         "\ndriver: process\ncommand: " + yaml_list(command) + "\n" + extra;
}

/// The hello example: busybox httpd replicas serving `doc_root`.
inline std::string hello_yaml(const std::string& doc_root, int replicas = 3,
                              const std::string& name = "hello") {
  return service_yaml(name, replicas,
                      {"/bin/busybox", "httpd", "-f", "-p", "127.0.0.1:${PORT}", "-h", doc_root},
                      "ports: [{name: http}]\n"
                      "restart: {policy: always, backoff: {initial: 100ms, max: 10s}}\n");
}

/// A replica that idles: `busybox sleep`.
inline std::string sleeper_yaml(const std::string& name, int replicas) {
  return service_yaml(name, replicas, {"/bin/busybox", "sleep", "300"});
}

// ----- reading state through the CLI ----------------------------------------

/// `tutti ARGS -o json` parsed; nullopt (with the reason on stderr) when the
/// command failed or printed no JSON.
inline std::optional<json> tutti_json(s::tuttid_process& d, std::vector<std::string> args) {
  args.insert(args.end(), {"-o", "json"});
  auto r = d.tutti(args);
  if (r.exit_code != 0)
    return std::nullopt;
  try {
    return json::parse(r.out);
  } catch (const json::exception& e) {
    std::fprintf(stderr, "not JSON (%s): %s\n", e.what(), r.out.c_str());
    return std::nullopt;
  }
}

/// The replicas of `service` (`get replicas NAME -o json`); empty on failure.
/// Every pid seen is tracked for the cleanup.
inline std::vector<json> replicas_of(s::tuttid_process& d, const std::string& service) {
  auto j = tutti_json(d, {"get", "replicas", service});
  std::vector<json> out;
  if (!j || !j->is_array())
    return out;
  for (auto& r : *j) {
    if (r.value("pid", 0) > 0)
      d.track(r.value("pid", 0));
    out.push_back(r);
  }
  return out;
}

/// replica id -> pid, of the replicas in state running with a live pid.
inline std::map<std::string, int> running_pids(s::tuttid_process& d, const std::string& service) {
  std::map<std::string, int> out;
  for (auto& r : replicas_of(d, service))
    if (r.value("state", "") == "running" && s::process_alive(r.value("pid", 0)))
      out[r.value("id", "")] = r.value("pid", 0);
  return out;
}

/// Waits until exactly `n` replicas of `service` exist and all run.
inline bool wait_running(s::tuttid_process& d, const std::string& service, size_t n,
                         std::chrono::milliseconds timeout = converge_timeout) {
  return s::wait_until(
      [&] { return replicas_of(d, service).size() == n && running_pids(d, service).size() == n; },
      timeout);
}

/// A service `pair` of the docker or containerd `driver` whose replicas run three
/// containers of `image` (the spec's image fields): `prepare` (init) seeds
/// /shared, `writer` appends the seed to /shared/ticks, `reader` copies the
/// ticks into its persistent volume (DATA/volumes/persistent/pair-0/data/seen).
inline std::string container_pair_yaml(const std::string& driver, const std::string& image) {
  return "kind: Service\nname: pair\ndriver: " + driver + "\nstop_grace: 2s\n"
         "restart: {policy: always, backoff: {initial: 100ms, max: 1s}}\n"
         "volumes: [{name: shared}, {name: data, type: persistent}]\n"
         "containers:\n"
         "  - {name: prepare, init: true, image: " + image + ", command: [/bin/sh, -c, "
         "'echo seed > /shared/seed'], mounts: [{volume: shared, path: /shared}]}\n"
         "  - {name: writer, image: " + image + ", command: [/bin/sh, -c, 'echo writer up; "
         "trap \"exit 0\" TERM; while true; do cat /shared/seed >> /shared/ticks; sleep 0.1; "
         "done'], mounts: [{volume: shared, path: /shared}]}\n"
         "  - {name: reader, image: " + image + ", command: [/bin/sh, -c, 'trap \"exit 0\" "
         "TERM; while true; do cp /shared/ticks /data/seen 2>/dev/null; sleep 0.1; done'], "
         "mounts: [{volume: shared, path: /shared}, {volume: data, path: /data}]}\n";
}

/// What the reader of container_pair_yaml() has seen so far.
inline std::string container_pair_seen(s::tuttid_process& d) {
  std::ifstream in{d.data_dir() + "/volumes/persistent/pair-0/data/seen"};
  return {std::istreambuf_iterator<char>{in}, {}};
}

/// `data` as base64 without its padding: how a stored record would hold it
/// in clear (access/records.cpp encodes an object's data so).
inline std::string base64_of(std::string_view data) {
  static const char digits[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  uint32_t bits = 0;
  int count = 0;
  for (unsigned char c : data) {
    bits = (bits << 8) | c;
    count += 8;
    while (count >= 6) {
      count -= 6;
      out += digits[(bits >> count) & 63];
    }
  }
  if (count > 0)
    out += digits[(bits << (6 - count)) & 63];
  return out;
}

/// Waits until exactly `n` replicas of `service` exist and all are ready.
inline bool wait_ready(s::tuttid_process& d, const std::string& service, int n,
                       std::chrono::milliseconds timeout = converge_timeout) {
  return s::wait_until(
      [&] {
        int ready = 0;
        auto rs = replicas_of(d, service);
        for (auto& r : rs)
          ready += r.value("ready", false) ? 1 : 0;
        return ready == n && static_cast<int>(rs.size()) == n;
      },
      timeout);
}

/// The status of one service from `get services -o json`.
inline std::optional<json> service_status(s::tuttid_process& d, const std::string& name) {
  auto j = tutti_json(d, {"get", "services"});
  if (!j || !j->is_array())
    return std::nullopt;
  for (auto& x : *j)
    if (x.value("name", "") == name)
      return x;
  return std::nullopt;
}

/// name -> revision of every service (`get services -o json`); nullopt on failure.
inline std::optional<std::map<std::string, int64_t>> service_revisions(s::tuttid_process& d) {
  auto j = tutti_json(d, {"get", "services"});
  if (!j || !j->is_array())
    return std::nullopt;
  std::map<std::string, int64_t> out;
  for (auto& x : *j)
    out[x.value("name", "")] = x.value("revision", int64_t{-1});
  return out;
}

/// `tutti events -o json -n LIMIT`: one JSON object per line.
inline std::vector<json> events_of(s::tuttid_process& d, int limit = 1000) {
  auto r = d.tutti({"events", "-o", "json", "-n", std::to_string(limit)});
  std::vector<json> out;
  if (r.exit_code != 0)
    return out;
  size_t begin = 0;
  while (begin < r.out.size()) {
    auto end = r.out.find('\n', begin);
    if (end == std::string::npos)
      end = r.out.size();
    auto line = r.out.substr(begin, end - begin);
    begin = end + 1;
    if (line.empty())
      continue;
    try {
      out.push_back(json::parse(line));
    } catch (const json::exception&) {
      ADD_FAILURE() << "event line is not JSON: " << line;
    }
  }
  return out;
}

/// An event of `kind` (for `replica` when given) is in the log.
inline bool has_event(s::tuttid_process& d, const std::string& kind,
                      const std::string& replica = {}) {
  for (auto& e : events_of(d))
    if (e.value("kind", "") == kind && (replica.empty() || e.value("replica", "") == replica))
      return true;
  return false;
}

// ----- metrics ---------------------------------------------------------------

/// GET /metrics of the daemon; empty on failure.
inline std::string metrics_text(s::tuttid_process& d) {
  auto r = s::http_get(d.host(), d.metrics_port(), "/metrics");
  return r && r->status == 200 ? r->body : std::string{};
}

/// The value of one series, written exactly as exposed (`name{label="v"}`).
inline std::optional<double> metric_value(const std::string& text, const std::string& series) {
  size_t begin = 0;
  while (begin < text.size()) {
    auto end = text.find('\n', begin);
    if (end == std::string::npos)
      end = text.size();
    auto line = text.substr(begin, end - begin);
    begin = end + 1;
    if (line.rfind(series + " ", 0) == 0)
      return std::stod(line.substr(series.size() + 1));
  }
  return std::nullopt;
}

/// Processes whose command line holds "127.0.0.1:PORT" for a port in
/// [first, last]: the replicas of one test's daemon, however many there are.
inline std::vector<int> processes_on_ports(std::pair<uint16_t, uint16_t> range) {
  std::vector<int> out;
  for (const auto& entry : std::filesystem::directory_iterator{"/proc"}) {
    auto name = entry.path().filename().string();
    if (name.find_first_not_of("0123456789") != std::string::npos)
      continue;
    int pid = std::stoi(name);
    if (!s::process_alive(pid))
      continue;
    for (auto& arg : s::process_cmdline(pid)) {
      auto at = arg.rfind("127.0.0.1:", 0) == 0 ? arg.substr(10) : std::string{};
      if (!at.empty() && at.find_first_not_of("0123456789") == std::string::npos) {
        auto port = std::stoi(at);
        if (port >= range.first && port <= range.second)
          out.push_back(pid);
      }
    }
  }
  return out;
}

// ----- traffic through the routing mesh ---------------------------------------

/// GET / through the mesh; the body, or "" when the request failed.
inline std::string request(uint16_t port) {
  auto r = s::http_get("127.0.0.1", port, "/index.html", 3s);
  return r && r->status == 200 ? r->body : std::string{};
}

/// Requests in a loop on a thread of its own, counting answers and failures. A
/// request whose answer stopped part way (a replica killed while it was sending
/// it: bytes already sent cannot be taken back, so the mesh cannot retry it) is
/// counted apart from one that got no answer at all, which the mesh must retry.
class traffic {
public:
  explicit traffic(uint16_t port, std::string host = "127.0.0.1")
    : thread_([this, port, host] {
        while (!stop_)
          record(s::http_get(host, port, "/index.html", 3s));
      }) {}
  ~traffic() { stop(); }

  void stop() {
    stop_ = true;
    if (thread_.joinable())
      thread_.join();
  }
  int answered() {
    std::lock_guard<std::mutex> guard{mtx_};
    return answered_;
  }
  /// Requests that did not get a whole 200 answer, cut-short ones included.
  int failed() {
    std::lock_guard<std::mutex> guard{mtx_};
    return failed_ + cut_short_;
  }
  /// Answers that stopped part way.
  int cut_short() {
    std::lock_guard<std::mutex> guard{mtx_};
    return cut_short_;
  }
  /// Requests that got no whole answer, not counting those cut short.
  int failed_but_cut_short() {
    std::lock_guard<std::mutex> guard{mtx_};
    return failed_;
  }
  std::string first_failure() {
    std::lock_guard<std::mutex> guard{mtx_};
    return first_failure_;
  }
  /// Waits until `n` more requests were answered.
  bool wait_more(int n) {
    auto target = answered() + n;
    return s::wait_until([&] { return answered() >= target; }, 10s);
  }

private:
  void record(const std::optional<s::http_response>& r) {
    std::lock_guard<std::mutex> guard{mtx_};
    if (r && r->status == 200 && r->complete && !r->body.empty()) {
      ++answered_;
      return;
    }
    if (r && !r->complete)
      ++cut_short_;
    else
      ++failed_;
    if (first_failure_.empty())
      first_failure_ = !r           ? "no HTTP answer (reset, closed or timed out)"
                       : !r->complete ? "an answer cut short: " + r->headers
                                      : "status " + std::to_string(r->status) + ": " + r->body;
  }

  std::mutex mtx_;
  int answered_ = 0;
  int failed_ = 0;
  int cut_short_ = 0;
  std::string first_failure_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

} // namespace tutti::tests::integration
