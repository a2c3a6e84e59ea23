#include "actors/packed_status.hpp"

#include <array>
#include <utility>

namespace tutti::actors {

namespace {

void put_length(std::string& out, size_t n) {
  while (n >= 0x80) {
    out += static_cast<char>((n & 0x7F) | 0x80);
    n >>= 7;
  }
  out += static_cast<char>(n);
}

size_t get_length(std::string_view in, size_t& at) {
  size_t n = 0;
  for (int shift = 0; at < in.size(); shift += 7) {
    auto byte = static_cast<unsigned char>(in[at++]);
    n |= static_cast<size_t>(byte & 0x7F) << shift;
    if ((byte & 0x80) == 0)
      break;
  }
  return n;
}

template <size_t N> std::string pack(const std::array<std::string_view, N>& xs) {
  size_t size = 0;
  for (auto x : xs)
    size += x.size() + 1;
  std::string out;
  out.reserve(size);
  for (auto x : xs) {
    put_length(out, x.size());
    out += x;
  }
  return out;
}

} // namespace

packed_status::packed_status(const p::replica_status& x)
  : state(x.state), ready(x.ready), unhealthy(x.unhealthy), slot(x.slot), restarts(x.restarts),
    exit_code(x.exit_code), pid(x.pid), revision(x.revision), since_ms(x.since_ms), ports(x.ports) {
  packed_ = pack(std::array<std::string_view, static_cast<size_t>(field::count)>{
      x.id, x.service, x.node, x.runtime_id, x.message, x.address, x.health, x.log_tail,
      x.template_hash});
}

std::string_view packed_status::text(field f) const {
  if (packed_.empty())
    return {};
  size_t at = 0;
  for (size_t i = 0;; ++i) {
    auto n = get_length(packed_, at);
    if (i == static_cast<size_t>(f))
      return std::string_view{packed_}.substr(at, n);
    at += n;
  }
}

p::replica_status packed_status::unpack() const {
  p::replica_status x;
  x.id = id();
  x.service = text(field::service);
  x.slot = slot;
  x.node = node();
  x.state = state;
  x.pid = pid;
  x.runtime_id = text(field::runtime_id);
  x.restarts = restarts;
  x.revision = revision;
  x.exit_code = exit_code;
  x.message = message();
  x.since_ms = since_ms;
  x.ports = ports;
  x.address = address();
  x.ready = ready;
  x.unhealthy = unhealthy;
  x.health = health();
  x.log_tail = text(field::log_tail);
  x.template_hash = text(field::template_hash);
  return x;
}

void packed_status::set(field f, std::string_view x) {
  if (text(f) == x)
    return;
  // The views point into the old buffer, which lives until the new one is built.
  std::array<std::string_view, static_cast<size_t>(field::count)> views;
  for (size_t i = 0; i < views.size(); ++i)
    views[i] = text(static_cast<field>(i));
  views[static_cast<size_t>(f)] = x;
  packed_ = pack(views);
}

} // namespace tutti::actors
