#include "protocol/versions.hpp"

#include "protocol/errors.hpp"

#include <cstdio>
#include <cstdlib>
#include <optional>
#include <utility>

namespace tutti::protocol {

namespace {

/// MAJOR and MINOR of "MAJOR.MINOR[.PATCH...]"; nullopt when malformed.
std::optional<std::pair<long, long>> major_minor(const std::string& version) {
  long major = 0;
  long minor = 0;
  int used = 0;
  if (std::sscanf(version.c_str(), "%ld.%ld%n", &major, &minor, &used) != 2 || major < 0 ||
      minor < 0 || (version.size() > static_cast<size_t>(used) && version[used] != '.'))
    return std::nullopt;
  return std::make_pair(major, minor);
}

} // namespace

const char* tuttid_version() {
  return TUTTI_VERSION;
}

caf::error join_refusal(const std::string& control_version, const std::string& node_version,
                        const std::string& node) {
  auto ours = major_minor(control_version);
  auto theirs = major_minor(node_version);
  auto versions = "node " + node + " runs tuttid " + node_version + ", the control plane " +
                  control_version;
  if (!theirs)
    return make_error(error_code::invalid_argument,
                      versions + ", which is no version this control plane knows");
  if (ours && (ours->first != theirs->first || std::labs(ours->second - theirs->second) > 1))
    return make_error(error_code::invalid_argument,
                      versions +
                          ": nodes work with a control plane of the same major version at most "
                          "one minor release apart; upgrade the older one (docs/operations.md, "
                          "Restarts and upgrades)");
  // Before 1.0 a minor release may change what nodes and control plane exchange.
  if (ours && ours->first == 0 && ours->second != theirs->second)
    return make_error(error_code::invalid_argument,
                      versions +
                          ": before 1.0, nodes work with a control plane of the same minor "
                          "release only; upgrade the control plane and its nodes together "
                          "(docs/operations.md, Restarts and upgrades)");
  return {};
}

} // namespace tutti::protocol
