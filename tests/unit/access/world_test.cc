// The mutating operations of World and the rules they enforce.

#include "access/world.h"

#include <gtest/gtest.h>

#include <memory>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "access/hostnames.h"

#include "report_world.h"

namespace kura::access {
namespace {

using testing::Check;
using testing::Cidr;
using testing::Ip;
using testing::kDomain;
using testing::kTokyo;
using testing::Net;
using testing::ReportWorld;
using testing::ReportWorldWithoutInstance;

constexpr char kAcmeVpcHost[] = "acme-registry-vpc.ap-northeast-1.kura.test";

// ---- Creation.

TEST(CreateInstance, EnterpriseIsCreatedClosed) {
  World world = ReportWorld(Edition::kEnterprise);
  const Instance* acme = world.FindInstance("acme");
  ASSERT_NE(acme, nullptr);
  EXPECT_FALSE(acme->internet.enabled);
  EXPECT_TRUE(acme->internet.allowlist.empty());
  EXPECT_TRUE(acme->vpc.bindings.empty());
}

TEST(CreateInstance, PersonalIsOpen) {
  World world = ReportWorld(Edition::kPersonal);
  EXPECT_TRUE(world.FindInstance("acme")->internet.enabled);
}

TEST(CreateInstance, Refusals) {
  World world = ReportWorld(Edition::kEnterprise);
  EXPECT_EQ(world.CreateInstance("acme", "A", "ap-northeast-1", Edition::kPersonal).message(),
            "cannot create instance acme: it already exists");
  EXPECT_EQ(world.CreateInstance("beta", "C", "ap-northeast-1", Edition::kPersonal).message(),
            "cannot create instance beta: no such account C");
  EXPECT_EQ(world.CreateInstance("beta", "A", "eu-west-1", Edition::kPersonal).code(),
            Status::Code::kNotFound);
  for (const char* bad : {"", "Acme", "1acme", "acme-", "ac_me", "acme.x"}) {
    EXPECT_EQ(world.CreateInstance(bad, "A", "ap-northeast-1", Edition::kPersonal).code(),
              Status::Code::kInvalidArgument)
        << bad;
  }
  EXPECT_EQ(
      world.CreateInstance(std::string(51, 'a'), "A", "ap-northeast-1", Edition::kPersonal).code(),
      Status::Code::kInvalidArgument);
  Check(world.CreateInstance(std::string(50, 'a'), "A", "ap-northeast-1", Edition::kPersonal));
}

// RestoreInstance is CreateInstance, SetInternetEnabled and ReplaceAllowlist in one step: the
// same result, the same refusals.
TEST(CreateInstance, RestoreIsTheThreeOperationsInOne) {
  World three = ReportWorld(Edition::kEnterprise);
  World one = ReportWorld(Edition::kEnterprise);
  std::vector<AllowlistEntry> entries = {{Cidr("203.0.113.0/24"), "office"},
                                         {Cidr("198.51.100.7/32"), "home"}};
  Check(three.CreateInstance("beta", "A", "ap-northeast-1", Edition::kEnterprise, "inc-b"));
  Check(three.SetInternetEnabled("beta", true));
  Check(three.ReplaceAllowlist("beta", entries));
  Check(one.RestoreInstance("beta", "A", "ap-northeast-1", Edition::kEnterprise, "inc-b", true,
                            entries));
  const Instance* a = three.FindInstance("beta");
  const Instance* b = one.FindInstance("beta");
  ASSERT_NE(b, nullptr);
  EXPECT_EQ(b->incarnation, a->incarnation);
  EXPECT_EQ(b->internet.enabled, a->internet.enabled);
  EXPECT_EQ(b->internet.allowlist.entries(), a->internet.allowlist.entries());
  EXPECT_NE(b->internet.allowlist.Find(Ip("203.0.113.9")), nullptr);
  EXPECT_EQ(b->internet.allowlist.Find(Ip("203.0.114.9")), nullptr);

  // Personal: open whatever the flag says, and no allowlist.
  Check(one.RestoreInstance("gamma", "A", "ap-northeast-1", Edition::kPersonal, "", false, {}));
  EXPECT_TRUE(one.FindInstance("gamma")->internet.enabled);
  EXPECT_EQ(
      one.RestoreInstance("delta", "A", "ap-northeast-1", Edition::kPersonal, "", true, entries)
          .code(),
      Status::Code::kRefused);
  // A CIDR twice, a taken or bad name, an unknown account, a bad incarnation: refused, nothing
  // made.
  std::vector<AllowlistEntry> twice = {entries[0], {Cidr("203.0.113.0/24"), "again"}};
  EXPECT_EQ(
      one.RestoreInstance("delta", "A", "ap-northeast-1", Edition::kEnterprise, "", true, twice)
          .message(),
      "cannot replace the allowlist of instance delta: 203.0.113.0/24 appears twice");
  EXPECT_EQ(
      one.RestoreInstance("beta", "A", "ap-northeast-1", Edition::kEnterprise, "", true, {}).code(),
      Status::Code::kAlreadyExists);
  EXPECT_EQ(one.RestoreInstance("Delta", "A", "ap-northeast-1", Edition::kEnterprise, "", true, {})
                .code(),
            Status::Code::kInvalidArgument);
  EXPECT_EQ(one.RestoreInstance("delta", "C", "ap-northeast-1", Edition::kEnterprise, "", true, {})
                .code(),
            Status::Code::kNotFound);
  EXPECT_EQ(
      one.RestoreInstance("delta", "A", "ap-northeast-1", Edition::kEnterprise, "in c", true, {})
          .code(),
      Status::Code::kInvalidArgument);
  EXPECT_EQ(one.FindInstance("delta"), nullptr);
}

TEST(CreateInstance, IncarnationIsCheckedAndNeverChanges) {
  World world = ReportWorld(Edition::kEnterprise);
  for (const char* bad : {"a:b", "a b", "a/b", "plain:", "\xff"}) {
    EXPECT_EQ(world.CreateInstance("beta", "A", "ap-northeast-1", Edition::kPersonal, bad).code(),
              Status::Code::kInvalidArgument)
        << bad;
  }
  EXPECT_EQ(world
                .CreateInstance("beta", "A", "ap-northeast-1", Edition::kPersonal,
                                std::string(kMaxIncarnationLength + 1, 'x'))
                .code(),
            Status::Code::kInvalidArgument);
  Check(world.CreateInstance("beta", "A", "ap-northeast-1", Edition::kPersonal, "Ab-09_z"));
  EXPECT_EQ(world.FindInstance("beta")->incarnation, "Ab-09_z");
  // Only an instance without one gets one, and only a valid one.
  EXPECT_EQ(world.AssignIncarnation("beta", "other").code(), Status::Code::kAlreadyExists);
  EXPECT_EQ(world.AssignIncarnation("acme", "a:b").code(), Status::Code::kInvalidArgument);
  EXPECT_EQ(world.AssignIncarnation("nobody", "x").code(), Status::Code::kNotFound);
  Check(world.AssignIncarnation("acme", "fresh"));
  EXPECT_EQ(world.FindInstance("acme")->incarnation, "fresh");
}

TEST(Networks, IdsAreScopedByAccount) {
  World world = ReportWorld(Edition::kEnterprise);
  // B takes the id of A's network, in A's region: another network.
  Check(world.AddNetwork({"vpc-a", "B", "ap-northeast-1", {Cidr("172.16.0.0/16")}}));
  Check(world.AddSubnet({"vsw-b-tokyo", {"B", "vpc-a"}, Cidr("172.16.0.0/24")}));
  ASSERT_NE(world.FindNetwork({"A", "vpc-a"}), nullptr);
  ASSERT_NE(world.FindNetwork({"B", "vpc-a"}), nullptr);
  EXPECT_EQ(world.FindNetwork({"B", "vpc-a"})->cidrs[0], Cidr("172.16.0.0/16"));
  EXPECT_EQ(world.FindNetwork({"C", "vpc-a"}), nullptr);
  Status again = world.AddNetwork({"vpc-a", "A", "ap-northeast-1", {Cidr("10.9.0.0/16")}});
  EXPECT_EQ(again.code(), Status::Code::kAlreadyExists);
  EXPECT_EQ(again.message(),
            "cannot add network vpc-a: account A already has a network of that id");
  // A subnet belongs to its network of its account.
  EXPECT_EQ(world.Bind("acme", {"A", "vpc-a"}, "vsw-b-tokyo").message(),
            "cannot bind network vpc-a to instance acme: subnet vsw-b-tokyo belongs to network "
            "vpc-a of account B");
  EXPECT_EQ(world.Bind("acme", {"B", "vpc-a"}, "vsw-b-tokyo").code(), Status::Code::kRefused);
  Check(world.Bind("acme", {"A", "vpc-a"}, "vsw-a"));
  // Arriving through B's vpc-a is not arriving through the bound network.
  std::optional<ArrivalNetwork> theirs = world.ArrivalThrough({"B", "vpc-a"});
  ASSERT_TRUE(theirs);
  EXPECT_EQ(theirs->account, "B");
  ConnectionContext context{EndpointKind::kVpc, Ip("172.16.0.5"), theirs};
  Decision d = Admit(context, *world.FindInstance("acme"));
  EXPECT_FALSE(d.allowed);
  EXPECT_EQ(d.reason, "network vpc-a of account B is not bound to instance acme");
  context.arrival_network = world.ArrivalThrough({"A", "vpc-a"});
  EXPECT_TRUE(Admit(context, *world.FindInstance("acme")).allowed);
  // The binding's private zone is attached to A's vpc-a only.
  EXPECT_TRUE(world.ResolvePrivate({"A", "vpc-a"}, kAcmeVpcHost).address.has_value());
  EXPECT_EQ(world.ResolvePrivate({"B", "vpc-a"}, kAcmeVpcHost).zone, nullptr);
}

TEST(Networks, IdsAndNames) {
  for (const char* good : {"vpc-a", "VPC_1", "v.1", "0abc", "vpc-0123456789abcdef0"}) {
    EXPECT_TRUE(IsValidResourceId(good)) << good;
  }
  for (const char* bad : {"", "a/b", "-x", ".x", "_x", "a b", "vpc\xc3\xa9", "a\nb", "a:b"}) {
    EXPECT_FALSE(IsValidResourceId(bad)) << bad;
  }
  EXPECT_FALSE(IsValidResourceId(std::string(kMaxResourceIdLength + 1, 'n')));
  EXPECT_EQ(ParseNetworkName("vpc-a", "A"), (NetworkKey{"A", "vpc-a"}));
  EXPECT_EQ(ParseNetworkName("B/vpc-b", "A"), (NetworkKey{"B", "vpc-b"}));
  EXPECT_EQ((NetworkKey{"B", "vpc-b"}).ToString(), "B/vpc-b");
  World world = ReportWorldWithoutInstance();
  EXPECT_EQ(world.AddAccount({"C/D", ""}).code(), Status::Code::kInvalidArgument);
  EXPECT_EQ(world.AddNetwork({"a/b", "A", "ap-northeast-1", {Cidr("172.16.0.0/16")}}).code(),
            Status::Code::kInvalidArgument);
  EXPECT_EQ(world.AddSubnet({"s/t", {"A", "vpc-a"}, Cidr("192.168.5.0/24")}).code(),
            Status::Code::kInvalidArgument);
}

TEST(AddCloud, Refusals) {
  World world = ReportWorldWithoutInstance();
  EXPECT_EQ(world.AddAccount({"A", ""}).code(), Status::Code::kAlreadyExists);
  EXPECT_EQ(world.AddRegion({"Tokyo!", ""}).code(), Status::Code::kInvalidArgument);
  EXPECT_EQ(world.AddNetwork({"vpc-x", "A", "ap-northeast-1", {}}).message(),
            "cannot add network vpc-x: it has no CIDR");
  EXPECT_EQ(
      world.AddNetwork({"vpc-x", "A", "ap-northeast-1", {Cidr("10.0.0.0/8"), Cidr("10.1.0.0/16")}})
          .message(),
      "cannot add network vpc-x: 10.0.0.0/8 overlaps 10.1.0.0/16");
  EXPECT_EQ(world.AddSubnet({"vsw-x", Net(world, "vpc-a"), Cidr("10.0.1.0/24")}).message(),
            "cannot add subnet vsw-x: 10.0.1.0/24 is not inside a CIDR of network vpc-a");
  EXPECT_EQ(world.AddSubnet({"vsw-x", Net(world, "vpc-a"), Cidr("192.168.0.128/25")}).message(),
            "cannot add subnet vsw-x: 192.168.0.128/25 overlaps subnet vsw-a (192.168.0.0/24)");
  EXPECT_EQ(world.AddHost({"ecs-x", "vsw-a", Ip("192.168.0.0"), std::nullopt}).message(),
            "cannot add host ecs-x: 192.168.0.0 is not a usable address of subnet vsw-a "
            "(192.168.0.0/24)");
  EXPECT_EQ(world.AddHost({"ecs-x", "vsw-a", Ip("192.168.0.255"), std::nullopt}).code(),
            Status::Code::kInvalidArgument);
  EXPECT_EQ(world.AddHost({"ecs-x", "vsw-a", Ip("192.168.1.1"), std::nullopt}).code(),
            Status::Code::kInvalidArgument);
  EXPECT_EQ(world.AddHost({"ecs-x", "vsw-a", Ip("192.168.0.1"), std::nullopt}).message(),
            "cannot add host ecs-x: 192.168.0.1 is already taken");
  EXPECT_EQ(world.AddTransitNetwork({"cen", {Net(world, "vpc-a"), {"A", "vpc-z"}}}).message(),
            "cannot add transit network cen: no such network A/vpc-z");
}

// ---- Personal edition: the Internet endpoint cannot be closed or restricted.

TEST(PersonalEdition, DisablingTheInternetEndpointIsRefused) {
  World world = ReportWorld(Edition::kPersonal);
  Status status = world.SetInternetEnabled("acme", false);
  EXPECT_EQ(status.code(), Status::Code::kRefused);
  EXPECT_EQ(status.message(),
            "cannot disable the internet endpoint of instance acme: a personal edition instance "
            "is always open to all on the Internet");
  EXPECT_TRUE(world.FindInstance("acme")->internet.enabled);
  Check(world.SetInternetEnabled("acme", true));
}

TEST(PersonalEdition, RestrictingTheInternetEndpointIsRefused) {
  World world = ReportWorld(Edition::kPersonal);
  Status allow = world.AllowCidr("acme", {Cidr("198.51.100.10/32"), "ECS-A"});
  EXPECT_EQ(allow.code(), Status::Code::kRefused);
  EXPECT_EQ(allow.message(),
            "cannot add 198.51.100.10/32 to the allowlist of instance acme: the internet endpoint "
            "of a personal edition instance is always open to all and cannot be restricted");
  EXPECT_EQ(world.RevokeCidr("acme", Cidr("0.0.0.0/0")).code(), Status::Code::kRefused);
  EXPECT_EQ(world.ReplaceAllowlist("acme", {}).code(), Status::Code::kRefused);
  EXPECT_TRUE(world.FindInstance("acme")->internet.allowlist.empty());
}

TEST(PersonalEdition, BindingIsRefused) {
  World world = ReportWorld(Edition::kPersonal);
  Status status = world.Bind("acme", Net(world, "vpc-a"), "vsw-a");
  EXPECT_EQ(status.code(), Status::Code::kRefused);
  EXPECT_EQ(status.message(),
            "cannot bind network vpc-a to instance acme: the VPC endpoint of a personal edition "
            "instance serves every network of its region and takes no bindings");
}

// ---- Enterprise allowlist.

TEST(AllowlistEdits, AllowReplacesTheDescriptionOfTheSameCidr) {
  World world = ReportWorld(Edition::kEnterprise);
  Check(world.AllowCidr("acme", {Cidr("198.51.100.10/32"), "old"}));
  Check(world.AllowCidr("acme", {Cidr("198.51.100.10/32"), "ECS-A"}));
  const Allowlist& list = world.FindInstance("acme")->internet.allowlist;
  ASSERT_EQ(list.size(), 1u);
  EXPECT_EQ(list.entries()[0].description, "ECS-A");
}

TEST(AllowlistEdits, RevokeRemovesTheEntry) {
  World world = ReportWorld(Edition::kEnterprise);
  Check(world.AllowCidr("acme", {Cidr("198.51.100.10/32"), "ECS-A"}));
  Check(world.AllowCidr("acme", {Cidr("203.0.113.20/32"), "ECS-B"}));
  Check(world.RevokeCidr("acme", Cidr("198.51.100.10/32")));
  const Allowlist& list = world.FindInstance("acme")->internet.allowlist;
  EXPECT_EQ(list.Find(Ip("198.51.100.10")), nullptr);
  EXPECT_NE(list.Find(Ip("203.0.113.20")), nullptr);
  EXPECT_EQ(world.RevokeCidr("acme", Cidr("198.51.100.10/32")).message(),
            "cannot remove 198.51.100.10/32 from the allowlist of instance acme: it is not in the "
            "allowlist");
}

TEST(AllowlistEdits, ReplaceRefusesDuplicates) {
  World world = ReportWorld(Edition::kEnterprise);
  Status status = world.ReplaceAllowlist(
      "acme", {{Cidr("10.0.0.0/8"), "a"}, {Cidr("1.2.3.4/32"), "b"}, {Cidr("10.0.0.0/8"), "c"}});
  EXPECT_EQ(status.message(),
            "cannot replace the allowlist of instance acme: 10.0.0.0/8 appears twice");
  Check(world.ReplaceAllowlist("acme", {{Cidr("10.0.0.0/8"), "a"}, {Cidr("1.2.3.4/32"), "b"}}));
  EXPECT_EQ(world.FindInstance("acme")->internet.allowlist.size(), 2u);
}

TEST(AllowlistEdits, UnknownInstance) {
  World world = ReportWorld(Edition::kEnterprise);
  EXPECT_EQ(world.SetInternetEnabled("nope", true).message(),
            "cannot enable the internet endpoint of instance nope: no such instance");
  EXPECT_EQ(world.AllowCidr("nope", {Cidr("1.2.3.4/32"), ""}).code(), Status::Code::kNotFound);
}

// ---- Binding refusals: same account and same region only, naming which differs.

World EnterpriseWithOtherNetworks() {
  World world = ReportWorld(Edition::kEnterprise);
  // Account B in Tokyo (same region, other account) and account A in Singapore (same account,
  // other region).
  Check(world.AddNetwork({"vpc-c", "B", "ap-northeast-1", {Cidr("172.16.0.0/12")}}));
  Check(world.AddSubnet({"vsw-c", Net(world, "vpc-c"), Cidr("172.16.0.0/24")}));
  Check(world.AddNetwork({"vpc-d", "A", "ap-southeast-1", {Cidr("172.16.0.0/12")}}));
  Check(world.AddSubnet({"vsw-d", Net(world, "vpc-d"), Cidr("172.16.0.0/24")}));
  return world;
}

TEST(Bind, OtherAccountIsRefused) {
  World world = EnterpriseWithOtherNetworks();
  Status status = world.Bind("acme", Net(world, "vpc-c"), "vsw-c");
  EXPECT_EQ(status.code(), Status::Code::kRefused);
  EXPECT_EQ(status.message(),
            "cannot bind network vpc-c to instance acme: network belongs to account B, instance "
            "to account A");
}

TEST(Bind, OtherRegionIsRefused) {
  World world = EnterpriseWithOtherNetworks();
  Status status = world.Bind("acme", Net(world, "vpc-d"), "vsw-d");
  EXPECT_EQ(status.code(), Status::Code::kRefused);
  EXPECT_EQ(status.message(),
            "cannot bind network vpc-d to instance acme: network is in region ap-southeast-1, "
            "instance in region ap-northeast-1");
}

TEST(Bind, OtherAccountAndOtherRegionIsRefused) {
  World world = EnterpriseWithOtherNetworks();
  Status status = world.Bind("acme", Net(world, "vpc-b"), "vsw-b");
  EXPECT_EQ(status.code(), Status::Code::kRefused);
  EXPECT_EQ(status.message(),
            "cannot bind network vpc-b to instance acme: network belongs to account B in region "
            "ap-southeast-1, instance to account A in region ap-northeast-1");
  EXPECT_TRUE(world.FindInstance("acme")->vpc.bindings.empty());
  EXPECT_TRUE(world.zones().empty());
}

TEST(Bind, OtherFailures) {
  World world = ReportWorld(Edition::kEnterprise);
  EXPECT_EQ(world.Bind("nope", Net(world, "vpc-a"), "vsw-a").message(),
            "cannot bind network vpc-a to instance nope: no such instance");
  EXPECT_EQ(world.Bind("acme", {"A", "vpc-z"}, "vsw-a").message(),
            "cannot bind network vpc-z to instance acme: no such network in account A");
  EXPECT_EQ(world.Bind("acme", Net(world, "vpc-a"), "vsw-z").message(),
            "cannot bind network vpc-a to instance acme: no such subnet vsw-z");
  Check(world.AddNetwork({"vpc-a2", "A", "ap-northeast-1", {Cidr("172.16.0.0/12")}}));
  EXPECT_EQ(world.Bind("acme", Net(world, "vpc-a2"), "vsw-a").message(),
            "cannot bind network vpc-a2 to instance acme: subnet vsw-a belongs to network vpc-a");
  Check(world.Bind("acme", Net(world, "vpc-a"), "vsw-a"));
  Status again = world.Bind("acme", Net(world, "vpc-a"), "vsw-a");
  EXPECT_EQ(again.code(), Status::Code::kAlreadyExists);
  EXPECT_EQ(again.message(),
            "cannot bind network vpc-a to instance acme: it is already bound (address 192.168.0.2 "
            "in subnet vsw-a)");
}

// ---- Address allocation.

TEST(Bind, AllocatesTheFirstFreeAddressSkippingHostsAndBindings) {
  World world = ReportWorld(Edition::kEnterprise);
  VpcBinding binding;
  Check(world.Bind("acme", Net(world, "vpc-a"), "vsw-a", &binding));
  // 192.168.0.0 is the network address and ECS-A holds 192.168.0.1.
  EXPECT_EQ(binding.private_ip, Ip("192.168.0.2"));
  EXPECT_EQ(binding.network, "vpc-a");
  EXPECT_EQ(binding.subnet, "vsw-a");
  ASSERT_EQ(world.FindInstance("acme")->vpc.bindings.size(), 1u);
  EXPECT_EQ(world.FindInstance("acme")->vpc.bindings[0].private_ip, Ip("192.168.0.2"));

  Check(world.CreateInstance("beta", "A", "ap-northeast-1", Edition::kEnterprise));
  Check(world.Bind("beta", Net(world, "vpc-a"), "vsw-a", &binding));
  EXPECT_EQ(binding.private_ip, Ip("192.168.0.3"));

  // A released address is the first free one again; a host cannot take a bound address.
  Check(world.Unbind("acme", "vpc-a"));
  EXPECT_EQ(world.AddHost({"ecs-x", "vsw-a", Ip("192.168.0.3"), std::nullopt}).code(),
            Status::Code::kAlreadyExists);
  Check(world.Bind("acme", Net(world, "vpc-a"), "vsw-a", &binding));
  EXPECT_EQ(binding.private_ip, Ip("192.168.0.2"));
}

TEST(Bind, ExhaustedSubnetIsAnError) {
  World world = ReportWorld(Edition::kEnterprise);
  // 192.168.1.0/30 has two usable addresses, .1 and .2.
  Check(world.AddSubnet({"vsw-tiny", Net(world, "vpc-a"), Cidr("192.168.1.0/30")}));
  Check(world.AddHost({"ecs-t", "vsw-tiny", Ip("192.168.1.1"), std::nullopt}));
  VpcBinding binding;
  Check(world.Bind("acme", Net(world, "vpc-a"), "vsw-tiny", &binding));
  EXPECT_EQ(binding.private_ip, Ip("192.168.1.2"));

  Check(world.CreateInstance("beta", "A", "ap-northeast-1", Edition::kEnterprise));
  Status status = world.Bind("beta", Net(world, "vpc-a"), "vsw-tiny");
  EXPECT_EQ(status.code(), Status::Code::kExhausted);
  EXPECT_EQ(status.message(),
            "cannot bind network vpc-a to instance beta: subnet vsw-tiny (192.168.1.0/30) has no "
            "free address");
  EXPECT_TRUE(world.FindInstance("beta")->vpc.bindings.empty());
}

TEST(Bind, Slash31AndIpv6Subnets) {
  World world = ReportWorldWithoutInstance();
  Check(world.AddNetwork(
      {"vpc-6", "A", "ap-northeast-1", {Cidr("172.16.0.0/16"), Cidr("2001:db8::/56")}}));
  Check(world.AddSubnet({"vsw-31", Net(world, "vpc-6"), Cidr("172.16.0.0/31")}));
  Check(world.AddSubnet({"vsw-v6", Net(world, "vpc-6"), Cidr("2001:db8::/64")}));
  Check(world.CreateInstance("one", "A", "ap-northeast-1", Edition::kEnterprise));
  Check(world.CreateInstance("two", "A", "ap-northeast-1", Edition::kEnterprise));
  VpcBinding binding;
  Check(world.Bind("one", Net(world, "vpc-6"), "vsw-31", &binding));
  EXPECT_EQ(binding.private_ip, Ip("172.16.0.0"));  // RFC 3021: both addresses of a /31 usable
  Check(world.Bind("two", Net(world, "vpc-6"), "vsw-v6", &binding));
  EXPECT_EQ(binding.private_ip, Ip("2001:db8::1"));
  EXPECT_EQ(world.ResolvePrivate(Net(world, "vpc-6"), "two-registry-vpc.ap-northeast-1.kura.test")
                .address,
            Ip("2001:db8::1"));
}

// ---- Private DNS.

TEST(Bind, WritesTheRecordInAZoneAttachedToTheBoundNetwork) {
  World world = ReportWorld(Edition::kEnterprise);
  Check(world.Bind("acme", Net(world, "vpc-a"), "vsw-a"));

  const std::string zone_id = std::string(kAcmeVpcHost) + "@vpc-a";
  const PrivateDnsZone* zone = world.FindZone(zone_id);
  ASSERT_NE(zone, nullptr);
  EXPECT_EQ(zone->name, kAcmeVpcHost);
  EXPECT_EQ(zone->attached_networks, std::vector<NetworkKey>{Net(world, "vpc-a")});
  ASSERT_EQ(zone->records.size(), 1u);
  EXPECT_EQ(zone->records[0].name, kAcmeVpcHost);
  EXPECT_EQ(zone->records[0].address, Ip("192.168.0.2"));

  PrivateDnsAnswer in_a =
      world.ResolvePrivate(Net(world, "vpc-a"), "ACME-registry-vpc.ap-northeast-1.kura.test");
  EXPECT_EQ(in_a.zone, zone);
  EXPECT_EQ(in_a.address, Ip("192.168.0.2"));
  // The zone holds exactly the endpoint's name: it shadows nothing else.
  EXPECT_EQ(
      world.ResolvePrivate(Net(world, "vpc-a"), "other-registry-vpc.ap-northeast-1.kura.test").zone,
      nullptr);
  // Report step 3: VPC-B has no record for the endpoint's hostname.
  PrivateDnsAnswer in_b = world.ResolvePrivate(Net(world, "vpc-b"), kAcmeVpcHost);
  EXPECT_EQ(in_b.zone, nullptr);
  EXPECT_FALSE(in_b.address.has_value());
}

TEST(Unbind, RemovesTheBindingTheRecordAndTheEmptyZone) {
  World world = ReportWorld(Edition::kEnterprise);
  Check(world.Bind("acme", Net(world, "vpc-a"), "vsw-a"));
  Check(world.Unbind("acme", "vpc-a"));
  EXPECT_TRUE(world.FindInstance("acme")->vpc.bindings.empty());
  EXPECT_TRUE(world.zones().empty());
  EXPECT_FALSE(world.ResolvePrivate(Net(world, "vpc-a"), kAcmeVpcHost).address.has_value());
  EXPECT_EQ(world.Unbind("acme", "vpc-a").message(),
            "cannot unbind network vpc-a from instance acme: it is not bound");
}

TEST(Bind, ReusesAZoneOfTheHostnameAlreadyAttachedToTheNetwork) {
  World world = ReportWorld(Edition::kEnterprise);
  Check(world.CreatePrivateZone("mine", kAcmeVpcHost));
  Check(world.AttachZone("mine", Net(world, "vpc-a")));
  Check(world.SetRecord("mine", {kAcmeVpcHost, Ip("192.168.0.200")}));
  Check(world.Bind("acme", Net(world, "vpc-a"), "vsw-a"));
  EXPECT_EQ(world.zones().size(), 1u);
  ASSERT_EQ(world.FindZone("mine")->records.size(), 1u);
  EXPECT_EQ(world.ResolvePrivate(Net(world, "vpc-a"), kAcmeVpcHost).address, Ip("192.168.0.2"));
}

// Report steps 1 to 5: bind VPC-A, join VPC-A and VPC-B by a transit network, then give VPC-B the
// same zone and record by hand.
TEST(PrivateDns, SharingTheEndpointWithAnotherAccountsNetwork) {
  World world = ReportWorld(Edition::kEnterprise);
  VpcBinding binding;
  Check(world.Bind("acme", Net(world, "vpc-a"), "vsw-a", &binding));
  Check(world.AddTransitNetwork({"cen-1", {Net(world, "vpc-a"), Net(world, "vpc-b")}}));
  EXPECT_FALSE(world.ResolvePrivate(Net(world, "vpc-b"), kAcmeVpcHost).address.has_value());

  Check(world.CreatePrivateZone("zone-b", kAcmeVpcHost));
  Check(world.AttachZone("zone-b", Net(world, "vpc-b")));
  Check(world.SetRecord("zone-b", {kAcmeVpcHost, binding.private_ip}));
  EXPECT_EQ(world.ResolvePrivate(Net(world, "vpc-b"), kAcmeVpcHost).address, Ip("192.168.0.2"));

  // Unbinding removes what Bind wrote, not the copy in VPC-B's zone.
  Check(world.Unbind("acme", "vpc-a"));
  EXPECT_NE(world.FindZone("zone-b"), nullptr);
  EXPECT_EQ(world.ResolvePrivate(Net(world, "vpc-b"), kAcmeVpcHost).address, Ip("192.168.0.2"));
}

TEST(PrivateDns, ZoneOperations) {
  World world = ReportWorld(Edition::kEnterprise);
  Check(world.CreatePrivateZone("z", "Internal.Example"));
  EXPECT_EQ(world.FindZone("z")->name, "internal.example");
  EXPECT_EQ(world.CreatePrivateZone("z", "x.example").code(), Status::Code::kAlreadyExists);
  EXPECT_EQ(world.CreatePrivateZone("bad", "not a name").code(), Status::Code::kInvalidArgument);
  Check(world.AttachZone("z", Net(world, "vpc-a")));
  Check(world.CreatePrivateZone("z2", "internal.example"));
  EXPECT_EQ(world.AttachZone("z2", Net(world, "vpc-a")).message(),
            "cannot attach zone z2 to network vpc-a: zone z of the same name internal.example is "
            "already attached");
  EXPECT_EQ(world.SetRecord("z", {"db.other.example", Ip("192.168.0.9")}).message(),
            "cannot set record db.other.example in zone z: the name is not internal.example or "
            "under it");
  EXPECT_EQ(world.SetRecord("z", {"xinternal.example", Ip("192.168.0.9")}).code(),
            Status::Code::kInvalidArgument);
  Check(world.SetRecord("z", {"DB.internal.example", Ip("192.168.0.9")}));
  EXPECT_EQ(world.ResolvePrivate(Net(world, "vpc-a"), "db.internal.example").address,
            Ip("192.168.0.9"));
  // The zone is authoritative for names under it: a missing record does not fall through.
  PrivateDnsAnswer missing = world.ResolvePrivate(Net(world, "vpc-a"), "web.internal.example");
  EXPECT_NE(missing.zone, nullptr);
  EXPECT_FALSE(missing.address.has_value());
  Check(world.RemoveRecord("z", "db.internal.example"));
  EXPECT_EQ(world.RemoveRecord("z", "db.internal.example").code(), Status::Code::kNotFound);
}

TEST(PrivateDns, TheMostSpecificAttachedZoneAnswers) {
  World world = ReportWorld(Edition::kEnterprise);
  Check(world.CreatePrivateZone("wide", "kura.test"));
  Check(world.AttachZone("wide", Net(world, "vpc-a")));
  Check(world.SetRecord("wide", {kAcmeVpcHost, Ip("192.168.0.77")}));
  EXPECT_EQ(world.ResolvePrivate(Net(world, "vpc-a"), kAcmeVpcHost).address, Ip("192.168.0.77"));
  Check(world.Bind("acme", Net(world, "vpc-a"), "vsw-a"));
  EXPECT_EQ(world.ResolvePrivate(Net(world, "vpc-a"), kAcmeVpcHost).address, Ip("192.168.0.2"));
}

// ---- Deleting an instance.

TEST(DeleteInstance, ReleasesBindingsAndRecords) {
  World world = ReportWorld(Edition::kEnterprise);
  Check(world.Bind("acme", Net(world, "vpc-a"), "vsw-a"));
  Check(world.DeleteInstance("acme"));
  EXPECT_EQ(world.FindInstance("acme"), nullptr);
  EXPECT_TRUE(world.zones().empty());
  Check(world.AddHost({"ecs-x", "vsw-a", Ip("192.168.0.2"), std::nullopt}));
  EXPECT_EQ(world.DeleteInstance("acme").code(), Status::Code::kNotFound);
}

// ---- Looking up by Host.

TEST(FindInstanceByHost, FindsTheInstanceAndTheEndpoint) {
  World world = ReportWorld(Edition::kEnterprise);
  EndpointKind kind = EndpointKind::kInternet;
  const Instance* found = world.FindInstanceByHost(kAcmeVpcHost + std::string(":443"), &kind);
  ASSERT_NE(found, nullptr);
  EXPECT_EQ(found->name, "acme");
  EXPECT_EQ(kind, EndpointKind::kVpc);
  EXPECT_EQ(world.Hostname(*found, EndpointKind::kInternet),
            "acme-registry.ap-northeast-1.kura.test");
  ASSERT_NE(world.FindInstanceByHost("acme-registry.ap-northeast-1.kura.test", &kind), nullptr);
  EXPECT_EQ(kind, EndpointKind::kInternet);
}

TEST(FindInstanceByHost, WrongRegionOrUnknownInstance) {
  World world = ReportWorld(Edition::kEnterprise);
  std::string error;
  EXPECT_EQ(world.FindInstanceByHost("acme-registry.ap-southeast-1.kura.test", nullptr, &error),
            nullptr);
  EXPECT_EQ(error,
            "host \"acme-registry.ap-southeast-1.kura.test\" names no instance: there is no "
            "instance acme in region ap-southeast-1");
  EXPECT_EQ(world.FindInstanceByHost("nope-registry.ap-northeast-1.kura.test", nullptr, &error),
            nullptr);
  EXPECT_EQ(world.FindInstanceByHost("acme-registry.ap-northeast-1.example.com", nullptr, &error),
            nullptr);
  EXPECT_EQ(error,
            "host \"acme-registry.ap-northeast-1.example.com\" is not under domain kura.test");
}

// The lookup by Host goes through an index of the instances beside the map that holds them
// (instance_table.h). After every kind of change, in the World changed and in the copies taken
// before, it must find the very value the map holds, and nothing the map does not.
void ExpectIndexAgrees(const World& world, const std::vector<std::string>& names) {
  for (const std::string& name : names) {
    const Instance* held = world.instances().Find(name);
    EXPECT_EQ(world.FindInstance(name), held) << name;
    for (EndpointKind kind : {EndpointKind::kInternet, EndpointKind::kVpc}) {
      const std::string host = EndpointHostname(name, kTokyo, kind, kDomain);
      EndpointKind found_kind = EndpointKind::kInternet;
      EXPECT_EQ(world.FindInstanceByHost(host, &found_kind), held) << host;
      if (held != nullptr) {
        EXPECT_EQ(found_kind, kind);
      }
    }
  }
}

TEST(FindInstanceByHost, FindsTheCurrentValueAfterEveryKindOfChange) {
  std::mt19937 rng(7);
  World world = ReportWorldWithoutInstance();
  std::vector<std::string> names(40);
  for (size_t i = 0; i < names.size(); ++i) names[i] = "i" + std::to_string(i);
  std::vector<std::pair<World, std::vector<const Instance*>>> snapshots;
  auto held = [&](const World& w) {
    std::vector<const Instance*> out(names.size());
    for (size_t i = 0; i < names.size(); ++i) out[i] = w.instances().Find(names[i]);
    return out;
  };
  for (int step = 0; step < 3000; ++step) {
    const std::string& name = names[rng() % names.size()];
    const Edition edition = rng() % 4 == 0 ? Edition::kPersonal : Edition::kEnterprise;
    const core::Cidr cidr = Cidr("203.0.113." + std::to_string(rng() % 8) + "/32");
    Status status;  // many fail (no such instance, already bound, ...): a refusal must agree too
    switch (rng() % 11) {
      case 0:
        status = world.CreateInstance(name, "A", std::string(kTokyo), edition,
                                      rng() % 2 == 0 ? "inc" + std::to_string(step) : "");
        break;
      case 1:
        status = world.RestoreInstance(name, "A", std::string(kTokyo), edition,
                                       "inc" + std::to_string(step), rng() % 2 == 0,
                                       edition == Edition::kPersonal
                                           ? std::vector<AllowlistEntry>{}
                                           : std::vector<AllowlistEntry>{{cidr, "restored"}});
        break;
      case 2:
        status = world.AssignIncarnation(name, "late" + std::to_string(step));
        break;
      case 3:
        status = world.DeleteInstance(name);
        break;
      case 4:
        status = world.SetInternetEnabled(name, rng() % 2 == 0);
        break;
      case 5:
        status = world.AllowCidr(name, {cidr, "allowed"});
        break;
      case 6:
        status = world.RevokeCidr(name, cidr);
        break;
      case 7:
        status = world.ReplaceAllowlist(name, {{cidr, "replaced"}});
        break;
      case 8:
        status = world.Bind(name, Net(world, "vpc-a"), "vsw-a");
        break;
      case 9:
        status = world.Unbind(name, "vpc-a");
        break;
      case 10:
        snapshots.emplace_back(world, held(world));
        break;
    }
    ExpectIndexAgrees(world, names);
    if (::testing::Test::HasFailure()) FAIL() << "after step " << step << ": " << status.message();
  }
  // Every copy still finds what it held when it was taken.
  for (const auto& [snapshot, then] : snapshots) {
    ExpectIndexAgrees(snapshot, names);
    EXPECT_EQ(held(snapshot), then);
  }
  EXPECT_GT(snapshots.size(), 100u);
}

// ---- Snapshots.

TEST(Snapshot, ChangingACopyLeavesThePublishedWorldAsItWas) {
  auto published = std::make_shared<const World>(ReportWorld(Edition::kEnterprise));
  World next = *published;
  Check(next.SetInternetEnabled("acme", true));
  Check(next.AllowCidr("acme", {Cidr("198.51.100.10/32"), "ECS-A"}));
  Check(next.Bind("acme", Net(next, "vpc-a"), "vsw-a"));
  EXPECT_FALSE(published->FindInstance("acme")->internet.enabled);
  EXPECT_TRUE(published->FindInstance("acme")->internet.allowlist.empty());
  EXPECT_TRUE(published->FindInstance("acme")->vpc.bindings.empty());
  EXPECT_TRUE(published->zones().empty());
  EXPECT_EQ(next.FindInstance("acme")->internet.allowlist.size(), 1u);
}

}  // namespace
}  // namespace kura::access
