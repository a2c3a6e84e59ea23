// The conversions of what nodes keep on disk for replicas (volumes): beside
// capnp_convert.cpp, which holds the rest.

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

} // namespace tutti::protocol
