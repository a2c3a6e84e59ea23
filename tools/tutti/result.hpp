#pragma once

// The value-or-error type of the client: expected failures (tuttid said no, the
// network is down, bad user input) are values here, never exceptions.

#include <string>
#include <utility>
#include <variant>

namespace tutti::cli {

/// Why something failed. `code` is an error_code name (protocol/errors.hpp) when
/// tuttid answered with an error, or one of `client_code` when the client itself
/// gave up. `message` is meant for a person and says what to do next where it can.
struct client_error {
  std::string code;
  std::string message;
};

/// Codes the client produces itself; tuttid never sends these.
namespace client_code {
inline constexpr const char* unreachable = "unreachable";     // could not connect
inline constexpr const char* disconnected = "disconnected";   // connection lost
inline constexpr const char* timeout = "timeout";             // no answer in time
inline constexpr const char* unimplemented = "unimplemented"; // tuttid lacks the call
inline constexpr const char* rpc_failure = "rpc_failure";     // any other RPC failure
inline constexpr const char* invalid_argument = "invalid_argument";
} // namespace client_code

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
