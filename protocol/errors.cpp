#include "protocol/errors.hpp"

#include <caf/message.hpp>
#include <caf/sec.hpp>

namespace tutti::protocol {

std::string to_string(error_code x) {
  switch (x) {
    case error_code::none:
      return "none";
    case error_code::invalid_argument:
      return "invalid_argument";
    case error_code::invalid_spec:
      return "invalid_spec";
    case error_code::not_found:
      return "not_found";
    case error_code::already_exists:
      return "already_exists";
    case error_code::store_failure:
      return "store_failure";
    case error_code::store_full:
      return "store_full";
    case error_code::data_dir_locked:
      return "data_dir_locked";
    case error_code::driver_failure:
      return "driver_failure";
    case error_code::unschedulable:
      return "unschedulable";
    case error_code::unavailable:
      return "unavailable";
    case error_code::timeout:
      return "timeout";
    case error_code::internal:
      return "internal";
    case error_code::forbidden:
      return "forbidden";
    case error_code::not_leader:
      return "not_leader";
    case error_code::unauthenticated:
      return "unauthenticated";
  }
  return "unknown";
}

caf::error make_error(error_code code, std::string message) {
  return caf::error{static_cast<uint8_t>(code), error_category,
                    caf::make_message(std::move(message))};
}

std::string message_of(const caf::error& err) {
  if (!err)
    return {};
  const auto& ctx = err.context();
  if (err.category() == error_category && ctx.match_elements<std::string>())
    return ctx.get_as<std::string>(0);
  if (err.category() == caf::atom("system"))
    return caf::to_string(static_cast<caf::sec>(err.code())) +
           (ctx.empty() ? std::string{} : " " + caf::to_string(ctx));
  return caf::to_string(err);
}

error_code code_of(const caf::error& err) {
  if (!err)
    return error_code::none;
  if (err.category() == error_category)
    return static_cast<error_code>(err.code());
  if (err.category() == caf::atom("system")) {
    auto code = static_cast<caf::sec>(err.code());
    if (code == caf::sec::request_timeout)
      return error_code::timeout;
    if (code == caf::sec::request_receiver_down || code == caf::sec::invalid_argument)
      return code == caf::sec::invalid_argument ? error_code::invalid_argument
                                                : error_code::unavailable;
  }
  return error_code::internal;
}

} // namespace tutti::protocol
