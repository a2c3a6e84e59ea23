#include "actors/node/packed_status.hpp"

#include "protocol/packed_strings.hpp"

#include <array>
#include <utility>

namespace tutti::actors {

namespace {

constexpr auto field_count = 9; // packed_status::field::count

using views = std::array<std::string_view, field_count>;

std::string pack(const views& xs) {
  size_t size = 0;
  for (auto x : xs)
    size += p::packed_size(x);
  std::string out;
  out.reserve(size);
  for (auto x : xs)
    p::put_packed(out, x);
  return out;
}

/// Every field of a packed buffer, in one pass.
views unpack_all(std::string_view in) {
  views out;
  if (!in.empty())
    for (auto& x : out)
      x = p::take_packed(in);
  return out;
}

} // namespace

packed_status::packed_status(const p::replica_status& x)
  : state(x.state), ready(x.ready), unhealthy(x.unhealthy), slot(x.slot), restarts(x.restarts),
    exit_code(x.exit_code), pid(x.pid), revision(x.revision), since_ms(x.since_ms), ports(x.ports) {
  static_assert(static_cast<size_t>(field::count) == field_count);
  packed_ = pack({x.id, x.service, x.node, x.runtime_id, x.message, x.address, x.health, x.log_tail,
                  x.template_hash});
}

std::string_view packed_status::text(field f) const {
  std::string_view in = packed_;
  std::string_view x;
  if (!in.empty())
    for (size_t i = 0; i <= static_cast<size_t>(f); ++i)
      x = p::take_packed(in);
  return x;
}

p::replica_status packed_status::unpack() const {
  auto xs = unpack_all(packed_);
  auto at = [&xs](field f) { return std::string{xs[static_cast<size_t>(f)]}; };
  p::replica_status x;
  x.id = at(field::id);
  x.service = at(field::service);
  x.slot = slot;
  x.node = at(field::node);
  x.state = state;
  x.pid = pid;
  x.runtime_id = at(field::runtime_id);
  x.restarts = restarts;
  x.revision = revision;
  x.exit_code = exit_code;
  x.message = at(field::message);
  x.since_ms = since_ms;
  x.ports = ports;
  x.address = at(field::address);
  x.ready = ready;
  x.unhealthy = unhealthy;
  x.health = at(field::health);
  x.log_tail = at(field::log_tail);
  x.template_hash = at(field::template_hash);
  return x;
}

void packed_status::set(field f, std::string_view x) {
  // The views point into the old buffer, which lives until the new one is built.
  auto xs = unpack_all(packed_);
  if (xs[static_cast<size_t>(f)] == x)
    return;
  xs[static_cast<size_t>(f)] = x;
  packed_ = pack(xs);
}

} // namespace tutti::actors
