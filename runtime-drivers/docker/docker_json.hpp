#pragma once

// The Docker Engine API's JSON (v1.41) to and from the driver's values, the
// container naming scheme and the multiplexed log stream: pure functions, so the
// edge cases are tested without an engine. Internal to runtime-drivers.

#include "runtime-drivers/driver.hpp"

#include <caf/expected.hpp>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace tutti::runtime_drivers::docker {

// ----- names -------------------------------------------------------------------

/// Docker's name of the container of replica `name` on `node`:
/// "tutti-NAME_NODE", or "tutti-NAME" when `node` is empty. Replica names have
/// no '_', so the first '_' splits the two; the node part keeps the containers of
/// several nodes sharing one engine apart.
std::string container_name(const std::string& name, const std::string& node);

/// The tutti name in a Docker container name ("/tutti-web-0_n1" -> "web-0");
/// nullopt when the name does not follow container_name(). Given the node, a
/// name holding '_' (one container of a replica's several, "web-0_app") is
/// found too; without it, the name ends at the first '_'.
std::optional<std::string> replica_name(const std::string& docker_name,
                                        const std::string& node = {});

// ----- requests ----------------------------------------------------------------

/// The body of POST /containers/create: image, command (omitted when empty: the
/// image's own), env, labels, NanoCpus and Memory (omitted when 0), the given
/// network mode and restart policy "no" (tutti restarts, not Docker).
std::string create_body(const container_spec& spec, const std::string& network_mode);

/// The value of the `filters` query parameter: {"label": [...], ...}.
std::string filters(const std::map<std::string, std::vector<std::string>>& by_key);

/// fromImage and tag of POST /images/create for an image reference. Without a
/// tag or digest the tag is "latest" (an empty tag would pull every tag).
std::pair<std::string, std::string> pull_reference(const std::string& image);

// ----- answers -----------------------------------------------------------------

/// What GET /containers/{id}/json says about a container.
struct inspected {
  container_info info;     // info.name: the replica name (from the Docker name)
  std::string docker_name; // without the leading '/'
  std::string stop_signal; // Config.StopSignal; empty: SIGTERM
};

/// Parses an inspect answer; driver_failure when it is not the JSON of a
/// container. Status maps to created (created), running (running, paused,
/// restarting) or exited (exited, dead, removing). started_at_ms is 0 for a
/// container never started.
caf::expected<inspected> parse_inspect(const std::string& body);

/// One entry of GET /containers/json.
struct listed {
  std::string id;
  std::string docker_name; // the first of Names, without '/'
  std::string state;       // "running", "exited", ...
  std::map<std::string, std::string> labels;
};

caf::expected<std::vector<listed>> parse_list(const std::string& body);

/// One line of GET /events (a JSON object per line).
struct event {
  std::string type;                 // "container", ...
  std::string action;               // "die", "start", ...
  std::string id;                   // Actor.ID
  std::string name;                 // Actor.Attributes.name
  std::optional<int32_t> exit_code; // Actor.Attributes.exitCode of die events
  int64_t time_nano = 0;
  std::map<std::string, std::string> attributes;
};

/// nullopt for lines that are not an event object (blank, broken, other shapes).
std::optional<event> parse_event(const std::string& line);

/// GET /containers/{id}/stats?stream=false: cpu seconds (total usage) and
/// memory in use minus the page cache, as `docker stats` shows it. A stopped
/// container's empty stats give zeros.
caf::expected<container_stats> parse_stats(const std::string& body);

/// The first error of a POST /images/create progress stream (HTTP 200 with
/// {"error": ...} lines when a pull fails half-way); nullopt when none.
std::optional<std::string> pull_error(const std::string& body);

/// The images a `POST /images/load` answer (a stream of JSON lines) names:
/// "name:tag" of each "Loaded image: " line, the id of each "Loaded image ID: ".
std::vector<std::string> loaded_images(const std::string& body);

/// The `message` of an engine error answer, else the trimmed body (or "HTTP
/// STATUS" when empty).
std::string error_message(long status, const std::string& body);

/// POST /containers/ID/exec: run `command` with stdout and stderr attached.
std::string exec_create_body(const std::vector<std::string>& command);

/// The "Id" of an exec create answer, or of a container create answer.
caf::expected<std::string> parse_id(const std::string& body);

/// GET /exec/ID/json: the exit code once it ended; nullopt while it runs.
caf::expected<std::optional<int32_t>> parse_exec_exit(const std::string& body);

/// RFC 3339 with optional fraction and zone ("2024-01-02T03:04:05.123456789Z")
/// to milliseconds since the epoch; 0 for Go's zero time or text that is not a
/// time.
int64_t parse_time_ms(const std::string& text);

// ----- logs --------------------------------------------------------------------

/// Strips the 8-byte headers of the multiplexed stdout/stderr stream of GET
/// /containers/{id}/logs (a byte for the stream, three zeros, a big-endian
/// length) and keeps the last `keep` bytes of the payload. Chunks may split
/// headers and frames anywhere. A stream that does not start like a frame (a
/// container with a TTY) is taken as raw text.
class log_demuxer {
public:
  explicit log_demuxer(size_t keep);

  void feed(const char* data, size_t size);

  /// The payload so far (its last `keep` bytes); a frame cut short at the end of
  /// the stream contributes what arrived of it.
  std::string text() const;

private:
  void append(const char* data, size_t size);

  size_t keep_;
  std::string out_;
  std::string header_;     // the bytes of a header read so far
  uint32_t remaining_ = 0; // payload bytes left in the current frame
  bool raw_ = false;
  bool started_ = false;
};

} // namespace tutti::runtime_drivers::docker
