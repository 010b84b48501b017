// A topology file: a whole world described in YAML (accounts, regions, networks and subnets,
// hosts, transit networks, private DNS zones, instances), read into an access::World plus what
// the World does not hold but the exposure analyzer and `kura lab` need: the address of each
// Internet endpoint, the regional service address of each region (the personal edition's VPC
// endpoint), the credentials of each instance and which credentials each host tries.
//
// The World is built through its own operations (AddNetwork, Bind, AttachZone...), so a file can
// never describe a state the rules of EXPOSURE.md forbid: a refusal of the World becomes an error
// naming the file and the line of the offending item.
//
//   domain: kura.test                  # endpoint hostnames end in it (default kura.test)
//   internet_address: 203.0.113.1      # default address of every Internet endpoint
//   accounts:
//     - {id: A, name: account A}
//   regions:
//     - {id: ap-northeast-1, name: Tokyo, service_address: 100.100.0.1}
//   networks:
//     - id: vpc-a
//       account: A
//       region: ap-northeast-1
//       cidrs: [192.168.0.0/16]
//       subnets:
//         - {id: vsw-a, cidr: 192.168.0.0/24}
//   hosts:
//     - {id: ecs-a, network: vpc-a, private_ip: 192.168.0.1, public_ip: 198.51.100.10}
//     - id: ecs-c                       # subnet: optional, found from the private IP
//       network: vpc-a
//       private_ip: 192.168.0.3
//       logins:                         # default: the instance's first user and its password
//         - {instance: acme, user: dev, password: wrong}
//   transit_networks:
//     - {id: cen, networks: [vpc-a, vpc-b]}
//   instances:
//     - name: acme
//       account: A
//       region: ap-northeast-1
//       edition: enterprise             # personal | enterprise
//       internet:
//         enabled: true                 # enterprise default false (created closed)
//         address: 203.0.113.1          # default: the top-level internet_address
//         allowlist:
//           - {cidr: 198.51.100.10/32, description: ECS-A}
//       vpc:
//         bindings:
//           - {network: vpc-a, subnet: vsw-a, ip: 192.168.0.2}   # subnet, ip: optional
//       credentials:
//         - {user: dev, password: s3cret}   # or password_hash: <crypt(3) hash>
//   private_zones:
//     - name: acme-registry-vpc.ap-northeast-1.kura.test
//       networks: [vpc-b]               # id: optional, default "<name>@<first network>"
//       records:
//         - {address: 192.168.0.2}      # name: optional, default the zone's name
//
// Defaults and checks beyond the World's own rules:
//  - A region's service_address defaults to 100.100.<i>.1, i being the region's position in the
//    file (0-based). Service addresses are distinct.
//  - Internet endpoint and regional service addresses lie outside every network's CIDRs, and no
//    host's public IP is one of them: they are the cloud's, not a VPC's.
//  - A host names its network, its subnet, or both; without a subnet, the subnet of the network
//    holding the private IP is taken.
//  - A binding without a subnet takes the network's first subnet; without an ip, the World
//    allocates the lowest free address (World::Bind).
//  - Every mapping refuses keys it does not know, and a key given twice.
//
// Passwords are kept in memory as the file gives them (plain text or a crypt(3) hash): a topology
// file is a lab or test description, never a store of real secrets.

#ifndef KURA_TOPOLOGY_TOPOLOGY_H_
#define KURA_TOPOLOGY_TOPOLOGY_H_

#include <functional>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "access/model.h"
#include "access/world.h"
#include "core/cidr.h"

namespace kura::topology {

// The default domain of endpoint hostnames.
inline constexpr std::string_view kDefaultDomain = "kura.test";
// The default address of every Internet endpoint (TEST-NET-3, RFC 5737).
inline constexpr std::string_view kDefaultInternetAddress = "203.0.113.1";

// A file that cannot be read or does not describe a valid world. what() is "FILE:LINE: reason"
// (or "FILE: reason" when no line applies, e.g. the file cannot be opened).
class TopologyError : public std::runtime_error {
 public:
  // line is 1-based; 0 means "no line".
  TopologyError(std::string file, int line, std::string reason);

  const std::string& file() const { return file_; }
  int line() const { return line_; }
  const std::string& reason() const { return reason_; }

 private:
  std::string file_;
  int line_;
  std::string reason_;
};

// A user and password a host sends when it logs in.
struct Login {
  std::string user;
  std::string password;

  friend bool operator==(const Login&, const Login&) = default;
};

// A credential an instance accepts. Exactly one of password and password_hash is set.
struct InstanceCredential {
  std::string user;
  std::optional<std::string> password;       // plain text, as the file gives it
  std::optional<std::string> password_hash;  // crypt(3), checked with auth::CheckPassword
};

// What the topology adds to an access::Instance.
struct InstanceSetup {
  // Where the Internet endpoint listens; the Internet hostname resolves here in public DNS.
  core::IpAddress internet_address;
  // In file order; the first is the one hosts try by default.
  std::vector<InstanceCredential> credentials;
};

// What the topology adds to an access::Host.
struct HostSetup {
  // Per instance name, the login the host tries instead of the default.
  std::map<std::string, Login, std::less<>> logins;
};

struct Topology {
  // domain: see access::World.
  explicit Topology(std::string domain) : world(std::move(domain)) {}

  // The file name the topology was read from, for messages.
  std::string source;
  access::World world;

  // Host ids and instance names in the order of the file (the World keeps them sorted).
  std::vector<access::HostId> host_order;
  std::vector<access::InstanceName> instance_order;

  // Per region id: the address of the regional service that serves personal VPC endpoints.
  std::map<access::RegionId, core::IpAddress, std::less<>> service_addresses;
  // Per instance name (every instance has one).
  std::map<access::InstanceName, InstanceSetup, std::less<>> instances;
  // Per host id (every host has one).
  std::map<access::HostId, HostSetup, std::less<>> hosts;

  // The setup of an instance of this topology. Throws std::out_of_range for an unknown name.
  const InstanceSetup& SetupOf(std::string_view instance) const;
  // The regional service address of region, or nullptr if the region is unknown.
  const core::IpAddress* ServiceAddressOf(std::string_view region) const;
  // The login host tries against instance: the host's own for that instance if the file gives
  // one, else DefaultLoginOf(instance).
  std::optional<Login> LoginOf(std::string_view host, std::string_view instance) const;
  // What a host without a login of its own tries: the instance's first credential if it has a
  // plain password; else nullopt (the host knows no password to send).
  std::optional<Login> DefaultLoginOf(std::string_view instance) const;
  // The login the file gives host for instance, or nullptr.
  const Login* OwnLoginOf(std::string_view host, std::string_view instance) const;
};

// Parses a topology from text. filename is used in messages only. Throws TopologyError naming
// the first problem: YAML syntax, a missing or unknown key, a malformed value, a reference to
// something unknown, or an operation the World refuses.
Topology ParseTopology(std::string_view text, std::string_view filename);

// Reads and parses the file at path. Throws TopologyError (also when the file cannot be read).
Topology LoadTopology(const std::string& path);

}  // namespace kura::topology

#endif  // KURA_TOPOLOGY_TOPOLOGY_H_
