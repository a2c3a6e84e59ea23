// tutti image import: an image archive from this machine into a node's
// containerd or Docker engine, for nodes that cannot pull.

#include "tools/tutti/command_support.hpp"
#include "tools/tutti/commands.hpp"
#include "tools/tutti/output.hpp"
#include "tools/tutti/views.hpp"

#include "protocol/spec.hpp"

#include <cstdio>

namespace tutti::cli {

using json = json_value;

namespace {

/// Archives larger than this show how far the upload got, in tenths.
constexpr uint64_t progress_from = 8 << 20;

std::string mib(uint64_t bytes) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f MiB", static_cast<double>(bytes) / (1 << 20));
  return buf;
}

} // namespace

int run_image_import(const global_options& g, const streams& io, const image_import_options& o) {
  auto driver = protocol::driver_kind_from(o.driver);
  if (!driver || (*driver != protocol::driver_kind::containerd &&
                  *driver != protocol::driver_kind::docker))
    return report(io, {client_code::invalid_argument,
                       "--driver " + o.driver + ": give containerd or docker (the drivers that "
                       "run images)"});
  auto c = connect_to_tuttid(g);
  if (!c)
    return report(io, c.error());
  int shown = 0; // tenths of the archive reported so far
  auto progress = [&](uint64_t sent, uint64_t total) {
    if (total < progress_from)
      return;
    int tenths = static_cast<int>(sent * 10 / total);
    if (tenths == shown)
      return;
    shown = tenths;
    io.err << "sent " << mib(sent) << " of " << mib(total) << " (" << tenths * 10 << "%)"
           << (sent == total ? "; node " + o.node + " is loading it" : std::string{}) << "\n"
           << std::flush;
  };
  auto images = (*c)->import_image(o.file, o.node, *driver, progress);
  if (!images)
    return report(io, images.error(), "run `tutti get nodes` to see which nodes exist and their drivers");
  json value = {{"node", o.node}, {"driver", o.driver}, {"images", *images}};
  std::string text;
  for (const auto& x : *images)
    text += "node/" + o.node + ": loaded " + x + " into " + o.driver + "\n";
  if (images->empty())
    text = "node/" + o.node + ": the archive holds no named image\n";
  io.out << render_as(g.output, value, text);
  return exit_code::ok;
}

} // namespace tutti::cli
