// The first two steps of EXPOSURE.md, resolve and route, over a Topology indexed once so that
// each answer costs a few lookups instead of a scan of the world.
//
// Resolve: what the endpoint's hostname gives, asked from the host's network. First match:
//   1. private DNS: a private zone attached to the network that is authoritative for the name
//      (World::ResolvePrivate) answers with its record; a zone without the record hides the
//      name, which then does not resolve;
//   2. public DNS: an Internet endpoint's hostname gives the instance's internet address;
//   3. the regional service name: a personal instance's VPC hostname gives its region's service
//      address, asked from a network of that region only;
//   nothing else resolves: an enterprise VPC hostname lives only in private zones (World::Bind
//   writes it into the zone of each bound network; an operator copies it elsewhere by hand).
//
// Route: a path from the host to the resolved address, ending at a listener. First match:
//   1. the address is inside the host's network: a VPC endpoint must listen there (a binding
//      address in that network); the connection arrives through the host's network;
//   2. the address is a regional service address: reached from the networks of that region only,
//      arriving through the host's own network; transit networks do not carry it;
//   3. the address is an Internet endpoint address: reached from the host's public IP, if it has
//      one; the connection arrives through no network;
//   4. a VPC endpoint listens at the address in another network, and a transit network joins that
//      network and the host's (a transit network carries the CIDRs of the networks it joins): the
//      connection arrives through that other network, where the endpoint is;
//   otherwise there is no route.
// Any VPC endpoint address can answer for any instance, as the live server's listeners do (they
// pick the instance by Host name): admission then judges the arrival network.
//
// A TopologyIndex reads the Topology it was built from, which must outlive it and not change.
// Its const methods are safe to call from several threads.

#ifndef KURA_ANALYZER_TOPOLOGY_INDEX_H_
#define KURA_ANALYZER_TOPOLOGY_INDEX_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "access/endpoint_kind.h"
#include "access/model.h"
#include "access/policy.h"
#include "core/cidr.h"
#include "topology/topology.h"

namespace kura::analyzer {

enum class ResolutionKind : uint8_t {
  kPrivateZone,      // found: a private zone attached to the network holds the record
  kPublicDns,        // found: public DNS (an Internet endpoint's hostname)
  kRegionalService,  // found: a personal VPC hostname, asked from a network of its region
  kNoRecordInZone,   // not found: an attached zone claims the name but has no record for it
  kNotInPublicDns,   // not found: a VPC hostname in no attached zone (enterprise edition)
  kOtherRegion,      // not found: a personal VPC hostname asked from a network of another region
};

struct Resolution {
  ResolutionKind kind = ResolutionKind::kNotInPublicDns;
  // kPrivateZone, kNoRecordInZone: the authoritative zone.
  const access::PrivateDnsZone* zone = nullptr;
  // When found: the address.
  core::IpAddress address;

  bool found() const { return kind <= ResolutionKind::kRegionalService; }
};

enum class PathKind : uint8_t {
  kSameNetwork,      // found: the address is a VPC endpoint address in the host's network
  kRegionalService,  // found: the regional service address of the host's region
  kInternet,         // found: an Internet endpoint address, from the host's public IP
  kTransit,          // found: a VPC endpoint address in a network a transit network joins
  kNothingListens,   // not found: the address is in a reachable network, but no endpoint is there
  kServiceOfOtherRegion,  // not found: another region's service address (not carried by transit)
  kNoPublicIp,            // not found: an Internet address, and the host has no public IP
  kNoRoute,               // not found: none of the above
};

struct Route {
  PathKind kind = PathKind::kNoRoute;
  // Found, except kInternet: the network the endpoint's listener sits in (the arrival network).
  const access::Network* arrival = nullptr;
  // kNothingListens: the network holding the address.
  const access::Network* holder = nullptr;
  // kTransit, and kNothingListens across a transit network: the transit network (the first by
  // id that joins both).
  const access::TransitNetwork* transit = nullptr;
  // kServiceOfOtherRegion: the region whose service address it is.
  std::string_view service_region;
  // Set by FromHost: the address the connection comes from (the public IP on the Internet, the
  // private IP otherwise).
  core::IpAddress source;

  bool found() const { return kind <= PathKind::kTransit; }
};

class TopologyIndex {
 public:
  // Indexes topology in O(its size · log). topology must outlive the index and not change.
  explicit TopologyIndex(const topology::Topology& topology);

  TopologyIndex(const TopologyIndex&) = delete;
  TopologyIndex& operator=(const TopologyIndex&) = delete;

  const topology::Topology& topology() const { return topology_; }

  // Networks are numbered 0..network_count()-1 in id order (then account order).
  size_t network_count() const { return networks_.size(); }
  const access::Network& NetworkAt(uint32_t number) const { return *networks_[number]; }
  // The number of the network, or nullopt.
  std::optional<uint32_t> NetworkNumber(const access::NetworkKey& network) const;
  // The number of the network bound to instance by binding (a network of its account).
  std::optional<uint32_t> NetworkNumber(const access::Instance& instance,
                                        const access::VpcBinding& binding) const {
    return NetworkNumber(access::NetworkKey{instance.account, binding.network});
  }
  // The number of the network host lives in (through its subnet). host must be of the topology.
  uint32_t NetworkNumberOf(const access::Host& host) const;

  // Step 1: what hostname (an endpoint hostname of instance, of the given kind) gives when asked
  // from network number `network` (see the top of this file).
  Resolution Resolve(uint32_t network, const access::Instance& instance, access::EndpointKind kind,
                     std::string_view hostname) const;

  // Step 2, the part that depends on the network only: the path from network number `network`
  // to address. An Internet path is found here whatever the host; FromHost completes it.
  Route RouteFromNetwork(uint32_t network, const core::IpAddress& address) const;

  // Step 2 for one host of that network: sets route.source, and turns an Internet path into
  // kNoPublicIp when the host has no public IP. Cheap: no allocation.
  static Route FromHost(Route route, const access::Host& host);

  // What the endpoint's listener sees of a connection over route (found): the kind asked for,
  // the source, and the arrival network (none on the Internet).
  static access::ConnectionContext ContextFor(access::EndpointKind kind, const Route& route);

 private:
  // The first transit network (by id) joining networks a and b, or -1.
  int TransitJoining(uint32_t a, uint32_t b) const;

  const topology::Topology& topology_;
  std::vector<const access::Network*> networks_;
  std::map<access::NetworkKey, uint32_t, std::less<>> network_numbers_;
  // Private DNS: which networks have a zone attached, and per zone name the sorted numbers of
  // the networks it is attached to (a quick, exact pre-check before World::ResolvePrivate).
  std::vector<bool> network_has_zone_;
  std::unordered_map<std::string_view, std::vector<uint32_t>> zone_name_networks_;
  // Transit networks in id order, their sorted member numbers, and per network its transits.
  std::vector<const access::TransitNetwork*> transits_;
  std::vector<std::vector<uint32_t>> transit_members_;
  std::vector<std::vector<uint32_t>> transits_of_network_;
  // Listeners: VPC endpoint binding addresses (address, network number), sorted; Internet
  // endpoint addresses, sorted and unique; regional service addresses (address, region), sorted.
  std::vector<std::pair<core::IpAddress, uint32_t>> binding_addresses_;
  std::vector<core::IpAddress> internet_addresses_;
  std::vector<std::pair<core::IpAddress, std::string_view>> service_addresses_;
};

}  // namespace kura::analyzer

#endif  // KURA_ANALYZER_TOPOLOGY_INDEX_H_
