#include "actors/node/probe_tracker.hpp"

namespace tutti::actors {

probe_tracker::change probe_tracker::record(const protocol::probe_spec& spec, bool healthy,
                                            bool in_start_period) {
  if (healthy) {
    failures_ = 0;
    ++successes_;
    failed_ = false;
    if (!passing_ && successes_ >= spec.success_threshold) {
      passing_ = true;
      return change::passed;
    }
    return change::none;
  }
  successes_ = 0;
  if (in_start_period)
    return change::none;
  ++failures_;
  if (failures_ < spec.failure_threshold || failed_)
    return change::none;
  failed_ = true;
  passing_ = false;
  return change::failed;
}

} // namespace tutti::actors
