// Admission: may this connection use this endpoint of this instance? (EXPOSURE.md step 3,
// "admit".) The one place the edition rules, the enabled flag, the allowlist and the bound
// networks are decided: the live server calls Admit() on every request, the analyzer calls it
// for every host and endpoint. Neither has a rule of its own.
//
// Admit() is a pure function of its arguments: no I/O, no clock, no lock, no shared mutable
// state. It is safe to call from any number of threads on one immutable World snapshot.

#ifndef KURA_ACCESS_POLICY_H_
#define KURA_ACCESS_POLICY_H_

#include <optional>
#include <string>
#include <string_view>

#include "access/endpoint_kind.h"
#include "access/model.h"
#include "core/cidr.h"

namespace kura::access {

// The private network a connection reached the endpoint through.
//
// This is the network on whose side of the endpoint the traffic arrives, which is not always the
// network of the client: a host in VPC-B that reaches an endpoint bound to VPC-A across a transit
// network arrives through VPC-A (EXPOSURE.md, "Sharing the VPC endpoint"). The live server takes
// it from the listener's configuration; the analyzer from its route step.
struct ArrivalNetwork {
  NetworkId id;
  RegionId region;
  AccountId account;  // the network's owner: with id, what names it (NetworkKey)
};

struct ConnectionContext {
  // The endpoint the request addresses (from its Host name).
  EndpointKind kind = EndpointKind::kInternet;
  // The client's address (after PROXY protocol, if any). An IPv4-mapped IPv6 address is treated
  // as the IPv4 address.
  core::IpAddress source;
  // Set when the connection came through a private network; empty for Internet traffic.
  std::optional<ArrivalNetwork> arrival_network;
};

// The rules of EXPOSURE.md, each named as it appears in a Decision and in logs.
enum class Rule {
  // Internet endpoint.
  kInternetOpen,      // allowed: a personal instance's Internet endpoint is open to everyone
  kInternetDisabled,  // denied: an enterprise Internet endpoint is disabled
  kInAllowlist,       // allowed: the source is in the enterprise allowlist
  kNotInAllowlist,    // denied: the source is not in the enterprise allowlist
  // VPC endpoint.
  kNoArrivalNetwork,  // denied: a VPC endpoint admits only traffic arriving through a network
  kSameRegion,        // allowed: personal VPC endpoint, arrival network in the instance's region
  kOtherRegion,       // denied: personal VPC endpoint, arrival network in another region
  kNetworkBound,      // allowed: enterprise VPC endpoint, arrival network bound to the instance
  kNetworkNotBound,   // denied: enterprise VPC endpoint, arrival network not bound
};

// The rule's name: "internet-open", "internet-disabled", "in-allowlist", "not-in-allowlist",
// "no-arrival-network", "same-region", "other-region", "network-bound", "network-not-bound".
std::string_view RuleName(Rule rule);

struct Decision {
  bool allowed = false;
  // The rule that decided.
  Rule rule = Rule::kNetworkNotBound;
  // One line naming the rule's subject, e.g. "internet endpoint of instance acme is disabled",
  // "198.51.100.7 is not in the allowlist of instance acme", "network vpc-b is not bound to
  // instance acme". A denied request gets 403 DENIED with this message.
  std::string reason;
};

// Decides whether context may use the endpoint context.kind of instance:
//
//   personal   internet  allowed (internet-open)
//              vpc       allowed if the arrival network is in instance.region (same-region),
//                        else denied (no-arrival-network, other-region)
//   enterprise internet  denied if disabled (internet-disabled); else allowed if the source is in
//                        the allowlist (in-allowlist), else denied (not-in-allowlist)
//              vpc       allowed if the arrival network is bound (network-bound), else denied
//                        (no-arrival-network, network-not-bound)
//
// Whether the hostname resolves and the address is routable from the client (steps 1 and 2) and
// whether its credentials are valid (step 4) are not decided here. O(log n) in the allowlist
// size, O(b) in the number of bindings.
// With Reasons::kDenialsOnly an allowed Decision carries no reason (the server's hot path).
enum class Reasons { kAll, kDenialsOnly };
Decision Admit(const ConnectionContext& context, const Instance& instance,
               Reasons reasons = Reasons::kAll);

}  // namespace kura::access

#endif  // KURA_ACCESS_POLICY_H_
