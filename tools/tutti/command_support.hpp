#pragma once

// Private to tools/tutti: what every command file shares (commands.cpp,
// access_commands.cpp).

#include "tools/tutti/client.hpp"
#include "tools/tutti/commands.hpp"

#include <algorithm>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace tutti::cli {

/// Prints `e` (and what to do about it) to stderr; the exit code for it.
int report(const streams& io, const client_error& e, std::string hint = {});

/// An environment variable's value; nullopt when it is not set at all.
std::optional<std::string> env_value(const char* name);

/// The credentials of a command: flags over the environment over the
/// current context (client_config.hpp), else ./.tutti/admin.token.
result<credentials> credentials_of(const global_options& g);

/// A client of the tuttid of `g` (the leader of several), with credentials_of(g).
result<std::unique_ptr<client>> connect_to_tuttid(const global_options& g);

struct event_tail {
  std::vector<protocol::event> events; // the last ones, oldest first
  uint64_t last_seq = 0;               // of all stored events, kept or not
};

/// The last `keep` events of `service` (all when empty) that `shown` keeps,
/// and the last seq of all. The API pages forward from a sequence number, so
/// they are found by reading through the log.
template <class Shown>
result<event_tail> last_events(client& c, const std::string& service, uint32_t keep, Shown shown) {
  constexpr uint32_t page = 1000;
  std::deque<protocol::event> kept;
  uint64_t last_seq = 0;
  for (;;) {
    auto batch = c.events(last_seq, page, service);
    if (!batch)
      return batch.error();
    auto before = last_seq;
    for (auto& e : *batch) {
      last_seq = std::max(last_seq, e.seq);
      if (!shown(e))
        continue;
      kept.push_back(std::move(e));
      if (kept.size() > keep)
        kept.pop_front();
    }
    if (batch->size() < page || last_seq == before)
      break;
  }
  return event_tail{{kept.begin(), kept.end()}, last_seq};
}

} // namespace tutti::cli
