// A large, made-up topology for benchmarks and scale tests: the same shape as the field report
// (personal and enterprise instances, allowlists, bindings, transit networks with private DNS
// records shared across accounts), repeated until it has the hosts and instances asked for.
//
// The shape, for H hosts and I instances:
//   10 accounts, 4 regions; max(4, ceil(H / 100)) networks (net-N, one /22 subnet each, account
//   N mod 10, region N mod 4), hosts spread round-robin over them; the hosts of 4 networks in 5
//   share a public IP (a NAT gateway), the rest have none;
//   max(1, networks / 10) transit networks of 5 networks each, across accounts and regions;
//   instances inst-I in the account and region of network I mod networks: 2 in 5 personal; of
//   the enterprise ones, the Internet endpoint is disabled, open to all, or limited to a few
//   public IPs, and 2 in 3 are bound to that network; each bound instance is shared once over a
//   transit network by a private zone in the other networks it joins;
//   every instance has user "dev"; every 50th host tries a wrong password on one instance.
// The same arguments give the same text.

#ifndef KURA_TOPOLOGY_LARGE_TOPOLOGY_H_
#define KURA_TOPOLOGY_LARGE_TOPOLOGY_H_

#include <cstddef>
#include <string>

namespace kura::topology {

// The topology file (YAML, see topology.h) of a world with `hosts` hosts and `instances`
// instances. hosts and instances must be at least 1 and hosts at most 1,000,000.
std::string GenerateLargeTopology(size_t hosts, size_t instances);

}  // namespace kura::topology

#endif  // KURA_TOPOLOGY_LARGE_TOPOLOGY_H_
