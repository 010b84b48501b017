#include "access/policy.h"

#include <utility>

namespace kura::access {
namespace {

Decision Allowed(Rule rule, std::string reason) {
  return {true, rule, std::move(reason)};
}
Decision Denied(Rule rule, std::string reason) {
  return {false, rule, std::move(reason)};
}

Decision AdmitInternet(const ConnectionContext& context, const Instance& instance) {
  if (instance.edition == Edition::kPersonal) {
    return Allowed(Rule::kInternetOpen,
                   "internet endpoint of personal instance " + instance.name + " is open to all");
  }
  if (!instance.internet.enabled) {
    return Denied(Rule::kInternetDisabled,
                  "internet endpoint of instance " + instance.name + " is disabled");
  }
  const std::string source = context.source.Unmapped().ToString();
  if (const AllowlistEntry* entry = instance.internet.allowlist.Find(context.source)) {
    std::string reason = source + " is in the allowlist of instance " + instance.name + " (entry " +
                         entry->cidr.ToString();
    if (!entry->description.empty()) reason += " \"" + entry->description + "\"";
    return Allowed(Rule::kInAllowlist, reason + ")");
  }
  return Denied(Rule::kNotInAllowlist,
                source + " is not in the allowlist of instance " + instance.name);
}

Decision AdmitVpc(const ConnectionContext& context, const Instance& instance) {
  if (!context.arrival_network) {
    return Denied(Rule::kNoArrivalNetwork, "vpc endpoint of instance " + instance.name +
                                               " admits only traffic arriving through a network");
  }
  const ArrivalNetwork& network = *context.arrival_network;
  if (instance.edition == Edition::kPersonal) {
    // A regional service address: every network of the region, of any account.
    if (network.region != instance.region) {
      return Denied(Rule::kOtherRegion, "network " + network.id + " is in region " +
                                            network.region + ", instance " + instance.name +
                                            " in " + instance.region);
    }
    return Allowed(Rule::kSameRegion, "network " + network.id + " is in region " + instance.region +
                                          " of instance " + instance.name);
  }
  // Enterprise: explicit binding only; the same region alone is not enough.
  if (instance.vpc.FindBinding(network.id) == nullptr) {
    return Denied(Rule::kNetworkNotBound,
                  "network " + network.id + " is not bound to instance " + instance.name);
  }
  return Allowed(Rule::kNetworkBound,
                 "network " + network.id + " is bound to instance " + instance.name);
}

}  // namespace

std::string_view RuleName(Rule rule) {
  switch (rule) {
    case Rule::kInternetOpen:
      return "internet-open";
    case Rule::kInternetDisabled:
      return "internet-disabled";
    case Rule::kInAllowlist:
      return "in-allowlist";
    case Rule::kNotInAllowlist:
      return "not-in-allowlist";
    case Rule::kNoArrivalNetwork:
      return "no-arrival-network";
    case Rule::kSameRegion:
      return "same-region";
    case Rule::kOtherRegion:
      return "other-region";
    case Rule::kNetworkBound:
      return "network-bound";
    case Rule::kNetworkNotBound:
      return "network-not-bound";
  }
  return "unknown";
}

Decision Admit(const ConnectionContext& context, const Instance& instance) {
  return context.kind == EndpointKind::kInternet ? AdmitInternet(context, instance)
                                                 : AdmitVpc(context, instance);
}

}  // namespace kura::access
