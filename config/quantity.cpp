// The scalar grammars of specs: byte and cpu quantities, durations, service names and
// placement constraints. Plain text in, plain values out; no YAML here.

#include "config/spec_parser.hpp"

#include <array>
#include <charconv>
#include <cmath>
#include <limits>
#include <string_view>

namespace tutti::config {

namespace {

using wide = __int128;

constexpr wide int64_max = std::numeric_limits<int64_t>::max();

// Enough digits for any int64 quantity; more would overflow the exact arithmetic.
constexpr size_t max_whole_digits = 19;
constexpr size_t max_fraction_digits = 18;

/// "<digits>[.<digits>]" read exactly, so that "1.5Gi" and "0.1s" carry no float
/// rounding into bytes and nanoseconds.
struct decimal {
  wide whole = 0;
  wide fraction = 0;       // the digits after the point as an integer ...
  wide fraction_scale = 1; // ... and 10^(their count)
};

bool is_digit(char c) {
  return c >= '0' && c <= '9';
}

std::optional<decimal> read_decimal(std::string_view text, size_t& pos) {
  decimal out;
  size_t start = pos;
  while (pos < text.size() && is_digit(text[pos])) {
    if (pos - start >= max_whole_digits)
      return std::nullopt;
    out.whole = out.whole * 10 + (text[pos++] - '0');
  }
  if (pos == start)
    return std::nullopt;
  if (pos < text.size() && text[pos] == '.') {
    size_t fraction_start = ++pos;
    while (pos < text.size() && is_digit(text[pos])) {
      if (pos - fraction_start >= max_fraction_digits)
        return std::nullopt;
      out.fraction = out.fraction * 10 + (text[pos++] - '0');
      out.fraction_scale *= 10;
    }
    if (pos == fraction_start)
      return std::nullopt;
  }
  return out;
}

std::string_view read_letters(std::string_view text, size_t& pos) {
  size_t start = pos;
  while (pos < text.size() && !is_digit(text[pos]) && text[pos] != '.')
    ++pos;
  return text.substr(start, pos - start);
}

struct unit {
  std::string_view suffix;
  int64_t factor;
};

constexpr std::array byte_units{
    unit{"", 1},
    unit{"k", 1000},
    unit{"K", 1000},
    unit{"M", 1000 * 1000},
    unit{"G", int64_t{1000} * 1000 * 1000},
    unit{"T", int64_t{1000} * 1000 * 1000 * 1000},
    unit{"Ki", int64_t{1} << 10},
    unit{"Mi", int64_t{1} << 20},
    unit{"Gi", int64_t{1} << 30},
    unit{"Ti", int64_t{1} << 40},
};

constexpr int64_t ns_per_us = 1000;
constexpr int64_t ns_per_ms = 1000 * ns_per_us;
constexpr int64_t ns_per_s = 1000 * ns_per_ms;
constexpr int64_t ns_per_m = 60 * ns_per_s;
constexpr int64_t ns_per_h = 60 * ns_per_m;

// Largest first: format_duration picks the first that divides exactly.
constexpr std::array duration_units{
    unit{"h", ns_per_h},   unit{"m", ns_per_m},   unit{"s", ns_per_s},
    unit{"ms", ns_per_ms}, unit{"us", ns_per_us}, unit{"ns", 1},
};

template <size_t N>
std::optional<int64_t> factor_of(const std::array<unit, N>& units, std::string_view suffix) {
  for (const auto& u : units)
    if (u.suffix == suffix)
      return u.factor;
  return std::nullopt;
}

bool is_constraint_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || is_digit(c) || c == '.' || c == '_' ||
         c == '/' || c == '-';
}

bool is_constraint_word(std::string_view text) {
  if (text.empty())
    return false;
  for (char c : text)
    if (!is_constraint_char(c))
      return false;
  return true;
}

std::string_view trim(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t'))
    text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t'))
    text.remove_suffix(1);
  return text;
}

} // namespace

std::optional<int64_t> parse_bytes(const std::string& text) {
  size_t pos = 0;
  auto number = read_decimal(text, pos);
  if (!number)
    return std::nullopt;
  auto factor = factor_of(byte_units, std::string_view{text}.substr(pos));
  if (!factor)
    return std::nullopt;
  wide fraction_bytes = number->fraction * *factor;
  // "1.5" bytes is no quantity of memory; "1.5Ki" is.
  if (fraction_bytes % number->fraction_scale != 0)
    return std::nullopt;
  wide total = number->whole * *factor + fraction_bytes / number->fraction_scale;
  if (total > int64_max)
    return std::nullopt;
  return static_cast<int64_t>(total);
}

std::optional<double> parse_cpu(const std::string& text) {
  std::string_view number = text;
  double scale = 1;
  if (!number.empty() && number.back() == 'm') {
    number.remove_suffix(1);
    scale = 1000;
  }
  // from_chars also takes "-1", "inf" and "nan"; none is a cpu count.
  if (number.empty() || !(is_digit(number.front()) || number.front() == '.'))
    return std::nullopt;
  double value = 0;
  auto [ptr, ec] = std::from_chars(number.data(), number.data() + number.size(), value);
  if (ec != std::errc{} || ptr != number.data() + number.size() || !std::isfinite(value))
    return std::nullopt;
  return value / scale;
}

std::optional<caf::timespan> parse_duration(const std::string& text) {
  if (text == "0")
    return caf::timespan{0};
  if (text.empty())
    return std::nullopt;
  wide total = 0;
  size_t pos = 0;
  while (pos < text.size()) {
    auto number = read_decimal(text, pos);
    if (!number)
      return std::nullopt;
    auto factor = factor_of(duration_units, read_letters(text, pos));
    if (!factor)
      return std::nullopt;
    // Below a nanosecond is dropped: caf::timespan cannot hold it.
    total += number->whole * *factor + number->fraction * *factor / number->fraction_scale;
    if (total > int64_max)
      return std::nullopt;
  }
  return caf::timespan{static_cast<int64_t>(total)};
}

std::string format_duration(caf::timespan x) {
  int64_t ns = x.count();
  if (ns == 0)
    return "0s";
  // -ns would overflow; no unit above ns divides 2^63.
  if (ns == std::numeric_limits<int64_t>::min())
    return std::to_string(ns) + "ns";
  if (ns < 0)
    return "-" + format_duration(caf::timespan{-ns});
  for (const auto& u : duration_units)
    if (ns % u.factor == 0)
      return std::to_string(ns / u.factor) + std::string{u.suffix};
  return std::to_string(ns) + "ns"; // unreachable: the last unit divides everything
}

bool valid_service_name(const std::string& name) {
  constexpr size_t max_length = 63; // a DNS label
  if (name.empty() || name.size() > max_length)
    return false;
  if (!(name.front() >= 'a' && name.front() <= 'z') || name.back() == '-')
    return false;
  for (char c : name)
    if (!((c >= 'a' && c <= 'z') || is_digit(c) || c == '-'))
      return false;
  return true;
}

namespace {

/// "(a, b, c)" -> {a, b, c}; nullopt unless every item is a constraint word.
std::optional<std::vector<std::string>> parse_value_list(std::string_view text) {
  text = trim(text);
  if (text.size() < 2 || text.front() != '(' || text.back() != ')')
    return std::nullopt;
  text = text.substr(1, text.size() - 2);
  std::vector<std::string> out;
  for (;;) {
    auto comma = text.find(',');
    auto item = trim(text.substr(0, comma));
    if (!is_constraint_word(item))
      return std::nullopt;
    out.emplace_back(item);
    if (comma == std::string_view::npos)
      return out;
    text = text.substr(comma + 1);
  }
}

} // namespace

std::optional<protocol::constraint> parse_constraint(const std::string& text) {
  using protocol::constraint_op;
  std::string_view whole = trim(text);
  auto eq = whole.find("==");
  auto ne = whole.find("!=");
  auto op = std::min(eq, ne);
  if (op != std::string_view::npos) {
    auto key = trim(whole.substr(0, op));
    auto value = trim(whole.substr(op + 2));
    if (!is_constraint_word(key) || !is_constraint_word(value))
      return std::nullopt;
    return protocol::constraint{std::string{key},
                                op == eq ? constraint_op::equals : constraint_op::not_equals,
                                {std::string{value}}};
  }
  auto blank = whole.find_first_of(" \t");
  if (blank == std::string_view::npos)
    return std::nullopt;
  auto key = whole.substr(0, blank);
  auto rest = trim(whole.substr(blank));
  if (!is_constraint_word(key))
    return std::nullopt;
  if (rest == "exists")
    return protocol::constraint{std::string{key}, constraint_op::exists, {}};
  if (rest.size() > 2 && rest.substr(0, 2) == "in" && (rest[2] == ' ' || rest[2] == '(')) {
    auto values = parse_value_list(rest.substr(2));
    if (!values)
      return std::nullopt;
    return protocol::constraint{std::string{key}, constraint_op::in, std::move(*values)};
  }
  return std::nullopt;
}

} // namespace tutti::config
