#pragma once

// The one error enum of tutti, registered with CAF as category "tutti". Every
// expected failure travels as caf::error{code, "tutti", message} where the message
// tells a person what to do next.

#include <caf/atom.hpp>
#include <caf/error.hpp>
#include <caf/make_message.hpp>

#include <cstdint>
#include <string>

namespace tutti::protocol {

enum class error_code : uint8_t {
  none = 0,
  invalid_argument, // bad input from a client
  invalid_spec,     // a spec that config/ refused
  not_found,        // no such service / replica / node
  already_exists,
  store_failure,   // LMDB refused an operation
  store_full,      // LMDB map or disk full
  data_dir_locked, // another tuttid owns the data directory
  driver_failure,  // the runtime refused (spawn, kill, docker API ...)
  unschedulable,   // no node fits the replica
  unavailable,     // an actor that should answer is gone or restarting
  timeout,
  internal, // a bug; the message says where
  forbidden, // the daemon was not started to allow this (e.g. chaos without --enable-chaos)
  not_leader, // this control process does not lead: the leader writes (docs/operations.md, on a highly available control plane)
  unauthenticated, // no credential, or one that is unknown, expired or revoked
};

std::string to_string(error_code x);

/// The CAF error category atom of error_code.
inline constexpr caf::atom_value error_category = caf::atom("tutti");

/// Makes an error with a human-readable message.
caf::error make_error(error_code code, std::string message);

/// The message of an error made by make_error, or CAF's rendering of any other.
std::string message_of(const caf::error& err);

/// Our code of an error, or error_code::internal for CAF's own categories.
error_code code_of(const caf::error& err);

} // namespace tutti::protocol
