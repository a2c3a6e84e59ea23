#include "config/yaml_walk.hpp"

#include "config/spec_parser.hpp"
#include "protocol/utf8.hpp"

#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/parser.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <cstdio>
#include <memory>
#include <set>
#include <sstream>

namespace tutti::config::detail {

namespace {

std::string child_path(const std::string& parent, const std::string& key) {
  return parent.empty() ? key : parent + "." + key;
}

// A value left empty (`key:`) has its mark at the next token, often the next line;
// blaming the key is what a reader expects.
YAML::Mark value_mark(const YAML::Node& value, const YAML::Mark& fallback) {
  if (!value.IsDefined() || value.IsNull() || value.Mark().is_null())
    return fallback;
  return value.Mark();
}

std::optional<std::string> scalar_text(const field& f, std::string_view expected,
                                       error_sink& errors) {
  if (f.value.IsScalar())
    return f.value.Scalar();
  errors.add(f.mark, f.path, "expected " + std::string{expected} + ", got " + describe(f.value));
  return std::nullopt;
}

std::string quoted(const std::string& text) {
  return "'" + text + "'";
}

/// Bounds check_utf8's walk, which passes an alias's value again at each use
/// of the alias.
struct walk_limits {
  // yaml-cpp parses at most 2000 levels (depthguard.h): only an alias can make
  // a document deeper, and one inside its own anchor's value makes it endless.
  static constexpr size_t max_depth = 2000;
  // A bad value inside an alias is reported at each use; a person reads a few.
  static constexpr size_t max_errors = 100;
  // Nested aliases ("billion laughs") make a few hundred bytes billions of
  // values; an input without aliases has at most about two values per byte,
  // and aliases may add a hundred thousand.
  explicit walk_limits(const std::string& text) : max_values(2 * text.size() + 100000) {}
  size_t max_values;
  size_t values = 0;
  size_t errors = 0;
  std::string exceeded; // why the walk stopped; empty while it goes on
  YAML::Mark mark;      // where it stopped
  std::string path;
};

/// One step from the document to a value. The walk keeps its steps on the stack
/// and spells a path out only to report it: spelling each value's path costs the
/// square of the depth, which aliases make large (a long key 2000 levels deep
/// made a 1 KB input take a gigabyte).
struct path_step {
  const path_step* parent;
  const std::string* key; // a map's key; nullptr: the element `index` of a sequence
  size_t index;
};

/// The path of a step as the readers write it ("env.K", "ports[1]"), cut after
/// 1024 bytes.
std::string path_text(const path_step* step) {
  constexpr size_t max_length = 1024;
  std::vector<const path_step*> steps;
  for (; step != nullptr; step = step->parent)
    steps.push_back(step);
  std::string out;
  for (auto i = steps.rbegin(); i != steps.rend() && out.size() <= max_length; ++i) {
    if ((*i)->key == nullptr) {
      out += "[" + std::to_string((*i)->index) + "]";
      continue;
    }
    if (!out.empty())
      out += '.';
    out += *(*i)->key;
  }
  if (out.size() > max_length) {
    out.resize(max_length);
    out += "...";
  }
  return out;
}

/// Reports every key and scalar of `node` that is not valid UTF-8, at its place
/// and path; true when there was none. Keys and values the readers never look at
/// are checked too: nothing of a document is kept when any of it is bad. False
/// without a report once a limit is exceeded (the caller reports that).
bool check_utf8(const YAML::Node& node, const path_step* at, error_sink& errors,
                walk_limits& limits, size_t depth) {
  auto stop = [&](const YAML::Mark& mark, std::string why) {
    limits.exceeded = std::move(why);
    limits.mark = mark;
    limits.path = path_text(at);
    return false;
  };
  auto bad = [&](const YAML::Mark& mark, const path_step* where) {
    if (++limits.errors > walk_limits::max_errors)
      return stop(mark, "more values are not valid UTF-8 than the " +
                            std::to_string(walk_limits::max_errors) + " above");
    errors.add(mark, path_text(where), "not valid UTF-8");
    return false;
  };
  if (!limits.exceeded.empty())
    return false;
  if (depth > walk_limits::max_depth)
    return stop(node.Mark(), "nested more than " + std::to_string(walk_limits::max_depth) +
                                 " levels deep (an alias inside its own anchor's value?)");
  if (++limits.values > limits.max_values)
    return stop(node.Mark(), "aliases expand this input to more than " +
                                 std::to_string(limits.max_values) + " values");
  switch (node.Type()) {
    case YAML::NodeType::Scalar:
      return protocol::valid_utf8(node.Scalar()) || bad(node.Mark(), at);
    case YAML::NodeType::Sequence: {
      bool ok = true;
      for (size_t i = 0; i < node.size() && limits.exceeded.empty(); ++i) {
        path_step element{at, nullptr, i};
        ok &= check_utf8(node[i], &element, errors, limits, depth + 1);
      }
      return ok;
    }
    case YAML::NodeType::Map: {
      bool ok = true;
      for (const auto& entry : node) {
        if (!limits.exceeded.empty())
          return false;
        const YAML::Node& key = entry.first;
        static const std::string no_key;
        path_step child{at, key.IsScalar() ? &key.Scalar() : &no_key, 0};
        if (key.IsScalar() && !protocol::valid_utf8(key.Scalar())) {
          ok = bad(key.Mark(), &child);
          continue;
        }
        if (!key.IsScalar())
          ok &= check_utf8(key, at, errors, limits, depth + 1);
        ok &= check_utf8(entry.second, &child, errors, limits, depth + 1);
      }
      return ok;
    }
    case YAML::NodeType::Null:
    case YAML::NodeType::Undefined:
      break;
  }
  return true;
}

} // namespace

error_sink::error_sink(std::string file) : file_(protocol::sanitize_utf8(std::move(file))) {}

void error_sink::add(const YAML::Mark& at, std::string field, std::string message) {
  // Messages quote the input, which may be hostile: what reaches a client is UTF-8.
  protocol::spec_error err;
  err.file = file_;
  if (!at.is_null()) {
    err.line = at.line + 1;
    err.column = at.column + 1;
  }
  err.field = protocol::sanitize_utf8(std::move(field));
  err.message = protocol::sanitize_utf8(std::move(message));
  errors_.push_back(std::move(err));
}

void error_sink::add_unplaced(std::string field, std::string message) {
  add(YAML::Mark::null_mark(), std::move(field), std::move(message));
}

std::vector<protocol::spec_error> error_sink::take() {
  // Readers check fields in a fixed order, not text order; people read top-down.
  std::stable_sort(errors_.begin(), errors_.end(), [](const auto& a, const auto& b) {
    return std::pair{a.line, a.column} < std::pair{b.line, b.column};
  });
  return std::move(errors_);
}

field document_field(const YAML::Node& doc) {
  field f;
  f.value = doc;
  f.key_mark = doc.Mark();
  f.mark = doc.Mark();
  return f;
}

std::string describe(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Map:
      return "a mapping";
    case YAML::NodeType::Sequence:
      return "a sequence";
    case YAML::NodeType::Scalar: {
      constexpr size_t max_shown = 40;
      const auto& text = node.Scalar();
      if (text.size() > max_shown)
        return quoted(text.substr(0, max_shown) + "...");
      return quoted(text);
    }
    case YAML::NodeType::Null:
    case YAML::NodeType::Undefined:
      break;
  }
  return "nothing";
}

map_reader::map_reader(const field& map, error_sink& errors) : errors_(errors) {
  std::set<std::string> seen;
  for (auto it = map.value.begin(); it != map.value.end(); ++it) {
    // A copy: `it->first` refers into a proxy that dies with the expression.
    const auto entry = *it;
    const YAML::Node& key = entry.first;
    auto key_mark = value_mark(key, map.mark);
    if (!key.IsScalar()) {
      errors_.add(key_mark, map.path, "expected a field name, got " + describe(key));
      continue;
    }
    field f;
    f.key = key.Scalar();
    f.path = child_path(map.path, f.key);
    if (!seen.insert(f.key).second) {
      errors_.add(key_mark, f.path, "duplicate field " + quoted(f.key));
      continue;
    }
    f.value = entry.second;
    f.key_mark = key_mark;
    f.mark = value_mark(entry.second, key_mark);
    entries_.push_back({std::move(f), false});
  }
}

std::optional<field> map_reader::take(std::string_view key) {
  for (auto& e : entries_) {
    if (e.value.key == key) {
      e.taken = true;
      return e.value;
    }
  }
  return std::nullopt;
}

std::vector<field> map_reader::take_all() {
  std::vector<field> out;
  for (auto& e : entries_) {
    if (!e.taken) {
      e.taken = true;
      out.push_back(e.value);
    }
  }
  return out;
}

void map_reader::finish() {
  for (auto& e : entries_) {
    if (!e.taken)
      errors_.add(e.value.key_mark, e.value.path, "unknown field " + quoted(e.value.key));
    e.taken = true;
  }
}

bool expect_map(const field& f, std::string_view what, error_sink& errors) {
  if (f.value.IsMap())
    return true;
  errors.add(f.mark, f.path, "expected " + std::string{what} + ", got " + describe(f.value));
  return false;
}

bool expect_seq(const field& f, std::string_view what, error_sink& errors) {
  if (f.value.IsSequence())
    return true;
  errors.add(f.mark, f.path, "expected " + std::string{what} + ", got " + describe(f.value));
  return false;
}

std::vector<field> elements(const field& seq) {
  std::vector<field> out;
  size_t i = 0;
  for (auto it = seq.value.begin(); it != seq.value.end(); ++it, ++i) {
    field f;
    f.value = static_cast<const YAML::Node&>(*it);
    f.path = seq.path + "[" + std::to_string(i) + "]";
    f.mark = value_mark(*it, seq.mark);
    f.key_mark = f.mark;
    out.push_back(std::move(f));
  }
  return out;
}

std::optional<std::string> read_string(const field& f, error_sink& errors) {
  return scalar_text(f, "a string", errors);
}

std::optional<std::string> read_nonempty_string(const field& f, error_sink& errors) {
  auto text = read_string(f, errors);
  if (text && text->empty()) {
    errors.add(f.mark, f.path, "must not be empty");
    return std::nullopt;
  }
  return text;
}

std::optional<int64_t> read_int(const field& f, int64_t min, int64_t max, error_sink& errors) {
  auto text = scalar_text(f, "an integer", errors);
  if (!text)
    return std::nullopt;
  int64_t value = 0;
  const char* end = text->data() + text->size();
  auto [ptr, ec] = std::from_chars(text->data(), end, value);
  bool out_of_range = ec == std::errc::result_out_of_range;
  if (!out_of_range && (ec != std::errc{} || ptr != end || text->empty())) {
    errors.add(f.mark, f.path, "expected an integer, got " + quoted(*text));
    return std::nullopt;
  }
  if (out_of_range || value < min || value > max) {
    errors.add(f.mark, f.path,
               "must be between " + std::to_string(min) + " and " + std::to_string(max) + ", got " +
                   *text);
    return std::nullopt;
  }
  return value;
}

std::optional<bool> read_bool(const field& f, error_sink& errors) {
  auto text = scalar_text(f, "true or false", errors);
  if (!text)
    return std::nullopt;
  std::string lower = *text;
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return std::tolower(c); });
  if (lower == "true")
    return true;
  if (lower == "false")
    return false;
  errors.add(f.mark, f.path, "expected true or false, got " + quoted(*text));
  return std::nullopt;
}

std::optional<caf::timespan> read_duration(const field& f, caf::timespan max, error_sink& errors) {
  auto text = scalar_text(f, "a duration", errors);
  if (!text)
    return std::nullopt;
  auto value = !text->empty() && text->front() == '-' ? std::nullopt : parse_duration(*text);
  if (!value) {
    errors.add(f.mark, f.path,
               "expected a duration like 0s, 100ms, 1.5s, 2m or 1h, got " + quoted(*text));
    return std::nullopt;
  }
  if (*value > max) {
    errors.add(f.mark, f.path, "must be at most " + format_duration(max) + ", got " + *text);
    return std::nullopt;
  }
  return value;
}

std::optional<caf::timespan> read_positive_duration(const field& f, caf::timespan max,
                                                    error_sink& errors) {
  auto text = scalar_text(f, "a duration", errors);
  if (!text)
    return std::nullopt;
  if (!text->empty() && text->front() == '-') {
    errors.add(f.mark, f.path, "must be greater than 0, got " + *text);
    return std::nullopt;
  }
  auto value = parse_duration(*text);
  if (!value) {
    errors.add(f.mark, f.path,
               "expected a duration like 100ms, 1.5s, 2m or 1h, got " + quoted(*text));
    return std::nullopt;
  }
  if (value->count() <= 0) {
    errors.add(f.mark, f.path, "must be greater than 0, got " + *text);
    return std::nullopt;
  }
  if (*value > max) {
    errors.add(f.mark, f.path, "must be at most " + format_duration(max) + ", got " + *text);
    return std::nullopt;
  }
  return value;
}

std::optional<int64_t> read_bytes(const field& f, error_sink& errors) {
  auto text = scalar_text(f, "a byte quantity", errors);
  if (!text)
    return std::nullopt;
  if (!text->empty() && text->front() == '-') {
    errors.add(f.mark, f.path, "must not be negative, got " + *text);
    return std::nullopt;
  }
  auto value = parse_bytes(*text);
  if (!value)
    errors.add(f.mark, f.path,
               "expected a byte quantity like 64Mi, 1G or 1048576, got " + quoted(*text));
  return value;
}

std::optional<double> read_cpu(const field& f, error_sink& errors) {
  auto text = scalar_text(f, "a cpu quantity", errors);
  if (!text)
    return std::nullopt;
  if (!text->empty() && text->front() == '-') {
    errors.add(f.mark, f.path, "must not be negative, got " + *text);
    return std::nullopt;
  }
  auto value = parse_cpu(*text);
  if (!value)
    errors.add(f.mark, f.path, "expected a cpu quantity like 250m, 0.5 or 2, got " + quoted(*text));
  return value;
}

std::optional<std::vector<std::string>> read_string_list(const field& f, error_sink& errors) {
  if (!expect_seq(f, "a sequence of strings", errors))
    return std::nullopt;
  std::vector<std::string> out;
  bool ok = true;
  for (const auto& element : elements(f)) {
    auto text = read_string(element, errors);
    ok = ok && text.has_value();
    if (text)
      out.push_back(std::move(*text));
  }
  if (!ok)
    return std::nullopt;
  return out;
}

std::optional<std::vector<std::pair<std::string, std::string>>>
read_string_map(const field& f, const std::function<bool(const std::string&)>& key_ok,
                std::string_view key_rule, error_sink& errors) {
  if (!expect_map(f, "a mapping of strings to strings", errors))
    return std::nullopt;
  size_t errors_before = errors.size();
  map_reader reader{f, errors};
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& entry : reader.take_all()) {
    if (!key_ok(entry.key)) {
      errors.add(entry.key_mark, entry.path,
                 "invalid name " + quoted(entry.key) + ": " + std::string{key_rule});
      continue;
    }
    if (auto text = read_string(entry, errors))
      out.emplace_back(entry.key, std::move(*text));
  }
  if (errors.size() != errors_before)
    return std::nullopt;
  return out;
}

namespace {

// yaml-cpp 0.7 loops forever, allocating a null document per turn, when a document
// starts with a token no rule consumes (a lone ','; jbeder/yaml-cpp#1040, fixed
// upstream by #1319). This handler sees only where each document starts, so a first
// pass can find that stall before LoadAll would run into it.
class document_starts final : public YAML::EventHandler {
public:
  void OnDocumentStart(const YAML::Mark& mark) override { last_ = mark; }
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark&, YAML::anchor_t) override {}
  void OnAlias(const YAML::Mark&, YAML::anchor_t) override {}
  void OnScalar(const YAML::Mark&, const std::string&, YAML::anchor_t,
                const std::string&) override {}
  void OnSequenceStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                       YAML::EmitterStyle::value) override {}
  void OnSequenceEnd() override {}
  void OnMapStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                  YAML::EmitterStyle::value) override {}
  void OnMapEnd() override {}

  const YAML::Mark& last() const { return last_; }

private:
  YAML::Mark last_ = YAML::Mark::null_mark();
};

/// Where the parser stops making progress, or nullopt when it reads to the end.
/// Throws YAML::Exception on syntax errors, as LoadAll would.
std::optional<YAML::Mark> find_stall(const std::string& text) {
  std::istringstream in{text};
  YAML::Parser parser{in};
  document_starts starts;
  // Every document but one consumes at least a character: a bound even if a stall
  // ever escaped the mark comparison.
  for (size_t documents = 0; documents <= text.size() + 1; ++documents) {
    auto before = starts.last();
    if (!parser.HandleNextDocument(starts))
      return std::nullopt;
    if (documents > 0 && starts.last().pos == before.pos)
      return starts.last();
  }
  return starts.last();
}

} // namespace

std::optional<std::vector<YAML::Node>> load_documents(const std::string& text, error_sink& errors) {
  try {
    if (auto stall = find_stall(text)) {
      errors.add(*stall, "", "invalid YAML: unexpected character where a document starts");
      return std::nullopt;
    }
    auto docs = YAML::LoadAll(text);
    bool valid = true;
    walk_limits limits{text};
    for (const auto& doc : docs) {
      valid &= check_utf8(doc, nullptr, errors, limits, 0);
      if (!limits.exceeded.empty()) {
        errors.add(limits.mark, limits.path, limits.exceeded);
        break;
      }
    }
    if (!valid)
      return std::nullopt;
    return docs;
  } catch (const YAML::Exception& e) {
    errors.add(e.mark, "", "invalid YAML: " + e.msg);
    return std::nullopt;
  }
}

std::optional<std::string> read_text_file(const std::string& path, error_sink& errors) {
  // stdio rather than ifstream: libstdc++'s filebuf throws when reading a directory.
  std::unique_ptr<FILE, int (*)(FILE*)> in{std::fopen(path.c_str(), "rb"), &std::fclose};
  if (!in) {
    errors.add_unplaced("", "cannot open " + path + ": " + std::strerror(errno));
    return std::nullopt;
  }
  std::string text;
  char buf[8192];
  size_t n = 0;
  while ((n = std::fread(buf, 1, sizeof(buf), in.get())) > 0)
    text.append(buf, n);
  if (std::ferror(in.get())) {
    errors.add_unplaced("", "cannot read " + path + ": " + std::strerror(errno));
    return std::nullopt;
  }
  return text;
}

std::string join_choices(const std::vector<std::string_view>& names) {
  std::string out;
  for (size_t i = 0; i < names.size(); ++i) {
    if (i > 0)
      out += i + 1 == names.size() ? " or " : ", ";
    out += names[i];
  }
  return out;
}

} // namespace tutti::config::detail
