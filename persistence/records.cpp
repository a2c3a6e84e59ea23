#include "persistence/records.hpp"

#include <nlohmann/json.hpp>

#include <array>
#include <cctype>
#include <charconv>
#include <limits>
#include <type_traits>
#include <utility>

namespace tutti::persistence::detail {

namespace {

using json = nlohmann::json;
using protocol::error_code;
using protocol::node_state;

constexpr std::array all_node_states{node_state::ready, node_state::cordoned, node_state::draining,
                                     node_state::lost, node_state::restarting};

/// Names rather than numbers, so reordering the enum cannot silently change what old
/// records mean.
node_state node_state_from(const std::string& text) {
  for (auto x : all_node_states)
    if (protocol::to_string(x) == text)
      return x;
  throw std::invalid_argument("unknown node state \"" + text + "\"");
}

/// j.value(key, fallback) for an integer member, except that a float out of
/// the integer's range is refused: nlohmann converts it with a cast, which is
/// undefined behaviour then.
template <class Int> Int int_value(const json& j, const char* key, Int fallback) {
  auto i = j.find(key);
  if (i == j.end())
    return fallback;
  if (i->is_number_float()) {
    auto x = i->get<double>();
    using limits = std::numeric_limits<Int>;
    if (!(x > static_cast<double>(limits::min()) - 1 && x < static_cast<double>(limits::max()) + 1))
      throw std::invalid_argument(std::string{"\""} + key + "\" is out of range");
  }
  return i->get<Int>();
}

json resources_to_json(const protocol::resource_spec& x) {
  return json{{"cpu", x.cpu}, {"memory", x.memory}};
}

protocol::resource_spec resources_from_json(const json& j) {
  protocol::resource_spec x;
  x.cpu = j.value("cpu", x.cpu);
  x.memory = int_value(j, "memory", x.memory);
  return x;
}

json parse_object(std::string_view bytes) {
  auto j = json::parse(bytes);
  if (!j.is_object())
    throw std::invalid_argument("not a JSON object");
  return j;
}

/// The encoding of `j`. Text is checked for UTF-8 where it enters tutti; a byte
/// that still slips through is replaced (U+FFFD) rather than thrown, so no
/// record can make the store actor fail.
std::string dump(const json& j) {
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

/// Appends `text` as a JSON string, byte for byte what nlohmann's dump() writes:
/// a store of a million replicas writes two records per replica, and building a
/// JSON object for each was ~40 allocations. Text with bytes above 0x7F goes
/// through nlohmann (it checks the UTF-8; invalid bytes are replaced, not thrown).
void append_string(std::string& out, std::string_view text) {
  static constexpr char hex[] = "0123456789abcdef";
  for (auto c : text)
    if (static_cast<unsigned char>(c) >= 0x80) {
      out += json(std::string{text}).dump(-1, ' ', false, json::error_handler_t::replace);
      return;
    }
  out += '"';
  for (auto c : text) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\b':
        out += "\\b";
        break;
      case '\f':
        out += "\\f";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          out += "\\u00";
          out += hex[(c >> 4) & 0xF];
          out += hex[c & 0xF];
        } else {
          out += c;
        }
    }
  }
  out += '"';
}

/// Writes a flat JSON object field by field; the caller names the fields in
/// nlohmann's order (sorted by key), so the bytes are those it wrote before.
class object_writer {
public:
  explicit object_writer(size_t reserve) {
    out_.reserve(reserve);
    out_ += '{';
  }
  object_writer& field(std::string_view key, std::string_view value) {
    start(key);
    append_string(out_, value);
    return *this;
  }
  template <class Int, class = std::enable_if_t<std::is_integral_v<Int>>>
  object_writer& field(std::string_view key, Int value) {
    start(key);
    out_ += std::to_string(value);
    return *this;
  }
  std::string done() {
    out_ += '}';
    return std::move(out_);
  }

private:
  void start(std::string_view key) {
    if (out_.size() > 1)
      out_ += ',';
    out_ += '"';
    out_ += key; // keys are ours: plain ASCII
    out_ += "\":";
  }
  std::string out_;
};

/// Reads a flat JSON object of strings and integers without building a DOM, as
/// the writer above writes it. Anything else (escapes, nesting, floats, other
/// spacing) answers false, and the caller parses it with nlohmann instead: the
/// fast path only takes what it reads exactly as nlohmann would.
class flat_reader {
public:
  explicit flat_reader(std::string_view text) : text_(text) {}
  /// Calls `on_string(key, value)` or `on_int(key, value)` per field; either
  /// answers false for a field it does not take that way (a known key of the
  /// wrong type), which ends the fast path.
  template <class OnString, class OnInt> bool read(OnString on_string, OnInt on_int) {
    if (!eat('{'))
      return false;
    if (eat('}'))
      return at_ == text_.size();
    for (;;) {
      std::string_view key;
      if (!string(key) || !eat(':'))
        return false;
      if (at_ < text_.size() && text_[at_] == '"') {
        std::string_view value;
        if (!string(value) || !on_string(key, value))
          return false;
      } else {
        int64_t value = 0;
        if (!integer(value) || !on_int(key, value))
          return false;
      }
      if (eat('}'))
        return at_ == text_.size();
      if (!eat(','))
        return false;
    }
  }

private:
  bool eat(char c) {
    if (at_ < text_.size() && text_[at_] == c) {
      ++at_;
      return true;
    }
    return false;
  }
  bool string(std::string_view& out) {
    if (!eat('"'))
      return false;
    auto start = at_;
    while (at_ < text_.size()) {
      auto c = static_cast<unsigned char>(text_[at_]);
      if (c == '"') {
        out = text_.substr(start, at_ - start);
        ++at_;
        return true;
      }
      if (c == '\\' || c < 0x20 || c >= 0x80)
        return false; // escapes and UTF-8: nlohmann's job
      ++at_;
    }
    return false;
  }
  bool integer(int64_t& out) {
    auto start = text_.data() + at_;
    auto end = text_.data() + text_.size();
    auto digits = start + (start < end && *start == '-' ? 1 : 0);
    if (digits + 1 < end && *digits == '0' && std::isdigit(static_cast<unsigned char>(digits[1])))
      return false; // a leading zero is not JSON
    auto [ptr, ec] = std::from_chars(start, end, out);
    if (ec != std::errc{} || ptr == start)
      return false;
    if (ptr < end && (*ptr == '.' || *ptr == 'e' || *ptr == 'E'))
      return false; // a float: not ours
    at_ += static_cast<size_t>(ptr - start);
    return true;
  }
  std::string_view text_;
  size_t at_ = 0;
};

caf::error corrupt(std::string_view kind, const std::exception& e) {
  return protocol::make_error(error_code::store_failure,
                              "corrupt " + std::string{kind} + " record in the store (" + e.what() +
                                  "); the data directory is damaged, restore it from a "
                                  "backup");
}

/// Runs `decode` and turns a malformed record into a store_failure error. Only the
/// exceptions of parsing and field access are expected here; anything else is a bug
/// and propagates.
template <class Decode>
auto decode_or_error(std::string_view kind, std::string_view bytes, Decode decode)
    -> caf::expected<decltype(decode(json{}))> {
  try {
    return decode(parse_object(bytes));
  } catch (const json::exception& e) {
    return corrupt(kind, e);
  } catch (const std::invalid_argument& e) {
    return corrupt(kind, e);
  }
}

} // namespace

std::string encode_spec_value(const stored_spec& x) {
  return dump(json{{"yaml", x.yaml}, {"time_ms", x.time_ms}});
}

caf::error decode_spec_value(std::string_view bytes, stored_spec& out) {
  auto fields = decode_or_error("spec", bytes, [](const json& j) {
    return std::pair{j.value("yaml", std::string{}), int_value(j, "time_ms", int64_t{0})};
  });
  if (!fields)
    return std::move(fields.error());
  out.yaml = std::move(fields->first);
  out.time_ms = fields->second;
  return {};
}

std::string encode_assignment(const assignment& x) {
  return object_writer{96}
      .field("epoch", x.epoch)
      .field("node", x.node)
      .field("replica", x.replica)
      .field("service", x.service)
      .field("template", x.template_hash)
      .done();
}

caf::expected<assignment> decode_assignment(std::string_view bytes) {
  // A sweep reads every assignment of the cluster: the fast path first.
  assignment fast;
  bool ok = flat_reader{bytes}.read(
      [&](std::string_view key, std::string_view value) {
        if (key == "replica")
          fast.replica = value;
        else if (key == "service")
          fast.service = value;
        else if (key == "node")
          fast.node = value;
        else if (key == "template")
          fast.template_hash = value;
        return key != "epoch";
      },
      [&](std::string_view key, int64_t value) {
        if (key == "epoch")
          fast.epoch = value;
        return key == "epoch" ||
               (key != "replica" && key != "service" && key != "node" && key != "template");
      });
  if (ok)
    return fast;
  return decode_or_error("assignment", bytes, [](const json& j) {
    assignment x;
    x.replica = j.value("replica", x.replica);
    x.service = j.value("service", x.service);
    x.node = j.value("node", x.node);
    x.template_hash = j.value("template", x.template_hash);
    x.epoch = int_value(j, "epoch", x.epoch);
    return x;
  });
}

std::string encode_node(const protocol::node_status& x) {
  auto drivers = json::array();
  for (auto d : x.drivers)
    drivers.push_back(protocol::to_string(d));
  return dump(json{{"name", x.name},
                   {"address", x.address},
                   {"state", protocol::to_string(x.state)},
                   {"capacity", resources_to_json(x.capacity)},
                   {"allocated", resources_to_json(x.allocated)},
                   {"replicas", x.replicas},
                   {"labels", x.labels},
                   {"drivers", drivers}});
}

caf::expected<protocol::node_status> decode_node(std::string_view bytes) {
  return decode_or_error("node", bytes, [](const json& j) {
    protocol::node_status x;
    x.name = j.value("name", x.name);
    x.address = j.value("address", x.address);
    x.state = node_state_from(j.value("state", protocol::to_string(x.state)));
    if (j.contains("capacity"))
      x.capacity = resources_from_json(j.at("capacity"));
    if (j.contains("allocated"))
      x.allocated = resources_from_json(j.at("allocated"));
    x.replicas = int_value(j, "replicas", x.replicas);
    x.labels = j.value("labels", x.labels);
    // A driver this build does not know (a newer tuttid's) is left out: placement
    // takes only the state of a stored node, and a node reports its drivers when
    // it joins.
    for (const auto& name : j.value("drivers", std::vector<std::string>{}))
      if (auto d = protocol::driver_kind_from(name))
        x.drivers.push_back(*d);
    return x;
  });
}

std::string encode_event(const protocol::event& x) {
  return object_writer{96 + x.message.size()}
      .field("kind", x.kind)
      .field("message", x.message)
      .field("replica", x.replica)
      .field("seq", x.seq)
      .field("service", x.service)
      .field("time_ms", x.time_ms)
      .done();
}

caf::expected<protocol::event> decode_event(std::string_view bytes) {
  return decode_or_error("event", bytes, [](const json& j) {
    protocol::event x;
    x.seq = int_value(j, "seq", x.seq);
    x.time_ms = int_value(j, "time_ms", x.time_ms);
    x.kind = j.value("kind", x.kind);
    x.service = j.value("service", x.service);
    x.replica = j.value("replica", x.replica);
    x.message = j.value("message", x.message);
    return x;
  });
}

} // namespace tutti::persistence::detail
