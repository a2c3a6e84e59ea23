// The spec parser on arbitrary bytes: it must never crash, hang or throw; every
// error it reports must be valid UTF-8 (errors reach clients as Cap'n Proto Text
// and JSON); and every spec it accepts must survive the canonical YAML that
// persistence stores and `apply` diffs: parse_specs(emit_spec(x)) == x.

#include "config/spec_parser.hpp"
#include "protocol/utf8.hpp"
#include "tests/fuzz/fuzz_support.hpp"

using tutti::fuzz::check;

namespace {

// Not UTF-8 on purpose: the file name is quoted in every error too.
const std::string file_name = "fuzz\xff.yaml";

void check_errors(const tutti::config::parse_result& result) {
  using tutti::protocol::valid_utf8;
  for (const auto& e : result.errors) {
    check(valid_utf8(e.file), "error file is valid UTF-8");
    check(valid_utf8(e.field), "error field is valid UTF-8");
    check(valid_utf8(e.message), "error message is valid UTF-8");
    check(!e.message.empty(), "an error says what is wrong");
  }
  check(result.errors.empty() || result.specs.empty(), "a refused input keeps no spec");
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace tutti::config;
  auto result = parse_specs(tutti::fuzz::text_of(data, size), file_name);
  check_errors(result);
  const tutti::protocol::service_spec* previous = nullptr;
  for (const auto& spec : result.specs) {
    auto canonical = emit_spec(spec);
    auto again = parse_specs(canonical, "canonical.yaml");
    check(again.ok(), "the canonical YAML of an accepted spec is accepted");
    check(again.specs.size() == 1, "the canonical YAML is one spec");
    check(again.specs.front() == spec, "the canonical YAML parses back to an equal spec");
    check(emit_spec(again.specs.front()) == canonical, "the canonical YAML is a fixed point");
    if (previous != nullptr)
      check(!diff_specs(emit_spec(*previous), canonical).empty(),
            "two services of one input differ (their names at least)");
    previous = &spec;
  }
  return 0;
}
