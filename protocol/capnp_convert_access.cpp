// The conversions of who may use the API (identities, tokens, the audit log):
// beside capnp_convert.cpp, which holds the rest.

#include "protocol/capnp_convert.hpp"

#include "protocol/capnp_convert_detail.hpp"

namespace tutti::protocol {

using namespace convert_detail;

void to_capnp(rpc::Identity::Builder b, const identity& x) {
  b.setName(utf8_text(x.name));
  auto groups = b.initGroups(x.groups.size());
  for (unsigned i = 0; i < x.groups.size(); ++i)
    groups.set(i, utf8_text(x.groups[i]));
  b.setRole(to_capnp(x.role));
  b.setVia(to_capnp(x.via));
  b.setExpiresMs(x.expires_ms);
  auto namespaces = b.initNamespaces(x.namespaces.size());
  for (unsigned i = 0; i < x.namespaces.size(); ++i)
    namespaces.set(i, utf8_text(x.namespaces[i]));
}

identity from_capnp(rpc::Identity::Reader r) {
  identity out;
  out.name = text(r.getName());
  for (auto g : r.getGroups())
    out.groups.push_back(text(g));
  out.role = known(r.getRole(), "role");
  out.via = known(r.getVia(), "credential kind");
  out.expires_ms = r.getExpiresMs();
  for (auto n : r.getNamespaces())
    out.namespaces.push_back(text(n));
  return out;
}

void to_capnp(rpc::TokenInfo::Builder b, const token_record& x) {
  b.setName(utf8_text(x.name));
  b.setRole(to_capnp(x.role));
  b.setCreatedMs(x.created_ms);
  b.setExpiresMs(x.expires_ms);
  b.setCreatedBy(utf8_text(x.created_by));
  b.setNamespace(utf8_text(x.name_space));
}

token_record from_capnp(rpc::TokenInfo::Reader r) {
  token_record out;
  out.name = text(r.getName());
  out.role = known(r.getRole(), "role");
  out.created_ms = r.getCreatedMs();
  out.expires_ms = r.getExpiresMs();
  out.created_by = text(r.getCreatedBy());
  out.name_space = text(r.getNamespace());
  return out;
}

void to_capnp(rpc::AuditRecord::Builder b, const audit_record& x) {
  b.setId(utf8_text(x.id));
  b.setTimeMs(x.time_ms);
  b.setWho(utf8_text(x.who));
  b.setFrom(utf8_text(x.from));
  b.setCall(utf8_text(x.call));
  b.setTarget(utf8_text(x.target));
  b.setResult(utf8_text(x.result));
  b.setMessage(utf8_text(x.message));
}

audit_record from_capnp(rpc::AuditRecord::Reader r) {
  return {text(r.getId()),   r.getTimeMs(),        text(r.getWho()),    text(r.getFrom()),
          text(r.getCall()), text(r.getTarget()), text(r.getResult()), text(r.getMessage())};
}

} // namespace tutti::protocol
