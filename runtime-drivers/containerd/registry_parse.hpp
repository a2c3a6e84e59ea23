#pragma once

// The pure parts of the registry client (registry_client.hpp), apart so they
// can be tested without a registry: image references, which host and scheme a
// registry is reached at, WWW-Authenticate challenges, and the JSON of
// manifests and indexes. Internal to runtime-drivers.

#include "runtime-drivers/containerd/image_archive.hpp"

#include <caf/expected.hpp>

#include <map>
#include <string>
#include <vector>

namespace tutti::runtime_drivers::containerd {

inline constexpr const char* oci_index_media_type = "application/vnd.oci.image.index.v1+json";
inline constexpr const char* oci_manifest_media_type = "application/vnd.oci.image.manifest.v1+json";
inline constexpr const char* docker_list_media_type =
    "application/vnd.docker.distribution.manifest.list.v2+json";
inline constexpr const char* docker_manifest_media_type =
    "application/vnd.docker.distribution.manifest.v2+json";

bool is_index_media_type(const std::string& media_type);
bool is_manifest_media_type(const std::string& media_type);

/// "sha256:" and 64 lowercase hex digits: the only digests we fetch (anything
/// else would be pasted into a URL unchecked).
bool is_sha256_digest(const std::string& digest);

/// A reference split into what the distribution API asks for.
struct image_reference {
  std::string name;       // the full name, as given to parse_reference
  std::string domain;     // "docker.io", "127.0.0.1:5000", as the name has it
  std::string repository; // "library/busybox"
  std::string tag;        // "1.36"; may be empty when a digest is given
  std::string digest;     // "sha256:..." or empty

  /// What /v2/<repository>/manifests/ is asked for: the digest when there is one.
  const std::string& manifest_reference() const { return digest.empty() ? tag : digest; }
};

/// Parses `name` made full with full_image_name() ("busybox" ->
/// docker.io/library/busybox:latest): DOMAIN/REPOSITORY[:TAG][@sha256:HEX].
/// invalid_argument naming it when a part has characters the distribution
/// spec does not allow (lowercase repository components of [a-z0-9._-], tags
/// of [A-Za-z0-9_.-] up to 128) or a digest is not sha256.
caf::expected<image_reference> parse_reference(const std::string& name);

/// The host a domain's registry answers at: "docker.io" (and
/// "index.docker.io") -> "registry-1.docker.io"; any other unchanged.
std::string registry_host(const std::string& domain);

/// True for hosts reached over plain HTTP, as containerd and Docker allow by
/// default: localhost, 127.x.x.x and [::1], with or without a port.
bool is_plain_http_host(const std::string& host);

/// "https://HOST" or, for a plain HTTP host, "http://HOST".
std::string registry_base_url(const std::string& host);

/// "scheme://host:port" of a URL, lowercase, with the scheme's default port
/// made explicit and any user info dropped: two URLs with the same origin
/// reach the same server (the bearer token goes to the registry's origin only).
std::string url_origin(const std::string& url);

/// One challenge of a WWW-Authenticate header.
struct auth_challenge {
  std::string scheme;                        // lowercase: "bearer", "basic"
  std::map<std::string, std::string> params; // keys lowercase: realm, service, scope
};

/// The challenges of a WWW-Authenticate value (RFC 7235: `Scheme k=v, k="v"`,
/// several challenges separated by commas). Unparsable trailing text is
/// dropped; an empty vector when nothing parses.
std::vector<auth_challenge> parse_www_authenticate(const std::string& header);

/// The anonymous token request for a Bearer challenge:
/// REALM?service=SERVICE&scope=SCOPE (parameters URL-encoded; a missing scope
/// becomes repository:REPOSITORY:pull). Empty when the challenge has no realm
/// or the realm is not an http(s) URL.
std::string token_url(const auth_challenge& challenge, const std::string& repository);

/// A token response: "token" or "access_token", and "expires_in" seconds.
struct bearer_token {
  std::string token;
  int64_t expires_in = 60; // the spec's default when the registry names none
};

/// invalid_argument (with `where` in its message) when `body` is not JSON
/// holding a token.
caf::expected<bearer_token> parse_token_response(const std::string& body, const std::string& where);

/// The media type of manifest bytes served with Content-Type `content_type`:
/// the content type without parameters when it is a manifest or index type,
/// else the JSON's own mediaType, else guessed from its shape ("manifests" ->
/// OCI index, "config" -> OCI manifest); empty when none fits.
std::string manifest_media_type(const std::string& content_type, const std::string& body);

/// The linux/amd64 entry of an index (an entry without a platform counts).
/// invalid_argument mentioning `where` when the JSON is not an index or has no
/// such entry (the message lists the platforms it has).
caf::expected<descriptor> pick_linux_amd64(const std::string& index_json, const std::string& where);

/// The config and layers (bottom first) of a manifest; invalid_argument
/// mentioning `where` when the JSON is not of that shape.
struct manifest_parts {
  descriptor config;
  std::vector<descriptor> layers;
};
caf::expected<manifest_parts> parse_manifest(const std::string& manifest_json,
                                             const std::string& where);

/// The "errors" of a distribution API error body as "CODE: message; ..." (or
/// the start of the body when it is not such JSON); empty for an empty body.
std::string registry_error_text(const std::string& body);

/// The first error code of a distribution API error body ("MANIFEST_UNKNOWN",
/// "NAME_UNKNOWN", ...), or empty.
std::string registry_error_code(const std::string& body);

} // namespace tutti::runtime_drivers::containerd
