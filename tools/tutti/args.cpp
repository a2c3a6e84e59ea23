#include "tools/tutti/args.hpp"

#include "protocol/spec.hpp"

#include <charconv>

namespace tutti::cli {

namespace {

client_error invalid(std::string message) {
  return {client_code::invalid_argument, std::move(message)};
}

bool parse_int(std::string_view text, int64_t& out) {
  if (text.empty())
    return false;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  return ec == std::errc{} && end == text.data() + text.size();
}

} // namespace

result<scale_target> parse_scale_target(std::string_view arg) {
  auto eq = arg.find('=');
  if (eq == std::string_view::npos || eq == 0)
    return invalid("expected NAME=REPLICAS, got '" + std::string{arg} + "'");
  auto name = arg.substr(0, eq);
  auto count = arg.substr(eq + 1);
  int64_t n = 0;
  if (!parse_int(count, n) || n < 0 || n > protocol::max_replicas)
    return invalid("expected NAME=REPLICAS with REPLICAS a whole number from 0 to " +
                   std::to_string(protocol::max_replicas) + ", got '" + std::string{arg} + "'");
  return scale_target{std::string{name}, static_cast<int32_t>(n)};
}

result<std::vector<scale_target>> parse_scale_targets(const std::vector<std::string>& args) {
  std::vector<scale_target> out;
  for (const auto& arg : args) {
    auto target = parse_scale_target(arg);
    if (!target)
      return target.error();
    out.push_back(std::move(*target));
  }
  return out;
}

std::vector<std::string> api_addresses(const std::string& text) {
  std::vector<std::string> out;
  size_t start = 0;
  for (;;) {
    auto comma = text.find(',', start);
    out.push_back(
        text.substr(start, comma == std::string::npos ? std::string::npos : comma - start));
    if (comma == std::string::npos)
      return out;
    start = comma + 1;
  }
}

std::string check_api_address(const std::string& text) {
  for (const auto& one : api_addresses(text))
    if (auto why = check_one_api_address(one); !why.empty())
      return text == one ? why : why + " in '" + text + "'";
  return {};
}

std::string check_one_api_address(const std::string& text) {
  auto fail = [&] {
    return "expected HOST:PORT (e.g. 127.0.0.1:7700) or unix:PATH, got '" + text + "'";
  };
  if (text.rfind("unix:", 0) == 0)
    return text.size() > 5 && text.size() <= 5 + 107 ? std::string{} : fail();
  auto colon = text.rfind(':');
  if (colon == std::string::npos || colon == 0)
    return fail();
  auto host = std::string_view{text}.substr(0, colon);
  if (host.front() == '[' && host.back() != ']')
    return fail();
  if (host.front() != '[' && host.find(':') != std::string_view::npos)
    return fail(); // a bare IPv6 address is ambiguous: which colon starts the port?
  int64_t port = 0;
  if (!parse_int(std::string_view{text}.substr(colon + 1), port) || port < 1 || port > 65535)
    return fail();
  return {};
}

std::vector<std::string> service_names(std::vector<std::string> args) {
  if (args.size() > 1 &&
      (args.front() == "service" || args.front() == "services" || args.front() == "svc"))
    args.erase(args.begin());
  // Accept what `tutti apply` prints, so `service/web` can be pasted back.
  for (auto& arg : args)
    for (std::string_view prefix : {"service/", "svc/"})
      if (arg.size() > prefix.size() && arg.starts_with(prefix))
        arg.erase(0, prefix.size());
  return args;
}

} // namespace tutti::cli
