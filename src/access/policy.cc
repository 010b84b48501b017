#include "access/policy.h"

#include <initializer_list>
#include <string_view>
#include <utility>

namespace kura::access {
namespace {

// An allowed decision explains itself only when asked: the server admits every request and
// reads the reason only of denials.
template <typename MakeReason>
Decision Allowed(Reasons reasons, Rule rule, MakeReason make_reason) {
  return {true, rule, reasons == Reasons::kAll ? make_reason() : std::string()};
}
Decision Denied(Rule rule, std::string reason) {
  return {false, rule, std::move(reason)};
}

// The parts of a reason in one allocation: a denial is made on the request path, and chained
// operator+ allocates once per part.
std::string Join(std::initializer_list<std::string_view> parts) {
  size_t size = 0;
  for (std::string_view part : parts) size += part.size();
  std::string out;
  out.reserve(size);
  for (std::string_view part : parts) out.append(part);
  return out;
}

Decision AdmitInternet(const ConnectionContext& context, const Instance& instance,
                       Reasons reasons) {
  if (instance.edition == Edition::kPersonal) {
    return Allowed(reasons, Rule::kInternetOpen, [&] {
      return "internet endpoint of personal instance " + instance.name + " is open to all";
    });
  }
  if (!instance.internet.enabled) {
    return Denied(Rule::kInternetDisabled,
                  Join({"internet endpoint of instance ", instance.name, " is disabled"}));
  }
  if (const AllowlistEntry* entry = instance.internet.allowlist.Find(context.source)) {
    return Allowed(reasons, Rule::kInAllowlist, [&] {
      std::string reason = context.source.Unmapped().ToString() +
                           " is in the allowlist of instance " + instance.name + " (entry " +
                           entry->cidr.ToString();
      if (!entry->description.empty()) reason += " \"" + entry->description + "\"";
      return reason + ")";
    });
  }
  return Denied(Rule::kNotInAllowlist,
                Join({context.source.Unmapped().ToString(), " is not in the allowlist of instance ",
                      instance.name}));
}

Decision AdmitVpc(const ConnectionContext& context, const Instance& instance, Reasons reasons) {
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
    return Allowed(reasons, Rule::kSameRegion, [&] {
      return "network " + network.id + " is in region " + instance.region + " of instance " +
             instance.name;
    });
  }
  // Enterprise: explicit binding only; the same region alone is not enough. A binding names a
  // network of the instance's account: another account's network of the same id is not it.
  if (network.account != instance.account) {
    return Denied(Rule::kNetworkNotBound, "network " + network.id + " of account " +
                                              network.account + " is not bound to instance " +
                                              instance.name);
  }
  if (instance.vpc.FindBinding(network.id) == nullptr) {
    return Denied(Rule::kNetworkNotBound,
                  "network " + network.id + " is not bound to instance " + instance.name);
  }
  return Allowed(reasons, Rule::kNetworkBound, [&] {
    return "network " + network.id + " is bound to instance " + instance.name;
  });
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

Decision Admit(const ConnectionContext& context, const Instance& instance, Reasons reasons) {
  return context.kind == EndpointKind::kInternet ? AdmitInternet(context, instance, reasons)
                                                 : AdmitVpc(context, instance, reasons);
}

}  // namespace kura::access
