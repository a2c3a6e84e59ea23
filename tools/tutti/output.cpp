#include "tools/tutti/output.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <ctime>

namespace tutti::cli {

namespace {

using json = json_value;
using lines = std::vector<std::string>;

unsigned char byte(char c) {
  return static_cast<unsigned char>(c);
}

bool is_control(char c) {
  return byte(c) < 0x20 || byte(c) == 0x7f;
}

std::string one_line(std::string text) {
  for (auto& c : text)
    if (c == '\n' || c == '\r' || c == '\t')
      c = ' ';
  return text;
}

std::string pad(std::string text, size_t width) {
  auto w = display_width(text);
  if (w < width)
    text.append(width - w, ' ');
  return text;
}

std::string render_cells(const std::vector<std::string>& cells, const std::vector<size_t>& widths) {
  std::string out;
  for (size_t i = 0; i < cells.size(); ++i) {
    if (i + 1 < cells.size())
      out += pad(cells[i], widths[i]) + "   ";
    else
      out += cells[i];
  }
  // A blank last cell would leave the padding of the one before it behind.
  out.erase(out.find_last_not_of(' ') + 1);
  return out;
}

// Words YAML 1.1 or 1.2 resolvers read as null or booleans.
bool is_reserved_word(std::string_view text) {
  static constexpr std::array<std::string_view, 10> words = {"null", "~",  "true", "false", "yes",
                                                             "no",   "on", "off",  "y",     "n"};
  std::string lower{text};
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](char c) { return static_cast<char>(std::tolower(byte(c))); });
  return std::find(words.begin(), words.end(), lower) != words.end();
}

bool is_plain_safe(std::string_view text) {
  static constexpr std::string_view indicators = "-?:,[]{}#&*!|>'\"%@`";
  if (text.empty() || text.front() == ' ' || text.back() == ' ')
    return false;
  if (indicators.find(text.front()) != std::string_view::npos)
    return false;
  // Numbers, versions and timestamps would come back as non-strings; quoting
  // every string that starts like a number is simpler than YAML's number grammar.
  if (std::isdigit(byte(text.front())) || text.front() == '+' || text.front() == '.')
    return false;
  if (std::any_of(text.begin(), text.end(), is_control))
    return false;
  if (text.find(": ") != std::string_view::npos || text.find(" #") != std::string_view::npos ||
      text.back() == ':')
    return false;
  return !is_reserved_word(text) && text != "<<";
}

bool fits_literal_block(std::string_view text) {
  if (text.find('\n') == std::string_view::npos)
    return false;
  if (std::any_of(text.begin(), text.end(), [](char c) { return c != '\n' && is_control(c); }))
    return false;
  // The first content line fixes the block's indentation, so it must not start
  // with a blank (that would need an indentation indicator).
  auto first = text.find_first_not_of('\n');
  return first != std::string_view::npos && text[first] != ' ';
}

// A value as it sits after "key:" or "- ": `head` on the same line, `body` below,
// indented by the caller.
struct placed {
  std::string head;
  lines body;
};

lines block_lines(const json& value);

placed literal_block(std::string_view text) {
  auto end = text.find_last_not_of('\n') + 1;
  auto trailing = text.size() - end;
  placed out{trailing == 0 ? "|-" : trailing == 1 ? "|" : "|+", {}};
  size_t start = 0;
  while (start <= end) {
    auto nl = text.find('\n', start);
    if (nl == std::string_view::npos || nl > end)
      nl = end;
    out.body.emplace_back(text.substr(start, nl - start));
    start = nl + 1;
  }
  for (size_t i = 1; i < trailing; ++i)
    out.body.emplace_back();
  return out;
}

std::string scalar_text(const json& value) {
  if (value.is_string())
    return yaml_scalar(value.get<std::string>());
  if (value.is_object())
    return "{}";
  if (value.is_array())
    return "[]";
  return to_json_text(value, -1);
}

bool is_collection(const json& value) {
  return (value.is_object() || value.is_array()) && !value.empty();
}

placed place(const json& value) {
  if (is_collection(value))
    return {"", block_lines(value)};
  if (value.is_string() && fits_literal_block(value.get_ref<const std::string&>()))
    return literal_block(value.get_ref<const std::string&>());
  return {scalar_text(value), {}};
}

void append_indented(lines& out, const lines& body, size_t from = 0) {
  for (size_t i = from; i < body.size(); ++i)
    out.push_back(body[i].empty() ? body[i] : "  " + body[i]);
}

lines block_lines(const json& value) {
  lines out;
  if (value.is_object()) {
    for (const auto& [key, child] : value.items()) {
      auto p = place(child);
      out.push_back(yaml_scalar(key) + ":" + (p.head.empty() ? "" : " " + p.head));
      append_indented(out, p.body);
    }
    return out;
  }
  for (const auto& item : value) {
    auto p = place(item);
    if (is_collection(item)) {
      out.push_back("- " + p.body.front());
      append_indented(out, p.body, 1);
    } else {
      out.push_back("- " + p.head);
      append_indented(out, p.body);
    }
  }
  return out;
}

std::tm local_tm(int64_t unix_ms) {
  auto seconds = static_cast<std::time_t>(unix_ms >= 0 ? unix_ms / 1000 : (unix_ms - 999) / 1000);
  std::tm tm{};
  localtime_r(&seconds, &tm);
  return tm;
}

std::string strip_zero_decimals(std::string text) {
  if (text.find('.') == std::string::npos)
    return text;
  text.erase(text.find_last_not_of('0') + 1);
  if (text.back() == '.')
    text.pop_back();
  return text;
}

} // namespace

text_table::text_table(std::vector<std::string> headers) : headers_(std::move(headers)) {}

void text_table::add_row(std::vector<std::string> cells) {
  cells.resize(headers_.size());
  for (auto& cell : cells)
    cell = one_line(std::move(cell));
  rows_.push_back(std::move(cells));
}

std::vector<size_t> text_table::widths() const {
  std::vector<size_t> out;
  for (const auto& header : headers_)
    out.push_back(display_width(header));
  for (const auto& row : rows_)
    for (size_t i = 0; i < row.size(); ++i)
      out[i] = std::max(out[i], display_width(row[i]));
  return out;
}

std::string text_table::render(std::string_view indent) const {
  auto w = widths();
  std::string out;
  out.append(indent).append(render_cells(headers_, w)).append("\n");
  for (const auto& row : rows_)
    out.append(indent).append(render_cells(row, w)).append("\n");
  return out;
}

std::string render_row(const std::vector<std::string>& cells, std::vector<size_t>& widths) {
  std::vector<std::string> clean;
  for (const auto& cell : cells)
    clean.push_back(one_line(cell));
  widths.resize(std::max(widths.size(), clean.size()), 0);
  for (size_t i = 0; i < clean.size(); ++i)
    widths[i] = std::max(widths[i], display_width(clean[i]));
  return render_cells(clean, widths) + "\n";
}

size_t display_width(std::string_view text) {
  return static_cast<size_t>(std::count_if(text.begin(), text.end(), [](char c) {
    return (byte(c) & 0xC0) != 0x80; // count lead bytes, skip continuation bytes
  }));
}

std::string yaml_scalar(const std::string& text) {
  return is_plain_safe(text) ? text : to_json_text(json(text), -1);
}

std::string to_yaml(const json& value) {
  lines all;
  if (is_collection(value)) {
    all = block_lines(value);
  } else {
    auto p = place(value);
    all.push_back(p.head);
    append_indented(all, p.body);
  }
  std::string out;
  for (const auto& line : all)
    out.append(line).append("\n");
  return out;
}

std::string to_json_text(const json& value, int indent) {
  return value.dump(indent, ' ', false, json::error_handler_t::replace);
}

std::string format_clock(int64_t unix_ms) {
  auto tm = local_tm(unix_ms);
  auto millis = static_cast<int>(((unix_ms % 1000) + 1000) % 1000);
  char buf[32];
  std::snprintf(buf, sizeof buf, "%02d:%02d:%02d.%03d", tm.tm_hour, tm.tm_min, tm.tm_sec, millis);
  return buf;
}

std::string format_datetime(int64_t unix_ms) {
  auto tm = local_tm(unix_ms);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S", &tm);
  return buf;
}

std::string format_age(int64_t age_ms) {
  auto s = std::max<int64_t>(age_ms, 0) / 1000;
  auto with = [](int64_t big, const char* big_unit, int64_t small, const char* small_unit) {
    auto out = std::to_string(big) + big_unit;
    return small == 0 ? out : out + std::to_string(small) + small_unit;
  };
  if (s < 120)
    return std::to_string(s) + "s";
  if (s < 600)
    return with(s / 60, "m", s % 60, "s");
  if (s < 3 * 3600)
    return std::to_string(s / 60) + "m";
  if (s < 8 * 3600)
    return with(s / 3600, "h", s % 3600 / 60, "m");
  if (s < 48 * 3600)
    return std::to_string(s / 3600) + "h";
  if (s < 8 * 86400)
    return with(s / 86400, "d", s % 86400 / 3600, "h");
  return std::to_string(s / 86400) + "d";
}

std::string format_since(int64_t since_ms, int64_t now_ms) {
  return since_ms == 0 ? "-" : format_age(now_ms - since_ms);
}

std::string format_bytes(int64_t bytes) {
  static constexpr std::array<const char*, 6> units = {"Ki", "Mi", "Gi", "Ti", "Pi", "Ei"};
  if (bytes < 1024)
    return std::to_string(bytes);
  auto value = static_cast<double>(bytes);
  size_t unit = 0;
  value /= 1024;
  while (value >= 1024 && unit + 1 < units.size()) {
    value /= 1024;
    ++unit;
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f", value);
  return strip_zero_decimals(buf) + units[unit];
}

std::string format_cpu(double cores) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f", cores);
  return strip_zero_decimals(buf);
}

std::string truncate_text(std::string_view text, size_t max) {
  size_t points = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    if ((byte(text[i]) & 0xC0) == 0x80)
      continue;
    if (points++ == max)
      return std::string{text.substr(0, i)};
  }
  return std::string{text};
}

std::string indent_lines(std::string_view text, std::string_view prefix) {
  std::string out;
  size_t start = 0;
  while (start < text.size()) {
    auto nl = text.find('\n', start);
    auto line = text.substr(start, nl == std::string_view::npos ? nl : nl - start);
    if (!line.empty())
      out.append(prefix).append(line);
    out.append("\n");
    if (nl == std::string_view::npos)
      break;
    start = nl + 1;
  }
  return out;
}

std::string or_dash(std::string text) {
  return text.empty() ? "-" : text;
}

int64_t unix_now_ms() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

} // namespace tutti::cli
