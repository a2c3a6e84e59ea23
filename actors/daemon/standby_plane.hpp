#pragma once

// What a standby control process serves (ha_control.hpp): the client API on
// its --api address, answered by the standby actor (standby_actor.hpp) and the
// reporter of `tutti get controllers`. It accepts no node: nodes join the
// leader. Started when the process stands by, stopped before it leads, so the
// leader's control plane can bind the same address.

#include "actors/daemon/standby_actor.hpp"

#include <caf/expected.hpp>

#include <memory>

namespace tutti::metrics {
class recorder;
}

namespace tutti::actors {

class standby_plane {
public:
  /// Serves the API; fails naming the address when it cannot bind it.
  static caf::expected<std::unique_ptr<standby_plane>> start(standby_context ctx,
                                                             metrics::recorder& metrics);
  ~standby_plane(); // stops the API and the actors
  standby_plane(const standby_plane&) = delete;
  standby_plane& operator=(const standby_plane&) = delete;

  uint16_t api_port() const;

private:
  struct impl;
  explicit standby_plane(std::unique_ptr<impl> x);
  std::unique_ptr<impl> impl_;
};

} // namespace tutti::actors
