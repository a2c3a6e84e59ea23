#include "runtime-drivers/containerd/registry_parse.hpp"

#include "protocol/errors.hpp"
#include "runtime-drivers/curl_support.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cctype>

namespace tutti::runtime_drivers::containerd {

namespace {

using nlohmann::json;
using protocol::error_code;
using protocol::make_error;

std::string lower(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return text;
}

std::string trim(const std::string& text) {
  auto first = text.find_first_not_of(" \t\r\n");
  if (first == std::string::npos)
    return {};
  return text.substr(first, text.find_last_not_of(" \t\r\n") - first + 1);
}

bool is_alnum_lower(char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

/// A repository component: [a-z0-9] at both ends, [a-z0-9._-] between.
bool valid_component(const std::string& part) {
  if (part.empty() || !is_alnum_lower(part.front()) || !is_alnum_lower(part.back()))
    return false;
  return std::all_of(part.begin(), part.end(),
                     [](char c) { return is_alnum_lower(c) || c == '.' || c == '_' || c == '-'; });
}

bool valid_repository(const std::string& repository) {
  if (repository.empty() || repository.size() > 255)
    return false;
  size_t start = 0;
  for (;;) {
    auto slash = repository.find('/', start);
    if (!valid_component(repository.substr(start, slash - start)))
      return false;
    if (slash == std::string::npos)
      return true;
    start = slash + 1;
  }
}

bool valid_tag(const std::string& tag) {
  if (tag.empty() || tag.size() > 128 || tag.front() == '.' || tag.front() == '-')
    return false;
  return std::all_of(tag.begin(), tag.end(), [](unsigned char c) {
    return std::isalnum(c) || c == '_' || c == '.' || c == '-';
  });
}

bool valid_domain(const std::string& domain) {
  return !domain.empty() && std::all_of(domain.begin(), domain.end(), [](unsigned char c) {
    return std::isalnum(c) || c == '.' || c == '-' || c == ':' || c == '[' || c == ']';
  });
}

/// A host without its port: "[::1]:5000" -> "[::1]", "localhost:5000" ->
/// "localhost". What follows the name must be ":DIGITS" or nothing, else the
/// whole text is returned (and matches no name).
std::string strip_port(const std::string& host) {
  auto end = host.empty() || host.front() != '[' ? host.find(':') : host.find(']');
  if (end == std::string::npos)
    return host;
  if (host.front() == '[')
    ++end;
  auto port = host.substr(end);
  if (port.empty() ||
      (port.size() > 1 && port.front() == ':' &&
       std::all_of(port.begin() + 1, port.end(), [](unsigned char c) { return std::isdigit(c); })))
    return host.substr(0, end);
  return host;
}

bool is_loopback_v4(const std::string& host) {
  int parts = 0;
  size_t start = 0;
  for (;;) {
    auto dot = host.find('.', start);
    auto part = host.substr(start, dot - start);
    if (part.empty() || part.size() > 3 ||
        !std::all_of(part.begin(), part.end(), [](unsigned char c) { return std::isdigit(c); }) ||
        std::stoi(part) > 255 || (parts == 0 && part != "127"))
      return false;
    ++parts;
    if (dot == std::string::npos)
      return parts == 4;
    start = dot + 1;
  }
}

bool is_token_char(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) ||
         std::string_view{"!#$%&'*+-.^_`|~"}.find(c) != std::string_view::npos;
}

std::string text_of(const json& object, const char* key) {
  auto i = object.find(key);
  return i != object.end() && i->is_string() ? i->get<std::string>() : std::string{};
}

/// schemaVersion and the like: 0 when absent or not an integer (json::value
/// would throw on a string).
int64_t integer_of(const json& object, const char* key) {
  auto i = object.find(key);
  return i != object.end() && i->is_number_integer() ? i->get<int64_t>() : 0;
}

caf::error invalid(const std::string& where, const std::string& what) {
  return make_error(error_code::invalid_argument, where + " " + what);
}

caf::expected<json> parse_object(const std::string& text, const std::string& where) {
  auto parsed = json::parse(text, nullptr, false);
  if (parsed.is_discarded() || !parsed.is_object())
    return invalid(where, "is not a JSON object");
  return parsed;
}

caf::expected<descriptor> parse_descriptor(const json& x, const std::string& where) {
  if (!x.is_object())
    return invalid(where, "has a descriptor that is not an object");
  descriptor out{text_of(x, "mediaType"), text_of(x, "digest"), 0};
  auto size = x.find("size");
  if (size == x.end() || !size->is_number_integer() || size->get<int64_t>() < 0)
    return invalid(where, "has a descriptor without a valid size");
  out.size = size->get<int64_t>();
  if (out.media_type.empty())
    return invalid(where, "has a descriptor without a mediaType");
  if (!is_sha256_digest(out.digest))
    return invalid(where, "has a descriptor whose digest '" + out.digest +
                              "' is not sha256:<64 lowercase hex>");
  return out;
}

std::string platform_text(const json& entry) {
  auto platform = entry.find("platform");
  if (platform == entry.end() || !platform->is_object())
    return "(none)";
  auto text = text_of(*platform, "os") + "/" + text_of(*platform, "architecture");
  if (auto variant = text_of(*platform, "variant"); !variant.empty())
    text += "/" + variant;
  return text;
}

/// Skips spaces and tabs at `pos`.
void skip_space(const std::string& s, size_t& pos) {
  while (pos < s.size() && (s[pos] == ' ' || s[pos] == '\t'))
    ++pos;
}

std::string read_token(const std::string& s, size_t& pos) {
  auto start = pos;
  while (pos < s.size() && is_token_char(s[pos]))
    ++pos;
  return s.substr(start, pos - start);
}

/// A quoted-string (at the '"') or a bare token as a parameter's value.
std::string read_value(const std::string& s, size_t& pos) {
  if (pos >= s.size() || s[pos] != '"') {
    auto start = pos;
    while (pos < s.size() && s[pos] != ',' && s[pos] != ' ' && s[pos] != '\t')
      ++pos;
    return s.substr(start, pos - start);
  }
  std::string value;
  for (++pos; pos < s.size() && s[pos] != '"'; ++pos) {
    if (s[pos] == '\\' && pos + 1 < s.size())
      ++pos;
    value += s[pos];
  }
  if (pos < s.size())
    ++pos; // the closing quote
  return value;
}

/// The parameters of one challenge from `pos`; stops before the next scheme.
void read_params(const std::string& s, size_t& pos, auth_challenge& challenge) {
  for (;;) {
    skip_space(s, pos);
    auto before = pos;
    auto key = read_token(s, pos);
    skip_space(s, pos);
    if (key.empty() || pos >= s.size() || s[pos] != '=') {
      pos = before; // the next challenge's scheme, or garbage
      return;
    }
    ++pos;
    skip_space(s, pos);
    challenge.params[lower(key)] = read_value(s, pos);
    skip_space(s, pos);
    if (pos >= s.size() || s[pos] != ',')
      return;
    ++pos;
  }
}

} // namespace

bool is_index_media_type(const std::string& media_type) {
  return media_type == oci_index_media_type || media_type == docker_list_media_type;
}

bool is_manifest_media_type(const std::string& media_type) {
  return media_type == oci_manifest_media_type || media_type == docker_manifest_media_type;
}

bool is_sha256_digest(const std::string& digest) {
  constexpr std::string_view prefix = "sha256:";
  if (digest.size() != prefix.size() + 64 || digest.rfind(prefix, 0) != 0)
    return false;
  return std::all_of(digest.begin() + prefix.size(), digest.end(),
                     [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

caf::expected<image_reference> parse_reference(const std::string& name) {
  auto bad = [&](const std::string& why) {
    return make_error(error_code::invalid_argument,
                      "the image name '" + name + "' is not a valid reference: " + why);
  };
  image_reference out;
  out.name = full_image_name(name);
  auto slash = out.name.find('/');
  if (slash == std::string::npos)
    return bad("it names no repository");
  out.domain = out.name.substr(0, slash);
  auto rest = out.name.substr(slash + 1);
  if (auto at = rest.find('@'); at != std::string::npos) {
    out.digest = rest.substr(at + 1);
    rest.resize(at);
  }
  auto colon = rest.rfind(':');
  if (colon != std::string::npos && rest.find('/', colon) == std::string::npos) {
    out.tag = rest.substr(colon + 1);
    rest.resize(colon);
  }
  out.repository = rest;
  if (!valid_domain(out.domain))
    return bad("the registry '" + out.domain + "' is not a host name");
  if (!valid_repository(out.repository))
    return bad("the repository '" + out.repository +
               "' must be lowercase components of [a-z0-9._-] separated by '/'");
  if (!out.tag.empty() && !valid_tag(out.tag))
    return bad("the tag '" + out.tag + "' must be up to 128 of [A-Za-z0-9_.-]");
  if (!out.digest.empty() && !is_sha256_digest(out.digest))
    return bad("the digest '" + out.digest + "' is not sha256:<64 lowercase hex>");
  if (out.tag.empty() && out.digest.empty())
    return bad("it has neither a tag nor a digest");
  return out;
}

std::string registry_host(const std::string& domain) {
  if (domain == "docker.io" || domain == "index.docker.io")
    return "registry-1.docker.io";
  return domain;
}

bool is_plain_http_host(const std::string& host) {
  auto name = lower(strip_port(host));
  return name == "localhost" || name == "[::1]" || is_loopback_v4(name);
}

std::string registry_base_url(const std::string& host) {
  return (is_plain_http_host(host) ? "http://" : "https://") + host;
}

std::string url_origin(const std::string& url) {
  auto scheme_end = url.find("://");
  if (scheme_end == std::string::npos)
    return {};
  auto scheme = lower(url.substr(0, scheme_end));
  auto start = scheme_end + 3;
  auto authority = lower(url.substr(start, url.find_first_of("/?#", start) - start));
  if (auto at = authority.rfind('@'); at != std::string::npos)
    authority.erase(0, at + 1);
  auto host = strip_port(authority);
  auto port = authority.size() > host.size() + 1 ? authority.substr(host.size() + 1) : "";
  if (port.empty())
    port = scheme == "https" ? "443" : scheme == "http" ? "80" : "";
  return scheme + "://" + host + ":" + port;
}

std::vector<auth_challenge> parse_www_authenticate(const std::string& header) {
  std::vector<auth_challenge> out;
  size_t pos = 0;
  while (pos < header.size()) {
    while (pos < header.size() && (header[pos] == ' ' || header[pos] == '\t' || header[pos] == ','))
      ++pos;
    auto scheme = read_token(header, pos);
    if (scheme.empty())
      break;
    auth_challenge challenge{lower(scheme), {}};
    read_params(header, pos, challenge);
    out.push_back(std::move(challenge));
  }
  return out;
}

std::string token_url(const auth_challenge& challenge, const std::string& repository) {
  auto realm = challenge.params.find("realm");
  if (realm == challenge.params.end())
    return {};
  auto scheme = lower(realm->second.substr(0, realm->second.find("://")));
  if (realm->second.find("://") == std::string::npos || (scheme != "http" && scheme != "https"))
    return {};
  auto url = realm->second;
  char separator = url.find('?') == std::string::npos ? '?' : '&';
  if (auto service = challenge.params.find("service"); service != challenge.params.end()) {
    url += separator + std::string{"service="} + url_escape(service->second);
    separator = '&';
  }
  auto scope = challenge.params.find("scope");
  url += separator + std::string{"scope="} +
         url_escape(scope != challenge.params.end() ? scope->second
                                                    : "repository:" + repository + ":pull");
  return url;
}

caf::expected<bearer_token> parse_token_response(const std::string& body,
                                                 const std::string& where) {
  auto parsed = parse_object(body, where);
  if (!parsed)
    return std::move(parsed.error());
  bearer_token out;
  out.token = text_of(*parsed, "token");
  if (out.token.empty())
    out.token = text_of(*parsed, "access_token");
  if (out.token.empty())
    return invalid(where, "holds neither a token nor an access_token");
  auto expires = parsed->find("expires_in");
  if (expires != parsed->end() && expires->is_number_integer() && expires->get<int64_t>() > 0)
    out.expires_in = expires->get<int64_t>();
  return out;
}

std::string manifest_media_type(const std::string& content_type, const std::string& body) {
  auto type = lower(trim(content_type.substr(0, content_type.find(';'))));
  if (is_index_media_type(type) || is_manifest_media_type(type))
    return type;
  auto parsed = json::parse(body, nullptr, false);
  if (parsed.is_discarded() || !parsed.is_object())
    return {};
  auto own = text_of(parsed, "mediaType");
  if (is_index_media_type(own) || is_manifest_media_type(own))
    return own;
  if (!own.empty() || integer_of(parsed, "schemaVersion") != 2)
    return {}; // schema 1, or something else altogether
  if (parsed.contains("manifests"))
    return oci_index_media_type;
  if (parsed.contains("config"))
    return oci_manifest_media_type;
  return {};
}

caf::expected<descriptor> pick_linux_amd64(const std::string& index_json,
                                           const std::string& where) {
  auto index = parse_object(index_json, where);
  if (!index)
    return std::move(index.error());
  auto manifests = index->find("manifests");
  if (manifests == index->end() || !manifests->is_array())
    return invalid(where, "has no manifests list");
  std::string platforms;
  for (const auto& entry : *manifests) {
    if (!entry.is_object())
      return invalid(where, "has a manifests entry that is not an object");
    auto platform = platform_text(entry);
    if (platform == "(none)" || platform == "linux/amd64" || platform.rfind("linux/amd64/", 0) == 0)
      return parse_descriptor(entry, where);
    platforms += (platforms.empty() ? "" : ", ") + platform;
  }
  return invalid(where, "has no linux/amd64 manifest (it has: " +
                            (platforms.empty() ? std::string{"none"} : platforms) + ")");
}

caf::expected<manifest_parts> parse_manifest(const std::string& manifest_json,
                                             const std::string& where) {
  auto manifest = parse_object(manifest_json, where);
  if (!manifest)
    return std::move(manifest.error());
  if (integer_of(*manifest, "schemaVersion") != 2)
    return invalid(where, "is not a schema version 2 manifest");
  manifest_parts out;
  auto config = parse_descriptor(manifest->value("config", json{}), where);
  if (!config)
    return std::move(config.error());
  out.config = std::move(*config);
  auto layers = manifest->find("layers");
  if (layers == manifest->end() || !layers->is_array())
    return invalid(where, "has no layers list");
  for (const auto& layer : *layers) {
    auto d = parse_descriptor(layer, where);
    if (!d)
      return std::move(d.error());
    out.layers.push_back(std::move(*d));
  }
  return out;
}

std::string registry_error_text(const std::string& body) {
  auto parsed = json::parse(body, nullptr, false);
  auto errors = parsed.is_object() ? parsed.find("errors") : parsed.end();
  if (parsed.is_object() && errors != parsed.end() && errors->is_array() && !errors->empty()) {
    std::string text;
    for (const auto& e : *errors)
      if (e.is_object())
        text += (text.empty() ? "" : "; ") + text_of(e, "code") + ": " + text_of(e, "message");
    return text;
  }
  auto text = trim(body.substr(0, 200));
  std::replace_if(
      text.begin(), text.end(), [](char c) { return c == '\n' || c == '\r'; }, ' ');
  return text;
}

std::string registry_error_code(const std::string& body) {
  auto parsed = json::parse(body, nullptr, false);
  if (!parsed.is_object())
    return {};
  auto errors = parsed.find("errors");
  if (errors == parsed.end() || !errors->is_array() || errors->empty() ||
      !errors->front().is_object())
    return {};
  return text_of(errors->front(), "code");
}

} // namespace tutti::runtime_drivers::containerd
