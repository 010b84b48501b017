// Topology files: what they build, their defaults, and every kind of error with its line.

#include "topology/topology.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <string>

#include "auth/password.h"
#include "report_topology.h"

namespace kura::topology {
namespace {

using testing::AcmeYaml;
using testing::kReportWorldYaml;

core::IpAddress Ip(const char* text) {
  return *core::IpAddress::Parse(text);
}

// The 1-based line of text holding marker (the first one), or 0.
int LineHolding(const std::string& text, const std::string& marker) {
  size_t at = text.find(marker);
  if (at == std::string::npos) return 0;
  return 1 + static_cast<int>(std::count(text.begin(), text.begin() + at, '\n'));
}

// The error parsing text raises; fails the test if it parses.
TopologyError ErrorOf(const std::string& text) {
  try {
    ParseTopology(text, "world.yaml");
  } catch (const TopologyError& e) {
    return e;
  }
  ADD_FAILURE() << "parsed without error:\n" << text;
  return TopologyError("", 0, "");
}

// Expects parsing text to fail at the line holding marker, with reason containing `reason`.
void ExpectError(const std::string& text, const std::string& marker, const std::string& reason) {
  TopologyError e = ErrorOf(text);
  EXPECT_EQ(e.file(), "world.yaml");
  EXPECT_EQ(e.line(), LineHolding(text, marker)) << e.what();
  EXPECT_NE(e.reason().find(reason), std::string::npos) << e.what();
  EXPECT_EQ(std::string(e.what()), "world.yaml:" + std::to_string(e.line()) + ": " + e.reason());
}

TEST(Topology, BuildsTheReportWorld) {
  Topology t = ParseTopology(kReportWorldYaml + AcmeYaml("personal"), "world.yaml");
  EXPECT_EQ(t.source, "world.yaml");
  EXPECT_EQ(t.world.domain(), "kura.test");
  EXPECT_EQ(t.world.accounts().size(), 2u);
  EXPECT_EQ(t.world.networks().size(), 2u);
  const access::Host* ecs_a = t.world.FindHost("ecs-a");
  ASSERT_NE(ecs_a, nullptr);
  EXPECT_EQ(ecs_a->subnet, "vsw-a");  // found from the private IP
  EXPECT_EQ(ecs_a->public_ip, Ip("198.51.100.10"));
  EXPECT_EQ(t.host_order, (std::vector<std::string>{"ecs-a", "ecs-b"}));
  EXPECT_EQ(t.instance_order, (std::vector<std::string>{"acme"}));
  const access::Instance* acme = t.world.FindInstance("acme");
  ASSERT_NE(acme, nullptr);
  EXPECT_EQ(acme->edition, access::Edition::kPersonal);
  EXPECT_TRUE(acme->internet.enabled);
}

TEST(Topology, Defaults) {
  Topology t = ParseTopology(kReportWorldYaml + AcmeYaml("enterprise",
                                                         "    vpc:\n"
                                                         "      bindings:\n"
                                                         "        - {network: vpc-a}\n"),
                             "world.yaml");
  // Regional service addresses: 100.100.<position of the region>.1.
  EXPECT_EQ(*t.ServiceAddressOf("ap-northeast-1"), Ip("100.100.0.1"));
  EXPECT_EQ(*t.ServiceAddressOf("ap-southeast-1"), Ip("100.100.1.1"));
  EXPECT_EQ(t.ServiceAddressOf("eu-west-1"), nullptr);
  // The Internet endpoint address.
  EXPECT_EQ(t.SetupOf("acme").internet_address, Ip("203.0.113.1"));
  // Enterprise: created closed.
  const access::Instance& acme = *t.world.FindInstance("acme");
  EXPECT_FALSE(acme.internet.enabled);
  // A binding without subnet or ip: the network's first subnet, its lowest free address (ecs-a
  // holds .1), and the private zone World::Bind writes.
  ASSERT_EQ(acme.vpc.bindings.size(), 1u);
  EXPECT_EQ(acme.vpc.bindings[0].subnet, "vsw-a");
  EXPECT_EQ(acme.vpc.bindings[0].private_ip, Ip("192.168.0.2"));
  access::PrivateDnsAnswer answer =
      t.world.ResolvePrivate({"A", "vpc-a"}, "acme-registry-vpc.ap-northeast-1.kura.test");
  EXPECT_EQ(answer.address, Ip("192.168.0.2"));
}

TEST(Topology, ExplicitValues) {
  const std::string text = R"(domain: Example.TEST
internet_address: 198.51.100.5
accounts: [{id: A}]
regions: [{id: r1, service_address: 100.64.9.9}]
networks:
  - {id: n1, account: A, region: r1, cidrs: [10.1.0.0/16, 10.2.0.0/16],
     subnets: [{id: s1, cidr: 10.1.0.0/24}, {id: s2, cidr: 10.2.0.0/24}]}
hosts:
  - {id: h1, subnet: s2, private_ip: 10.2.0.7}
  - id: h2
    network: n1
    subnet: s1
    private_ip: 10.1.0.7
    logins: [{instance: x, user: ops, password: pw}]
transit_networks: [{id: t1, networks: [n1]}]
instances:
  - name: x
    account: A
    region: r1
    edition: enterprise
    internet:
      enabled: true
      address: 203.0.113.77
      allowlist: [{cidr: 0.0.0.0/0, description: all}, {cidr: 198.51.100.0/24}]
    vpc: {bindings: [{network: n1, subnet: s2, ip: 10.2.0.200}]}
    credentials:
      - {user: dev, password: one}
      - {user: ops, password_hash: "$2b$04$abcdefghijklmnopqrstuu5uBWWS9ikCRZHSzqHgmmmSCTZzS5he6"}
private_zones:
  - id: z1
    name: r1.example.test
    networks: [n1]
    records: [{name: other.r1.example.test, address: 10.2.0.200}]
)";
  Topology t = ParseTopology(text, "x.yaml");
  EXPECT_EQ(t.world.domain(), "example.test");
  EXPECT_EQ(*t.ServiceAddressOf("r1"), Ip("100.64.9.9"));
  EXPECT_EQ(t.SetupOf("x").internet_address, Ip("203.0.113.77"));
  EXPECT_EQ(t.world.FindHost("h1")->subnet, "s2");
  EXPECT_FALSE(t.world.FindHost("h1")->public_ip.has_value());
  const access::Instance& x = *t.world.FindInstance("x");
  EXPECT_TRUE(x.internet.enabled);
  EXPECT_EQ(x.internet.allowlist.size(), 2u);
  EXPECT_EQ(x.vpc.bindings.at(0).private_ip, Ip("10.2.0.200"));
  ASSERT_NE(t.world.FindZone("z1"), nullptr);
  EXPECT_EQ(t.world.FindZone("z1")->records.at(0).name, "other.r1.example.test");
  EXPECT_EQ(t.world.FindTransitNetwork("t1")->networks,
            (std::vector<access::NetworkKey>{{"A", "n1"}}));
  ASSERT_EQ(t.SetupOf("x").credentials.size(), 2u);
  EXPECT_EQ(t.SetupOf("x").credentials[1].password_hash.value().substr(0, 4), "$2b$");
  // Logins: h2 brings its own; h1 tries the first user with its password.
  EXPECT_EQ(t.LoginOf("h2", "x"), (Login{"ops", "pw"}));
  EXPECT_EQ(t.LoginOf("h1", "x"), (Login{"dev", "one"}));
}

TEST(Topology, DefaultLoginNeedsAPlainPassword) {
  std::string hash = auth::HashPassword("secret");
  Topology t = ParseTopology(kReportWorldYaml +
                                 "instances:\n"
                                 "  - {name: p, account: A, region: ap-northeast-1,"
                                 " edition: personal, credentials: [{user: u, "
                                 "password_hash: \"" +
                                 hash +
                                 "\"}]}\n"
                                 "  - {name: q, account: A, region: ap-northeast-1, edition: "
                                 "personal}\n",
                             "world.yaml");
  EXPECT_EQ(t.LoginOf("ecs-a", "p"), std::nullopt);
  EXPECT_EQ(t.LoginOf("ecs-a", "q"), std::nullopt);
}

TEST(Topology, EmptyFileIsAnError) {
  TopologyError e = ErrorOf("");
  EXPECT_EQ(std::string(e.what()).substr(0, 12), "world.yaml: ");
  EXPECT_EQ(e.line(), 0);
}

TEST(TopologyErrors, YamlSyntax) {
  const std::string text = "accounts:\n  - {id: A\nregions: []\n";
  TopologyError e = ErrorOf(text);
  EXPECT_GT(e.line(), 0);
  EXPECT_NE(e.reason().find("invalid YAML"), std::string::npos) << e.what();
}

TEST(TopologyErrors, NotUtf8) {
  ExpectError(kReportWorldYaml + "  - {id: ecs-\xff, network: vpc-a, private_ip: 192.168.0.3}\n",
              "ecs-\xff", "the file is not UTF-8");
  // Overlong and surrogate forms too; real UTF-8 is fine.
  ExpectError("# \xc0\xaf\n", "#", "not UTF-8");
  ExpectError("accounts: []\n# \xed\xa0\x80\n", "# ", "not UTF-8");
  EXPECT_NO_THROW(ParseTopology(kReportWorldYaml + "# 東京 \xf0\x9f\x9a\x80\n", "t.yaml"));
}

TEST(TopologyErrors, NotAMapping) {
  ExpectError("- just\n- a list\n", "- just", "a topology is a mapping");
}

TEST(TopologyErrors, UnknownKey) {
  ExpectError(kReportWorldYaml + "instancez: []\n", "instancez", "unknown key \"instancez\"");
  std::string text = kReportWorldYaml + AcmeYaml("enterprise", "    internet: {enabeld: true}\n");
  ExpectError(text, "enabeld", "unknown key \"enabeld\"");
}

TEST(TopologyErrors, KeyGivenTwice) {
  std::string text = kReportWorldYaml + AcmeYaml("enterprise", "    edition: personal\n");
  ExpectError(text, "edition: personal", "key \"edition\" is given twice");
}

TEST(TopologyErrors, MissingKey) {
  ExpectError(
      kReportWorldYaml + "instances:\n  - {name: acme, account: A, region: ap-northeast-1}\n",
      "name: acme", "\"edition\" is missing");
}

TEST(TopologyErrors, UnknownNetwork) {
  ExpectError(kReportWorldYaml + "  - {id: ecs-c, network: vpc-z, private_ip: 10.0.0.3}\n", "ecs-c",
              "host ecs-c: no such network vpc-z");
  ExpectError(kReportWorldYaml +
                  "transit_networks:\n  - id: cen\n    networks:\n      - vpc-a\n"
                  "      - vpc-z\n",
              "- vpc-z", "transit network cen: no such network vpc-z");
  ExpectError(kReportWorldYaml + AcmeYaml("enterprise",
                                          "    vpc:\n      bindings:\n"
                                          "        - {network: vpc-z}\n"),
              "vpc-z", "no such network");
}

TEST(TopologyErrors, NetworkIdOfTwoAccounts) {
  // The World holds them apart; a file names networks by id alone, so it refuses the second.
  std::string text = kReportWorldYaml;
  text.replace(text.find("hosts:"), 6,
               "  - {id: vpc-a, account: B, region: ap-southeast-1, cidrs: [172.16.0.0/16]}\n"
               "hosts:");
  ExpectError(text, "id: vpc-a, account: B",
              "network vpc-a: the id is taken by a network of account A");
}

TEST(TopologyErrors, OverlappingSubnet) {
  std::string text = kReportWorldYaml;
  text.insert(text.find("      - {id: vsw-a"), "      - {id: vsw-a2, cidr: 192.168.0.128/25}\n");
  ExpectError(text, "{id: vsw-a,", "overlaps subnet vsw-a2");
}

TEST(TopologyErrors, IpOutsideItsSubnet) {
  ExpectError(kReportWorldYaml + "  - {id: ecs-c, network: vpc-a, private_ip: 192.168.1.5}\n",
              "192.168.1.5", "192.168.1.5 is in no subnet of network vpc-a");
  ExpectError(kReportWorldYaml + "  - {id: ecs-c, subnet: vsw-a, private_ip: 192.168.1.5}\n",
              "ecs-c", "is not a usable address of subnet vsw-a");
  ExpectError(kReportWorldYaml +
                  "  - {id: ecs-c, subnet: vsw-a, network: vpc-b, private_ip: "
                  "192.168.0.5}\n",
              "ecs-c", "subnet vsw-a belongs to network vpc-a");
}

TEST(TopologyErrors, DuplicateNames) {
  ExpectError(kReportWorldYaml + "  - {id: ecs-a, network: vpc-a, private_ip: 192.168.0.9}\n",
              "192.168.0.9", "host ecs-a: it already exists");
  std::string text = kReportWorldYaml + AcmeYaml("personal") +
                     "  - {name: acme, account: B, region: ap-southeast-1, edition: personal}\n";
  ExpectError(text, "account: B, region", "instance acme: it already exists");
  std::string accounts = kReportWorldYaml;
  accounts.insert(accounts.find("  - {id: B"), "  - {id: A}\n");
  ExpectError(accounts, "  - {id: A}", "account A already exists");
}

TEST(TopologyErrors, AddressTakenTwice) {
  ExpectError(kReportWorldYaml + "  - {id: ecs-c, network: vpc-a, private_ip: 192.168.0.1}\n",
              "ecs-c", "192.168.0.1 is already taken");
}

TEST(TopologyErrors, ForbiddenBinding) {
  std::string text =
      kReportWorldYaml +
      AcmeYaml("enterprise", "    vpc:\n      bindings:\n        - {network: vpc-b}\n");
  ExpectError(text, "{network: vpc-b}",
              "cannot bind network vpc-b to instance acme: network belongs to account B in "
              "region ap-southeast-1, instance to account A in region ap-northeast-1");
  std::string personal =
      kReportWorldYaml +
      AcmeYaml("personal", "    vpc:\n      bindings:\n        - {network: vpc-a}\n");
  ExpectError(personal, "{network: vpc-a}", "takes no bindings");
}

TEST(TopologyErrors, PersonalInternetEndpointCannotBeClosed) {
  ExpectError(kReportWorldYaml + AcmeYaml("personal", "    internet: {enabled: false}\n"),
              "enabled: false", "cannot disable the internet endpoint of instance acme");
  ExpectError(kReportWorldYaml + AcmeYaml("personal",
                                          "    internet:\n      allowlist: "
                                          "[{cidr: 1.2.3.4}]\n"),
              "allowlist:", "cannot be restricted");
}

TEST(TopologyErrors, MalformedValues) {
  ExpectError(kReportWorldYaml + "  - {id: ecs-c, network: vpc-a, private_ip: 192.168.0.300}\n",
              "192.168.0.300", "invalid");
  ExpectError(kReportWorldYaml + AcmeYaml("enterprise",
                                          "    internet:\n      allowlist:\n"
                                          "        - {cidr: 1.2.3.4/24}\n"),
              "1.2.3.4/24", "1.2.3.0/24");
  ExpectError(kReportWorldYaml + AcmeYaml("enterprise", "    internet: {enabled: maybe}\n"),
              "maybe", "must be true or false");
  ExpectError(kReportWorldYaml + AcmeYaml("premium"), "premium",
              "edition \"premium\" is neither personal nor enterprise");
  ExpectError("domain: -bad-\n", "-bad-", "not a valid domain");
  ExpectError(kReportWorldYaml + "transit_networks: {id: cen}\n", "{id: cen}", "must be a list");
}

TEST(TopologyErrors, CloudAddressesLieOutsideNetworks) {
  std::string text = kReportWorldYaml + AcmeYaml("personal");
  text.insert(text.find("domain"), "internet_address: 10.0.0.200\n");
  ExpectError(text, "  - id: vpc-b", "10.0.0.0/8 holds 10.0.0.200, the internet endpoint address");
  std::string regional = kReportWorldYaml;
  regional.replace(regional.find("{id: ap-southeast-1, name: Singapore}"),
                   std::string("{id: ap-southeast-1, name: Singapore}").size(),
                   "{id: ap-southeast-1, service_address: 192.168.7.7}");
  ExpectError(regional, "  - id: vpc-a", "the regional service address of region ap-southeast-1");
  std::string twice = kReportWorldYaml;
  twice.replace(twice.find("{id: ap-southeast-1, name: Singapore}"),
                std::string("{id: ap-southeast-1, name: Singapore}").size(),
                "{id: ap-southeast-1, service_address: 100.100.0.1}");
  ExpectError(twice, "100.100.0.1", "already the service address of region ap-northeast-1");
  std::string public_ip = kReportWorldYaml + AcmeYaml("personal");
  public_ip.replace(public_ip.find("198.51.100.10"), 13, "203.0.113.1");
  ExpectError(public_ip, "public_ip: 203.0.113.1",
              "host ecs-a: public IP 203.0.113.1 is the "
              "internet endpoint address of instance acme");
}

TEST(TopologyErrors, Credentials) {
  std::string both = kReportWorldYaml +
                     "instances:\n  - {name: p, account: A, region: ap-northeast-1, edition: "
                     "personal, credentials: [{user: u, password: a, password_hash: b}]}\n";
  ExpectError(both, "{name: p", "give exactly one of password and password_hash");
  std::string twice = kReportWorldYaml +
                      "instances:\n  - name: p\n    account: A\n    region: ap-northeast-1\n"
                      "    edition: personal\n    credentials:\n      - {user: u, password: a}\n"
                      "      - {user: u, password: b}\n";
  ExpectError(twice, "password: b", "user u is given twice");
}

TEST(TopologyErrors, LoginForUnknownInstance) {
  std::string text = kReportWorldYaml + AcmeYaml("personal");
  text.insert(text.find("  - {id: ecs-b"),
              "  - id: ecs-c\n    network: vpc-a\n    private_ip: 192.168.0.3\n    logins:\n"
              "      - {instance: nope, user: dev, password: x}\n");
  ExpectError(text, "{instance: nope", "host ecs-c: login for unknown instance nope");
}

TEST(TopologyErrors, PrivateZones) {
  std::string base = kReportWorldYaml + AcmeYaml("personal");
  ExpectError(base + "private_zones:\n  - {name: x.kura.test, networks: [vpc-z]}\n", "vpc-z",
              "no such network");
  ExpectError(base +
                  "private_zones:\n  - name: x.kura.test\n    networks: [vpc-a]\n"
                  "    records: [{name: y.other.test, address: 1.2.3.4}]\n",
              "y.other.test", "the name is not x.kura.test or under it");
  // A second zone of the same name in the same network.
  ExpectError(base +
                  "private_zones:\n  - {id: z1, name: x.kura.test, networks: [vpc-a]}\n"
                  "  - id: z2\n    name: x.kura.test\n    networks:\n      - vpc-a\n",
              "      - vpc-a", "of the same name x.kura.test is already attached");
}

TEST(TopologyErrors, LoadTopologyOfAMissingFile) {
  try {
    LoadTopology("/nonexistent/world.yaml");
    FAIL() << "loaded";
  } catch (const TopologyError& e) {
    EXPECT_EQ(e.line(), 0);
    EXPECT_EQ(std::string(e.what()).rfind("/nonexistent/world.yaml: cannot open", 0), 0u)
        << e.what();
  }
}

TEST(Topology, LoadTopologyReadsAFile) {
  const std::string path = ::testing::TempDir() + "kura_topology_test.yaml";
  {
    std::ofstream out(path);
    out << kReportWorldYaml << AcmeYaml("personal");
  }
  Topology t = LoadTopology(path);
  EXPECT_EQ(t.source, path);
  EXPECT_NE(t.world.FindInstance("acme"), nullptr);
  std::remove(path.c_str());
}

}  // namespace
}  // namespace kura::topology
