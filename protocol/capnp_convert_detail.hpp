#pragma once

// Private to protocol/: the helpers the capnp_convert*.cpp files share.

#include "protocol/capnp_convert.hpp"

#include <kj/exception.h>

#include <string>
#include <vector>

namespace tutti::protocol::convert_detail {

inline std::string text(capnp::Text::Reader r) {
  return {r.cStr(), r.size()};
}

/// The enum value of `x`, or a kj::Exception that says which field a newer
/// peer filled with an enumerant this build does not know.
template <class Wire> auto known(Wire x, const char* field) {
  auto value = from_capnp(x);
  if (!value)
    kj::throwFatalException(kj::Exception(
        kj::Exception::Type::FAILED, __FILE__, __LINE__,
        kj::str("the peer sent ", field, " ", static_cast<uint16_t>(x),
                ", which this build does not know; tutti and tuttid must be of the same version")));
  return *value;
}

template <class Builder, class Values> void fill_list(Builder list, const Values& xs) {
  for (unsigned i = 0; i < xs.size(); ++i)
    to_capnp(list[i], xs[i]);
}

template <class Value, class Reader> std::vector<Value> read_list(Reader list) {
  std::vector<Value> out;
  out.reserve(list.size());
  for (auto r : list)
    out.push_back(from_capnp(r));
  return out;
}

} // namespace tutti::protocol::convert_detail
