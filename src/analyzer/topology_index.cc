#include "analyzer/topology_index.h"

#include <algorithm>
#include <tuple>

namespace kura::analyzer {
namespace {

bool HoldsAddress(const access::Network& network, const core::IpAddress& address) {
  return std::any_of(network.cidrs.begin(), network.cidrs.end(),
                     [&](const core::Cidr& cidr) { return cidr.Contains(address); });
}

// Orders (address, network) pairs against a bare address.
struct ByAddress {
  bool operator()(const std::pair<core::IpAddress, uint32_t>& a, const core::IpAddress& b) const {
    return a.first < b;
  }
  bool operator()(const core::IpAddress& a, const std::pair<core::IpAddress, uint32_t>& b) const {
    return a < b.first;
  }
};

bool SortedContains(const std::vector<uint32_t>& sorted, uint32_t value) {
  return std::binary_search(sorted.begin(), sorted.end(), value);
}

}  // namespace

TopologyIndex::TopologyIndex(const topology::Topology& topology) : topology_(topology) {
  const access::World& world = topology.world;
  networks_.reserve(world.networks().size());
  for (const auto& [key, network] : world.networks()) networks_.push_back(&network);
  std::sort(networks_.begin(), networks_.end(),
            [](const access::Network* a, const access::Network* b) {
              return std::tie(a->id, a->account) < std::tie(b->id, b->account);
            });
  for (uint32_t number = 0; number < networks_.size(); ++number) {
    network_numbers_.emplace(networks_[number]->key(), number);
  }

  network_has_zone_.assign(networks_.size(), false);
  for (const auto& [id, zone] : world.zones()) {
    std::vector<uint32_t>& attached = zone_name_networks_[zone.name];
    for (const access::NetworkKey& network : zone.attached_networks) {
      if (std::optional<uint32_t> number = NetworkNumber(network)) {
        attached.push_back(*number);
        network_has_zone_[*number] = true;
      }
    }
  }
  for (auto& [name, attached] : zone_name_networks_) {
    std::sort(attached.begin(), attached.end());
    attached.erase(std::unique(attached.begin(), attached.end()), attached.end());
  }

  transits_of_network_.resize(networks_.size());
  for (const auto& [id, transit] : world.transit_networks()) {
    const uint32_t number = static_cast<uint32_t>(transits_.size());
    transits_.push_back(&transit);
    std::vector<uint32_t> members;
    for (const access::NetworkKey& network : transit.networks) {
      if (std::optional<uint32_t> member = NetworkNumber(network)) members.push_back(*member);
    }
    std::sort(members.begin(), members.end());
    members.erase(std::unique(members.begin(), members.end()), members.end());
    for (uint32_t member : members) transits_of_network_[member].push_back(number);
    transit_members_.push_back(std::move(members));
  }

  for (const auto& [name, instance] : world.instances()) {
    for (const access::VpcBinding& binding : instance.vpc.bindings) {
      if (std::optional<uint32_t> number = NetworkNumber(instance, binding)) {
        binding_addresses_.emplace_back(binding.private_ip, *number);
      }
    }
  }
  std::sort(binding_addresses_.begin(), binding_addresses_.end());
  binding_addresses_.erase(std::unique(binding_addresses_.begin(), binding_addresses_.end()),
                           binding_addresses_.end());

  for (const auto& [name, setup] : topology.instances) {
    internet_addresses_.push_back(setup.internet_address);
  }
  std::sort(internet_addresses_.begin(), internet_addresses_.end());
  internet_addresses_.erase(std::unique(internet_addresses_.begin(), internet_addresses_.end()),
                            internet_addresses_.end());

  for (const auto& [region, address] : topology.service_addresses) {
    service_addresses_.emplace_back(address, region);
  }
  std::sort(service_addresses_.begin(), service_addresses_.end());
}

std::optional<uint32_t> TopologyIndex::NetworkNumber(const access::NetworkKey& id) const {
  auto it = network_numbers_.find(id);
  if (it == network_numbers_.end()) return std::nullopt;
  return it->second;
}

uint32_t TopologyIndex::NetworkNumberOf(const access::Host& host) const {
  return *NetworkNumber(topology_.world.FindSubnet(host.subnet)->network);
}

Resolution TopologyIndex::Resolve(uint32_t network, const access::Instance& instance,
                                  access::EndpointKind kind, std::string_view hostname) const {
  Resolution resolution;
  // 1. Private DNS. The pre-check asks whether a zone named like the hostname or one of its
  // parents is attached to the network; only then does the World answer (rarely: most pairs of
  // a large world have no private zone in between).
  if (network_has_zone_[network]) {
    bool claimed = false;
    for (size_t start = 0; !claimed && start < hostname.size();) {
      auto it = zone_name_networks_.find(hostname.substr(start));
      claimed = it != zone_name_networks_.end() && SortedContains(it->second, network);
      size_t dot = hostname.find('.', start);
      start = dot == std::string_view::npos ? hostname.size() : dot + 1;
    }
    if (claimed) {
      access::PrivateDnsAnswer answer =
          topology_.world.ResolvePrivate(networks_[network]->key(), hostname);
      if (answer.zone != nullptr) {
        resolution.zone = answer.zone;
        if (!answer.address) {
          resolution.kind = ResolutionKind::kNoRecordInZone;
          return resolution;
        }
        resolution.kind = ResolutionKind::kPrivateZone;
        resolution.address = *answer.address;
        return resolution;
      }
    }
  }
  // 2. Public DNS.
  if (kind == access::EndpointKind::kInternet) {
    resolution.kind = ResolutionKind::kPublicDns;
    resolution.address = topology_.SetupOf(instance.name).internet_address;
    return resolution;
  }
  // 3. The regional service name of a personal instance.
  if (instance.edition == access::Edition::kPersonal) {
    if (networks_[network]->region != instance.region) {
      resolution.kind = ResolutionKind::kOtherRegion;
      return resolution;
    }
    resolution.kind = ResolutionKind::kRegionalService;
    resolution.address = *topology_.ServiceAddressOf(instance.region);
    return resolution;
  }
  resolution.kind = ResolutionKind::kNotInPublicDns;
  return resolution;
}

int TopologyIndex::TransitJoining(uint32_t a, uint32_t b) const {
  for (uint32_t transit : transits_of_network_[a]) {
    if (SortedContains(transit_members_[transit], b)) return static_cast<int>(transit);
  }
  return -1;
}

Route TopologyIndex::RouteFromNetwork(uint32_t network, const core::IpAddress& address) const {
  Route route;
  const access::Network& from = *networks_[network];
  auto bindings =
      std::equal_range(binding_addresses_.begin(), binding_addresses_.end(), address, ByAddress{});

  // 1. Inside the host's network.
  if (HoldsAddress(from, address)) {
    const bool listening = std::any_of(bindings.first, bindings.second, [&](const auto& binding) {
      return binding.second == network;
    });
    route.kind = listening ? PathKind::kSameNetwork : PathKind::kNothingListens;
    (listening ? route.arrival : route.holder) = &from;
    return route;
  }

  // 2. A regional service address: from its own region only, never across a transit network.
  auto service = std::lower_bound(service_addresses_.begin(), service_addresses_.end(), address,
                                  [](const std::pair<core::IpAddress, std::string_view>& a,
                                     const core::IpAddress& b) { return a.first < b; });
  if (service != service_addresses_.end() && service->first == address) {
    if (service->second == from.region) {
      route.kind = PathKind::kRegionalService;
      route.arrival = &from;
    } else {
      route.kind = PathKind::kServiceOfOtherRegion;
      route.service_region = service->second;
    }
    return route;
  }

  // 3. An Internet endpoint.
  if (std::binary_search(internet_addresses_.begin(), internet_addresses_.end(), address)) {
    route.kind = PathKind::kInternet;
    return route;
  }

  // 4. A VPC endpoint in a network joined to the host's by a transit network.
  for (auto it = bindings.first; it != bindings.second; ++it) {
    if (int transit = TransitJoining(network, it->second); transit >= 0) {
      route.kind = PathKind::kTransit;
      route.arrival = networks_[it->second];
      route.transit = transits_[transit];
      return route;
    }
  }
  // No endpoint there: say whether the address at least lies in a network the transit reaches.
  for (uint32_t transit : transits_of_network_[network]) {
    for (uint32_t member : transit_members_[transit]) {
      if (member != network && HoldsAddress(*networks_[member], address)) {
        route.kind = PathKind::kNothingListens;
        route.holder = networks_[member];
        route.transit = transits_[transit];
        return route;
      }
    }
  }
  route.kind = PathKind::kNoRoute;
  return route;
}

Route TopologyIndex::FromHost(Route route, const access::Host& host) {
  if (route.kind == PathKind::kInternet) {
    if (!host.public_ip) {
      route.kind = PathKind::kNoPublicIp;
      return route;
    }
    route.source = *host.public_ip;
    return route;
  }
  route.source = host.private_ip;
  return route;
}

access::ConnectionContext TopologyIndex::ContextFor(access::EndpointKind kind, const Route& route) {
  access::ConnectionContext context;
  context.kind = kind;
  context.source = route.source;
  if (route.arrival != nullptr) {
    context.arrival_network =
        access::ArrivalNetwork{route.arrival->id, route.arrival->region, route.arrival->account};
  }
  return context;
}

}  // namespace kura::analyzer
