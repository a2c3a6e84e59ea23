#include "access/records.hpp"

#include "access/digest.hpp"
#include "protocol/base64.hpp"
#include "protocol/errors.hpp"

#include <nlohmann/json.hpp>

#include <cstdio>

namespace tutti::access {

namespace p = tutti::protocol;
using json = nlohmann::json;

namespace {

std::string dump(const json& j) {
  // Names and messages come from clients: replace rather than throw on bytes
  // that are not UTF-8 (the API escapes them before they get here anyway).
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

template <class T> caf::expected<T> decode_with(std::string_view value, const char* what,
                                                void (*read)(const json&, T&)) {
  auto j = json::parse(value, nullptr, false);
  if (j.is_discarded() || !j.is_object())
    return p::make_error(p::error_code::store_failure,
                         std::string{"a stored "} + what + " is not a JSON object; the store is damaged");
  try {
    T out;
    read(j, out);
    return out;
  } catch (const json::exception& e) {
    return p::make_error(p::error_code::store_failure,
                         std::string{"a stored "} + what + " is damaged: " + e.what());
  }
}

} // namespace

std::string encode(const p::token_record& x) {
  return dump(json{{"name", x.name},
                   {"sha256", x.secret_sha256},
                   {"role", p::to_string(x.role)},
                   {"created_ms", x.created_ms},
                   {"expires_ms", x.expires_ms},
                   {"created_by", x.created_by},
                   {"namespace", x.name_space}});
}

caf::expected<p::token_record> decode_token(std::string_view value) {
  auto out = decode_with<p::token_record>(value, "token", [](const json& j, p::token_record& x) {
    x.name = j.at("name").get<std::string>();
    x.secret_sha256 = j.at("sha256").get<std::string>();
    auto role = p::access_role_from(j.at("role").get<std::string>());
    if (!role)
      throw json::other_error::create(501, "unknown role " + j.at("role").get<std::string>(), &j);
    x.role = *role;
    x.created_ms = j.value("created_ms", int64_t{0});
    x.expires_ms = j.value("expires_ms", int64_t{0});
    x.created_by = j.value("created_by", std::string{});
    x.name_space = j.value("namespace", std::string{});
  });
  return out;
}

std::string encode(const p::audit_record& x) {
  return dump(json{{"id", x.id},
                   {"time_ms", x.time_ms},
                   {"who", x.who},
                   {"from", x.from},
                   {"call", x.call},
                   {"target", x.target},
                   {"result", x.result},
                   {"message", x.message}});
}

caf::expected<p::audit_record> decode_audit(std::string_view value) {
  return decode_with<p::audit_record>(value, "audit record", [](const json& j, p::audit_record& x) {
    x.id = j.at("id").get<std::string>();
    x.time_ms = j.at("time_ms").get<int64_t>();
    x.who = j.value("who", std::string{});
    x.from = j.value("from", std::string{});
    x.call = j.value("call", std::string{});
    x.target = j.value("target", std::string{});
    x.result = j.value("result", std::string{});
    x.message = j.value("message", std::string{});
  });
}

std::string audit_id(int64_t time_ms, uint64_t suffix) {
  char buf[48];
  std::snprintf(buf, sizeof buf, "%016lld-%08llx", static_cast<long long>(time_ms),
                static_cast<unsigned long long>(suffix & 0xffffffffu));
  return buf;
}

std::string encode(const p::object_record& x) {
  return dump(json{{"name", x.name},
                   {"version", x.version},
                   {"created_ms", x.created_ms},
                   {"size", x.size},
                   {"sha256", x.sha256},
                   {"data", protocol::to_base64(x.data)}});
}

caf::expected<p::object_record> decode_object(p::object_kind kind, std::string_view value) {
  auto what = p::to_string(kind);
  auto out = decode_with<p::object_record>(
      value, what.c_str(), [](const json& j, p::object_record& x) {
        x.name = j.at("name").get<std::string>();
        x.version = j.at("version").get<int64_t>();
        x.created_ms = j.value("created_ms", int64_t{0});
        x.size = j.value("size", int64_t{0});
        x.sha256 = j.value("sha256", std::string{});
        auto data = protocol::from_base64(j.at("data").get<std::string>());
        if (!data)
          throw json::other_error::create(501, "its data is not base64", &j);
        x.data = std::move(*data);
      });
  if (out)
    out->kind = kind;
  return out;
}

} // namespace tutti::access
