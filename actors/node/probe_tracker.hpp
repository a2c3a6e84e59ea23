#pragma once

// Counts one probe's consecutive results against its thresholds. Pure: the
// replica actor feeds it and acts on the changes.

#include "protocol/spec.hpp"

#include <cstdint>

namespace tutti::actors {

class probe_tracker {
public:
  enum class change { none, passed, failed };

  /// Records one result. A failure during the start period is not counted.
  /// passed: success_threshold successes in a row after not passing; failed:
  /// failure_threshold failures in a row (reported once until it passes again).
  change record(const protocol::probe_spec& spec, bool healthy, bool in_start_period);

  bool passing() const { return passing_; }
  bool failed() const { return failed_; }
  int32_t failures() const { return failures_; }

private:
  int32_t successes_ = 0;
  int32_t failures_ = 0;
  bool passing_ = false;
  bool failed_ = false;
};

} // namespace tutti::actors
