#include "config/autoscale_reader.hpp"

#include <charconv>
#include <set>

namespace tutti::config::detail {

namespace {

using namespace std::chrono_literals;
using protocol::autoscale_metric;

/// At most this many metrics per service.
constexpr size_t max_metrics = 8;

constexpr caf::timespan max_window = std::chrono::duration_cast<caf::timespan>(1h);

/// A number > 0 and at most `max`, as written ("100", "0.5").
std::optional<double> read_target(const field& f, double max, error_sink& errors) {
  auto text = read_string(f, errors);
  if (!text)
    return std::nullopt;
  double value = 0;
  auto [end, ec] = std::from_chars(text->data(), text->data() + text->size(), value);
  if (ec != std::errc{} || end != text->data() + text->size() || !(value > 0) || value > max) {
    errors.add(f.mark, f.path,
               "expected a number above 0 and at most " + std::to_string(static_cast<int>(max)) +
                   ", got '" + *text + "'");
    return std::nullopt;
  }
  return value;
}

std::optional<protocol::metric_target> read_metric(const field& item,
                                                   const protocol::service_spec& spec,
                                                   std::set<autoscale_metric>& seen,
                                                   error_sink& errors) {
  if (!expect_map(item, "a mapping with type and target", errors))
    return std::nullopt;
  map_reader fields{item, errors};
  protocol::metric_target out;
  auto type = fields.take("type");
  auto target = fields.take("target");
  fields.finish();
  if (!type || !target) {
    errors.add(item.mark, item.path + (type ? ".target" : ".type"), "required field is missing");
    return std::nullopt;
  }
  auto name = read_string(*type, errors);
  if (!name)
    return std::nullopt;
  auto kind = protocol::autoscale_metric_from(*name);
  if (!kind) {
    errors.add(type->mark, type->path,
               "expected one of cpu, memory, rps or concurrency, got '" + *name + "'");
    return std::nullopt;
  }
  if (!seen.insert(*kind).second) {
    errors.add(type->mark, type->path, "metric " + *name + " is given twice");
    return std::nullopt;
  }
  out.type = *kind;
  bool share = *kind == autoscale_metric::cpu || *kind == autoscale_metric::memory;
  // A share of the request may go past 100 % (a replica may use more than it asked).
  auto value = read_target(*target, share ? 1000.0 : 1e9, errors);
  if (!value)
    return std::nullopt;
  out.target = *value;
  bool requested = *kind == autoscale_metric::cpu ? spec.resources.cpu > 0
                                                  : spec.resources.memory > 0;
  if (share && !requested)
    errors.add(type->mark, type->path,
               "a " + *name + " target is a percentage of what each replica requests: set "
               "resources." + *name + " (on each container when containers is given)");
  else if (share)
    errors.add(type->mark, type->path,
               "the " + *name + " metric is not supported yet; rps and concurrency are");
  return out;
}

void read_rule(const field& f, protocol::scale_rule& rule, error_sink& errors) {
  if (!expect_map(f, "a mapping with replicas, percent and period", errors))
    return;
  map_reader fields{f, errors};
  if (auto x = fields.take("replicas"))
    if (auto n = read_int(*x, 0, protocol::max_replicas, errors))
      rule.replicas = static_cast<int32_t>(*n);
  if (auto x = fields.take("percent"))
    if (auto n = read_int(*x, 0, 1000, errors))
      rule.percent = static_cast<int32_t>(*n);
  if (auto x = fields.take("period"))
    if (auto d = read_positive_duration(*x, std::chrono::duration_cast<caf::timespan>(30min),
                                        errors))
      rule.period = *d;
  fields.finish();
  if (rule.replicas == 0 && rule.percent == 0)
    errors.add(f.mark, f.path, "replicas and percent cannot both be 0: the count could never move");
}

void read_behavior(const field& f, protocol::autoscale_spec& out, error_sink& errors) {
  if (!expect_map(f,
                  "a mapping with window, scale_down_stabilization, scale_up and scale_down",
                  errors))
    return;
  map_reader fields{f, errors};
  if (auto x = fields.take("window"))
    if (auto d = read_positive_duration(*x, max_window, errors)) {
      if (*d < std::chrono::seconds{1})
        errors.add(x->mark, x->path, "the window is at least 1s");
      else
        out.window = *d;
    }
  if (auto x = fields.take("scale_down_stabilization"))
    if (auto d = read_duration(*x, max_window, errors))
      out.scale_down_stabilization = *d;
  if (auto x = fields.take("scale_up"))
    read_rule(*x, out.scale_up, errors);
  if (auto x = fields.take("scale_down"))
    read_rule(*x, out.scale_down, errors);
  fields.finish();
}

} // namespace

std::optional<protocol::autoscale_spec> read_autoscale(const field& f,
                                                       const protocol::service_spec& spec,
                                                       error_sink& errors) {
  if (!expect_map(f, "a mapping with min, max, metrics and behavior", errors))
    return std::nullopt;
  size_t errors_before = errors.size();
  map_reader fields{f, errors};
  protocol::autoscale_spec out;
  out.enabled = true;
  auto min = fields.take("min");
  auto max = fields.take("max");
  if (min)
    if (auto n = read_int(*min, 0, protocol::max_replicas, errors))
      out.min = static_cast<int32_t>(*n);
  if (!max)
    errors.add(f.mark, f.path + ".max", "required field is missing");
  else if (auto n = read_int(*max, 1, protocol::max_replicas, errors))
    out.max = static_cast<int32_t>(*n);
  if (min && out.min == 0)
    errors.add(min->mark, min->path, "scale to zero (min: 0) is not supported yet; use min: 1");
  if (min && max && out.min > out.max)
    errors.add(min->mark, min->path,
               "min (" + std::to_string(out.min) + ") is above max (" + std::to_string(out.max) +
                   ")");
  auto metrics = fields.take("metrics");
  if (!metrics) {
    errors.add(f.mark, f.path + ".metrics", "required field is missing (e.g. [{type: rps, "
                                            "target: 100}])");
  } else if (expect_seq(*metrics, "a sequence of {type, target}", errors)) {
    auto items = elements(*metrics);
    if (items.empty() || items.size() > max_metrics)
      errors.add(metrics->mark, metrics->path,
                 "expected 1 to " + std::to_string(max_metrics) + " metrics, got " +
                     std::to_string(items.size()));
    std::set<autoscale_metric> seen;
    for (const auto& item : items)
      if (auto m = read_metric(item, spec, seen, errors))
        out.metrics.push_back(*m);
  }
  if (auto behavior = fields.take("behavior"))
    read_behavior(*behavior, out, errors);
  fields.finish();
  if (errors.size() != errors_before)
    return std::nullopt;
  return out;
}

} // namespace tutti::config::detail
