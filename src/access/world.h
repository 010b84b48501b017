// The World: every account, region, network, subnet, host, transit network, private DNS zone
// and registry instance kura knows, and the only operations that change them. Each operation
// enforces the rules of EXPOSURE.md, so a World never holds what those rules forbid (a personal
// Internet endpoint that is closed, a network bound across accounts or regions, two bindings on
// one address).
//
// Sharing: a World is a value. Changing one is not thread-safe; reading one (every const method)
// is, and takes no lock. The live server holds a std::shared_ptr<const World> snapshot and, on a
// change, copies it, applies the change to the copy and swaps the pointer in atomically. Its
// tables are persistent maps (core/persistent_map.h): a copy costs O(1) and shares everything
// with the original, and an operation costs O(log n) in the number of things, however many
// instances there are (the indexes below keep every lookup an operation needs off a scan).
//
// Every mutating method returns a Status: ok, or a code and one line naming what was refused and
// why, e.g. "cannot bind network vpc-b to instance acme: network belongs to account B, instance to
// account A". A refused operation changes nothing.

#ifndef KURA_ACCESS_WORLD_H_
#define KURA_ACCESS_WORLD_H_

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "access/allowlist.h"
#include "access/endpoint_kind.h"
#include "access/instance_table.h"
#include "access/model.h"
#include "access/policy.h"
#include "access/status.h"
#include "core/cidr.h"
#include "core/persistent_map.h"

namespace kura::access {

// What a network's private DNS says about a hostname.
struct PrivateDnsAnswer {
  // The zone attached to the network that is authoritative for the name (the longest zone name
  // equal to or a parent of it), or nullptr: then the private zones say nothing and public DNS
  // answers.
  const PrivateDnsZone* zone = nullptr;
  // The zone's record for the name; empty if there is no zone or the zone has no such record
  // (a private zone hides public names under it: the name does not resolve).
  std::optional<core::IpAddress> address;
};

class World {
 public:
  template <typename T>
  using Table = core::PersistentMap<std::string, T>;
  // Networks by (account, id): ids are unique within an account only.
  using NetworkTable = core::PersistentMap<NetworkKey, Network>;

  // domain: the DNS suffix of every endpoint hostname ("kura.test" gives
  // "acme-registry.ap-northeast-1.kura.test"). Must satisfy IsValidDomain (hostnames.h); the
  // caller checks it where the configuration is read.
  explicit World(std::string domain);

  const std::string& domain() const { return domain_; }

  // ---- The cloud around the registry.

  // Adds an account. Fails if the id is empty, holds '/' (see NetworkKey) or is taken.
  Status AddAccount(Account account);
  // Adds a region. Fails if the id is not a DNS label (it appears in hostnames) or is taken.
  Status AddRegion(Region region);
  // Adds a network. Fails if the id is not IsValidResourceId, the account already has a network
  // of that id (another account's network of the same id is another network), the account or
  // region is unknown, there is no CIDR, or two of its CIDRs overlap.
  Status AddNetwork(Network network);
  // Adds a subnet. Fails if the id is not IsValidResourceId or is taken (by a subnet of any
  // network), the network is unknown, the CIDR is not inside one of the network's CIDRs, or it
  // overlaps another subnet of the network.
  Status AddSubnet(Subnet subnet);
  // Adds a host. Fails if the id is empty or taken, the subnet is unknown, or the private
  // address is not a usable address of the subnet (see Bind) or is already taken by a host or a
  // binding.
  Status AddHost(Host host);
  // Adds a transit network joining the given networks. Fails if the id is empty or taken or a
  // network is unknown.
  Status AddTransitNetwork(TransitNetwork transit);

  // ---- Instances and their endpoints.

  // Creates an instance. A personal instance's Internet endpoint is open to all from the start;
  // an enterprise instance is created closed: Internet endpoint disabled with an empty
  // allowlist, no network bound. Fails if the name is not a valid instance name (hostnames.h) or
  // is taken, or the account or region is unknown.
  // `incarnation` tells this instance from an earlier one of the same name (see Instance): empty
  // or IsValidIncarnation, else the call fails.
  Status CreateInstance(InstanceName name, AccountId account, RegionId region, Edition edition,
                        std::string incarnation = {});
  // Creates an instance with its Internet endpoint as saved: what CreateInstance, then (for an
  // enterprise instance) SetInternetEnabled and ReplaceAllowlist do, with their checks, in one
  // insertion instead of three (start-up restores every saved instance this way). A personal
  // instance takes no allowlist; its endpoint is open to all whatever `internet_enabled` says.
  Status RestoreInstance(InstanceName name, AccountId account, RegionId region, Edition edition,
                         std::string incarnation, bool internet_enabled,
                         std::vector<AllowlistEntry> allowlist);
  // Gives an instance that has no incarnation (one read from a topology file, or from a World
  // saved before incarnations existed) its incarnation. Fails if the instance is unknown, has
  // one already (an incarnation never changes), or `incarnation` is not IsValidIncarnation.
  Status AssignIncarnation(std::string_view instance, std::string incarnation);
  // Deletes an instance, unbinding its networks first (see Unbind). Fails if it is unknown.
  Status DeleteInstance(std::string_view instance);

  // Enables or disables an enterprise instance's Internet endpoint. Enabling keeps the
  // allowlist: an empty one still admits nobody. For a personal instance enabling is a no-op and
  // disabling is refused: its Internet endpoint is always open to all.
  Status SetInternetEnabled(std::string_view instance, bool enabled);
  // Adds an entry to an enterprise instance's allowlist; an entry with the same CIDR gets the new
  // description. Refused for a personal instance (its Internet endpoint cannot be restricted).
  Status AllowCidr(std::string_view instance, AllowlistEntry entry);
  // Removes the entry with this CIDR. Fails if there is none; refused for a personal instance.
  Status RevokeCidr(std::string_view instance, const core::Cidr& cidr);
  // Replaces the whole allowlist in one step (for bulk loads of thousands of entries). Fails if
  // a CIDR appears twice; refused for a personal instance.
  Status ReplaceAllowlist(std::string_view instance, std::vector<AllowlistEntry> entries);

  // Binds network to an enterprise instance's VPC endpoint through subnet:
  //  - refused for a personal instance (its VPC endpoint serves the whole region, unbound);
  //  - refused if the network belongs to another account or lies in another region than the
  //    instance, the message naming which of the two differs (or both);
  //  - fails if the subnet is not in the network, or the network is already bound;
  //  - allocates the endpoint's private address: the lowest usable address of the subnet not
  //    taken by a host or another binding. Usable means: for IPv4 up to /30, all but the network
  //    and broadcast addresses; for IPv6 up to /126, all but the subnet-router anycast (the
  //    prefix address); for longer prefixes every address. Fails with kExhausted if none is free;
  //  - writes the A/AAAA record "VPC endpoint hostname -> that address" into the zone named
  //    exactly that hostname attached to the network, creating the zone (id
  //    "<hostname>@<network>") if there is none. A zone of just that name shadows no other name.
  // On success stores the new binding in *binding if binding is not null. When `address` is
  // given it is used instead of the lowest free one, and must be usable and free (this is how a
  // saved World is restored with the addresses it had).
  Status Bind(std::string_view instance, const NetworkKey& network, std::string_view subnet,
              VpcBinding* binding = nullptr, std::optional<core::IpAddress> address = std::nullopt);
  // Removes the binding of network (an id of the instance's account), releases its address, and
  // removes the record Bind wrote (if it still points at that address); a zone left without
  // records is deleted. Records someone copied into other networks' zones are theirs and stay.
  // Fails if the network is not bound.
  Status Unbind(std::string_view instance, std::string_view network);

  // ---- Private DNS (what an operator does by hand, e.g. step 4 of the report).

  // Creates an empty zone for name (a lower-case DNS name). Fails if the id is empty or taken or
  // the name is not a valid domain.
  Status CreatePrivateZone(ZoneId id, std::string name);
  // Attaches a zone to a network. Fails if either is unknown, or the network already has a zone
  // of the same name attached.
  Status AttachZone(std::string_view zone, const NetworkKey& network);
  // Sets the record of record.name (lower-cased), replacing one of the same name. Fails if the
  // zone is unknown or the name is not the zone's name or under it.
  Status SetRecord(std::string_view zone, DnsRecord record);
  // Removes the record of name. Fails if the zone or the record is unknown.
  Status RemoveRecord(std::string_view zone, std::string_view name);

  // ---- Reading. Pointers stay valid until this World is changed or destroyed.

  const Account* FindAccount(std::string_view id) const;
  const Region* FindRegion(std::string_view id) const;
  const Network* FindNetwork(const NetworkKey& key) const;
  const Subnet* FindSubnet(std::string_view id) const;
  const Host* FindHost(std::string_view id) const;
  const TransitNetwork* FindTransitNetwork(std::string_view id) const;
  const PrivateDnsZone* FindZone(std::string_view id) const;
  const Instance* FindInstance(std::string_view name) const;

  const Table<Account>& accounts() const { return accounts_; }
  const Table<Region>& regions() const { return regions_; }
  const NetworkTable& networks() const { return networks_; }
  const Table<Subnet>& subnets() const { return subnets_; }
  const Table<Host>& hosts() const { return hosts_; }
  const Table<TransitNetwork>& transit_networks() const { return transit_networks_; }
  const Table<PrivateDnsZone>& zones() const { return zones_; }
  const Table<Instance>& instances() const { return instances_.map(); }

  // The hostname of an endpoint of instance under this World's domain.
  std::string Hostname(const Instance& instance, EndpointKind kind) const;

  // The instance and endpoint a Host header value names, or nullptr with *error set (if not
  // null) when the host does not parse (ParseEndpointHost), names no instance, or names the
  // wrong region for it. *kind (if not null) receives the endpoint kind.
  const Instance* FindInstanceByHost(std::string_view host, EndpointKind* kind,
                                     std::string* error = nullptr) const;

  // The ArrivalNetwork for a connection coming through network, or nullopt if it is unknown.
  std::optional<ArrivalNetwork> ArrivalThrough(const NetworkKey& network) const;

  // What the private zones attached to network say about hostname (case-insensitive).
  PrivateDnsAnswer ResolvePrivate(const NetworkKey& network, std::string_view hostname) const;

 private:
  Instance* MutableInstance(std::string_view name);
  // The attached zone of network named exactly name, or nullptr.
  PrivateDnsZone* AttachedZoneNamed(const NetworkKey& network, std::string_view name);
  // True if address is held by a host or a binding in subnet.
  bool IsTaken(const Subnet& subnet, const core::IpAddress& address) const;
  // The lowest usable address of subnet that is not taken (see Bind), or nullopt.
  std::optional<core::IpAddress> FirstFreeAddress(const Subnet& subnet) const;
  // CreateInstance's checks of a new instance.
  Status CheckNewInstance(const std::string& name, const std::string& account,
                          const std::string& region, const std::string& incarnation) const;
  // ReplaceAllowlist's check: no CIDR twice.
  static Status CheckAllowlist(std::string_view instance,
                               const std::vector<AllowlistEntry>& entries);
  // Common checks of the allowlist operations: the instance exists and is enterprise.
  Status EditableInternetPolicy(std::string_view instance, std::string_view action, Instance** out);

  std::string domain_;
  Table<Account> accounts_;
  Table<Region> regions_;
  NetworkTable networks_;
  Table<Subnet> subnets_;
  Table<Host> hosts_;
  Table<TransitNetwork> transit_networks_;
  Table<PrivateDnsZone> zones_;
  InstanceTable instances_;

  // Indexes, kept by the operations above.
  // An address of a subnet held by a host or a binding.
  struct TakenAddress {
    SubnetId subnet;
    core::Uint128 address;
    friend auto operator<=>(const TakenAddress&, const TakenAddress&) = default;
  };
  core::PersistentMap<TakenAddress, char> taken_addresses_;
  // The zone attached to a network under a name (a network has at most one of each name).
  struct AttachedName {
    NetworkKey network;
    std::string name;
    friend auto operator<=>(const AttachedName&, const AttachedName&) = default;
  };
  core::PersistentMap<AttachedName, ZoneId> attached_zones_;
  // The subnets of each network, for the overlap check.
  struct NetworkSubnet {
    NetworkKey network;
    SubnetId subnet;
    friend auto operator<=>(const NetworkSubnet&, const NetworkSubnet&) = default;
  };
  core::PersistentMap<NetworkSubnet, core::Cidr> subnets_by_network_;
};

}  // namespace kura::access

#endif  // KURA_ACCESS_WORLD_H_
