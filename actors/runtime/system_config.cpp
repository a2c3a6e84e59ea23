#include "actors/runtime/system_config.hpp"

#include "actors/interfaces.hpp"
#include "actors/runtime/coordinator.hpp"
#include "protocol/errors.hpp"
#include "protocol/type_ids.hpp"

#include <caf/all.hpp>
#include <caf/io/middleman.hpp>
#include <caf/openssl/manager.hpp>

#include <malloc.h>

#include <algorithm>
#include <thread>

namespace tutti::actors {

namespace p = tutti::protocol;

namespace {

/// glibc's allocator, tuned once per process for an actor system that holds
/// gigabytes in many small objects: heaps grow (and give back) in 64 MB steps,
/// not 128 KB ones. With the defaults a million simulated replicas cost ~4% of
/// all CPU in mprotect, growing the worker threads' arenas page by page.
void tune_allocator() {
  static const bool once = [] {
    ::mallopt(M_TOP_PAD, 64 << 20);
    ::mallopt(M_TRIM_THRESHOLD, 256 << 20);
    return true;
  }();
  (void)once;
}

} // namespace

system_config::system_config(bool sharing) {
  tune_allocator();
  add_message_types<caf::id_block::tutti>();
  // Handles that travel between node agents and the control plane.
  add_message_type<node_actor>("tutti::node_actor");
  add_message_type<service_actor>("tutti::service_actor");
  add_message_type<std::vector<node_actor>>("std::vector<tutti::node_actor>");
  add_message_type<router_actor>("tutti::router_actor");
  add_error_category(p::error_category, [](uint8_t code, caf::atom_value, const caf::message& ctx) {
    auto text =
        ctx.match_elements<std::string>() ? ctx.get_as<std::string>(0) : caf::to_string(ctx);
    return p::to_string(static_cast<p::error_code>(code)) + ": " + text;
  });
  // Sharing wakes idle workers faster than work stealing: the KJ -> CAF -> KJ
  // hop drops from ~105 to ~30 microseconds. CAF's own sharing
  // policy with a short spin before a worker sleeps, and a clock that does not
  // hear of every actor's end (coordinator.hpp).
  if (sharing)
    load<coordinator>();
  // One worker per core: CAF's default of at least 4 put twice as many workers
  // as cores on a 2-core host, contending for the sharing scheduler's one queue
  // (or, stealing, spinning) against the store's thread.
  set("scheduler.max-threads",
      static_cast<size_t>(std::max(1u, std::thread::hardware_concurrency())));
}

void system_config::enable_network(caf::timespan heartbeat, caf::timespan loss_timeout) {
  load<caf::io::middleman>();
  set("middleman.heartbeat-interval", heartbeat);
  set("middleman.connection-timeout", loss_timeout);
}

void system_config::enable_tls(const std::string& certificate, const std::string& key,
                               const std::string& ca) {
  load<caf::openssl::manager>();
  openssl_certificate = certificate;
  openssl_key = key;
  openssl_cafile = ca;
}

} // namespace tutti::actors
