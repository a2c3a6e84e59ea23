#include "actors/node/replica_containers.hpp"

#include "actors/node/replica_template.hpp"
#include "runtime-drivers/pod_driver.hpp"
#include "runtime-drivers/substitute.hpp"

#include <utility>

namespace tutti::actors {

namespace {

std::map<std::string, std::string> labels_of(const p::replica_request& req,
                                             const replica_place& place) {
  std::string ports;
  for (const auto& b : place.ports)
    ports += (ports.empty() ? "" : ",") + b.name + "=" + std::to_string(b.host_port);
  return {{rd::label::service, req.service},
          {rd::label::replica, place.id},
          {rd::label::node, place.node},
          {rd::label::revision, std::to_string(req.revision)},
          {template_label, template_hash(req.spec)},
          {rd::label::ports, ports}};
}

/// One container: `command` run with `env` (the replica's, with the
/// container's own over it) and the replica's volumes, configs and secrets.
caf::expected<rd::container_spec> one_container(const p::replica_request& req,
                                                const replica_place& place,
                                                std::map<std::string, std::string> env,
                                                const std::vector<std::string>& command,
                                                const replica_volumes& volumes,
                                                const replica_objects& objects) {
  rd::container_spec out;
  out.env = std::move(env);
  if (p::runs_processes(req.spec->driver))
    for (const auto& [key, folder] : volumes.env)
      out.env.emplace(key, folder);
  else
    out.mounts = volumes.mounts;
  for (const auto& [key, file] : objects.files)
    out.env.emplace(key, file);
  out.mounts.insert(out.mounts.end(), objects.mounts.begin(), objects.mounts.end());
  // Where its ports are expected to listen (the node's address), unless the spec says.
  out.env.emplace("TUTTI_ADDRESS", place.address);
  for (const auto& [key, value] : req.discovery_env)
    out.env.emplace(key, value); // the spec's own env wins
  for (const auto& arg : command) {
    auto expanded = rd::substitute_env(arg, out.env);
    if (!expanded)
      return std::move(expanded.error());
    out.command.push_back(std::move(*expanded));
  }
  // After the command's ${VAR}s: a secret's value never shows in a command line.
  for (const auto& [key, value] : objects.values)
    out.env[key] = value;
  out.labels = labels_of(req, place);
  return out;
}

caf::expected<rd::container_spec> part_of(const p::replica_request& req,
                                          const replica_place& place,
                                          const p::container_part& part, size_t order,
                                          const replica_volumes& volumes,
                                          const replica_objects& objects) {
  auto env = replica_env(*req.spec, place.ports);
  for (const auto& [key, value] : part.env)
    env[key] = value;
  auto out = one_container(req, place, std::move(env), part.command, volumes, objects);
  if (!out)
    return p::make_error(p::code_of(out.error()),
                         "container " + part.name + ": " + p::message_of(out.error()));
  out->name = rd::part_name(place.id, part.name);
  out->image = part.image;
  out->image_archive = part.image_archive;
  out->resources = part.resources;
  out->labels[rd::label::container] = part.name;
  out->labels[rd::label::order] = part.init ? std::string{"init"} : std::to_string(order);
  return out;
}

} // namespace

caf::expected<replica_containers> containers_of(const p::replica_request& req,
                                                const replica_place& place,
                                                const replica_folders& folders,
                                                const replica_objects& objects) {
  const auto& spec = *req.spec;
  replica_containers out;
  if (spec.containers.empty()) {
    auto one = one_container(req, place, replica_env(spec, place.ports), spec.command,
                             folders.single, objects);
    if (!one)
      return std::move(one.error());
    out.main = std::move(*one);
    out.main.name = place.id;
    out.main.image = spec.image;
    out.main.image_archive = spec.image_archive;
    out.main.resources = spec.resources;
    out.main.stop_grace = spec.stop_grace;
    return out;
  }
  out.main.name = place.id;
  out.main.labels = labels_of(req, place);
  out.main.resources = spec.resources;
  out.main.stop_grace = spec.stop_grace;
  size_t order = 0;
  for (size_t i = 0; i < spec.containers.size(); ++i) {
    const auto& part = spec.containers[i];
    static const replica_volumes none;
    const auto& volumes = i < folders.parts.size() ? folders.parts[i] : none;
    auto made = part_of(req, place, part, part.init ? 0 : order++, volumes, objects);
    if (!made)
      return std::move(made.error());
    (part.init ? out.inits : out.main.parts).push_back(std::move(*made));
  }
  return out;
}

} // namespace tutti::actors
