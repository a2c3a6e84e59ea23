// The conversions of what replicas get besides their spec (volumes, configs
// and secrets): beside capnp_convert.cpp, which holds the rest.

#include "protocol/capnp_convert.hpp"

namespace tutti::protocol {

void to_capnp(rpc::VolumeInfo::Builder b, const volume_info& x) {
  b.setNode(utf8_text(x.node));
  b.setReplica(utf8_text(x.replica));
  b.setVolume(utf8_text(x.volume));
  b.setInUse(x.in_use);
}

volume_info from_capnp(rpc::VolumeInfo::Reader r) {
  auto text = [](capnp::Text::Reader t) { return std::string{t.cStr(), t.size()}; };
  return {text(r.getNode()), text(r.getReplica()), text(r.getVolume()), r.getInUse()};
}

void to_capnp(rpc::ObjectInfo::Builder b, const object_info& x) {
  b.setName(utf8_text(x.name));
  b.setVersion(x.version);
  b.setCreatedMs(x.created_ms);
  b.setSize(x.size);
  b.setSha256(utf8_text(x.sha256));
  if (x.kind == object_kind::config) // never a secret's, whatever the caller filled in
    b.setData(capnp::Data::Reader{reinterpret_cast<const kj::byte*>(x.data.data()), x.data.size()});
  auto users = b.initUsedBy(static_cast<unsigned>(x.used_by.size()));
  for (size_t i = 0; i < x.used_by.size(); ++i)
    users.set(static_cast<unsigned>(i), utf8_text(x.used_by[i]));
}

object_info from_capnp(rpc::ObjectInfo::Reader r, object_kind kind) {
  auto text = [](capnp::Text::Reader t) { return std::string{t.cStr(), t.size()}; };
  object_info x;
  x.kind = kind;
  x.name = text(r.getName());
  x.version = r.getVersion();
  x.created_ms = r.getCreatedMs();
  x.size = r.getSize();
  x.sha256 = text(r.getSha256());
  auto data = r.getData();
  x.data.assign(reinterpret_cast<const char*>(data.begin()), data.size());
  for (auto u : r.getUsedBy())
    x.used_by.push_back(text(u));
  return x;
}

} // namespace tutti::protocol
