// Specs as files: several documents, the canonical YAML emitted and parsed back,
// and the diff between two revisions.

#include "tests/config/spec_test_support.hpp"

using namespace tutti::config::spec_testing;

// -- documents ---------------------------------------------------------------------------------

TEST(SpecParser, ParsesSeveralDocuments) {
  auto result = parse(minimal + "---\nkind: Service\nname: db\ndriver: sim\n");
  ASSERT_TRUE(result.ok()) << describe(result.errors);
  ASSERT_EQ(result.specs.size(), 2u);
  EXPECT_EQ(result.specs[0].name, "web");
  EXPECT_EQ(result.specs[1].name, "db");
}

TEST(SpecParser, SkipsEmptyDocuments) {
  auto result = parse("---\n" + minimal + "---\n---\n# only a comment\n");
  ASSERT_TRUE(result.ok()) << describe(result.errors);
  ASSERT_EQ(result.specs.size(), 1u);
}

TEST(SpecParser, RefusesInputWithoutDocuments) {
  for (std::string text : {"", "# nothing here\n", "---\n", "---\n---\n"}) {
    SCOPED_TRACE(text);
    auto e = only_error(text);
    EXPECT_EQ(e.file, "svc.yaml");
    EXPECT_EQ(e.line, 0);
    EXPECT_NE(e.message.find("no documents"), std::string::npos) << e.message;
  }
}

TEST(SpecParser, RefusesDuplicateNamesAtTheSecondDocument) {
  auto e = only_error(minimal + "---\nkind: Service\nname: web\ndriver: sim\n");
  expect_error(e, 6, 7, "name",
               "duplicate service name 'web' in namespace default (first defined at line 2)");
}

TEST(SpecParser, CollectsAllErrorsInTextOrder) {
  auto result = parse(R"(kind: Service
name: web
replicas: -5
command: [x]
restart: {policy: maybe}
colour: blue
---
kind: Service
name: Bad
driver: sim
)");
  EXPECT_TRUE(result.specs.empty());
  ASSERT_EQ(result.errors.size(), 4u) << describe(result.errors);
  expect_error(result.errors[0], 3, 11, "replicas", "between 0 and 10000");
  expect_error(result.errors[1], 5, 19, "restart.policy", "expected one of");
  expect_error(result.errors[2], 6, 1, "colour", "unknown field 'colour'");
  expect_error(result.errors[3], 9, 7, "name", "invalid service name");
}

TEST(SpecParser, OneBadDocumentRefusesTheWholeInput) {
  auto result = parse(minimal + "---\nkind: Service\nname: db\ndriver: sim\nreplicas: x\n");
  EXPECT_FALSE(result.ok());
  EXPECT_TRUE(result.specs.empty());
}

TEST(SpecParser, NeverThrowsOnOddInput) {
  std::string deep(5000, '[');
  std::string binary{"\0\xff\xfe kind: \x01", 12};
  for (const std::string& text :
       {deep, binary, std::string{"\t- a\n"}, std::string{"? [a, b]\n: c\n"},
        std::string{"a: &x [1]\nb: *x\nc: *missing\n"}, std::string{"%YAML 9.9\n---\na\n"},
        std::string{"kind: Service\n? [complex, key]\n: 1\n"},
        std::string{"kind: !!binary aGVsbG8=\nname: !custom web\n"}, std::string{"{{{{}}}}"},
        std::string{"'"}, std::string{"key: value: other\n"}}) {
    SCOPED_TRACE(text);
    parse_result result;
    EXPECT_NO_THROW(result = parse(text));
    EXPECT_FALSE(result.ok());
    EXPECT_TRUE(result.specs.empty());
  }
}

TEST(SpecParser, RefusesStreamThatWouldStallYamlCpp) {
  // yaml-cpp 0.7 alone loops forever on these (jbeder/yaml-cpp#1040).
  expect_error(only_error(","), 1, 1, "", "invalid YAML");
  expect_error(only_error(minimal + "---\n,x\n"), 5, 1, "", "invalid YAML");
}

TEST(SpecParser, ParsesFiles) {
  temp_file file{minimal};
  auto result = config::parse_spec_file(file.path());
  ASSERT_TRUE(result.ok()) << describe(result.errors);
  EXPECT_EQ(result.specs.at(0).name, "web");

  temp_file bad{minimal + "replicas: -1\n"};
  result = config::parse_spec_file(bad.path());
  ASSERT_EQ(result.errors.size(), 1u);
  EXPECT_EQ(result.errors[0].file, bad.path());
  EXPECT_EQ(result.errors[0].line, 4);
}

TEST(SpecParser, UnreadableFileIsOneErrorNamingIt) {
  auto result = config::parse_spec_file("/nonexistent/tutti/spec.yaml");
  ASSERT_EQ(result.errors.size(), 1u);
  EXPECT_EQ(result.errors[0].file, "/nonexistent/tutti/spec.yaml");
  EXPECT_NE(result.errors[0].message.find("/nonexistent/tutti/spec.yaml"), std::string::npos);
  result = config::parse_spec_file(std::filesystem::temp_directory_path().string());
  EXPECT_EQ(result.errors.size(), 1u);
}

// -- emit and round trip ----------------------------------------------------------------------

TEST(SpecEmitter, WritesEveryFieldInCanonicalOrder) {
  service_spec spec;
  spec.name = "web";
  spec.command = {"/bin/sh", "-c", "echo ${PORT}"};
  EXPECT_EQ(config::emit_spec(spec), R"(kind: Service
name: web
replicas: 1
driver: process
image: ""
command: [/bin/sh, -c, "echo ${PORT}"]
env: {}
resources:
  cpu: 0
  memory: 0
ports: []
load_balancing: round_robin
restart:
  policy: always
  backoff:
    initial: 100ms
    max: 10s
placement:
  strategy: spread
  constraints: []
  max_per_node: 0
  anti_affinity: []
  spread_over: ""
stop_grace: 10s
)");
}

TEST(SpecEmitter, RoundTripsTheFullSpec) {
  auto spec = only_spec(full_spec);
  auto text = config::emit_spec(spec);
  EXPECT_EQ(only_spec(text), spec) << text;
  EXPECT_EQ(config::emit_spec(only_spec(text)), text); // canonical text is a fixed point
}

TEST(SpecEmitter, RoundTripsAwkwardValues) {
  std::vector<service_spec> specs;
  service_spec sim;
  sim.name = "s";
  sim.driver = driver_kind::sim;
  sim.replicas = 0;
  specs.push_back(sim);

  service_spec strings;
  strings.name = "strings";
  strings.command = {"/bin/echo", "",          "null",        "~",        "true", "123",
                     "a: b",      "#x",        " lead",       "trail ",   "[a]",  "{b}",
                     "*c",        "&d",        "!e",          "|",        ">",    "-",
                     "é",         "tab\there", "line\nbreak", "quote\"s", "it's", "${PORT}"};
  strings.env = {{"EMPTY", ""}, {"NULL", "null"}, {"NUM", "0x1F"}, {"COLON", "a:b"}};
  specs.push_back(strings);

  service_spec numbers;
  numbers.name = "numbers";
  numbers.command = {"x"};
  numbers.resources = {0.1, int64_t{1} << 40};
  numbers.restart.backoff = {1500ms, 3599s};
  numbers.stop_grace = 1ns;
  numbers.placement.max_per_node = 10000;
  numbers.placement.constraints = {{"a.b/c_d-e", constraint_op::not_equals, {"x.y"}},
                                   {"k", constraint_op::in, {"a", "b.c"}},
                                   {"k2", constraint_op::exists, {}}};
  numbers.placement.anti_affinity = {"db", "cache"};
  numbers.placement.spread_over = "topology.zone";
  numbers.ports = {{"a", 0}, {"b-2", 0}};
  specs.push_back(numbers);

  service_spec tiny;
  tiny.name = "tiny";
  tiny.command = {"x"};
  tiny.resources.cpu = 1e-05;
  tiny.restart.backoff = {1us, 1h};
  tiny.stop_grace = 10min;
  specs.push_back(tiny);

  for (const auto& spec : specs) {
    auto text = config::emit_spec(spec);
    SCOPED_TRACE(text);
    EXPECT_EQ(only_spec(text), spec);
  }
}

TEST(SpecEmitter, EqualSpecsGiveEqualText) {
  auto a = only_spec(minimal + "env: {B: 2, A: 1}\nresources: {cpu: 250m}\n");
  auto b = only_spec(minimal + "env: {A: 1, B: 2}\nresources: {cpu: 0.25}\n");
  EXPECT_EQ(config::emit_spec(a), config::emit_spec(b));
}

TEST(SpecEmitter, RendersDurationsCanonically) {
  auto spec = only_spec(minimal + "stop_grace: 1m30s\nrestart: {backoff: {initial: 0.5s}}\n");
  auto text = config::emit_spec(spec);
  EXPECT_NE(text.find("stop_grace: 90s"), std::string::npos) << text;
  EXPECT_NE(text.find("initial: 500ms"), std::string::npos) << text;
}

// -- diff ----------------------------------------------------------------------------------

TEST(SpecDiff, EmptyWhenEqual) {
  auto text = config::emit_spec(only_spec(full_spec));
  EXPECT_EQ(config::diff_specs(text, text), "");
}

TEST(SpecDiff, ShowsChangedTopLevelLine) {
  auto before = config::emit_spec(only_spec(minimal));
  auto after = config::emit_spec(only_spec(minimal + "replicas: 3\n"));
  EXPECT_EQ(config::diff_specs(before, after), "-replicas: 1\n+replicas: 3");
}

TEST(SpecDiff, ShowsEnclosingLinesOfANestedChange) {
  auto before = config::emit_spec(only_spec(minimal));
  auto after = config::emit_spec(only_spec(minimal + "restart: {backoff: {initial: 1s}}\n"));
  EXPECT_EQ(config::diff_specs(before, after), " restart:\n"
                                               "   backoff:\n"
                                               "-    initial: 100ms\n"
                                               "+    initial: 1s");
}

TEST(SpecDiff, ShowsAddedAndRemovedLines) {
  EXPECT_EQ(config::diff_specs("a: 1\nb: 2\n", "a: 1\nc: 3\nb: 2\n"), "+c: 3");
  EXPECT_EQ(config::diff_specs("a: 1\nb: 2\n", "b: 2\n"), "-a: 1");
  EXPECT_EQ(config::diff_specs("", "a: 1\n"), "+a: 1");
  EXPECT_EQ(config::diff_specs("env:\n  A: 1\n", "env:\n  A: 1\n  B: 2\n"), " env:\n+  B: 2");
}
