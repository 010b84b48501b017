#include "analyzer/explain.h"

#include <stdexcept>
#include <utility>

#include "analyzer/login_check.h"

namespace kura::analyzer {
namespace {

std::string ResolveDetail(const Resolution& resolution, const TopologyIndex& index,
                          uint32_t network, const access::Instance& instance,
                          const std::string& hostname) {
  const access::Network& from = index.NetworkAt(network);
  switch (resolution.kind) {
    case ResolutionKind::kPrivateZone:
      return hostname + " resolves to " + resolution.address.ToString() + " in private zone " +
             resolution.zone->id + " attached to network " + from.id;
    case ResolutionKind::kPublicDns:
      return hostname + " resolves to " + resolution.address.ToString() + " in public DNS";
    case ResolutionKind::kRegionalService:
      return hostname + " is the regional service name of " + instance.region +
             " and resolves to " + resolution.address.ToString() + " from network " + from.id +
             " of that region";
    case ResolutionKind::kNoRecordInZone:
      return hostname + " does not resolve from network " + from.id + ": private zone " +
             resolution.zone->id + " attached to it has no record for the name";
    case ResolutionKind::kNotInPublicDns:
      return hostname + " does not resolve from network " + from.id +
             ": no private zone attached to it holds the name, and a VPC endpoint name is not "
             "in public DNS (only the networks bound to instance " +
             instance.name + " get its record)";
    case ResolutionKind::kOtherRegion:
      return hostname + " does not resolve from network " + from.id + " (region " + from.region +
             "): it is the regional service name of " + instance.region +
             ", resolvable only from networks of that region";
  }
  return "";
}

std::string RouteDetail(const Route& route, const access::Host& host, const access::Network& from,
                        const core::IpAddress& address) {
  const std::string to = address.ToString();
  switch (route.kind) {
    case PathKind::kSameNetwork:
      return host.private_ip.ToString() + " reaches the VPC endpoint at " + to +
             " inside network " + from.id;
    case PathKind::kRegionalService:
      return host.private_ip.ToString() + " in network " + from.id +
             " reaches the regional service address " + to + " of " + from.region;
    case PathKind::kInternet:
      return route.source.ToString() + " (public IP of " + host.id + ") reaches " + to +
             " over the Internet";
    case PathKind::kTransit:
      return host.private_ip.ToString() + " in network " + from.id +
             " reaches the VPC endpoint at " + to + " in network " + route.arrival->id +
             " over transit network " + route.transit->id;
    case PathKind::kNothingListens:
      return "no endpoint listens at " + to + " in network " + route.holder->id +
             (route.transit != nullptr ? " (reached over transit network " + route.transit->id + ")"
                                       : std::string());
    case PathKind::kServiceOfOtherRegion:
      return to + " is the regional service address of " + std::string(route.service_region) +
             ": it is reached only from networks of that region (network " + from.id + " is in " +
             from.region + "), and transit networks do not carry it";
    case PathKind::kNoPublicIp:
      return host.id + " has no public IP to reach " + to + " on the Internet";
    case PathKind::kNoRoute:
      return "no route from network " + from.id + " to " + to +
             ": it is not in the network, nor in a network a transit network joins to it, nor an "
             "endpoint address of the cloud";
  }
  return "";
}

std::string LoginDetail(LoginResult result, const std::optional<topology::Login>& login,
                        const access::Host& host, const access::Instance& instance,
                        const topology::InstanceSetup& setup) {
  switch (result) {
    case LoginResult::kAccepted:
      return "user " + login->user + " logs in to instance " + instance.name;
    case LoginResult::kNoLogin:
      if (setup.credentials.empty()) {
        return host.id + " has no login for instance " + instance.name +
               ": the instance has no credentials";
      }
      return host.id + " has no login for instance " + instance.name + ": its first user " +
             setup.credentials.front().user +
             " is given as a hash only (give the host a login of its own)";
    case LoginResult::kUnknownUser:
      return "instance " + instance.name + " has no user " + login->user;
    case LoginResult::kWrongPassword:
      return "wrong password for user " + login->user + " of instance " + instance.name;
  }
  return "";
}

}  // namespace

std::string_view StepStateName(StepState state) {
  switch (state) {
    case StepState::kPassed:
      return "passed";
    case StepState::kFailed:
      return "failed";
    case StepState::kSkipped:
      return "skipped";
  }
  return "unknown";
}

std::optional<access::EndpointKind> ParseEndpointKind(std::string_view name) {
  if (name == "internet") return access::EndpointKind::kInternet;
  if (name == "vpc") return access::EndpointKind::kVpc;
  return std::nullopt;
}

PairExplanation Explain(const TopologyIndex& index, const access::Host& host,
                        const access::Instance& instance, access::EndpointKind kind) {
  const topology::Topology& topology = index.topology();
  PairExplanation explanation;
  explanation.host = host.id;
  explanation.instance = instance.name;
  explanation.kind = kind;
  explanation.hostname = topology.world.Hostname(instance, kind);
  for (Step step : {Step::kResolve, Step::kRoute, Step::kAdmit, Step::kAuthenticate}) {
    explanation.steps.push_back({step, StepState::kSkipped, ""});
  }
  auto fail = [&](Step step, std::string detail) {
    explanation.outcome.step = step;
    StepExplanation& failed = explanation.steps[static_cast<size_t>(step)];
    failed.state = StepState::kFailed;
    failed.detail = std::move(detail);
    explanation.reason = failed.detail;
    return std::move(explanation);
  };
  auto pass = [&](Step step, std::string detail) {
    StepExplanation& passed = explanation.steps[static_cast<size_t>(step)];
    passed.state = StepState::kPassed;
    passed.detail = std::move(detail);
  };

  // 1. Resolve.
  const uint32_t network = index.NetworkNumberOf(host);
  const access::Network& from = index.NetworkAt(network);
  Resolution resolution = index.Resolve(network, instance, kind, explanation.hostname);
  std::string detail = ResolveDetail(resolution, index, network, instance, explanation.hostname);
  if (!resolution.found()) return fail(Step::kResolve, std::move(detail));
  explanation.address = resolution.address;
  pass(Step::kResolve, std::move(detail));

  // 2. Route.
  Route route = TopologyIndex::FromHost(index.RouteFromNetwork(network, resolution.address), host);
  detail = RouteDetail(route, host, from, resolution.address);
  if (!route.found()) return fail(Step::kRoute, std::move(detail));
  if (route.transit != nullptr) explanation.transit = route.transit->id;
  const std::string route_detail = detail;
  pass(Step::kRoute, std::move(detail));

  // 3. Admit: the live server's function, on the context its listener would see.
  access::Decision decision = access::Admit(TopologyIndex::ContextFor(kind, route), instance);
  explanation.outcome.rule = decision.rule;
  detail = decision.reason + " (rule " + std::string(access::RuleName(decision.rule)) + ")";
  if (!decision.allowed) return fail(Step::kAdmit, std::move(detail));
  pass(Step::kAdmit, std::move(detail));

  // 4. Authenticate.
  const topology::InstanceSetup& setup = topology.SetupOf(instance.name);
  std::optional<topology::Login> login = topology.LoginOf(host.id, instance.name);
  LoginResult result = CheckLogin(login, setup);
  detail = LoginDetail(result, login, host, instance, setup);
  if (result != LoginResult::kAccepted) return fail(Step::kAuthenticate, std::move(detail));
  pass(Step::kAuthenticate, detail);

  explanation.outcome.step = Step::kOk;
  explanation.reason = route_detail + "; " + decision.reason + "; " + detail;
  return explanation;
}

PairExplanation Explain(const TopologyIndex& index, std::string_view host_id,
                        std::string_view instance_name, std::string_view endpoint) {
  const access::World& world = index.topology().world;
  const access::Host* host = world.FindHost(host_id);
  if (host == nullptr) {
    throw std::invalid_argument("no host " + std::string(host_id) + " in the topology");
  }
  const access::Instance* instance = world.FindInstance(instance_name);
  if (instance == nullptr) {
    throw std::invalid_argument("no instance " + std::string(instance_name) + " in the topology");
  }
  std::optional<access::EndpointKind> kind = ParseEndpointKind(endpoint);
  if (!kind) {
    throw std::invalid_argument("endpoint \"" + std::string(endpoint) +
                                "\" is neither internet nor vpc");
  }
  return Explain(index, *host, *instance, *kind);
}

}  // namespace kura::analyzer
