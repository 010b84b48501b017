// The things of the exposure model (EXPOSURE.md, "The world the report built"): accounts,
// regions, networks (VPCs), subnets (vSwitches), hosts (ECS), transit networks (CEN), private
// DNS zones, and registry instances with their two endpoint policies.
//
// These are plain values. The World (world.h) holds them and is the only place that changes
// them, so the rules of EXPOSURE.md (e.g. "a VPC can be bound only if it belongs to the same
// account and the same region") hold for every value a World hands out.
//
// Identifiers are strings chosen by the operator ("A", "ap-northeast-1", "vpc-a"). Instance and
// region identifiers appear in hostnames, so they are DNS labels (see hostnames.h). A network's
// id is its owner's choice and unique within that account only: the network is the pair
// (account, id), a NetworkKey ("A/vpc-a" when written out).

#ifndef KURA_ACCESS_MODEL_H_
#define KURA_ACCESS_MODEL_H_

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "access/allowlist.h"
#include "access/endpoint_kind.h"
#include "core/cidr.h"

namespace kura::access {

using AccountId = std::string;
using RegionId = std::string;
using NetworkId = std::string;
using SubnetId = std::string;
using HostId = std::string;
using TransitNetworkId = std::string;
using ZoneId = std::string;
using InstanceName = std::string;

// True if `id` can name a network or a subnet: 1 to kMaxResourceIdLength letters, digits, '.',
// '_' and '-', starting with a letter or a digit (so never '/', which joins account and id).
inline constexpr size_t kMaxResourceIdLength = 64;
bool IsValidResourceId(std::string_view id);

// A network's identity: the account that owns it and the id that account gave it. Two accounts
// may each have a network "vpc-a"; they are two networks.
struct NetworkKey {
  AccountId account;
  NetworkId id;

  friend auto operator<=>(const NetworkKey&, const NetworkKey&) = default;
  friend bool operator==(const NetworkKey&, const NetworkKey&) = default;
  // "A/vpc-a".
  std::string ToString() const { return account + "/" + id; }
};

// The network `name` names: "ACCOUNT/ID", or a bare "ID" of `default_account` (as the admin API
// takes a network from a caller of account `default_account`).
NetworkKey ParseNetworkName(std::string_view name, std::string_view default_account);

// A cloud account: owns networks and instances.
struct Account {
  AccountId id;
  std::string name;  // free text, e.g. "account A"
};

// A region, e.g. {"ap-northeast-1", "Tokyo"}.
struct Region {
  RegionId id;
  std::string name;
};

// A private network (VPC) of one account in one region, with one or more address blocks.
struct Network {
  NetworkId id;
  AccountId account;
  RegionId region;
  std::vector<core::Cidr> cidrs;

  NetworkKey key() const { return {account, id}; }
};

// A subnet (vSwitch): one block inside one of its network's blocks. Subnet ids are unique in the
// World, across accounts.
struct Subnet {
  SubnetId id;
  NetworkKey network;
  core::Cidr cidr;
};

// A machine (ECS) with a private address in a subnet and maybe a public address. The model keeps
// hosts because their addresses are taken: a binding never gets a host's address.
struct Host {
  HostId id;
  SubnetId subnet;
  core::IpAddress private_ip;
  std::optional<core::IpAddress> public_ip;
};

// A transit network (CEN) joining networks across regions and accounts. The model records which
// networks it joins; what it routes is the analyzer's concern.
struct TransitNetwork {
  TransitNetworkId id;
  std::vector<NetworkKey> networks;
};

// An A (IPv4) or AAAA (IPv6) record. name is a lower-case hostname without a trailing dot.
struct DnsRecord {
  std::string name;
  core::IpAddress address;
};

// A private DNS zone, authoritative for `name` and every name under it in each network it is
// attached to. A network has at most one attached zone of a given name.
struct PrivateDnsZone {
  ZoneId id;
  std::string name;
  std::vector<DnsRecord> records;
  std::vector<NetworkKey> attached_networks;
};

enum class Edition {
  kPersonal,    // free; Internet endpoint open to all; VPC endpoint open to the whole region
  kEnterprise,  // created closed; Internet endpoint by allowlist; VPC endpoint by binding
};

// The longest incarnation accepted.
inline constexpr size_t kMaxIncarnationLength = 128;
// True if `incarnation` is 1 to kMaxIncarnationLength letters, digits, '-' and '_' (what
// auth::RandomSecret makes). The stores rely on it: the plain registry's key
// (store::kPlainRegistryKey) holds another character, so no instance can ever own its data.
bool IsValidIncarnation(std::string_view incarnation);

// "personal" or "enterprise".
std::string_view EditionName(Edition edition);
// The edition named by "personal" or "enterprise", or nullopt.
std::optional<Edition> ParseEdition(std::string_view name);

// Who the Internet endpoint admits. Meaningful for the enterprise edition only: a personal
// instance's Internet endpoint is open to all, whatever this holds (the World keeps it at
// enabled and empty).
struct InternetEndpointPolicy {
  bool enabled = false;
  // While enabled, only sources in here get in. "All IPs" is the entry 0.0.0.0/0 (and ::/0 for
  // IPv6). Empty admits nobody.
  Allowlist allowlist;
};

// A network bound to an enterprise instance's VPC endpoint, and the endpoint's address in it.
// The network is always of the instance's account (World::Bind refuses any other), so its id
// alone names it: {instance.account, network}.
struct VpcBinding {
  NetworkId network;
  SubnetId subnet;
  core::IpAddress private_ip;
};

// Which networks the VPC endpoint admits. Meaningful for the enterprise edition only: a personal
// instance's VPC endpoint admits every network of its region (and has no bindings).
struct VpcEndpointPolicy {
  std::vector<VpcBinding> bindings;

  // The binding of network, or nullptr.
  const VpcBinding* FindBinding(std::string_view network) const;
};

// One tenant registry, owned by one account, living in one region.
struct Instance {
  InstanceName name;
  AccountId account;
  RegionId region;
  Edition edition = Edition::kEnterprise;
  // Differs between two instances that had the same name at different times (the admin API
  // sets a random one), so that nothing issued for a deleted instance, such as a registry token,
  // is honoured by a new instance of the same name, and nothing it stored is seen by one: every
  // store keys an instance's data by its incarnation. IsValidIncarnation, or empty in a
  // topology file (a served World gives every instance one, see World::AssignIncarnation).
  std::string incarnation;
  InternetEndpointPolicy internet;
  VpcEndpointPolicy vpc;
};

}  // namespace kura::access

#endif  // KURA_ACCESS_MODEL_H_
