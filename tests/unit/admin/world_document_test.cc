// The saved exposure World: a round trip, and documents of earlier versions.
#include "admin/world_document.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "core/cidr.h"

namespace kura::admin {
namespace {

core::Cidr Cidr(const char* text) {
  return *core::Cidr::Parse(text);
}

void Check(const access::Status& s) {
  ASSERT_TRUE(s.ok()) << s.message();
}

TEST(WorldDocument, TwoAccountsNetworksOfOneIdSurviveARoundTrip) {
  access::World world("kura.test");
  Check(world.AddAccount({"A", "A"}));
  Check(world.AddAccount({"B", "B"}));
  Check(world.AddRegion({"r1", "r1"}));
  Check(world.AddNetwork({"vpc-a", "A", "r1", {Cidr("192.168.0.0/16")}}));
  Check(world.AddNetwork({"vpc-a", "B", "r1", {Cidr("10.0.0.0/16")}}));
  Check(world.AddSubnet({"vsw-a", {"A", "vpc-a"}, Cidr("192.168.0.0/24")}));
  Check(world.AddSubnet({"vsw-b", {"B", "vpc-a"}, Cidr("10.0.0.0/24")}));
  Check(world.CreateInstance("acme", "A", "r1", access::Edition::kEnterprise, "inc-1"));
  Check(world.CreateInstance("bee", "B", "r1", access::Edition::kEnterprise, "inc-2"));
  Check(world.Bind("acme", {"A", "vpc-a"}, "vsw-a"));
  Check(world.Bind("bee", {"B", "vpc-a"}, "vsw-b"));
  Check(world.AddTransitNetwork({"cen", {{"A", "vpc-a"}, {"B", "vpc-a"}}}));

  access::World back = WorldFromDocument(WorldToDocument(world), "kura.test");
  EXPECT_EQ(back.networks().size(), 2u);
  EXPECT_EQ(back.FindSubnet("vsw-b")->network, (access::NetworkKey{"B", "vpc-a"}));
  EXPECT_EQ(back.FindInstance("bee")->vpc.bindings[0].private_ip,
            world.FindInstance("bee")->vpc.bindings[0].private_ip);
  EXPECT_EQ(back.FindTransitNetwork("cen")->networks,
            (std::vector<access::NetworkKey>{{"A", "vpc-a"}, {"B", "vpc-a"}}));
  EXPECT_EQ(WorldToDocument(back), WorldToDocument(world));
}

TEST(WorldDocument, ReadsDocumentsWithBareNetworkIds) {
  // As kura saved it while network ids were global.
  const char* old = R"({"version": 1, "domain": "kura.test",
    "accounts": [{"id": "A", "name": "A"}, {"id": "B", "name": "B"}],
    "regions": [{"id": "r1", "name": "r1"}],
    "networks": [{"id": "vpc-a", "account": "A", "region": "r1", "cidrs": ["192.168.0.0/16"]},
                 {"id": "vpc-b", "account": "B", "region": "r1", "cidrs": ["10.0.0.0/16"]}],
    "subnets": [{"id": "vsw-a", "network": "vpc-a", "cidr": "192.168.0.0/24"}],
    "hosts": [],
    "transit_networks": [{"id": "cen", "networks": ["vpc-a", "vpc-b"]}],
    "instances": [{"name": "acme", "account": "A", "region": "r1", "edition": "enterprise",
                   "incarnation": "inc-1", "internet_enabled": false, "allowlist": [],
                   "bindings": [{"network": "vpc-a", "subnet": "vsw-a",
                                 "private_ip": "192.168.0.1"}]}],
    "zones": [{"id": "z", "name": "x.kura.test", "records": [], "attached_networks": ["vpc-b"]}]
  })";
  access::World w = WorldFromDocument(old, "kura.test");
  EXPECT_EQ(w.FindSubnet("vsw-a")->network, (access::NetworkKey{"A", "vpc-a"}));
  EXPECT_EQ(w.FindTransitNetwork("cen")->networks,
            (std::vector<access::NetworkKey>{{"A", "vpc-a"}, {"B", "vpc-b"}}));
  EXPECT_EQ(w.FindZone("z")->attached_networks, (std::vector<access::NetworkKey>{{"B", "vpc-b"}}));
  EXPECT_EQ(w.FindInstance("acme")->vpc.bindings.size(), 1u);
}

}  // namespace
}  // namespace kura::admin
