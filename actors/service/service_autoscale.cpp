// Autoscaling of a service (spec.autoscale): every resync tick it reads the
// service's load from discovery (the sum of every node's mesh reports), feeds
// the autoscaler and asks the cluster for the count it decides, as a scale (a
// revision that changes no replica). Part of the service actor.

#include "actors/service/autoscaler.hpp"
#include "actors/service/service_state.hpp"
#include "metrics/recorder.hpp"
#include "protocol/errors.hpp"

#include <caf/all.hpp>

#include <chrono>
#include <cstdio>

namespace tutti::actors::service_impl {

namespace {

using clock = autoscaler::clock;

constexpr auto ask_timeout = std::chrono::seconds{5};

void on_load(self_ptr self, const p::service_load& load) {
  auto& st = self->state;
  if (!st.autoscale || st.scaling || st.deleting)
    return;
  auto now = clock::now();
  st.load = load;
  st.autoscale->observe(p::autoscale_metric::rps, load.rps, now);
  st.autoscale->observe(p::autoscale_metric::concurrency, static_cast<double>(load.open), now);
  auto from = st.spec.replicas;
  auto d = st.autoscale->decide(from, now);
  st.ctx.metrics->set_autoscale(st.spec.name, d.desired, load.rps, load.open);
  if (d.desired == from)
    return;
  st.scaling = true;
  auto change = st.spec.name + " " + std::to_string(from) + " -> " + std::to_string(d.desired);
  self->request(st.ctx.cluster, ask_timeout, p::scale_atom::value, st.spec.name, d.desired)
      .then(
          [self, text = "scaled " + change + ": " + d.reason](int64_t) {
            self->state.scaling = false;
            self->state.last_autoscale = text;
            emit(self, "autoscaled", text);
          },
          [self, change](caf::error& err) {
            self->state.scaling = false;
            emit(self, "autoscale_failed",
                 "could not scale " + change + ": " + p::message_of(err));
          });
}

} // namespace

void autoscale_tick(self_ptr self) {
  auto& st = self->state;
  if (!st.spec.autoscale.enabled || st.deleting || !st.ctx.discovery || !st.ctx.cluster) {
    st.autoscale.reset();
    return;
  }
  if (!st.autoscale || st.autoscale->spec() != st.spec.autoscale)
    st.autoscale = std::make_unique<autoscaler>(st.spec.autoscale); // new bounds: start over
  self->request(st.ctx.discovery, ask_timeout, p::load_atom::value, st.spec.name)
      .then([self](p::service_load& load) { on_load(self, load); }, [](caf::error&) {});
}

std::string autoscale_summary(self_ptr self) {
  const auto& st = self->state;
  const auto& a = st.spec.autoscale;
  if (!a.enabled)
    return {};
  std::string out = std::to_string(a.min) + "-" + std::to_string(a.max);
  auto now = clock::now();
  for (const auto& m : a.metrics) {
    auto v = st.autoscale ? st.autoscale->value(m.type, now) : -1;
    char text[96];
    if (v < 0)
      std::snprintf(text, sizeof text, ", %s -/%g", p::to_string(m.type).c_str(), m.target);
    else
      std::snprintf(text, sizeof text, ", %s %.1f/%g", p::to_string(m.type).c_str(), v, m.target);
    out += text;
  }
  return out;
}

} // namespace tutti::actors::service_impl
