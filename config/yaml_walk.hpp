#pragma once

// Private to config/: reading a yaml-cpp tree strictly, with every mistake recorded
// as a spec_error (file, 1-based line/column, dotted field path) instead of thrown.
// The readers report and return nullopt/false; callers keep going so that one pass
// over the input finds all of its errors.

#include "protocol/status.hpp"

#include <caf/timespan.hpp>

#include <yaml-cpp/yaml.h>

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace tutti::config::detail {

/// Collects the errors of one input, labelled with its file name.
class error_sink {
public:
  explicit error_sink(std::string file);

  void add(const YAML::Mark& at, std::string field, std::string message);

  /// An error with no place in the text (missing file, empty input).
  void add_unplaced(std::string field, std::string message);

  size_t size() const { return errors_.size(); }

  /// The errors in the order they occur in the text (unplaced ones first).
  std::vector<protocol::spec_error> take();

private:
  std::string file_;
  std::vector<protocol::spec_error> errors_;
};

/// One value of the document, with the path and places to blame for it.
struct field {
  YAML::Node value;
  std::string path;    // "restart.backoff.initial", "ports[1]"
  std::string key;     // the map key; empty for sequence elements and documents
  YAML::Mark key_mark; // the key, or the value itself when there is no key
  YAML::Mark mark;     // the value, or the key when the value is empty
};

/// A whole document as a field with an empty path.
field document_field(const YAML::Node& doc);

/// "a mapping", "a sequence", "nothing", "'text'": what was found instead.
std::string describe(const YAML::Node& node);

/// Hands out the entries of a mapping by key and reports the ones nobody asked for,
/// so that a misspelt field is an error rather than silently ignored.
class map_reader {
public:
  /// `map.value` must be a mapping (see expect_map). Non-scalar and repeated keys are
  /// reported here.
  map_reader(const field& map, error_sink& errors);

  /// The entry `key`, or nullopt when absent.
  std::optional<field> take(std::string_view key);

  /// Every remaining entry, in document order; for maps with user-chosen keys.
  std::vector<field> take_all();

  /// Reports every entry no take() asked for as an unknown field.
  void finish();

private:
  struct entry {
    field value;
    bool taken = false;
  };

  std::vector<entry> entries_;
  error_sink& errors_;
};

/// Whether the field holds a mapping / sequence; reports "expected <what>" otherwise.
bool expect_map(const field& f, std::string_view what, error_sink& errors);
bool expect_seq(const field& f, std::string_view what, error_sink& errors);

/// The elements of a sequence field with paths "<path>[i]".
std::vector<field> elements(const field& seq);

/// Any scalar as its text; numbers and booleans are accepted as written.
std::optional<std::string> read_string(const field& f, error_sink& errors);

/// A string that must not be empty.
std::optional<std::string> read_nonempty_string(const field& f, error_sink& errors);

/// An integer in [min, max]; the range is in the message when it is not.
std::optional<int64_t> read_int(const field& f, int64_t min, int64_t max, error_sink& errors);

/// true / false (any case).
std::optional<bool> read_bool(const field& f, error_sink& errors);

/// A duration in (0, max]: zero and negative waits are never meant.
std::optional<caf::timespan> read_positive_duration(const field& f, caf::timespan max,
                                                    error_sink& errors);

/// A duration in [0, max] ("0s" allowed).
std::optional<caf::timespan> read_duration(const field& f, caf::timespan max, error_sink& errors);

/// A non-negative byte quantity ("64Mi", "1G", "1048576").
std::optional<int64_t> read_bytes(const field& f, error_sink& errors);

/// A non-negative cpu quantity ("250m", "0.25", "2").
std::optional<double> read_cpu(const field& f, error_sink& errors);

/// One of the names in `choices`; the message lists them all.
template <class T>
std::optional<T> read_choice(const field& f,
                             const std::vector<std::pair<std::string_view, T>>& choices,
                             error_sink& errors);

/// A sequence of strings.
std::optional<std::vector<std::string>> read_string_list(const field& f, error_sink& errors);

/// A mapping of strings to strings; `key_ok` says whether a key is acceptable and
/// `key_rule` explains the rule when it is not.
std::optional<std::vector<std::pair<std::string, std::string>>>
read_string_map(const field& f, const std::function<bool(const std::string&)>& key_ok,
                std::string_view key_rule, error_sink& errors);

/// All documents of `text`; a syntax error becomes one error and nullopt, and so
/// does a document with a key or value that is not valid UTF-8 (one error each).
std::optional<std::vector<YAML::Node>> load_documents(const std::string& text, error_sink& errors);

/// Runs `walk` over parsed nodes. yaml-cpp's node API may throw on shapes the readers
/// did not foresee; that becomes an error of the input rather than an escape.
template <class F> void guarded_walk(error_sink& errors, F&& walk) {
  try {
    walk();
  } catch (const YAML::Exception& e) {
    errors.add(e.mark, "", "cannot read this YAML: " + e.msg);
  }
}

/// The contents of a file, or nullopt with an error naming it.
std::optional<std::string> read_text_file(const std::string& path, error_sink& errors);

// -- template implementation --------------------------------------------------

std::string join_choices(const std::vector<std::string_view>& names);

template <class T>
std::optional<T> read_choice(const field& f,
                             const std::vector<std::pair<std::string_view, T>>& choices,
                             error_sink& errors) {
  auto text = read_string(f, errors);
  if (!text)
    return std::nullopt;
  std::vector<std::string_view> names;
  for (const auto& [name, value] : choices) {
    if (name == *text)
      return value;
    names.push_back(name);
  }
  errors.add(f.mark, f.path, "expected one of " + join_choices(names) + ", got '" + *text + "'");
  return std::nullopt;
}

} // namespace tutti::config::detail
