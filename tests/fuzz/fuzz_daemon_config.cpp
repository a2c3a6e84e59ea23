// tuttid's config parser on arbitrary bytes: never a crash, hang or throw; errors
// in valid UTF-8; and an accepted config keeps the limits the parser enforces.

#include "config/daemon_config.hpp"
#include "protocol/utf8.hpp"
#include "tests/fuzz/fuzz_support.hpp"

using tutti::fuzz::check;

namespace {

// Not UTF-8 on purpose: the file name is quoted in every error too.
const std::string file_name = "tuttid\xff.yaml";

void check_endpoint(const tutti::config::endpoint& x) {
  auto again = tutti::config::parse_endpoint(x.to_string());
  check(again.has_value(), "an accepted endpoint's text parses");
  check(again->host == x.host && again->port == x.port, "an endpoint's text reads back");
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace tutti::config;
  using tutti::protocol::valid_utf8;
  auto result = parse_daemon_config(tutti::fuzz::text_of(data, size), file_name);
  for (const auto& e : result.errors) {
    check(valid_utf8(e.file), "error file is valid UTF-8");
    check(valid_utf8(e.field), "error field is valid UTF-8");
    check(valid_utf8(e.message), "error message is valid UTF-8");
  }
  if (!result.ok())
    return 0;
  const auto& c = result.config;
  check(c.node.port_range_first >= 1024, "the port range starts at 1024 or above");
  check(c.node.port_range_first <= c.node.port_range_last, "the port range is not empty");
  check(c.store.map_size >= (uint64_t{1} << 20), "the store map is at least 1 MiB");
  check(c.node.capacity.cpu >= 0 && c.node.capacity.memory >= 0, "capacity is not negative");
  check(c.supervision.window.count() > 0, "the supervision window is positive");
  check(c.mesh.connect_timeout.count() > 0 && c.mesh.idle_timeout.count() > 0,
        "mesh timeouts are positive");
  check(c.cluster.heartbeat_interval.count() > 0, "the heartbeat interval is positive");
  check(missing_tls_fields(c.cluster.tls).empty(), "TLS is off or complete");
  check(c.docker.socket.size() <= 107, "the docker socket path fits a sockaddr_un");
  check_endpoint(c.api);
  check_endpoint(c.metrics);
  check_endpoint(c.cluster.listen);
  for (const auto& ep : c.cluster.join)
    check_endpoint(ep);
  check(!c.cluster.join.empty(), "a node has a control plane to join");
  for (const auto& ep : c.store.etcd.endpoints)
    check_endpoint(ep);
  check(parse_endpoint(c.node.address + ":0").has_value(), "the node address is an address");
  check(parse_endpoint(c.mesh.host + ":0").has_value(), "the mesh host is an address");
  return 0;
}
