#include "actors/api/call_inspection.hpp"

#include <algorithm>

#include "config/spec_parser.hpp"
#include "protocol/capnp_convert.hpp"
#include "protocol/namespaces.hpp"
#include "protocol/utf8.hpp"

namespace tutti::actors {

namespace p = tutti::protocol;
namespace rpc = protocol::rpc;

std::string text(capnp::Text::Reader r) {
  return p::sanitize_utf8({r.cStr(), r.size()});
}

std::string raw_text(capnp::Text::Reader r) {
  return {r.cStr(), r.size()};
}

namespace {

template <class Params> std::string service_of(capnp::AnyPointer::Reader params) {
  return text(params.getAs<Params>().getService());
}

template <class Results> std::pair<std::string, std::string> outcome_of(capnp::AnyPointer::Builder b) {
  auto error = b.getAs<Results>().getError();
  auto code = p::from_capnp(error.getCode());
  if (!code || *code == p::error_code::none)
    return {"ok", ""};
  return {p::to_string(*code), text(error.getMessage().asReader())};
}

} // namespace

/// The service a call names in its `service` parameter ("" for none or a list).
std::string service_param(access::api_call call, capnp::AnyPointer::Reader params) {
  using c = access::api_call;
  switch (call) {
    case c::get_replicas:
      return service_of<rpc::Tutti::GetReplicasParams>(params);
    case c::describe_service:
      return service_of<rpc::Tutti::DescribeServiceParams>(params);
    case c::scale:
      return service_of<rpc::Tutti::ScaleParams>(params);
    case c::delete_service:
      return service_of<rpc::Tutti::DeleteServiceParams>(params);
    case c::events:
      return service_of<rpc::Tutti::EventsParams>(params);
    case c::follow:
      return service_of<rpc::Tutti::FollowParams>(params);
    case c::logs:
      return service_of<rpc::Tutti::LogsParams>(params);
    case c::get_endpoints:
      return service_of<rpc::Tutti::GetEndpointsParams>(params);
    case c::watch_endpoints:
      return service_of<rpc::Tutti::WatchEndpointsParams>(params);
    case c::rollout_status:
      return service_of<rpc::Tutti::RolloutStatusParams>(params);
    case c::rollout_history:
      return service_of<rpc::Tutti::RolloutHistoryParams>(params);
    case c::rollout_undo:
      return service_of<rpc::Tutti::RolloutUndoParams>(params);
    default:
      return {};
  }
}

/// The service, node, token or file a mutating call names, for the audit log.
std::string audit_target(access::api_call call, capnp::AnyPointer::Reader params) {
  using c = access::api_call;
  switch (call) {
    case c::apply:
      return text(params.getAs<rpc::Tutti::ApplyParams>().getFileName());
    case c::set_node_state:
      return text(params.getAs<rpc::Tutti::SetNodeStateParams>().getNode());
    case c::kill_actor:
      return text(params.getAs<rpc::Tutti::KillActorParams>().getPath());
    case c::create_token:
      return text(params.getAs<rpc::Tutti::CreateTokenParams>().getName());
    case c::revoke_token:
      return text(params.getAs<rpc::Tutti::RevokeTokenParams>().getName());
    case c::import_image: {
      auto x = params.getAs<rpc::Tutti::ImportImageParams>();
      return text(x.getNode()) + ": " + text(x.getFileName());
    }
    case c::remove_volume: {
      auto x = params.getAs<rpc::Tutti::RemoveVolumeParams>();
      return text(x.getNode()) + ": " + text(x.getReplica()) + "/" + text(x.getVolume());
    }
    case c::remove_config:
      return "config/" + text(params.getAs<rpc::Tutti::RemoveConfigParams>().getName());
    case c::remove_secret:
      return "secret/" + text(params.getAs<rpc::Tutti::RemoveSecretParams>().getName());
    default:
      return access::mutates(call) ? service_param(call, params) : std::string{};
  }
}

namespace {

/// The namespaces of the services a call other than apply names: none for a
/// list (the answer is filtered instead) or a cluster-wide call.
std::vector<std::string> named_namespaces(access::api_call call,
                                          capnp::AnyPointer::Reader params) {
  if (call == access::api_call::remove_config)
    return {p::namespace_of(text(params.getAs<rpc::Tutti::RemoveConfigParams>().getName()))};
  if (call == access::api_call::remove_secret)
    return {p::namespace_of(text(params.getAs<rpc::Tutti::RemoveSecretParams>().getName()))};
  auto service = service_param(call, params);
  if (service.empty())
    return {};
  return {p::namespace_of(service)};
}

} // namespace

call_facts facts_of(access::api_call call, capnp::AnyPointer::Reader params,
                    bool with_namespaces) {
  call_facts out;
  if (call != access::api_call::apply) {
    if (with_namespaces)
      out.namespaces = named_namespaces(call, params);
    return out;
  }
  auto a = params.getAs<rpc::Tutti::ApplyParams>();
  auto source = raw_text(a.getSource());
  bool special = false;
  for (const char* word : {"Quota", "Role", "Config", "Secret"})
    special = special || source.find(word) != std::string::npos;
  if (!with_namespaces && !special)
    return out; // most applies: no second parse
  auto parsed = config::parse_specs(source, text(a.getFileName()), text(a.getNamespace()));
  if (with_namespaces) {
    for (const auto& spec : parsed.specs)
      out.namespaces.push_back(p::namespace_of(spec.name));
    for (const auto& x : parsed.objects)
      out.namespaces.push_back(p::namespace_of(x.name));
  }
  out.sets_policy = !parsed.quotas.empty() || !parsed.roles.empty() || !parsed.bindings.empty();
  for (auto kind : {p::object_kind::config, p::object_kind::secret})
    if (std::any_of(parsed.objects.begin(), parsed.objects.end(),
                    [kind](const auto& x) { return x.kind == kind; }))
      out.objects.push_back(p::to_string(kind) + "s");
  return out;
}

/// The result of a mutating call as its results say: "ok" or the error code,
/// and the error's message.
std::pair<std::string, std::string> audit_outcome(access::api_call call,
                                                  capnp::AnyPointer::Builder results) {
  using c = access::api_call;
  switch (call) {
    case c::apply: {
      auto r = results.getAs<rpc::Tutti::ApplyResults>();
      if (r.getSpecErrors().size() > 0)
        return {"invalid_spec", std::to_string(r.getSpecErrors().size()) + " problems in the spec"};
      return outcome_of<rpc::Tutti::ApplyResults>(results);
    }
    case c::scale:
      return outcome_of<rpc::Tutti::ScaleResults>(results);
    case c::rollout_undo:
      return outcome_of<rpc::Tutti::RolloutUndoResults>(results);
    case c::delete_service:
      return outcome_of<rpc::Tutti::DeleteServiceResults>(results);
    case c::set_node_state:
      return outcome_of<rpc::Tutti::SetNodeStateResults>(results);
    case c::kill_actor:
      return outcome_of<rpc::Tutti::KillActorResults>(results);
    case c::create_token:
      return outcome_of<rpc::Tutti::CreateTokenResults>(results);
    case c::revoke_token:
      return outcome_of<rpc::Tutti::RevokeTokenResults>(results);
    case c::remove_volume:
      return outcome_of<rpc::Tutti::RemoveVolumeResults>(results);
    case c::remove_config:
      return outcome_of<rpc::Tutti::RemoveConfigResults>(results);
    case c::remove_secret:
      return outcome_of<rpc::Tutti::RemoveSecretResults>(results);
    case c::backup: {
      auto [result, message] = outcome_of<rpc::Tutti::BackupResults>(results);
      if (result != "ok")
        return {result, message};
      auto r = results.getAs<rpc::Tutti::BackupResults>();
      return {result, std::to_string(r.getBytes()) + " bytes, sha256 " + text(r.getSha256())};
    }
    case c::import_image: {
      auto [result, message] = outcome_of<rpc::Tutti::ImportImageResults>(results);
      return {result, result == "ok" ? "upload started" : message};
    }
    default:
      return {"ok", ""};
  }
}

} // namespace tutti::actors
