#pragma once

// A replica's status as the replica actor keeps it and as its service keeps it,
// one per slot: a replica_status with its strings packed into one buffer
// (length-prefixed), unpacked when sent or asked for. replica_status holds nine
// strings, 288 bytes even when empty, and a template hash one byte too long for a
// string's own buffer: a million replicas pay that twice each (actor and slot).
// The numbers and ports stay as they are; a string is changed by a setter, which
// packs the buffer anew (rare: a start, an exit, a probe's verdict).

#include "protocol/status.hpp"

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace tutti::actors {

namespace p = tutti::protocol;

class packed_status {
public:
  packed_status() = default;
  explicit packed_status(const p::replica_status& x);

  /// The status as it was reported (every field).
  p::replica_status unpack() const;

  /// A replica has reported for the slot (its id is known).
  bool reported() const { return !text(field::id).empty(); }

  std::string_view id() const { return text(field::id); }
  std::string_view service() const { return text(field::service); }
  std::string_view node() const { return text(field::node); }
  std::string_view runtime_id() const { return text(field::runtime_id); }
  std::string_view message() const { return text(field::message); }
  std::string_view address() const { return text(field::address); }
  std::string_view health() const { return text(field::health); }
  std::string_view log_tail() const { return text(field::log_tail); }
  std::string_view template_hash() const { return text(field::template_hash); }

  void set_runtime_id(std::string_view x) { set(field::runtime_id, x); }
  void set_message(std::string_view x) { set(field::message, x); }
  void set_health(std::string_view x) { set(field::health, x); }
  void set_log_tail(std::string_view x) { set(field::log_tail, x); }
  void set_template_hash(std::string_view x) { set(field::template_hash, x); }

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
  void set(field f, std::string_view x);

  std::string packed_; // each field: its length (varint), then its bytes
};

} // namespace tutti::actors
