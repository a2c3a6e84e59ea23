// The scalar grammars of specs on arbitrary text: byte and cpu quantities,
// durations, constraints and endpoints. Each must answer a value or nullopt, never
// crash or overflow; and what the canonical writers produce must read back to
// the same value (format_duration promises it; emit_spec writes memory as an
// integer, cpus as the shortest std::to_chars text, constraints with to_string).

#include "config/daemon_config.hpp"
#include "config/spec_parser.hpp"
#include "tests/fuzz/fuzz_support.hpp"

#include <charconv>
#include <cmath>
#include <limits>

using tutti::fuzz::check;

namespace {

void bytes_of(const std::string& text) {
  using tutti::config::parse_bytes;
  auto value = parse_bytes(text);
  if (!value)
    return;
  check(*value >= 0, "a byte quantity is not negative");
  check(parse_bytes(std::to_string(*value)) == value, "bytes read back from their integer");
}

void cpu_of(const std::string& text) {
  using tutti::config::parse_cpu;
  auto value = parse_cpu(text);
  if (!value)
    return;
  check(std::isfinite(*value) && *value >= 0, "a cpu quantity is finite and not negative");
  char buf[64];
  auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), *value);
  check(ec == std::errc{}, "a cpu quantity has a text");
  check(parse_cpu(std::string(buf, end)) == value, "cpus read back from their shortest text");
}

void duration_of(const std::string& text) {
  using namespace tutti::config;
  auto value = parse_duration(text);
  if (!value)
    return;
  check(value->count() >= 0, "a duration is not negative");
  check(parse_duration(format_duration(*value)) == value, "format_duration reads back");
}

/// format_duration of any timespan, including the negative ones a clock
/// difference can give: a text; the non-negative ones read back.
void formatted(int64_t ns) {
  using namespace tutti::config;
  auto text = format_duration(caf::timespan{ns});
  check(!text.empty(), "every duration has a text");
  if (ns >= 0)
    check(parse_duration(text) == caf::timespan{ns}, "format_duration reads back");
}

void constraint_of(const std::string& text) {
  using tutti::config::parse_constraint;
  auto value = parse_constraint(text);
  if (!value)
    return;
  check(parse_constraint(tutti::protocol::to_string(*value)) == value,
        "a constraint reads back from its canonical text");
}

void endpoint_of(const std::string& text) {
  using tutti::config::parse_endpoint;
  auto value = parse_endpoint(text);
  if (!value)
    return;
  auto again = parse_endpoint(value->to_string());
  check(again && again->host == value->host && again->port == value->port,
        "an endpoint reads back from its text");
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto text = tutti::fuzz::text_of(data, size);
  bytes_of(text);
  cpu_of(text);
  duration_of(text);
  constraint_of(text);
  endpoint_of(text);
  tutti::config::valid_service_name(text);
  // The first eight bytes, as a number of nanoseconds.
  tutti::fuzz::byte_reader in{data, size};
  formatted(static_cast<int64_t>(in.u64()));
  return 0;
}
