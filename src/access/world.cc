#include "access/world.h"

#include <algorithm>
#include <utility>

#include "access/hostnames.h"

namespace kura::access {
namespace {

template <typename T>
const T* FindIn(const World::Table<T>& table, std::string_view key) {
  return table.Find(key);
}

// True if name is zone or a name under it.
bool IsWithin(std::string_view name, std::string_view zone) {
  return name == zone || (name.size() > zone.size() && name.ends_with(zone) &&
                          name[name.size() - zone.size() - 1] == '.');
}

// The addresses of subnet a binding or a host may take (see World::Bind).
struct UsableRange {
  core::Uint128 first;
  core::Uint128 last;
};

UsableRange UsableAddresses(const core::Cidr& cidr) {
  UsableRange range{cidr.network().value(), cidr.last().value()};
  int host_bits = cidr.network().bit_width() - cidr.length();
  if (host_bits >= 2) {
    range.first = range.first.Next();  // network address / subnet-router anycast
    if (cidr.family() == core::IpFamily::kV4) range.last = range.last.Previous();  // broadcast
  }
  return range;
}

bool IsUsable(const core::Cidr& cidr, const core::IpAddress& address) {
  UsableRange range = UsableAddresses(cidr);
  return cidr.Contains(address) && range.first <= address.value() && address.value() <= range.last;
}

}  // namespace

World::World(std::string domain) : domain_(LowerCaseName(domain)) {}

// ---- The cloud around the registry.

Status World::AddAccount(Account account) {
  if (account.id.empty()) return Status::InvalidArgument("cannot add account: the id is empty");
  if (account.id.find('/') != std::string::npos) {
    return Status::InvalidArgument("cannot add account " + account.id +
                                   ": an account id has no '/' (it joins account and network id)");
  }
  if (accounts_.contains(account.id)) {
    return Status::AlreadyExists("account " + account.id + " already exists");
  }
  std::string id = account.id;
  accounts_.Set(std::move(id), std::move(account));
  return Status::Ok();
}

Status World::AddRegion(Region region) {
  if (!IsValidRegionId(region.id)) {
    return Status::InvalidArgument("cannot add region \"" + region.id +
                                   "\": a region id is a DNS label of a-z, 0-9 and '-'");
  }
  if (regions_.contains(region.id)) {
    return Status::AlreadyExists("region " + region.id + " already exists");
  }
  std::string id = region.id;
  regions_.Set(std::move(id), std::move(region));
  return Status::Ok();
}

Status World::AddNetwork(Network network) {
  const std::string prefix = "cannot add network " + network.id + ": ";
  if (!IsValidResourceId(network.id)) {
    return Status::InvalidArgument(
        "cannot add network \"" + network.id + "\": a network id is 1 to " +
        std::to_string(kMaxResourceIdLength) +
        " letters, digits, '.', '_' and '-', starting with a letter or a digit");
  }
  if (networks_.contains(network.key())) {
    return Status::AlreadyExists(prefix + "account " + network.account +
                                 " already has a network of that id");
  }
  if (!accounts_.contains(network.account)) {
    return Status::NotFound(prefix + "no such account " + network.account);
  }
  if (!regions_.contains(network.region)) {
    return Status::NotFound(prefix + "no such region " + network.region);
  }
  if (network.cidrs.empty()) return Status::InvalidArgument(prefix + "it has no CIDR");
  for (size_t i = 0; i < network.cidrs.size(); ++i) {
    for (size_t j = i + 1; j < network.cidrs.size(); ++j) {
      if (network.cidrs[i].Overlaps(network.cidrs[j])) {
        return Status::InvalidArgument(prefix + network.cidrs[i].ToString() + " overlaps " +
                                       network.cidrs[j].ToString());
      }
    }
  }
  NetworkKey key = network.key();
  networks_.Set(std::move(key), std::move(network));
  return Status::Ok();
}

Status World::AddSubnet(Subnet subnet) {
  const std::string prefix = "cannot add subnet " + subnet.id + ": ";
  if (!IsValidResourceId(subnet.id)) {
    return Status::InvalidArgument(
        "cannot add subnet \"" + subnet.id + "\": a subnet id is 1 to " +
        std::to_string(kMaxResourceIdLength) +
        " letters, digits, '.', '_' and '-', starting with a letter or a digit");
  }
  if (subnets_.contains(subnet.id)) return Status::AlreadyExists(prefix + "it already exists");
  const Network* network = FindNetwork(subnet.network);
  if (network == nullptr) {
    return Status::NotFound(prefix + "no such network " + subnet.network.id + " in account " +
                            subnet.network.account);
  }
  if (std::none_of(network->cidrs.begin(), network->cidrs.end(),
                   [&](const core::Cidr& block) { return block.Contains(subnet.cidr); })) {
    return Status::InvalidArgument(prefix + subnet.cidr.ToString() +
                                   " is not inside a CIDR of network " + network->id);
  }
  for (auto it = subnets_by_network_.lower_bound(NetworkSubnet{subnet.network, ""});
       it != subnets_by_network_.end() && it.key().network == subnet.network; ++it) {
    if (it.value().Overlaps(subnet.cidr)) {
      return Status::InvalidArgument(prefix + subnet.cidr.ToString() + " overlaps subnet " +
                                     it.key().subnet + " (" + it.value().ToString() + ")");
    }
  }
  subnets_by_network_.Set({subnet.network, subnet.id}, subnet.cidr);
  std::string id = subnet.id;
  subnets_.Set(std::move(id), std::move(subnet));
  return Status::Ok();
}

Status World::AddHost(Host host) {
  const std::string prefix = "cannot add host " + host.id + ": ";
  if (host.id.empty()) return Status::InvalidArgument("cannot add host: the id is empty");
  if (hosts_.contains(host.id)) return Status::AlreadyExists(prefix + "it already exists");
  const Subnet* subnet = FindSubnet(host.subnet);
  if (subnet == nullptr) return Status::NotFound(prefix + "no such subnet " + host.subnet);
  if (!IsUsable(subnet->cidr, host.private_ip)) {
    return Status::InvalidArgument(prefix + host.private_ip.ToString() +
                                   " is not a usable address of subnet " + subnet->id + " (" +
                                   subnet->cidr.ToString() + ")");
  }
  if (IsTaken(*subnet, host.private_ip)) {
    return Status::AlreadyExists(prefix + host.private_ip.ToString() + " is already taken");
  }
  taken_addresses_.Set({subnet->id, host.private_ip.value()}, 0);
  std::string id = host.id;
  hosts_.Set(std::move(id), std::move(host));
  return Status::Ok();
}

Status World::AddTransitNetwork(TransitNetwork transit) {
  const std::string prefix = "cannot add transit network " + transit.id + ": ";
  if (transit.id.empty()) {
    return Status::InvalidArgument("cannot add transit network: the id is empty");
  }
  if (transit_networks_.contains(transit.id)) {
    return Status::AlreadyExists(prefix + "it already exists");
  }
  for (const NetworkKey& network : transit.networks) {
    if (!networks_.contains(network)) {
      return Status::NotFound(prefix + "no such network " + network.ToString());
    }
  }
  std::string id = transit.id;
  transit_networks_.Set(std::move(id), std::move(transit));
  return Status::Ok();
}

// ---- Instances and their endpoints.

// Why a personal instance's allowlist cannot be set.
constexpr char kPersonalIsUnrestricted[] =
    "the internet endpoint of a personal edition instance is always open to all and cannot be "
    "restricted";

Status World::CheckNewInstance(const std::string& name, const std::string& account,
                               const std::string& region, const std::string& incarnation) const {
  const std::string prefix = "cannot create instance " + name + ": ";
  if (!IsValidInstanceName(name)) {
    return Status::InvalidArgument(
        "cannot create instance \"" + name + "\": an instance name is 1 to " +
        std::to_string(kMaxInstanceNameLength) +
        " of a-z, 0-9 and '-', starting with a letter and not ending with '-'");
  }
  if (instances_.contains(name)) return Status::AlreadyExists(prefix + "it already exists");
  if (!incarnation.empty() && !IsValidIncarnation(incarnation)) {
    return Status::InvalidArgument(prefix + "an incarnation is 1 to " +
                                   std::to_string(kMaxIncarnationLength) +
                                   " letters, digits, '-' and '_'");
  }
  if (!accounts_.contains(account)) return Status::NotFound(prefix + "no such account " + account);
  if (!regions_.contains(region)) return Status::NotFound(prefix + "no such region " + region);
  return Status::Ok();
}

Status World::CheckAllowlist(std::string_view instance,
                             const std::vector<AllowlistEntry>& entries) {
  std::vector<core::Cidr> cidrs;
  cidrs.reserve(entries.size());
  for (const AllowlistEntry& entry : entries) cidrs.push_back(entry.cidr);
  std::sort(cidrs.begin(), cidrs.end());
  if (auto twice = std::adjacent_find(cidrs.begin(), cidrs.end()); twice != cidrs.end()) {
    return Status::InvalidArgument("cannot replace the allowlist of instance " +
                                   std::string(instance) + ": " + twice->ToString() +
                                   " appears twice");
  }
  return Status::Ok();
}

Status World::CreateInstance(InstanceName name, AccountId account, RegionId region, Edition edition,
                             std::string incarnation) {
  return RestoreInstance(std::move(name), std::move(account), std::move(region), edition,
                         std::move(incarnation), /*internet_enabled=*/false, {});
}

Status World::RestoreInstance(InstanceName name, AccountId account, RegionId region,
                              Edition edition, std::string incarnation, bool internet_enabled,
                              std::vector<AllowlistEntry> allowlist) {
  Status checked = CheckNewInstance(name, account, region, incarnation);
  if (!checked.ok()) return checked;
  if (edition == Edition::kPersonal && !allowlist.empty()) {
    return Status::Refused("cannot replace the allowlist of instance " + name + ": " +
                           kPersonalIsUnrestricted);
  }
  checked = CheckAllowlist(name, allowlist);
  if (!checked.ok()) return checked;
  Instance instance;
  instance.name = std::move(name);
  instance.account = std::move(account);
  instance.region = std::move(region);
  instance.edition = edition;
  instance.incarnation = std::move(incarnation);
  // Personal: open to all, for good. Enterprise: open only if opened on purpose.
  instance.internet.enabled = edition == Edition::kPersonal || internet_enabled;
  if (!allowlist.empty()) instance.internet.allowlist = Allowlist(std::move(allowlist));
  instances_.Set(std::move(instance));
  return Status::Ok();
}

Status World::AssignIncarnation(std::string_view name, std::string incarnation) {
  const std::string prefix = "cannot give instance " + std::string(name) + " an incarnation: ";
  Instance* instance = MutableInstance(name);
  if (instance == nullptr) return Status::NotFound(prefix + "no such instance");
  if (!instance->incarnation.empty()) return Status::AlreadyExists(prefix + "it has one");
  if (!IsValidIncarnation(incarnation)) {
    return Status::InvalidArgument(prefix + "an incarnation is 1 to " +
                                   std::to_string(kMaxIncarnationLength) +
                                   " letters, digits, '-' and '_'");
  }
  instance->incarnation = std::move(incarnation);
  return Status::Ok();
}

Status World::DeleteInstance(std::string_view name) {
  const Instance* instance = FindInstance(name);
  if (instance == nullptr) {
    return Status::NotFound("cannot delete instance " + std::string(name) + ": no such instance");
  }
  // Found again after each Unbind: a change to the instance replaces its value.
  for (; !instance->vpc.bindings.empty(); instance = FindInstance(name)) {
    Status unbound = Unbind(name, NetworkId(instance->vpc.bindings.front().network));
    if (!unbound.ok()) return unbound;
  }
  instances_.Erase(name);
  return Status::Ok();
}

Status World::SetInternetEnabled(std::string_view name, bool enabled) {
  Instance* instance = MutableInstance(name);
  if (instance == nullptr) {
    return Status::NotFound("cannot " + std::string(enabled ? "enable" : "disable") +
                            " the internet endpoint of instance " + std::string(name) +
                            ": no such instance");
  }
  if (instance->edition == Edition::kPersonal) {
    if (enabled) return Status::Ok();
    return Status::Refused("cannot disable the internet endpoint of instance " + instance->name +
                           ": a personal edition instance is always open to all on the Internet");
  }
  instance->internet.enabled = enabled;
  return Status::Ok();
}

Status World::EditableInternetPolicy(std::string_view name, std::string_view action,
                                     Instance** out) {
  const std::string prefix =
      "cannot " + std::string(action) + " of instance " + std::string(name) + ": ";
  Instance* instance = MutableInstance(name);
  if (instance == nullptr) return Status::NotFound(prefix + "no such instance");
  if (instance->edition == Edition::kPersonal) {
    return Status::Refused(prefix + kPersonalIsUnrestricted);
  }
  *out = instance;
  return Status::Ok();
}

Status World::AllowCidr(std::string_view name, AllowlistEntry entry) {
  Instance* instance = nullptr;
  Status editable =
      EditableInternetPolicy(name, "add " + entry.cidr.ToString() + " to the allowlist", &instance);
  if (!editable.ok()) return editable;
  std::vector<AllowlistEntry> entries = instance->internet.allowlist.entries();
  auto same = std::find_if(entries.begin(), entries.end(),
                           [&](const AllowlistEntry& e) { return e.cidr == entry.cidr; });
  if (same != entries.end()) {
    same->description = std::move(entry.description);
  } else {
    entries.push_back(std::move(entry));
  }
  instance->internet.allowlist = Allowlist(std::move(entries));
  return Status::Ok();
}

Status World::RevokeCidr(std::string_view name, const core::Cidr& cidr) {
  Instance* instance = nullptr;
  Status editable =
      EditableInternetPolicy(name, "remove " + cidr.ToString() + " from the allowlist", &instance);
  if (!editable.ok()) return editable;
  std::vector<AllowlistEntry> entries = instance->internet.allowlist.entries();
  auto same = std::find_if(entries.begin(), entries.end(),
                           [&](const AllowlistEntry& e) { return e.cidr == cidr; });
  if (same == entries.end()) {
    return Status::NotFound("cannot remove " + cidr.ToString() +
                            " from the allowlist of instance " + instance->name +
                            ": it is not in the allowlist");
  }
  entries.erase(same);
  instance->internet.allowlist = Allowlist(std::move(entries));
  return Status::Ok();
}

Status World::ReplaceAllowlist(std::string_view name, std::vector<AllowlistEntry> entries) {
  Instance* instance = nullptr;
  Status editable = EditableInternetPolicy(name, "replace the allowlist", &instance);
  if (!editable.ok()) return editable;
  Status checked = CheckAllowlist(instance->name, entries);
  if (!checked.ok()) return checked;
  instance->internet.allowlist = Allowlist(std::move(entries));
  return Status::Ok();
}

Status World::Bind(std::string_view instance_name, const NetworkKey& network_key,
                   std::string_view subnet_id, VpcBinding* binding,
                   std::optional<core::IpAddress> address) {
  const std::string prefix =
      "cannot bind network " + network_key.id + " to instance " + std::string(instance_name) + ": ";
  Instance* instance = MutableInstance(instance_name);
  if (instance == nullptr) return Status::NotFound(prefix + "no such instance");
  const Network* network = FindNetwork(network_key);
  if (network == nullptr) {
    return Status::NotFound(prefix + "no such network in account " + network_key.account);
  }
  const Subnet* subnet = FindSubnet(subnet_id);
  if (subnet == nullptr) {
    return Status::NotFound(prefix + "no such subnet " + std::string(subnet_id));
  }
  if (instance->edition == Edition::kPersonal) {
    return Status::Refused(prefix +
                           "the VPC endpoint of a personal edition instance serves every network "
                           "of its region and takes no bindings");
  }

  // Rule: a network can be bound only if it belongs to the same account and the same region as
  // the instance.
  const bool other_account = network->account != instance->account;
  const bool other_region = network->region != instance->region;
  if (other_account && other_region) {
    return Status::Refused(prefix + "network belongs to account " + network->account +
                           " in region " + network->region + ", instance to account " +
                           instance->account + " in region " + instance->region);
  }
  if (other_account) {
    return Status::Refused(prefix + "network belongs to account " + network->account +
                           ", instance to account " + instance->account);
  }
  if (other_region) {
    return Status::Refused(prefix + "network is in region " + network->region +
                           ", instance in region " + instance->region);
  }

  if (subnet->network != network->key()) {
    return Status::InvalidArgument(
        prefix + "subnet " + subnet->id + " belongs to network " + subnet->network.id +
        (subnet->network.account == network->account ? ""
                                                     : " of account " + subnet->network.account));
  }
  if (const VpcBinding* bound = instance->vpc.FindBinding(network->id)) {
    return Status::AlreadyExists(prefix + "it is already bound (address " +
                                 bound->private_ip.ToString() + " in subnet " + bound->subnet +
                                 ")");
  }

  std::optional<core::IpAddress> free = address;
  if (address && (!IsUsable(subnet->cidr, *address) || IsTaken(*subnet, *address))) {
    return Status::InvalidArgument(prefix + address->ToString() +
                                   " is not a free usable address of subnet " + subnet->id + " (" +
                                   subnet->cidr.ToString() + ")");
  }
  if (!address) free = FirstFreeAddress(*subnet);
  if (!free) {
    return Status::Exhausted(prefix + "subnet " + subnet->id + " (" + subnet->cidr.ToString() +
                             ") has no free address");
  }

  const std::string hostname = Hostname(*instance, EndpointKind::kVpc);
  PrivateDnsZone* zone = AttachedZoneNamed(network->key(), hostname);
  if (zone == nullptr) {
    const ZoneId zone_id = hostname + "@" + network->id;
    if (zones_.contains(zone_id)) {
      return Status::AlreadyExists(prefix + "zone " + zone_id +
                                   " exists but is not attached to the network");
    }
    zones_.Set(zone_id, PrivateDnsZone{zone_id, hostname, {}, {network->key()}});
    attached_zones_.Set({network->key(), hostname}, zone_id);
    zone = zones_.Mutable(zone_id);
  }
  std::erase_if(zone->records, [&](const DnsRecord& r) { return r.name == hostname; });
  zone->records.push_back({hostname, *free});

  taken_addresses_.Set({subnet->id, free->value()}, 0);
  VpcBinding added{network->id, subnet->id, *free};
  instance->vpc.bindings.push_back(added);
  if (binding != nullptr) *binding = std::move(added);
  return Status::Ok();
}

Status World::Unbind(std::string_view instance_name, std::string_view network_id) {
  const std::string prefix = "cannot unbind network " + std::string(network_id) +
                             " from instance " + std::string(instance_name) + ": ";
  Instance* instance = MutableInstance(instance_name);
  if (instance == nullptr) return Status::NotFound(prefix + "no such instance");
  std::vector<VpcBinding>& bindings = instance->vpc.bindings;
  auto bound = std::find_if(bindings.begin(), bindings.end(),
                            [&](const VpcBinding& b) { return b.network == network_id; });
  if (bound == bindings.end()) return Status::NotFound(prefix + "it is not bound");

  const std::string hostname = Hostname(*instance, EndpointKind::kVpc);
  if (PrivateDnsZone* zone =
          AttachedZoneNamed({instance->account, std::string(network_id)}, hostname)) {
    std::erase_if(zone->records, [&](const DnsRecord& r) {
      return r.name == hostname && r.address == bound->private_ip;
    });
    if (zone->records.empty()) {
      for (const NetworkKey& attached : zone->attached_networks) {
        attached_zones_.Erase(AttachedName{attached, zone->name});
      }
      zones_.Erase(ZoneId(zone->id));
    }
  }
  taken_addresses_.Erase(TakenAddress{bound->subnet, bound->private_ip.value()});
  bindings.erase(bound);
  return Status::Ok();
}

// ---- Private DNS.

Status World::CreatePrivateZone(ZoneId id, std::string name) {
  name = LowerCaseName(name);
  const std::string prefix = "cannot create zone " + id + ": ";
  if (id.empty()) return Status::InvalidArgument("cannot create zone: the id is empty");
  if (zones_.contains(id)) return Status::AlreadyExists(prefix + "it already exists");
  if (!IsValidDomain(name)) {
    return Status::InvalidArgument(prefix + "\"" + name + "\" is not a valid DNS name");
  }
  PrivateDnsZone zone;
  zone.id = id;
  zone.name = std::move(name);
  zones_.Set(std::move(id), std::move(zone));
  return Status::Ok();
}

Status World::AttachZone(std::string_view zone_id, const NetworkKey& network_id) {
  const std::string prefix =
      "cannot attach zone " + std::string(zone_id) + " to network " + network_id.id + ": ";
  const PrivateDnsZone* found = zones_.Find(zone_id);
  if (found == nullptr) return Status::NotFound(prefix + "no such zone");
  if (!networks_.contains(network_id)) {
    return Status::NotFound(prefix + "no such network in account " + network_id.account);
  }
  if (const ZoneId* same = attached_zones_.Find(AttachedName{network_id, found->name})) {
    return Status::AlreadyExists(prefix + "zone " + *same + " of the same name " + found->name +
                                 " is already attached");
  }
  attached_zones_.Set({network_id, found->name}, found->id);
  zones_.Mutable(zone_id)->attached_networks.emplace_back(network_id);
  return Status::Ok();
}

Status World::SetRecord(std::string_view zone_id, DnsRecord record) {
  record.name = LowerCaseName(record.name);
  const std::string prefix =
      "cannot set record " + record.name + " in zone " + std::string(zone_id) + ": ";
  const PrivateDnsZone* found = zones_.Find(zone_id);
  if (found == nullptr) return Status::NotFound(prefix + "no such zone");
  if (!IsValidDomain(record.name) || !IsWithin(record.name, found->name)) {
    return Status::InvalidArgument(prefix + "the name is not " + found->name + " or under it");
  }
  PrivateDnsZone& zone = *zones_.Mutable(zone_id);
  std::erase_if(zone.records, [&](const DnsRecord& r) { return r.name == record.name; });
  zone.records.push_back(std::move(record));
  return Status::Ok();
}

Status World::RemoveRecord(std::string_view zone_id, std::string_view name) {
  const std::string lower = LowerCaseName(name);
  const std::string prefix =
      "cannot remove record " + lower + " from zone " + std::string(zone_id) + ": ";
  const PrivateDnsZone* found = zones_.Find(zone_id);
  if (found == nullptr) return Status::NotFound(prefix + "no such zone");
  if (std::none_of(found->records.begin(), found->records.end(),
                   [&](const DnsRecord& r) { return r.name == lower; })) {
    return Status::NotFound(prefix + "no such record");
  }
  std::erase_if(zones_.Mutable(zone_id)->records,
                [&](const DnsRecord& r) { return r.name == lower; });
  return Status::Ok();
}

// ---- Reading.

const Account* World::FindAccount(std::string_view id) const {
  return FindIn(accounts_, id);
}
const Region* World::FindRegion(std::string_view id) const {
  return FindIn(regions_, id);
}
const Network* World::FindNetwork(const NetworkKey& key) const {
  return networks_.Find(key);
}
const Subnet* World::FindSubnet(std::string_view id) const {
  return FindIn(subnets_, id);
}
const Host* World::FindHost(std::string_view id) const {
  return FindIn(hosts_, id);
}
const TransitNetwork* World::FindTransitNetwork(std::string_view id) const {
  return FindIn(transit_networks_, id);
}
const PrivateDnsZone* World::FindZone(std::string_view id) const {
  return FindIn(zones_, id);
}
const Instance* World::FindInstance(std::string_view name) const {
  return instances_.Find(name);
}

std::string World::Hostname(const Instance& instance, EndpointKind kind) const {
  return EndpointHostname(instance.name, instance.region, kind, domain_);
}

const Instance* World::FindInstanceByHost(std::string_view host, EndpointKind* kind,
                                          std::string* error) const {
  std::string lowered;
  std::optional<EndpointAddressView> address = ParseEndpointHostView(host, domain_, &lowered, error);
  if (!address) return nullptr;
  const Instance* instance = FindInstance(address->instance);
  if (instance == nullptr || instance->region != address->region) {
    if (error != nullptr) {
      *error = "host \"" + std::string(host) + "\" names no instance: there is no instance " +
               std::string(address->instance) + " in region " + std::string(address->region);
    }
    return nullptr;
  }
  if (kind != nullptr) *kind = address->kind;
  return instance;
}

std::optional<ArrivalNetwork> World::ArrivalThrough(const NetworkKey& network_key) const {
  const Network* network = FindNetwork(network_key);
  if (network == nullptr) return std::nullopt;
  return ArrivalNetwork{network->id, network->region, network->account};
}

PrivateDnsAnswer World::ResolvePrivate(const NetworkKey& network, std::string_view hostname) const {
  const std::string name = LowerCaseName(hostname);
  PrivateDnsAnswer answer;
  // The longest zone name first: the name itself, then each parent.
  for (size_t start = 0; start != std::string::npos && answer.zone == nullptr;) {
    if (const ZoneId* id = attached_zones_.Find(AttachedName{network, name.substr(start)})) {
      answer.zone = zones_.Find(*id);
    }
    start = name.find('.', start);
    if (start != std::string::npos) ++start;
  }
  if (answer.zone != nullptr) {
    for (const DnsRecord& record : answer.zone->records) {
      if (record.name == name) answer.address = record.address;
    }
  }
  return answer;
}

// ---- Private helpers.

Instance* World::MutableInstance(std::string_view name) {
  return instances_.Mutable(name);
}

PrivateDnsZone* World::AttachedZoneNamed(const NetworkKey& network, std::string_view name) {
  const ZoneId* id = attached_zones_.Find(AttachedName{network, std::string(name)});
  return id == nullptr ? nullptr : zones_.Mutable(*id);
}

bool World::IsTaken(const Subnet& subnet, const core::IpAddress& address) const {
  return taken_addresses_.contains(TakenAddress{subnet.id, address.value()});
}

std::optional<core::IpAddress> World::FirstFreeAddress(const Subnet& subnet) const {
  UsableRange range = UsableAddresses(subnet.cidr);
  core::Uint128 candidate = range.first;
  for (auto it = taken_addresses_.lower_bound(TakenAddress{subnet.id, candidate});
       it != taken_addresses_.end() && it.key().subnet == subnet.id; ++it) {
    if (it.key().address != candidate) break;  // a gap: candidate is free
    if (candidate == range.last) return std::nullopt;
    candidate = candidate.Next();
  }
  return core::IpAddress::FromValue(subnet.cidr.family(), candidate);
}

}  // namespace kura::access
