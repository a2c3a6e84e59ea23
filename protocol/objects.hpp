#pragma once

// Config and Secret objects: data a service's replicas get as files or
// variables (protocol::object_ref), versioned like specs. A Secret's data is
// sealed in the store (access/secret_box.hpp) and is never part of a spec,
// an event, an error or an answer of the client API.

#include "protocol/access.hpp"

#include <caf/error.hpp>
#include <caf/meta/load_callback.hpp>
#include <caf/meta/omittable.hpp>
#include <caf/meta/type_name.hpp>
#include <caf/none.hpp>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace tutti::protocol {

/// Largest data of one version of a Config or Secret (a file, not a disk).
inline constexpr size_t max_object_bytes = 512 * 1024;

/// Versions kept per object; older ones are removed when a new one is stored.
inline constexpr int64_t kept_object_versions = 10;

/// Config and Secret documents one apply may hold.
inline constexpr size_t max_objects_per_apply = 64;

/// A `kind: Config` or `kind: Secret` document, or `tutti config|secret create`.
struct object_spec {
  object_kind kind = object_kind::config; // config or secret
  std::string name;                       // qualified by its namespace
  std::string data;
  friend bool operator==(const object_spec&, const object_spec&) = default;
};

/// One version of an object as the store keeps it (access/records.hpp
/// encodes it): `data` is a secret's sealed data, never its own.
struct object_record {
  object_kind kind = object_kind::config;
  std::string name; // qualified
  int64_t version = 0;
  int64_t created_ms = 0;
  int64_t size = 0;   // of the data itself
  std::string sha256; // of a config's data; empty for a secret
  std::string data;   // a config's data, or a secret's as sealed
  friend bool operator==(const object_record&, const object_record&) = default;
};

/// The store's name of one version: the qualified name, '@' and the version
/// in 12 digits (so a name's versions sort in order).
std::string object_version_key(const std::string& name, int64_t version);

/// One version of an object as `tutti config|secret ls` shows it: never a
/// secret's data.
struct object_info {
  object_kind kind = object_kind::config;
  std::string name; // qualified
  int64_t version = 0;
  int64_t created_ms = 0;
  int64_t size = 0;
  std::string sha256;               // of the data; empty for a secret
  std::string data;                 // a config's, when asked for; never a secret's
  std::vector<std::string> used_by; // services whose current spec refers to this version
  friend bool operator==(const object_info&, const object_info&) = default;
};

/// The data of one object version, as a node gets it for the replicas that
/// need it (inside the cluster's TLS channel only).
struct object_payload {
  object_kind kind = object_kind::config;
  std::string name; // unqualified, as the spec's reference names it
  int64_t version = 0;
  std::string data;
  friend bool operator==(const object_payload&, const object_payload&) = default;
};

/// The data travels, and never shows in CAF's renderings of a message (a log,
/// an unexpected message printed).
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, object_payload& x) {
  return f(caf::meta::type_name("object_payload"), x.kind, x.name, x.version,
           caf::meta::omittable(), x.data);
}

/// The payloads of one revision, shared by the run requests of all its
/// replicas (a 100 KiB config sent to 1,000 replicas is held once).
class shared_payloads {
public:
  shared_payloads() : ptr_(empty()) {}
  shared_payloads(std::vector<object_payload> x)
    : ptr_(std::make_shared<const std::vector<object_payload>>(std::move(x))) {}

  const std::vector<object_payload>& operator*() const { return *ptr_; }
  const std::vector<object_payload>* operator->() const { return ptr_.get(); }

  friend bool operator==(const shared_payloads& x, const shared_payloads& y) {
    return x.ptr_ == y.ptr_ || *x.ptr_ == *y.ptr_;
  }

private:
  static const std::shared_ptr<const std::vector<object_payload>>& empty() {
    static const auto x = std::make_shared<const std::vector<object_payload>>();
    return x;
  }

  std::shared_ptr<const std::vector<object_payload>> ptr_;
};

/// On the wire, the payloads themselves; what is read is shared from then on.
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, shared_payloads& x) {
  auto copy = *x;
  auto share = caf::meta::load_callback([&]() -> caf::error {
    x = shared_payloads{std::move(copy)};
    return caf::none;
  });
  return f(copy, share);
}

template <class Inspector> typename Inspector::result_type inspect(Inspector& f, object_info& x) {
  return f(caf::meta::type_name("object_info"), x.kind, x.name, x.version, x.created_ms, x.size,
           x.sha256, x.data, x.used_by);
}

/// The variable that gives a process the file of its config or secret `name`:
/// TUTTI_CONFIG_ or TUTTI_SECRET_ and the name upper-cased, '-' and '.' as '_'.
std::string object_env_name(object_kind kind, const std::string& name);

/// Where a container sees the file of a reference without a path:
/// /run/configs/NAME or /run/secrets/NAME.
std::string default_object_path(object_kind kind, const std::string& name);

} // namespace tutti::protocol
