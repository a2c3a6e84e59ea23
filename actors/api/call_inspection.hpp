#pragma once

// Private to actors/api: what the API server reads of a call before and after
// it runs (Cap'n Proto readers of protocol/api.capnp): the texts a client
// sent, the service, namespaces and target a call names, and whether it sets
// quotas or roles, for authorization and the audit log.

#include "access/authorizer.hpp"
#include "protocol/api.capnp.h"

#include <capnp/any.h>

#include <string>
#include <utility>
#include <vector>

namespace tutti::actors {

/// A name or other text a client sent, with bytes that are not UTF-8 escaped:
/// it is only looked up and quoted, and a refusal that quotes it stays UTF-8.
/// (An apply's source is not passed through here: the spec parser checks it
/// and names the place of a bad byte.)
std::string text(capnp::Text::Reader r);

/// The bytes of a Text field as the client sent them.
std::string raw_text(capnp::Text::Reader r);

/// The service a call names in its `service` parameter ("" for none or a list).
std::string service_param(access::api_call call, capnp::AnyPointer::Reader params);

/// The service, node, token or file a mutating call names, for the audit log.
std::string audit_target(access::api_call call, capnp::AnyPointer::Reader params);

/// What authorization reads of a call beside its method.
struct call_facts {
  /// The namespaces of the services and objects it names: none for a list
  /// (the answer is filtered instead) or a cluster-wide call. An apply's are
  /// its documents' (none when they do not parse: then nothing is stored).
  std::vector<std::string> namespaces;
  /// An apply of `kind: Quota`, `Role` or `RoleBinding` documents: what only
  /// an admin of the whole cluster may set.
  bool sets_policy = false;
  /// The resources besides services an apply stores: "configs" and "secrets"
  /// for its `kind: Config` and `kind: Secret` documents.
  std::vector<std::string> objects;
};

/// The facts of a call; the namespaces only when `with_namespaces` (a
/// namespaced identity). An apply's source is parsed once at most, and not
/// at all for one of services only by an identity of the whole cluster.
call_facts facts_of(access::api_call call, capnp::AnyPointer::Reader params,
                    bool with_namespaces);

/// The result of a mutating call as its results say: "ok" or the error code,
/// and the error's message.
std::pair<std::string, std::string> audit_outcome(access::api_call call,
                                                  capnp::AnyPointer::Builder results);

} // namespace tutti::actors
