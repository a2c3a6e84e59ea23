#pragma once

// The value-or-error type of the client: expected failures (tuttid said no, the
// network is down, bad user input) are values here, never exceptions.

#include "protocol/errors.hpp"

#include <cstdint>
#include <ostream>
#include <string>
#include <utility>
#include <variant>

namespace tutti::cli {

/// Codes the client produces itself; tuttid never sends these.
enum class client_code : uint8_t {
  unreachable,      // could not connect
  disconnected,     // connection lost
  timeout,          // no answer in time
  unimplemented,    // tuttid lacks the call
  rpc_failure,      // any other RPC failure
  invalid_argument, // bad input, found before asking tuttid
};

std::string to_string(client_code x);

/// What failed: tuttid's error_code when tuttid answered with an error, or a
/// client_code when the client itself gave up. Both sets have a timeout and an
/// invalid_argument; a code equals only the enumerant of its own set.
class failure_code {
public:
  failure_code(protocol::error_code x) : code_(x) {}
  failure_code(client_code x) : code_(x) {}

  friend bool operator==(const failure_code&, const failure_code&) = default;

  /// The word people see: the name of the error_code or of the client_code.
  friend std::string to_string(const failure_code& x) {
    return std::visit([](auto code) { return to_string(code); }, x.code_);
  }

  friend std::ostream& operator<<(std::ostream& out, const failure_code& x) {
    return out << to_string(x);
  }

private:
  std::variant<protocol::error_code, client_code> code_;
};

/// Why something failed. `message` is meant for a person and says what to do
/// next where it can.
struct client_error {
  failure_code code;
  std::string message;
};

/// Stands for "no value" in result<done>.
struct done {};

template <class T> class result {
public:
  result(T value) : state_(std::move(value)) {}
  result(client_error error) : state_(std::move(error)) {}

  bool ok() const noexcept { return state_.index() == 0; }
  explicit operator bool() const noexcept { return ok(); }

  T& value() { return std::get<0>(state_); }
  const T& value() const { return std::get<0>(state_); }
  T& operator*() { return value(); }
  const T& operator*() const { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

  const client_error& error() const { return std::get<1>(state_); }

private:
  std::variant<T, client_error> state_;
};

} // namespace tutti::cli
