#pragma once

// Generic rendering for the terminal: aligned tables, YAML from JSON values, and the
// formatting of times, ages and sizes. Knows nothing of tutti's resources (see
// views.hpp); everything returns strings so it is testable without a terminal.

#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace tutti::cli {

enum class output_format { table, json, yaml };

/// JSON values keep their keys in insertion order, so `name` comes first in
/// -o json|yaml as it does in tables.
using json_value = nlohmann::ordered_json;

/// Columns padded to the widest cell, separated by three spaces; the last column is
/// not padded so lines carry no trailing blanks. Newlines and tabs inside cells
/// become spaces so one row stays one line.
class text_table {
public:
  explicit text_table(std::vector<std::string> headers);

  /// Missing cells are blank, extra cells are dropped.
  void add_row(std::vector<std::string> cells);

  bool empty() const noexcept { return rows_.empty(); }

  /// Each line starts with `indent` and ends with '\n'.
  std::string render(std::string_view indent = {}) const;

  /// Widths (in display columns) of every column, header included.
  std::vector<size_t> widths() const;

private:
  std::vector<std::string> headers_;
  std::vector<std::vector<std::string>> rows_;
};

/// One row of cells padded to `widths`, for output that is printed a line at a
/// time (events --follow). Widths grow to fit wider cells.
std::string render_row(const std::vector<std::string>& cells, std::vector<size_t>& widths);

/// Number of terminal columns of UTF-8 text (one per code point; good enough for
/// names, which are ASCII, and messages, which are mostly so).
size_t display_width(std::string_view text);

/// `text` unchanged when it reads back as the same string in plain YAML, else
/// double-quoted with JSON escapes (valid YAML). For one-line use (keys, list items).
std::string yaml_scalar(const std::string& text);

/// Block-style YAML of a JSON value, ending with '\n'. Multi-line strings become
/// literal blocks (`|`, `|-`, `|+`) when that is lossless, else quoted.
std::string to_yaml(const json_value& value);

/// JSON text for output: UTF-8 kept as is, invalid bytes replaced instead of thrown.
std::string to_json_text(const json_value& value, int indent = 2);

/// `HH:MM:SS.mmm` in local time of a unix time in milliseconds.
std::string format_clock(int64_t unix_ms);

/// `YYYY-MM-DD HH:MM:SS` in local time.
std::string format_datetime(int64_t unix_ms);

/// kubectl-style age: 45s, 3m12s, 42m, 5h3m, 30h, 3d4h, 12d. Negative ages (clock
/// skew between hosts) count as 0s.
std::string format_age(int64_t age_ms);

/// Age of something that changed at `since_ms`, or "-" when unknown (0).
std::string format_since(int64_t since_ms, int64_t now_ms);

/// Bytes with binary units: 512, 64Mi, 1.5Gi.
std::string format_bytes(int64_t bytes);

/// CPU cores with at most two decimals: 4, 0.5, 0.25.
std::string format_cpu(double cores);

/// `text` cut to `max` code points.
std::string truncate_text(std::string_view text, size_t max);

/// Every line of `text` prefixed with `prefix` (empty lines stay empty); ends with
/// '\n' unless `text` is empty.
std::string indent_lines(std::string_view text, std::string_view prefix);

/// "-" for an empty cell, so columns never look shifted.
std::string or_dash(std::string text);

/// Unix time now, in milliseconds.
int64_t unix_now_ms();

} // namespace tutti::cli
