#include "persistence/records.hpp"

#include <nlohmann/json.hpp>

#include <array>
#include <utility>

namespace tutti::persistence::detail {

namespace {

using json = nlohmann::json;
using protocol::error_code;
using protocol::node_state;

constexpr std::array all_node_states{node_state::ready, node_state::cordoned, node_state::draining,
                                     node_state::lost};

/// Names rather than numbers, so reordering the enum cannot silently change what old
/// records mean.
node_state node_state_from(const std::string& text) {
  for (auto x : all_node_states)
    if (protocol::to_string(x) == text)
      return x;
  throw std::invalid_argument("unknown node state \"" + text + "\"");
}

json resources_to_json(const protocol::resource_spec& x) {
  return json{{"cpu", x.cpu}, {"memory", x.memory}};
}

protocol::resource_spec resources_from_json(const json& j) {
  protocol::resource_spec x;
  x.cpu = j.value("cpu", x.cpu);
  x.memory = j.value("memory", x.memory);
  return x;
}

json parse_object(std::string_view bytes) {
  auto j = json::parse(bytes);
  if (!j.is_object())
    throw std::invalid_argument("not a JSON object");
  return j;
}

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
  return json{{"yaml", x.yaml}, {"time_ms", x.time_ms}}.dump();
}

caf::error decode_spec_value(std::string_view bytes, stored_spec& out) {
  auto fields = decode_or_error("spec", bytes, [](const json& j) {
    return std::pair{j.value("yaml", std::string{}), j.value("time_ms", int64_t{0})};
  });
  if (!fields)
    return std::move(fields.error());
  out.yaml = std::move(fields->first);
  out.time_ms = fields->second;
  return {};
}

std::string encode_assignment(const assignment& x) {
  return json{{"replica", x.replica},
              {"service", x.service},
              {"node", x.node},
              {"template", x.template_hash},
              {"epoch", x.epoch}}
      .dump();
}

caf::expected<assignment> decode_assignment(std::string_view bytes) {
  return decode_or_error("assignment", bytes, [](const json& j) {
    assignment x;
    x.replica = j.value("replica", x.replica);
    x.service = j.value("service", x.service);
    x.node = j.value("node", x.node);
    x.template_hash = j.value("template", x.template_hash);
    x.epoch = j.value("epoch", x.epoch);
    return x;
  });
}

std::string encode_node(const protocol::node_status& x) {
  return json{{"name", x.name},
              {"address", x.address},
              {"state", protocol::to_string(x.state)},
              {"capacity", resources_to_json(x.capacity)},
              {"allocated", resources_to_json(x.allocated)},
              {"replicas", x.replicas},
              {"labels", x.labels},
              {"drivers", x.drivers}}
      .dump();
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
    x.replicas = j.value("replicas", x.replicas);
    x.labels = j.value("labels", x.labels);
    x.drivers = j.value("drivers", x.drivers);
    return x;
  });
}

std::string encode_event(const protocol::event& x) {
  return json{{"seq", x.seq},         {"time_ms", x.time_ms}, {"kind", x.kind},
              {"service", x.service}, {"replica", x.replica}, {"message", x.message}}
      .dump();
}

caf::expected<protocol::event> decode_event(std::string_view bytes) {
  return decode_or_error("event", bytes, [](const json& j) {
    protocol::event x;
    x.seq = j.value("seq", x.seq);
    x.time_ms = j.value("time_ms", x.time_ms);
    x.kind = j.value("kind", x.kind);
    x.service = j.value("service", x.service);
    x.replica = j.value("replica", x.replica);
    x.message = j.value("message", x.message);
    return x;
  });
}

} // namespace tutti::persistence::detail
