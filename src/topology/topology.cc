#include "topology/topology.h"

#include <yaml-cpp/yaml.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <initializer_list>
#include <set>
#include <sstream>
#include <utility>

#include "access/hostnames.h"

namespace kura::topology {
namespace {

using YAML::Node;

std::string WithLine(const std::string& file, int line, const std::string& reason) {
  if (line <= 0) return file + ": " + reason;
  return file + ":" + std::to_string(line) + ": " + reason;
}

// The 1-based line of the first byte of text that is not valid UTF-8, or 0 if all of it is. A
// YAML file is Unicode text, and names read from it end up in JSON.
int FirstLineNotUtf8(std::string_view text) {
  int line = 1;
  for (size_t i = 0; i < text.size();) {
    const unsigned char c = static_cast<unsigned char>(text[i]);
    size_t length = c < 0x80           ? 1
                    : (c >> 5) == 0x6  ? 2
                    : (c >> 4) == 0xE  ? 3
                    : (c >> 3) == 0x1E ? 4
                                       : 0;
    if (length == 0 || i + length > text.size()) return line;
    uint32_t code = length == 1 ? c : c & (0x7F >> length);
    for (size_t k = 1; k < length; ++k) {
      const unsigned char next = static_cast<unsigned char>(text[i + k]);
      if ((next >> 6) != 0x2) return line;
      code = (code << 6) | (next & 0x3F);
    }
    // Overlong forms, UTF-16 surrogates and values past U+10FFFF are not UTF-8.
    static constexpr uint32_t kSmallest[5] = {0, 0, 0x80, 0x800, 0x10000};
    if (code < kSmallest[length] || (code >= 0xD800 && code <= 0xDFFF) || code > 0x10FFFF) {
      return line;
    }
    if (c == '\n') ++line;
    i += length;
  }
  return 0;
}

int LineOf(const Node& node) {
  const YAML::Mark mark = node.Mark();
  return mark.is_null() ? 0 : mark.line + 1;
}

// Throws the errors of one file.
class Reader {
 public:
  explicit Reader(std::string file) : file_(std::move(file)) {}

  [[noreturn]] void Fail(const Node& at, const std::string& reason) const {
    throw TopologyError(file_, LineOf(at), reason);
  }
  [[noreturn]] void Fail(int line, const std::string& reason) const {
    throw TopologyError(file_, line, reason);
  }

  // Turns a refusal of the World into an error at the given node.
  void Check(const Node& at, const access::Status& status) const {
    if (!status.ok()) Fail(at, status.message());
  }

  const std::string& file() const { return file_; }

 private:
  std::string file_;
};

// The keys of one YAML mapping, checked against the keys it may have.
class Fields {
 public:
  Fields(const Reader& reader, const Node& map, std::string what,
         std::initializer_list<std::string_view> allowed)
      : reader_(reader), map_(map), what_(std::move(what)) {
    if (!map.IsMap()) reader.Fail(map, what_ + ": expected a mapping");
    for (const auto& entry : map) {  // a pair of Nodes, by value: entry lives through the body
      const Node& key = entry.first;
      if (!key.IsScalar()) reader.Fail(key, what_ + ": a key must be a plain word");
      const std::string& name = key.Scalar();
      bool known = false;
      for (std::string_view a : allowed) known = known || a == name;
      if (!known) {
        std::string expected;
        for (std::string_view a : allowed) {
          if (!expected.empty()) expected += ", ";
          expected += a;
        }
        reader.Fail(key,
                    what_ + ": unknown key \"" + name + "\" (expected one of: " + expected + ")");
      }
      for (const auto& [seen, value] : fields_) {
        if (seen == name) reader.Fail(key, what_ + ": key \"" + name + "\" is given twice");
      }
      fields_.emplace_back(name, entry.second);
    }
  }

  const std::string& what() const { return what_; }
  const Node& node() const { return map_; }

  // The value of key, or nullptr if absent. A key given with no value (null) counts as absent.
  const Node* Find(std::string_view key) const {
    for (const auto& [name, value] : fields_) {
      if (name == key) return value.IsNull() ? nullptr : &value;
    }
    return nullptr;
  }

  const Node& Require(std::string_view key) const {
    const Node* value = Find(key);
    if (value == nullptr) reader_.Fail(map_, what_ + ": \"" + std::string(key) + "\" is missing");
    return *value;
  }

  std::string String(std::string_view key) const { return ScalarOf(Require(key), key); }

  std::optional<std::string> OptionalString(std::string_view key) const {
    const Node* value = Find(key);
    if (value == nullptr) return std::nullopt;
    return ScalarOf(*value, key);
  }

  std::string ScalarOf(const Node& value, std::string_view key) const {
    if (!value.IsScalar()) {
      reader_.Fail(value, what_ + ": \"" + std::string(key) + "\" must be a single value");
    }
    return value.Scalar();
  }

  core::IpAddress Address(std::string_view key) const { return AddressOf(Require(key), key); }

  std::optional<core::IpAddress> OptionalAddress(std::string_view key) const {
    const Node* value = Find(key);
    if (value == nullptr) return std::nullopt;
    return AddressOf(*value, key);
  }

  core::IpAddress AddressOf(const Node& value, std::string_view key) const {
    std::string error;
    std::optional<core::IpAddress> address = core::IpAddress::Parse(ScalarOf(value, key), &error);
    if (!address) reader_.Fail(value, what_ + ": " + error);
    return *address;
  }

  core::Cidr CidrOf(const Node& value, std::string_view key) const {
    std::string error;
    std::optional<core::Cidr> cidr = core::Cidr::Parse(ScalarOf(value, key), &error);
    if (!cidr) reader_.Fail(value, what_ + ": " + error);
    return *cidr;
  }

  std::optional<bool> OptionalBool(std::string_view key) const {
    const Node* value = Find(key);
    if (value == nullptr) return std::nullopt;
    std::string text = ScalarOf(*value, key);
    if (text == "true") return true;
    if (text == "false") return false;
    reader_.Fail(*value, what_ + ": \"" + std::string(key) + "\" must be true or false, not \"" +
                             text + "\"");
  }

  // The elements of the list at key; empty if the key is absent.
  std::vector<Node> List(std::string_view key) const {
    const Node* value = Find(key);
    if (value == nullptr) return {};
    if (!value->IsSequence()) {
      reader_.Fail(*value, what_ + ": \"" + std::string(key) + "\" must be a list");
    }
    return std::vector<Node>(value->begin(), value->end());
  }

 private:
  const Reader& reader_;
  Node map_;
  std::string what_;
  std::vector<std::pair<std::string, Node>> fields_;
};

class TopologyReader {
 public:
  explicit TopologyReader(std::string_view filename) : reader_(std::string(filename)) {}

  Topology Read(std::string_view text) {
    if (int line = FirstLineNotUtf8(text); line != 0) reader_.Fail(line, "the file is not UTF-8");
    Node root;
    try {
      root = YAML::Load(std::string(text));
    } catch (const YAML::Exception& e) {
      reader_.Fail(e.mark.is_null() ? 0 : e.mark.line + 1, "invalid YAML: " + e.msg);
    }
    if (!root.IsMap()) {
      reader_.Fail(root.IsDefined() && !root.IsNull() ? LineOf(root) : 0,
                   "a topology is a mapping with accounts, regions, networks, hosts, "
                   "transit_networks, instances and private_zones");
    }
    Fields top(reader_, root, "topology",
               {"domain", "internet_address", "accounts", "regions", "networks", "hosts",
                "transit_networks", "instances", "private_zones"});

    std::string domain =
        access::LowerCaseName(top.OptionalString("domain").value_or(std::string(kDefaultDomain)));
    if (!access::IsValidDomain(domain)) {
      reader_.Fail(top.Require("domain"), "topology: \"" + domain + "\" is not a valid domain");
    }
    Topology topology(domain);
    topology.source = reader_.file();
    default_internet_address_ = top.OptionalAddress("internet_address")
                                    .value_or(*core::IpAddress::Parse(kDefaultInternetAddress));

    for (const Node& item : top.List("accounts")) ReadAccount(topology, item);
    int region_index = 0;
    for (const Node& item : top.List("regions")) ReadRegion(topology, item, region_index++);
    for (const Node& item : top.List("networks")) ReadNetwork(topology, item);
    for (const Node& item : top.List("hosts")) ReadHost(topology, item);
    for (const Node& item : top.List("transit_networks")) ReadTransitNetwork(topology, item);
    for (const Node& item : top.List("instances")) ReadInstance(topology, item);
    for (const Node& item : top.List("private_zones")) ReadPrivateZone(topology, item);
    CheckLogins(topology);
    CheckReservedAddresses(topology);
    return topology;
  }

 private:
  struct PendingLogin {
    Node at;
    std::string host;
    std::string instance;
  };

  void ReadAccount(Topology& topology, const Node& item) {
    Fields f(reader_, item, "account", {"id", "name"});
    reader_.Check(
        item, topology.world.AddAccount({f.String("id"), f.OptionalString("name").value_or("")}));
  }

  void ReadRegion(Topology& topology, const Node& item, int index) {
    Fields f(reader_, item, "region", {"id", "name", "service_address"});
    std::string id = f.String("id");
    reader_.Check(item, topology.world.AddRegion({id, f.OptionalString("name").value_or("")}));
    std::optional<core::IpAddress> address = f.OptionalAddress("service_address");
    if (!address) {
      if (index > 255) {
        reader_.Fail(item, "region " + id +
                               ": give a service_address (defaults exist for the first 256 "
                               "regions only)");
      }
      address = core::IpAddress::V4((100u << 24) | (100u << 16) | (uint32_t(index) << 8) | 1u);
    }
    for (const auto& [other, taken] : topology.service_addresses) {
      if (taken == *address) {
        reader_.Fail(f.Find("service_address") ? *f.Find("service_address") : item,
                     "region " + id + ": service address " + address->ToString() +
                         " is already the service address of region " + other);
      }
    }
    topology.service_addresses.emplace(id, *address);
    Reserve(*address, "the regional service address of region " + id, LineOf(item));
  }

  void ReadNetwork(Topology& topology, const Node& item) {
    Fields f(reader_, item, "network", {"id", "account", "region", "cidrs", "subnets"});
    access::Network network;
    network.id = f.String("id");
    network.account = f.String("account");
    network.region = f.String("region");
    for (const Node& cidr : f.List("cidrs")) network.cidrs.push_back(f.CidrOf(cidr, "cidrs"));
    // The World tells two accounts' networks of one id apart; a file names networks by id alone.
    if (auto same = network_keys_.find(network.id); same != network_keys_.end()) {
      reader_.Fail(item, "network " + network.id + ": the id is taken by a network of account " +
                             same->second.account + " (a topology names networks by id alone)");
    }
    network_lines_.emplace_back(network.id, LineOf(item));
    reader_.Check(item, topology.world.AddNetwork(network));
    network_keys_.emplace(network.id, network.key());
    for (const Node& subnet_item : f.List("subnets")) {
      Fields s(reader_, subnet_item, "subnet", {"id", "cidr"});
      std::string id = s.String("id");
      reader_.Check(subnet_item, topology.world.AddSubnet(
                                     {id, network.key(), s.CidrOf(s.Require("cidr"), "cidr")}));
      first_subnets_.emplace(network.id, id);
    }
  }

  // The network of this id in the file, or nullptr.
  const access::NetworkKey* KeyOf(const std::string& id) const {
    auto it = network_keys_.find(id);
    return it == network_keys_.end() ? nullptr : &it->second;
  }

  void ReadHost(Topology& topology, const Node& item) {
    Fields f(reader_, item, "host",
             {"id", "network", "subnet", "private_ip", "public_ip", "logins"});
    access::Host host;
    host.id = f.String("id");
    host.private_ip = f.Address("private_ip");
    host.public_ip = f.OptionalAddress("public_ip");
    std::optional<std::string> network = f.OptionalString("network");
    std::optional<std::string> subnet = f.OptionalString("subnet");
    const std::string what = "host " + host.id + ": ";
    if (network && KeyOf(*network) == nullptr) {
      reader_.Fail(*f.Find("network"), what + "no such network " + *network);
    }
    if (subnet) {
      const access::Subnet* found = topology.world.FindSubnet(*subnet);
      if (found == nullptr) reader_.Fail(*f.Find("subnet"), what + "no such subnet " + *subnet);
      if (network && found->network != *KeyOf(*network)) {
        reader_.Fail(*f.Find("subnet"),
                     what + "subnet " + *subnet + " belongs to network " + found->network.id);
      }
      host.subnet = *subnet;
    } else if (network) {
      for (const auto& [id, candidate] : topology.world.subnets()) {
        if (candidate.network == *KeyOf(*network) && candidate.cidr.Contains(host.private_ip)) {
          host.subnet = id;
          break;
        }
      }
      if (host.subnet.empty()) {
        reader_.Fail(*f.Find("private_ip"),
                     what + host.private_ip.ToString() + " is in no subnet of network " + *network);
      }
    } else {
      reader_.Fail(item, what + "give its network, its subnet, or both");
    }
    if (host.public_ip) {
      public_ips_.push_back({*host.public_ip, host.id, LineOf(*f.Find("public_ip"))});
    }
    reader_.Check(item, topology.world.AddHost(host));
    topology.host_order.push_back(host.id);

    HostSetup& setup = topology.hosts[host.id];
    for (const Node& login_item : f.List("logins")) {
      Fields l(reader_, login_item, "login", {"instance", "user", "password"});
      std::string instance = l.String("instance");
      Login login{l.String("user"), l.String("password")};
      if (!setup.logins.emplace(instance, std::move(login)).second) {
        reader_.Fail(login_item, what + "a second login for instance " + instance);
      }
      pending_logins_.push_back({login_item, host.id, instance});
    }
  }

  void ReadTransitNetwork(Topology& topology, const Node& item) {
    Fields f(reader_, item, "transit network", {"id", "networks"});
    access::TransitNetwork transit;
    transit.id = f.String("id");
    for (const Node& network : f.List("networks")) {
      std::string id = f.ScalarOf(network, "networks");
      const access::NetworkKey* key = KeyOf(id);
      if (key == nullptr) {
        reader_.Fail(network, "transit network " + transit.id + ": no such network " + id);
      }
      transit.networks.push_back(*key);
    }
    reader_.Check(item, topology.world.AddTransitNetwork(std::move(transit)));
  }

  void ReadInstance(Topology& topology, const Node& item) {
    Fields f(reader_, item, "instance",
             {"name", "account", "region", "edition", "internet", "vpc", "credentials"});
    const std::string name = f.String("name");
    const std::string edition_name = f.String("edition");
    std::optional<access::Edition> edition = access::ParseEdition(edition_name);
    if (!edition) {
      reader_.Fail(f.Require("edition"), "instance " + name + ": edition \"" + edition_name +
                                             "\" is neither personal nor enterprise");
    }
    access::World& world = topology.world;
    reader_.Check(item,
                  world.CreateInstance(name, f.String("account"), f.String("region"), *edition));
    topology.instance_order.push_back(name);
    InstanceSetup& setup = topology.instances[name];
    setup.internet_address = default_internet_address_;

    if (const Node* internet = f.Find("internet")) {
      Fields i(reader_, *internet, "instance " + name + ": internet",
               {"enabled", "address", "allowlist"});
      if (i.Find("allowlist") != nullptr) {
        std::vector<access::AllowlistEntry> entries;
        for (const Node& entry_item : i.List("allowlist")) {
          Fields e(reader_, entry_item, "allowlist entry", {"cidr", "description"});
          entries.push_back(
              {e.CidrOf(e.Require("cidr"), "cidr"), e.OptionalString("description").value_or("")});
        }
        reader_.Check(*i.Find("allowlist"), world.ReplaceAllowlist(name, std::move(entries)));
      }
      if (std::optional<bool> enabled = i.OptionalBool("enabled")) {
        reader_.Check(*i.Find("enabled"), world.SetInternetEnabled(name, *enabled));
      }
      if (std::optional<core::IpAddress> address = i.OptionalAddress("address")) {
        setup.internet_address = *address;
      }
    }
    Reserve(setup.internet_address, "the internet endpoint address of instance " + name,
            LineOf(item));

    if (const Node* vpc = f.Find("vpc")) {
      Fields v(reader_, *vpc, "instance " + name + ": vpc", {"bindings"});
      for (const Node& binding_item : v.List("bindings")) {
        Fields b(reader_, binding_item, "binding", {"network", "subnet", "ip"});
        std::string network = b.String("network");
        const access::NetworkKey* key = KeyOf(network);
        if (key == nullptr) {
          reader_.Fail(binding_item, "cannot bind network " + network + " to instance " + name +
                                         ": no such network");
        }
        std::optional<std::string> subnet = b.OptionalString("subnet");
        if (!subnet) {
          subnet = FirstSubnetOf(network);
          if (!subnet) {
            reader_.Fail(binding_item, "cannot bind network " + network + " to instance " + name +
                                           ": the network has no subnet");
          }
        }
        reader_.Check(binding_item, world.Bind(name, *key, subnet.value_or(""), nullptr,
                                               b.OptionalAddress("ip")));
      }
    }

    for (const Node& credential_item : f.List("credentials")) {
      Fields c(reader_, credential_item, "credential", {"user", "password", "password_hash"});
      InstanceCredential credential;
      credential.user = c.String("user");
      credential.password = c.OptionalString("password");
      credential.password_hash = c.OptionalString("password_hash");
      if (credential.user.empty()) reader_.Fail(credential_item, "credential: the user is empty");
      if (credential.password.has_value() == credential.password_hash.has_value()) {
        reader_.Fail(credential_item, "credential of user " + credential.user +
                                          ": give exactly one of password and password_hash");
      }
      for (const InstanceCredential& other : setup.credentials) {
        if (other.user == credential.user) {
          reader_.Fail(credential_item,
                       "instance " + name + ": user " + credential.user + " is given twice");
        }
      }
      setup.credentials.push_back(std::move(credential));
    }
  }

  // The first subnet of network in the file, or nullopt.
  std::optional<std::string> FirstSubnetOf(const std::string& network) const {
    auto it = first_subnets_.find(network);
    if (it == first_subnets_.end()) return std::nullopt;
    return it->second;
  }

  // Remembers an address of the cloud (an Internet endpoint, a regional service), to be checked
  // against every network and public IP at the end.
  void Reserve(const core::IpAddress& address, std::string what, int line) {
    for (const Reserved& reserved : reserved_) {
      if (reserved.address == address) return;
    }
    reserved_.push_back({address, std::move(what), line});
  }

  void ReadPrivateZone(Topology& topology, const Node& item) {
    Fields f(reader_, item, "private zone", {"id", "name", "networks", "records"});
    std::string name = access::LowerCaseName(f.String("name"));
    std::vector<Node> networks = f.List("networks");
    std::string id = f.OptionalString("id").value_or(
        networks.empty() ? name : name + "@" + f.ScalarOf(networks.front(), "networks"));
    access::World& world = topology.world;
    reader_.Check(item, world.CreatePrivateZone(id, name));
    for (const Node& network : networks) {
      std::string network_id = f.ScalarOf(network, "networks");
      const access::NetworkKey* key = KeyOf(network_id);
      if (key == nullptr) {
        reader_.Fail(network, "cannot attach zone " + id + " to network " + network_id +
                                  ": no such network");
      }
      reader_.Check(network, world.AttachZone(id, *key));
    }
    for (const Node& record_item : f.List("records")) {
      Fields r(reader_, record_item, "record", {"name", "address"});
      reader_.Check(record_item, world.SetRecord(id, {r.OptionalString("name").value_or(name),
                                                      r.Address("address")}));
    }
  }

  void CheckLogins(const Topology& topology) {
    for (const PendingLogin& login : pending_logins_) {
      if (topology.world.FindInstance(login.instance) == nullptr) {
        reader_.Fail(login.at,
                     "host " + login.host + ": login for unknown instance " + login.instance);
      }
    }
  }

  void CheckReservedAddresses(const Topology& topology) {
    for (const Reserved& reserved : reserved_) {
      for (const auto& [id, line] : network_lines_) {
        const access::Network* network = topology.world.FindNetwork(*KeyOf(id));
        for (const core::Cidr& cidr : network->cidrs) {
          if (cidr.Contains(reserved.address)) {
            reader_.Fail(line, "network " + id + ": " + cidr.ToString() + " holds " +
                                   reserved.address.ToString() + ", " + reserved.what +
                                   " (cloud addresses lie outside every network)");
          }
        }
      }
      for (const PublicIp& public_ip : public_ips_) {
        if (public_ip.address == reserved.address) {
          reader_.Fail(public_ip.line, "host " + public_ip.host + ": public IP " +
                                           reserved.address.ToString() + " is " + reserved.what);
        }
      }
    }
  }

  struct Reserved {
    core::IpAddress address;
    std::string what;
    int line;
  };
  struct PublicIp {
    core::IpAddress address;
    std::string host;
    int line;
  };

  Reader reader_;
  core::IpAddress default_internet_address_;
  std::vector<PendingLogin> pending_logins_;
  std::vector<Reserved> reserved_;
  std::vector<PublicIp> public_ips_;
  std::vector<std::pair<std::string, int>> network_lines_;
  std::map<std::string, std::string> first_subnets_;  // network id -> its first subnet's id
  std::map<std::string, access::NetworkKey> network_keys_;  // network id -> the network
};

}  // namespace

TopologyError::TopologyError(std::string file, int line, std::string reason)
    : std::runtime_error(WithLine(file, line, reason)),
      file_(std::move(file)),
      line_(line),
      reason_(std::move(reason)) {}

const InstanceSetup& Topology::SetupOf(std::string_view instance) const {
  auto it = instances.find(instance);
  if (it == instances.end()) throw std::out_of_range("no instance " + std::string(instance));
  return it->second;
}

const core::IpAddress* Topology::ServiceAddressOf(std::string_view region) const {
  auto it = service_addresses.find(region);
  return it == service_addresses.end() ? nullptr : &it->second;
}

std::optional<Login> Topology::LoginOf(std::string_view host, std::string_view instance) const {
  if (const Login* own = OwnLoginOf(host, instance)) return *own;
  return DefaultLoginOf(instance);
}

const Login* Topology::OwnLoginOf(std::string_view host, std::string_view instance) const {
  auto h = hosts.find(host);
  if (h == hosts.end()) return nullptr;
  auto login = h->second.logins.find(instance);
  return login == h->second.logins.end() ? nullptr : &login->second;
}

std::optional<Login> Topology::DefaultLoginOf(std::string_view instance) const {
  auto it = instances.find(instance);
  if (it == instances.end() || it->second.credentials.empty()) return std::nullopt;
  const InstanceCredential& first = it->second.credentials.front();
  if (!first.password) return std::nullopt;
  return Login{first.user, *first.password};
}

Topology ParseTopology(std::string_view text, std::string_view filename) {
  TopologyReader reader(filename);
  try {
    return reader.Read(text);
  } catch (const YAML::Exception& e) {
    // yaml-cpp's own complaints while walking the tree (e.g. an invalid alias).
    throw TopologyError(std::string(filename), e.mark.is_null() ? 0 : e.mark.line + 1,
                        "invalid YAML: " + e.msg);
  }
}

Topology LoadTopology(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw TopologyError(path, 0, std::string("cannot open: ") + std::strerror(errno));
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) throw TopologyError(path, 0, std::string("cannot read: ") + std::strerror(errno));
  return ParseTopology(text.str(), path);
}

}  // namespace kura::topology
