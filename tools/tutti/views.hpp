#pragma once

// How tutti's resources look on the terminal and in -o json|yaml. JSON keys are the
// snake_case member names of the protocol structs, so scripts can rely on them.

#include "protocol/messages.hpp"
#include "protocol/status.hpp"
#include "tools/tutti/output.hpp"

#include <nlohmann/json.hpp>

#include <optional>
#include <string>
#include <vector>

namespace tutti::cli {

json_value json_of(const protocol::service_status& x);
json_value json_of(const protocol::replica_status& x);
json_value json_of(const protocol::node_status& x);
json_value json_of(const protocol::event& x);
json_value json_of(const protocol::service_detail& x);
json_value json_of(const protocol::service_endpoints& x);
json_value json_of(const protocol::rollout_status& x);
json_value json_of(const protocol::spec_record& x);
json_value json_of(const protocol::actor_info& x);
json_value json_of(const protocol::controllers_report& x);

template <class T> json_value json_of(const std::vector<T>& xs) {
  auto out = json_value::array();
  for (const auto& x : xs)
    out.push_back(json_of(x));
  return out;
}

/// `value` as text in `format`; json and yaml end with '\n'. `table` is what to use
/// for output_format::table.
std::string render_as(output_format format, const json_value& value, const std::string& table);

std::string services_table(const std::vector<protocol::service_status>& xs, int64_t now_ms);
std::string replicas_table(const std::vector<protocol::replica_status>& xs, int64_t now_ms);
std::string nodes_table(const std::vector<protocol::node_status>& xs);
/// One row per endpoint (a service without any gets one row of dashes).
std::string endpoints_table(const std::vector<protocol::service_endpoints>& xs);

/// `revision 4 progressing: 2/3 updated, 2 ready, 3 available, 1 old; MESSAGE`
std::string rollout_line(const protocol::rollout_status& x);

/// PATH KIND STATE ID RESTARTS LAST-EXIT per actor, in the given (path) order.
std::string tree_table(const std::vector<protocol::actor_info>& xs);
/// The control processes (leader first) and, below, the store's endpoints.
std::string controllers_text(const protocol::controllers_report& x, int64_t now_ms);

/// REVISION CREATED SUMMARY (image or command, replicas) per kept revision.
std::string history_table(const std::vector<protocol::spec_record>& xs, int64_t now_ms);

/// The human-readable page of `tutti describe service`.
std::string describe_text(const protocol::service_detail& x, int64_t now_ms);

/// What identifies a replica's process: the pid for the process driver, the
/// container id cut to 12 characters for docker/containerd, "-" when not running.
/// Without the driver (`get replicas` lists several services) it is guessed from
/// the runtime id, which the process driver fills with the pid.
std::string pid_or_container(const protocol::replica_status& x,
                             std::optional<protocol::driver_kind> driver);

/// `http:31000,admin:31001`, or "-".
std::string ports_text(const std::vector<protocol::port_binding>& ports);

/// `service/web created (revision 3)`, `service/web would be updated`, ...; for a
/// dry run the diff follows, indented.
std::string change_text(const protocol::service_change& x, bool dry_run);

/// Events as they arrive, for `tutti events` with or without --follow: a table
/// whose widths are set by the header and the first batch (and grow for wider
/// values), one JSON object per line, or YAML list items (so the concatenated
/// output stays one valid YAML list).
class event_printer {
public:
  explicit event_printer(output_format format) : format_(format) {}

  /// Text for one batch; for a table the header comes with the first call, even
  /// when the batch is empty.
  std::string print(const std::vector<protocol::event>& batch);

private:
  output_format format_;
  bool started_ = false;
  std::vector<size_t> widths_;
};

} // namespace tutti::cli
