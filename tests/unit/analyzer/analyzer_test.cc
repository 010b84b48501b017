// The analyzer's steps on small worlds: DNS resolution, routing (same network, transit
// networks, the regional service, the Internet), admission through access::Admit, and
// authentication; and Analyze() agreeing with Explain() on every pair of a large world.

#include "analyzer/analyzer.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <sstream>
#include <string>

#include "../topology/report_topology.h"
#include "analyzer/explain.h"
#include "analyzer/report_writer.h"
#include "analyzer/topology_index.h"
#include "auth/password.h"
#include "topology/large_topology.h"
#include "topology/topology.h"

namespace kura::analyzer {
namespace {

using topology::ParseTopology;
using topology::Topology;
using topology::testing::AcmeYaml;
using topology::testing::kReportWorldYaml;

constexpr const char* kVpcHostname = "acme-registry-vpc.ap-northeast-1.kura.test";

const std::string kBoundToVpcA =
    "    vpc:\n      bindings:\n        - {network: vpc-a, subnet: vsw-a, ip: 192.168.0.2}\n";
const std::string kTransit = "transit_networks:\n  - {id: cen, networks: [vpc-a, vpc-b]}\n";

// A private zone for the acme VPC hostname in network, holding address.
std::string ZoneIn(const std::string& network, const std::string& address) {
  return "private_zones:\n  - {name: " + std::string(kVpcHostname) + ", networks: [" + network +
         "], records: [{address: " + address + "}]}\n";
}

PairExplanation ExplainPair(const Topology& t, const std::string& host,
                            const std::string& endpoint) {
  TopologyIndex index(t);
  return Explain(index, host, "acme", endpoint);
}

void ExpectDenied(const PairExplanation& e, Step step, const std::string& reason_part) {
  EXPECT_FALSE(e.outcome.allowed());
  EXPECT_EQ(StepName(e.outcome.step), StepName(step)) << e.reason;
  EXPECT_NE(e.reason.find(reason_part), std::string::npos) << e.reason;
}

// ---- Resolve.

TEST(Resolve, PersonalVpcNameResolvesInItsRegionForAnyAccount) {
  // vpc-c: account B, in Tokyo. The regional service admits every VPC of the region.
  std::string text = kReportWorldYaml;
  text.insert(text.find("hosts:"),
              "  - {id: vpc-c, account: B, region: ap-northeast-1, cidrs: [172.16.0.0/16],"
              " subnets: [{id: vsw-c, cidr: 172.16.0.0/24}]}\n");
  text += "  - {id: ecs-c, network: vpc-c, private_ip: 172.16.0.1}\n" + AcmeYaml("personal");
  Topology t = ParseTopology(text, "t.yaml");
  PairExplanation e = ExplainPair(t, "ecs-c", "vpc");
  EXPECT_TRUE(e.outcome.allowed()) << e.reason;
  EXPECT_EQ(e.address->ToString(), "100.100.0.1");
  EXPECT_EQ(e.outcome.rule, access::Rule::kSameRegion);
  // No public IP: the Internet endpoint resolves, but there is no way out.
  ExpectDenied(ExplainPair(t, "ecs-c", "internet"), Step::kRoute, "ecs-c has no public IP");
}

TEST(Resolve, PersonalVpcNameIsUnknownInAnotherRegion) {
  Topology t = ParseTopology(kReportWorldYaml + kTransit + AcmeYaml("personal"), "t.yaml");
  // Even with a transit network joining the two VPCs.
  ExpectDenied(ExplainPair(t, "ecs-b", "vpc"), Step::kResolve,
               "regional service name of ap-northeast-1, resolvable only from networks of "
               "that region");
}

TEST(Resolve, EnterpriseVpcNameOnlyInPrivateZones) {
  Topology t = ParseTopology(kReportWorldYaml + AcmeYaml("enterprise", kBoundToVpcA), "t.yaml");
  PairExplanation a = ExplainPair(t, "ecs-a", "vpc");
  EXPECT_TRUE(a.outcome.allowed()) << a.reason;
  EXPECT_NE(a.steps[0].detail.find("in private zone " + std::string(kVpcHostname) + "@vpc-a"),
            std::string::npos)
      << a.steps[0].detail;
  ExpectDenied(ExplainPair(t, "ecs-b", "vpc"), Step::kResolve, "not in public DNS");
}

TEST(Resolve, AZoneWithoutTheRecordHidesTheName) {
  // A zone for the whole region's names attached to vpc-a, with no record for acme: it is
  // authoritative, so even the public Internet name stops resolving from vpc-a.
  Topology t = ParseTopology(kReportWorldYaml + AcmeYaml("personal") +
                                 "private_zones:\n  - {id: tokyo, name: ap-northeast-1.kura.test,"
                                 " networks: [vpc-a]}\n",
                             "t.yaml");
  ExpectDenied(ExplainPair(t, "ecs-a", "internet"), Step::kResolve,
               "private zone tokyo attached to it has no record for the name");
  ExpectDenied(ExplainPair(t, "ecs-a", "vpc"), Step::kResolve, "private zone tokyo");
  EXPECT_TRUE(ExplainPair(t, "ecs-b", "internet").outcome.allowed());
}

TEST(Resolve, APrivateRecordOverridesPublicDns) {
  // vpc-b points the Internet name at an address nothing serves.
  Topology t = ParseTopology(
      kReportWorldYaml + AcmeYaml("personal") +
          "private_zones:\n  - {name: acme-registry.ap-northeast-1.kura.test, networks: [vpc-b],"
          " records: [{address: 198.51.100.99}]}\n",
      "t.yaml");
  PairExplanation e = ExplainPair(t, "ecs-b", "internet");
  ExpectDenied(e, Step::kRoute, "no route from network vpc-b to 198.51.100.99");
  EXPECT_EQ(e.address->ToString(), "198.51.100.99");
}

// ---- Route.

TEST(Route, TransitNetworkCarriesTheBoundNetworksAddresses) {
  Topology t = ParseTopology(kReportWorldYaml + kTransit + AcmeYaml("enterprise", kBoundToVpcA) +
                                 ZoneIn("vpc-b", "192.168.0.2"),
                             "t.yaml");
  PairExplanation e = ExplainPair(t, "ecs-b", "vpc");
  ASSERT_TRUE(e.outcome.allowed()) << e.reason;
  EXPECT_EQ(e.transit, "cen");
  EXPECT_EQ(e.steps[1].detail,
            "10.0.0.1 in network vpc-b reaches the VPC endpoint at 192.168.0.2 in network vpc-a "
            "over transit network cen");
  // The arrival network is the network holding the endpoint (vpc-a), which is bound.
  EXPECT_EQ(e.outcome.rule, access::Rule::kNetworkBound);
  EXPECT_EQ(e.steps[2].detail, "network vpc-a is bound to instance acme (rule network-bound)");
}

TEST(Route, WithoutTransitNetworkTheRecordLeadsNowhere) {
  Topology t = ParseTopology(
      kReportWorldYaml + AcmeYaml("enterprise", kBoundToVpcA) + ZoneIn("vpc-b", "192.168.0.2"),
      "t.yaml");
  ExpectDenied(ExplainPair(t, "ecs-b", "vpc"), Step::kRoute,
               "no route from network vpc-b to 192.168.0.2");
}

TEST(Route, ATransitNetworkJoiningOtherNetworksDoesNotHelp) {
  std::string text = kReportWorldYaml;
  text.insert(text.find("hosts:"),
              "  - {id: vpc-c, account: B, region: ap-southeast-1, cidrs: [172.16.0.0/16]}\n");
  text +=
      "transit_networks:\n  - {id: cen-a, networks: [vpc-a, vpc-c]}\n"
      "  - {id: cen-b, networks: [vpc-b, vpc-c]}\n";
  text += AcmeYaml("enterprise", kBoundToVpcA) + ZoneIn("vpc-b", "192.168.0.2");
  Topology t = ParseTopology(text, "t.yaml");
  // Two transit networks through vpc-c do not chain.
  ExpectDenied(ExplainPair(t, "ecs-b", "vpc"), Step::kRoute, "no route");
}

TEST(Route, NothingListensAtAStaleAddress) {
  Topology t = ParseTopology(kReportWorldYaml + kTransit + AcmeYaml("enterprise", kBoundToVpcA) +
                                 ZoneIn("vpc-b", "192.168.0.99"),
                             "t.yaml");
  ExpectDenied(ExplainPair(t, "ecs-b", "vpc"), Step::kRoute,
               "no endpoint listens at 192.168.0.99 in network vpc-a (reached over transit "
               "network cen)");
}

TEST(Route, PersonalRegionalEndpointIsNotCarriedByTransitNetworks) {
  // vpc-b copies the name of the personal VPC endpoint with Tokyo's regional address, and a
  // transit network joins vpc-a and vpc-b: the name resolves, but the address is not routed.
  Topology t = ParseTopology(
      kReportWorldYaml + kTransit + AcmeYaml("personal") + ZoneIn("vpc-b", "100.100.0.1"),
      "t.yaml");
  PairExplanation e = ExplainPair(t, "ecs-b", "vpc");
  ExpectDenied(e, Step::kRoute,
               "100.100.0.1 is the regional service address of ap-northeast-1: it is reached "
               "only from networks of that region (network vpc-b is in ap-southeast-1), and "
               "transit networks do not carry it");
  EXPECT_EQ(e.steps[0].state, StepState::kPassed);
  EXPECT_EQ(e.steps[2].state, StepState::kSkipped);
  // From Tokyo it stays reachable.
  EXPECT_TRUE(ExplainPair(t, "ecs-a", "vpc").outcome.allowed());
}

TEST(Route, InternetNeedsAPublicIp) {
  Topology t = ParseTopology(kReportWorldYaml +
                                 "  - {id: ecs-p, network: vpc-a, private_ip: "
                                 "192.168.0.9}\n" +
                                 AcmeYaml("personal"),
                             "t.yaml");
  PairExplanation e = ExplainPair(t, "ecs-p", "internet");
  ExpectDenied(e, Step::kRoute, "ecs-p has no public IP to reach 203.0.113.1 on the Internet");
  EXPECT_TRUE(ExplainPair(t, "ecs-p", "vpc").outcome.allowed());
}

// ---- Admit: the live server's function decides, on the route's context.

TEST(Admit, AllowlistSeesThePublicIp) {
  Topology t =
      ParseTopology(kReportWorldYaml + AcmeYaml("enterprise",
                                                "    internet:\n      enabled: true\n"
                                                "      allowlist: [{cidr: 198.51.100.0/24, "
                                                "description: office}]\n"),
                    "t.yaml");
  PairExplanation a = ExplainPair(t, "ecs-a", "internet");
  EXPECT_TRUE(a.outcome.allowed()) << a.reason;
  EXPECT_EQ(a.steps[2].detail,
            "198.51.100.10 is in the allowlist of instance acme (entry 198.51.100.0/24 "
            "\"office\") (rule in-allowlist)");
  ExpectDenied(ExplainPair(t, "ecs-b", "internet"), Step::kAdmit,
               "203.0.113.20 is not in the allowlist of instance acme");
}

// ---- Authenticate.

TEST(Authenticate, HostLogins) {
  const std::string hash = auth::HashPassword("hashed-pass");
  std::string text = kReportWorldYaml;
  text.insert(text.find("  - {id: ecs-b"),
              "  - {id: ecs-w, network: vpc-a, private_ip: 192.168.0.3, logins: [{instance: acme,"
              " user: dev, password: wrong}]}\n"
              "  - {id: ecs-u, network: vpc-a, private_ip: 192.168.0.4, logins: [{instance: acme,"
              " user: nobody, password: x}]}\n"
              "  - {id: ecs-h, network: vpc-a, private_ip: 192.168.0.5, logins: [{instance: acme,"
              " user: ci, password: hashed-pass}]}\n"
              "  - {id: ecs-x, network: vpc-a, private_ip: 192.168.0.6, logins: [{instance: acme,"
              " user: ci, password: nope}]}\n");
  text += AcmeYaml("personal",
                   "    credentials:\n      - {user: dev, password: registry-pass}\n"
                   "      - {user: ci, password_hash: \"" +
                       hash + "\"}\n");
  // AcmeYaml adds its own credentials after `more`: drop them (the key would be given twice).
  text.erase(text.rfind("    credentials:\n      - {user: dev, password: registry-pass}\n"));
  Topology t = ParseTopology(text, "t.yaml");
  EXPECT_TRUE(ExplainPair(t, "ecs-a", "vpc").outcome.allowed());
  ExpectDenied(ExplainPair(t, "ecs-w", "vpc"), Step::kAuthenticate,
               "wrong password for user dev of instance acme");
  ExpectDenied(ExplainPair(t, "ecs-u", "vpc"), Step::kAuthenticate,
               "instance acme has no user nobody");
  EXPECT_TRUE(ExplainPair(t, "ecs-h", "vpc").outcome.allowed());
  ExpectDenied(ExplainPair(t, "ecs-x", "vpc"), Step::kAuthenticate, "wrong password for user ci");

  ExposureReport report = Analyze(t, {1});
  // Hosts in file order: ecs-a, ecs-w, ecs-u, ecs-h, ecs-x, ecs-b.
  EXPECT_TRUE(report.At(3, 0, access::EndpointKind::kVpc).allowed());
  EXPECT_EQ(report.At(4, 0, access::EndpointKind::kVpc).step, Step::kAuthenticate);
}

TEST(Authenticate, AnInstanceWithoutCredentials) {
  Topology t = ParseTopology(kReportWorldYaml +
                                 "instances:\n  - {name: acme, account: A, region: "
                                 "ap-northeast-1, edition: personal}\n",
                             "t.yaml");
  ExpectDenied(ExplainPair(t, "ecs-a", "internet"), Step::kAuthenticate,
               "ecs-a has no login for instance acme: the instance has no credentials");
}

// ---- Analyze and Explain, the report and the words.

TEST(Analyze, AgreesWithExplainOnEveryPairOfALargeWorld) {
  Topology t = ParseTopology(topology::GenerateLargeTopology(700, 45), "large.yaml");
  ExposureReport one = Analyze(t, {1});
  ExposureReport two = Analyze(t, {3});
  ASSERT_EQ(one.pair_count(), 700u * 45u * 2u);
  TopologyIndex index(t);
  size_t steps[5] = {0, 0, 0, 0, 0};
  for (size_t h = 0; h < one.hosts().size(); ++h) {
    for (size_t i = 0; i < one.instances().size(); ++i) {
      for (access::EndpointKind kind :
           {access::EndpointKind::kInternet, access::EndpointKind::kVpc}) {
        Outcome outcome = one.At(h, i, kind);
        ASSERT_EQ(outcome, two.At(h, i, kind));
        PairExplanation e = Explain(index, *one.hosts()[h], *one.instances()[i], kind);
        ASSERT_EQ(e.outcome, outcome) << e.host << " " << e.instance << " " << e.reason;
        ++steps[static_cast<int>(outcome.step)];
      }
    }
  }
  // The generated world has every kind of result.
  for (size_t count : steps) EXPECT_GT(count, 0u);
  EXPECT_EQ(one.allowed_count(), steps[static_cast<int>(Step::kOk)]);
}

TEST(Analyze, EmptyWorlds) {
  Topology t = ParseTopology(kReportWorldYaml, "t.yaml");
  ExposureReport report = Analyze(t);
  EXPECT_EQ(report.pair_count(), 0u);
  EXPECT_EQ(report.hosts().size(), 2u);
  std::ostringstream json;
  WriteReport(TopologyIndex(t), report, ReportFormat::kJson, json);
  EXPECT_EQ(json.str(), "[]\n");
}

TEST(ReportWriter, TableJsonAndDot) {
  Topology t = ParseTopology(kReportWorldYaml + kTransit + AcmeYaml("enterprise", kBoundToVpcA) +
                                 ZoneIn("vpc-b", "192.168.0.2"),
                             "sharing.yaml");
  ExposureReport report = Analyze(t);
  TopologyIndex index(t);

  std::ostringstream table;
  WriteReport(index, report, ReportFormat::kTable, table);
  EXPECT_NE(table.str().find("host   acme internet  acme vpc\n"
                             "ecs-a  denied: admit  allowed\n"
                             "ecs-b  denied: admit  allowed\n"),
            std::string::npos)
      << table.str();
  EXPECT_NE(table.str().find("  ecs-b -> acme internet: admit: internet endpoint of instance "
                             "acme is disabled (rule internet-disabled)\n"),
            std::string::npos)
      << table.str();

  std::ostringstream json;
  WriteReport(index, report, ReportFormat::kJson, json);
  nlohmann::json rows = nlohmann::json::parse(json.str());
  ASSERT_EQ(rows.size(), 4u);
  EXPECT_EQ(rows[3]["host"], "ecs-b");
  EXPECT_EQ(rows[3]["endpoint"], "vpc");
  EXPECT_EQ(rows[3]["allowed"], true);
  EXPECT_EQ(rows[3]["step"], "ok");
  EXPECT_EQ(rows[3]["address"], "192.168.0.2");
  EXPECT_EQ(rows[3]["rule"], "network-bound");

  std::ostringstream dot;
  WriteReport(index, report, ReportFormat::kDot, dot);
  EXPECT_EQ(dot.str().rfind("digraph exposure {", 0), 0u);
  EXPECT_NE(dot.str().find("\"host/ecs-b\" -> \"vpc/acme\" [color=darkgreen, style=dashed, "
                           "label=\"via cen\"];"),
            std::string::npos)
      << dot.str();
  EXPECT_NE(dot.str().find("\"transit/cen\" -> \"network/vpc-a\""), std::string::npos);
  EXPECT_EQ(dot.str().find("\"host/ecs-a\" -> \"internet/acme\""), std::string::npos);

  std::ostringstream text;
  WriteExplanationText(Explain(index, "ecs-b", "acme", "vpc"), text);
  EXPECT_EQ(text.str().substr(0, text.str().find('\n')),
            "ecs-b -> acme vpc endpoint (acme-registry-vpc.ap-northeast-1.kura.test): allowed");
}

TEST(Explain, UnknownNames) {
  Topology t = ParseTopology(kReportWorldYaml + AcmeYaml("personal"), "t.yaml");
  TopologyIndex index(t);
  EXPECT_THROW(Explain(index, "ecs-z", "acme", "vpc"), std::invalid_argument);
  EXPECT_THROW(Explain(index, "ecs-a", "nope", "vpc"), std::invalid_argument);
  EXPECT_THROW(Explain(index, "ecs-a", "acme", "wan"), std::invalid_argument);
}

}  // namespace
}  // namespace kura::analyzer
