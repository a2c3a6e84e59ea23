// tutti volume ls|rm: the persistent volumes nodes keep for their slots.

#include "tools/tutti/command_support.hpp"
#include "tools/tutti/commands.hpp"
#include "tools/tutti/output.hpp"
#include "tools/tutti/views.hpp"

namespace tutti::cli {

using json = json_value;

namespace {

int list_volumes(client& c, const global_options& g, const streams& io) {
  auto xs = c.list_volumes();
  if (!xs)
    return report(io, xs.error());
  json value = json::array();
  text_table table{{"NODE", "REPLICA", "VOLUME", "IN-USE"}};
  for (const auto& x : *xs) {
    value.push_back(
        {{"node", x.node}, {"replica", x.replica}, {"volume", x.volume}, {"in_use", x.in_use}});
    table.add_row({x.node, x.replica, x.volume, x.in_use ? "yes" : "no"});
  }
  if (xs->empty() && g.output == output_format::table) {
    io.err << "No persistent volumes on the connected nodes.\n";
    return exit_code::ok;
  }
  io.out << render_as(g.output, value, table.render());
  return exit_code::ok;
}

int remove_volume(client& c, const streams& io, const volume_options& o) {
  auto slash = o.target.find('/');
  if (slash == std::string::npos || slash == 0 || slash + 1 == o.target.size())
    return report(io, {client_code::invalid_argument,
                       "expected REPLICA/VOLUME (e.g. db-0/data), got '" + o.target + "'"},
                  "`tutti volume ls` lists them");
  auto replica = o.target.substr(0, slash);
  auto volume = o.target.substr(slash + 1);
  auto node = o.node;
  if (node.empty()) {
    auto xs = c.list_volumes();
    if (!xs)
      return report(io, xs.error());
    std::vector<std::string> holders;
    for (const auto& x : *xs)
      if (x.replica == replica && x.volume == volume)
        holders.push_back(x.node);
    if (holders.size() != 1)
      return report(io,
                    {protocol::error_code::not_found,
                     holders.empty() ? "no connected node keeps volume " + o.target
                                     : std::to_string(holders.size()) + " nodes keep volume " +
                                           o.target + "; say which with --node"},
                    "`tutti volume ls` lists them");
    node = holders.front();
  }
  auto removed = c.remove_volume(node, replica, volume);
  if (!removed)
    return report(io, removed.error(), "`tutti volume ls` lists them");
  io.out << "volume/" << o.target << " removed from node " << node << "\n";
  return exit_code::ok;
}

} // namespace

int run_volume(const global_options& g, const streams& io, const volume_options& o) {
  auto c = connect_to_tuttid(g);
  if (!c)
    return report(io, c.error());
  return o.action == volume_action::list ? list_volumes(**c, g, io) : remove_volume(**c, io, o);
}

} // namespace tutti::cli
