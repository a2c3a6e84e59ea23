// The Docker engine's answers on arbitrary bytes: every parser of docker_json.hpp
// must answer a value or an error, never crash or throw, since a confused or
// hostile engine (or a proxy in front of it) can send anything. The framing of
// the events stream and of the log stream must not depend on how the bytes are
// cut into chunks.

#include "runtime-drivers/docker/docker_events.hpp"
#include "runtime-drivers/docker/docker_json.hpp"
#include "tests/fuzz/fuzz_support.hpp"

#include <string>
#include <vector>

using tutti::fuzz::check;
namespace docker = tutti::runtime_drivers::docker;

namespace {

/// FNV-1a: the whole input is the engine's answer (real answers are the seeds),
/// and its hash picks the cuts.
uint32_t hash_of(std::string_view body) {
  uint32_t h = 2166136261u;
  for (char c : body)
    h = (h ^ static_cast<uint8_t>(c)) * 16777619u;
  return h;
}

/// Chunk sizes from a small generator seeded by the input, 1 to 64 bytes each:
/// the same input always cuts the same way.
std::vector<std::string_view> chunks_of(std::string_view body, uint32_t seed) {
  std::vector<std::string_view> out;
  uint32_t state = seed;
  while (!body.empty()) {
    state = state * 1103515245u + 12345u;
    size_t n = std::min<size_t>(body.size(), 1 + (state >> 16) % 64);
    out.push_back(body.substr(0, n));
    body.remove_prefix(n);
  }
  return out;
}

void answers(const std::string& body) {
  if (auto x = docker::parse_inspect(body))
    check(!x->info.runtime_id.empty(), "an inspected container has an id");
  if (auto xs = docker::parse_list(body))
    for (const auto& x : *xs)
      check(!x.id.empty(), "a listed container has an id");
  docker::parse_stats(body);
  docker::pull_error(body);
  check(!docker::error_message(500, body).empty(), "an error message is never empty");
  docker::parse_id(body);
  docker::parse_exec_exit(body);
  docker::parse_time_ms(body);
  docker::replica_name(body);
  docker::pull_reference(body);
}

/// The events stream: the lines, and whether a line was too long, must be the
/// same however the stream is cut, and each line goes through parse_event as
/// the driver sends it.
void event_stream(std::string_view body, uint32_t seed) {
  // Sometimes small, so that lines pass the limit.
  size_t max_line = seed % 2 == 0 ? docker::line_splitter::default_max_line : 8 + seed % 512;
  std::vector<std::string> whole;
  bool whole_ok = docker::line_splitter{max_line}.feed(body.data(), body.size(), whole);
  std::vector<std::string> chunked;
  docker::line_splitter splitter{max_line};
  bool chunked_ok = true;
  for (auto chunk : chunks_of(body, seed))
    chunked_ok = splitter.feed(chunk.data(), chunk.size(), chunked) && chunked_ok;
  check(whole == chunked, "the lines do not depend on the chunks");
  check(whole_ok == chunked_ok, "an overlong line is found however the stream is cut");
  for (const auto& line : chunked) {
    check(line.size() <= max_line, "no line is longer than the limit");
    check(!line.empty() && line.find('\n') == std::string::npos, "a line is one non-empty line");
    if (auto e = docker::parse_event(line))
      check(!e->action.empty() && !e->id.empty(), "an event has an action and an id");
  }
}

/// The multiplexed log stream: the same payload however it is cut, never more
/// than `keep` bytes of it.
void log_stream(std::string_view body, uint32_t seed) {
  size_t keep = seed % 32; // small, so trimming happens
  docker::log_demuxer whole{keep};
  whole.feed(body.data(), body.size());
  docker::log_demuxer chunked{keep};
  for (auto chunk : chunks_of(body, seed))
    chunked.feed(chunk.data(), chunk.size());
  check(whole.text() == chunked.text(), "the log text does not depend on the chunks");
  check(whole.text().size() <= keep, "the log keeps at most `keep` bytes");
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto body = tutti::fuzz::text_of(data, size);
  auto seed = hash_of(body);
  answers(body);
  event_stream(body, seed);
  log_stream(body, seed);
  return 0;
}
