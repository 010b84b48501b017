// `kura lab`: a topology built as real Linux network namespaces, with kura serving every
// endpoint inside them, and logins from every host compared with the analyzer's answers.
//
// Layout (P is the prefix; every namespace, interface and file the lab makes starts with it):
//   P-h<i>    one namespace per host: its private IP towards its network, and its public IP (if
//             any) towards the Internet; /etc/netns/P-h<i>/hosts is what its network's DNS says
//   P-n<j>    one namespace per network (the VPC's router): its VPC endpoint addresses and the
//             regional service address of its region
//   P-t<k>    one router namespace per transit network, with routes for the CIDRs it joins
//   P-inet    the Internet: Internet endpoint addresses, routes to every host's public IP
// The root namespace gets no address and no route into the lab: nothing there can dial a lab
// address. The kura server runs from the root namespace with its listening sockets created
// inside the lab namespaces. State (server pid, data, logs) lives under <state>/<P>.
// IPv4 only; at most 999 hosts, networks and transit networks.
#pragma once

#include <ostream>
#include <stdexcept>
#include <string>

#include "topology/topology.h"

namespace kura::lab {

class LabError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct LabOptions {
  std::string prefix = "kl";               // 1..4 of [a-z0-9]
  std::string state_root = "/run/kura-lab";
  std::string kura_binary = "/proc/self/exe";
  bool push_images = true;                  // verify: push and pull where login succeeds
};

// Builds the namespaces and starts kura. Throws LabError (after removing what it made) on
// failure, or when a lab with this prefix is already up.
void LabUp(const topology::Topology& topology, const LabOptions& options, std::ostream& log);

// Logs in from every host to every endpoint, prints the live matrix beside the analyzer's and
// returns the number of differences (0: reality matches the analysis).
int LabVerify(const topology::Topology& topology, const LabOptions& options, std::ostream& out);

// Removes everything the lab made with this prefix, also after a crash of LabUp. Returns how
// many namespaces it removed.
int LabDown(const LabOptions& options, std::ostream& log);

// The lab namespaces of this prefix that exist now.
std::vector<std::string> LabNamespaces(const std::string& prefix);

}  // namespace kura::lab
