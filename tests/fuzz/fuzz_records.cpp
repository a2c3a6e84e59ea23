// Stored record decoding on arbitrary bytes: a damaged LMDB value must decode to
// an error, never crash the store actor (no exception may escape, no UB). What
// decodes must encode and decode again to the same value, so a record rewritten
// by a later version says what the damaged one was read as.

#include "access/records.hpp"
#include "persistence/records.hpp"
#include "tests/fuzz/fuzz_support.hpp"

using tutti::fuzz::check;

namespace {

namespace detail = tutti::persistence::detail;

void spec_value(std::string_view bytes) {
  tutti::persistence::stored_spec x;
  if (detail::decode_spec_value(bytes, x))
    return; // an error: refused
  tutti::persistence::stored_spec again;
  check(!detail::decode_spec_value(detail::encode_spec_value(x), again), "a spec re-encodes");
  check(again.yaml == x.yaml && again.time_ms == x.time_ms, "a spec reads back");
}

void assignment(std::string_view bytes) {
  auto x = detail::decode_assignment(bytes);
  if (!x)
    return;
  auto again = detail::decode_assignment(detail::encode_assignment(*x));
  check(static_cast<bool>(again), "an assignment re-encodes");
  check(*again == *x, "an assignment reads back");
}

void node(std::string_view bytes) {
  auto x = detail::decode_node(bytes);
  if (!x)
    return;
  auto again = detail::decode_node(detail::encode_node(*x));
  check(static_cast<bool>(again), "a node re-encodes");
  // The fields a node record holds (the others are not stored).
  check(again->name == x->name && again->address == x->address && again->state == x->state &&
            again->capacity == x->capacity && again->allocated == x->allocated &&
            again->replicas == x->replicas && again->labels == x->labels &&
            again->drivers == x->drivers,
        "a node reads back");
}

void event(std::string_view bytes) {
  auto x = detail::decode_event(bytes);
  if (!x)
    return;
  auto again = detail::decode_event(detail::encode_event(*x));
  check(static_cast<bool>(again), "an event re-encodes");
  check(*again == *x, "an event reads back");
}

void object(std::string_view bytes) {
  for (auto kind : {tutti::protocol::object_kind::config, tutti::protocol::object_kind::secret}) {
    auto x = tutti::access::decode_object(kind, bytes);
    if (!x)
      continue;
    auto again = tutti::access::decode_object(kind, tutti::access::encode(*x));
    check(static_cast<bool>(again), "a config or secret version re-encodes");
    check(*again == *x, "a config or secret version reads back");
  }
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // One value, read as every kind of record: a damaged store can put any bytes
  // under any key.
  std::string_view bytes{reinterpret_cast<const char*>(data), size};
  spec_value(bytes);
  assignment(bytes);
  node(bytes);
  event(bytes);
  object(bytes);
  return 0;
}
