#pragma once

// What the spec parser tests share: parsing a text as svc.yaml, expecting one
// error (with its place) or one spec, temp files, and two sample specs.

#include "config/spec_parser.hpp"

#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <unistd.h>
#include <vector>

namespace tutti::config::spec_testing {

using namespace std::chrono_literals;
using tutti::config::parse_result;
using tutti::protocol::constraint;
using tutti::protocol::constraint_op;
using tutti::protocol::driver_kind;
using tutti::protocol::placement_strategy;
using tutti::protocol::port_spec;
using tutti::protocol::restart_policy;
using tutti::protocol::service_spec;
using tutti::protocol::spec_error;

namespace config = tutti::config;
namespace protocol = tutti::protocol;

// Three lines, so that a field appended to it sits on line 4.
inline const std::string minimal = "kind: Service\nname: web\ncommand: [/bin/true]\n";

inline parse_result parse(const std::string& text) {
  return config::parse_specs(text, "svc.yaml");
}

inline std::string describe(const std::vector<spec_error>& errors) {
  std::string out;
  for (const auto& e : errors)
    out += "\n  " + to_string(e);
  return out;
}

// The one error `text` must produce.
inline spec_error only_error(const std::string& text) {
  auto result = parse(text);
  EXPECT_EQ(result.errors.size(), 1u) << "errors:" << describe(result.errors);
  EXPECT_TRUE(result.specs.empty());
  return result.errors.empty() ? spec_error{} : result.errors.front();
}

inline service_spec only_spec(const std::string& text) {
  auto result = parse(text);
  EXPECT_TRUE(result.ok()) << "errors:" << describe(result.errors);
  EXPECT_EQ(result.specs.size(), 1u);
  return result.specs.empty() ? service_spec{} : result.specs.front();
}

// Checks place, field and (a part of) the message of an error.
inline void expect_error(const spec_error& e, int line, int column, const std::string& field,
                  const std::string& message_part) {
  EXPECT_EQ(e.file, "svc.yaml");
  EXPECT_EQ(e.line, line) << to_string(e);
  EXPECT_EQ(e.column, column) << to_string(e);
  EXPECT_EQ(e.field, field) << to_string(e);
  EXPECT_NE(e.message.find(message_part), std::string::npos)
      << "message '" << e.message << "' lacks '" << message_part << "'";
}

/// A file in the temp directory, removed when the test ends, passed or not.
class temp_file {
public:
  explicit temp_file(const std::string& text) {
    static int counter = 0;
    path_ = std::filesystem::temp_directory_path() /
            ("tutti-config-test-" + std::to_string(::getpid()) + "-" + std::to_string(counter++) +
             ".yaml");
    std::ofstream{path_} << text;
  }
  ~temp_file() {
    std::error_code ignored; // best effort: a leftover temp file fails nothing
    std::filesystem::remove(path_, ignored);
  }
  std::string path() const { return path_.string(); }

private:
  std::filesystem::path path_;
};

inline const std::string full_spec = R"(kind: Service
name: web
replicas: 3
driver: process
command: ["/bin/busybox", "httpd", "-f", "-p", "${PORT}"]
env: {GREETING: hello, COUNT: 3, DEBUG: true}
resources: {cpu: 0.25, memory: 64Mi}
ports: [{name: http}, {name: admin, published: 0}]
restart: {policy: on-failure, backoff: {initial: 200ms, max: 30s}}
placement: {strategy: binpack, constraints: ["zone == a", "node.name != n2", 'disk in (ssd, nvme)', "gpu exists"], max_per_node: 2, anti_affinity: [db]}
stop_grace: 1m30s
)";

} // namespace tutti::config::spec_testing
