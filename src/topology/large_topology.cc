#include "topology/large_topology.h"

#include <algorithm>
#include <set>
#include <stdexcept>
#include <vector>

#include "core/cidr.h"

namespace kura::topology {
namespace {

constexpr size_t kAccounts = 10;
constexpr size_t kRegions = 4;
constexpr size_t kHostsPerNetwork = 100;
constexpr size_t kTransitMembers = 5;
constexpr uint32_t kUsablePerSubnet = 1022;  // a /22 without network and broadcast

std::string V4(uint32_t value) {
  return core::IpAddress::V4(value).ToString();
}

// The first address of network n: 10.0.0.0 + n * 1024.
uint32_t NetworkBase(size_t n) {
  return (10u << 24) + static_cast<uint32_t>(n) * 1024u;
}

// The NAT public IP of network n, or 0 if its hosts have none.
uint32_t PublicIpOf(size_t n) {
  if (n % 5 == 4) return 0;
  // 198.51.100.16-239 and 203.0.113.16-239: clear of the office range 198.51.100.0/28 below and
  // of the Internet endpoint address 203.0.113.1.
  const uint32_t p = static_cast<uint32_t>(n % 448);
  return p < 224 ? (198u << 24 | 51u << 16 | 100u << 8) + 16 + p
                 : (203u << 24 | 0u << 16 | 113u << 8) + 16 + (p - 224);
}

}  // namespace

std::string GenerateLargeTopology(size_t hosts, size_t instances) {
  if (hosts == 0 || instances == 0 || hosts > 1000000) {
    throw std::invalid_argument("a large topology has 1 to 1,000,000 hosts and 1 instance or more");
  }
  const size_t networks = std::max<size_t>(4, (hosts + kHostsPerNetwork - 1) / kHostsPerNetwork);
  const size_t transits = std::max<size_t>(1, networks / 10);
  auto hosts_in = [&](size_t n) { return hosts / networks + (n < hosts % networks ? 1 : 0); };
  auto account_of = [](size_t n) { return "acct-" + std::to_string(n % kAccounts); };
  auto region_of = [](size_t n) { return "region-" + std::to_string(n % kRegions); };

  std::string y;
  y.reserve(hosts * 120 + instances * 400 + networks * 200);
  y += "# A generated topology: " + std::to_string(hosts) + " hosts, " + std::to_string(instances) +
       " instances (kura scope generate).\n";
  y += "domain: kura.test\n";

  y += "accounts:\n";
  for (size_t a = 0; a < kAccounts; ++a) y += "  - {id: acct-" + std::to_string(a) + "}\n";
  y += "regions:\n";
  for (size_t r = 0; r < kRegions; ++r) y += "  - {id: region-" + std::to_string(r) + "}\n";

  y += "networks:\n";
  for (size_t n = 0; n < networks; ++n) {
    const std::string cidr = V4(NetworkBase(n)) + "/22";
    const std::string id = std::to_string(n);
    y += "  - {id: net-" + id + ", account: " + account_of(n) + ", region: " + region_of(n) +
         ", cidrs: [" + cidr + "], subnets: [{id: sub-" + id + ", cidr: " + cidr + "}]}\n";
  }

  y += "hosts:\n";
  for (size_t j = 0; j < hosts; ++j) {
    const size_t n = j % networks;
    const uint32_t position = static_cast<uint32_t>(j / networks);
    y += "  - {id: host-" + std::to_string(j) + ", network: net-" + std::to_string(n) +
         ", private_ip: " + V4(NetworkBase(n) + 1 + position);
    if (uint32_t public_ip = PublicIpOf(n)) y += ", public_ip: " + V4(public_ip);
    if (j % 50 == 0) {
      y += ", logins: [{instance: inst-" + std::to_string(j % instances) +
           ", user: dev, password: wrong}]";
    }
    y += "}\n";
  }

  std::vector<std::vector<size_t>> members(transits);
  y += "transit_networks:\n";
  for (size_t t = 0; t < transits; ++t) {
    std::set<size_t> joined;
    for (size_t x = 0; x < kTransitMembers; ++x) joined.insert((t * 10 + x * 13) % networks);
    members[t].assign(joined.begin(), joined.end());
    y += "  - {id: cen-" + std::to_string(t) + ", networks: [";
    for (size_t k = 0; k < members[t].size(); ++k) {
      y += (k ? ", net-" : "net-") + std::to_string(members[t][k]);
    }
    y += "]}\n";
  }

  // Per network, the instances bound to it and their addresses (given explicitly, so that the
  // shared records below know them).
  std::vector<std::vector<std::pair<size_t, uint32_t>>> bound(networks);
  y += "instances:\n";
  for (size_t i = 0; i < instances; ++i) {
    const size_t n = i % networks;
    const bool personal = i % 5 < 2;
    y += "  - name: inst-" + std::to_string(i) + "\n    account: " + account_of(n) +
         "\n    region: " + region_of(n) +
         "\n    edition: " + (personal ? "personal" : "enterprise") + "\n";
    if (!personal) {
      switch (i % 4) {
        case 0:
          break;  // created closed: disabled
        case 1:
          y += "    internet: {enabled: true, allowlist: [{cidr: 0.0.0.0/0, description: all}]}\n";
          break;
        default: {
          std::set<uint32_t> sources;
          for (size_t x = 0; x < 3; ++x) {
            if (uint32_t ip = PublicIpOf((i * 7 + x * 11) % networks)) sources.insert(ip);
          }
          y += "    internet:\n      enabled: true\n      allowlist:\n"
               "        - {cidr: 198.51.100.0/28, description: office}\n";
          for (uint32_t ip : sources) {
            y += "        - {cidr: " + V4(ip) + "/32, description: NAT}\n";
          }
        }
      }
      const uint32_t used = static_cast<uint32_t>(hosts_in(n) + bound[n].size());
      if (i % 3 != 0 && used < kUsablePerSubnet) {
        const uint32_t ip = NetworkBase(n) + 1 + used;
        bound[n].emplace_back(i, ip);
        y +=
            "    vpc: {bindings: [{network: net-" + std::to_string(n) + ", ip: " + V4(ip) + "}]}\n";
      }
    }
    y += "    credentials: [{user: dev, password: pw-" + std::to_string(i) + "}]\n";
  }

  // Share one bound instance of each member network with the other members of the transit.
  y += "private_zones:\n";
  std::vector<size_t> shared_of_network(networks, 0);
  std::set<size_t> shared;
  for (size_t t = 0; t < transits; ++t) {
    for (size_t m : members[t]) {
      std::vector<size_t> others;
      for (size_t other : members[t]) {
        if (other != m) others.push_back(other);
      }
      if (others.empty()) continue;
      for (; shared_of_network[m] < bound[m].size(); ++shared_of_network[m]) {
        const auto [instance, ip] = bound[m][shared_of_network[m]];
        if (!shared.insert(instance).second) continue;
        const std::string name = "inst-" + std::to_string(instance) + "-registry-vpc." +
                                 region_of(instance % networks) + ".kura.test";
        y += "  - {name: " + name + ", networks: [";
        for (size_t k = 0; k < others.size(); ++k) {
          y += (k ? ", net-" : "net-") + std::to_string(others[k]);
        }
        y += "], records: [{address: " + V4(ip) + "}]}\n";
        break;
      }
    }
  }
  return y;
}

}  // namespace kura::topology
