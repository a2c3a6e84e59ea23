#pragma once

// A replica's last status as its service keeps it, one per slot. A service acts on
// a few fields (state, readiness, restarts, where it listens); the rest is kept
// for `tutti ps` and `describe`. replica_status holds nine strings, 288 bytes even
// when empty, and a template hash one byte too long for a string's own buffer: a
// service of 10,000 slots, or a cluster of a million, pays that per slot. Here the
// strings are packed into one (length-prefixed), and unpacked when asked for.

#include "protocol/status.hpp"

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace tutti::actors {

namespace p = tutti::protocol;

class slot_status {
public:
  slot_status() = default;
  explicit slot_status(const p::replica_status& x);

  /// The status as it was reported (every field).
  p::replica_status unpack() const;

  /// A replica has reported for the slot (its id is known).
  bool reported() const { return !text(field::id).empty(); }

  std::string_view id() const { return text(field::id); }
  std::string_view node() const { return text(field::node); }
  std::string_view address() const { return text(field::address); }
  std::string_view message() const { return text(field::message); }
  std::string_view health() const { return text(field::health); }

  /// Replaces the message (the only field a service writes itself).
  void set_message(std::string_view message);

  p::replica_state state = p::replica_state::pending;
  bool ready = false;
  bool unhealthy = false;
  int32_t slot = 0;
  int32_t restarts = 0;
  int32_t exit_code = 0;
  int64_t pid = 0;
  int64_t revision = 0;
  int64_t since_ms = 0;
  std::vector<p::port_binding> ports;

private:
  enum class field : uint8_t {
    id,
    service,
    node,
    runtime_id,
    message,
    address,
    health,
    log_tail,
    template_hash,
    count
  };

  std::string_view text(field f) const;

  std::string packed_; // each field: its length (varint), then its bytes
};

} // namespace tutti::actors
